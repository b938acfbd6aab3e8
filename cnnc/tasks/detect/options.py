"""Detection's own options (the shared ones are in cnnc/tasks/runtime/config.py)."""

from __future__ import annotations

from ..runtime.config import opt

WITHOUT = ("monitor",)  # detection monitors its mAP: redefined below with that default

OPTIONS = (
    opt(
        "monitor",
        "val_map50",
        "the metric for early stopping, the best checkpoint and plateau: any column of "
        "log.csv (val_ or train_ and a metric of the task; names ending in loss are better lower)",
        "training care",
    ),
    opt(
        "anchors",
        "auto",
        "anchor shapes `w,h w,h ...` as fractions of the image, one per anchor of the output, "
        "or auto: k-means on the training boxes with 1 - IoU as the distance (printed with their mean IoU)",
        "detection",
    ),
    opt("box_weight", 5.0, "loss weight of the box term (YOLO's lambda_coord)", "detection"),
    opt(
        "noobj_weight",
        0.5,
        "loss weight of the objectness term where there is no object (YOLO's lambda_noobj)",
        "detection",
    ),
    opt("score_threshold", 0.6, "keep boxes whose score P(object) * P(class) is above this", "detection"),
    opt(
        "iou_threshold",
        0.5,
        "non-max suppression: a box goes when its IoU with a better one of its class is at least this",
        "detection",
    ),
    opt("max_detections", 100, "keep at most this many boxes per image (COCO's maxDets)", "detection"),
    opt("max_objects", 50, "most objects one image may have (targets are padded to this)", "detection"),
    opt(
        "table_every",
        1,
        "print the per-class AP table of the validation split every this many epochs (0: never)",
        "detection",
    ),
    opt("draw", 8, "draw the kept boxes of this many test images into <out>/detections/ (0: none)", "detection"),
    opt(
        "predict",
        None,
        "after training (or with --eval-only), detect in every image of this folder: drawn "
        "images and detections.json in <out>/predict/",
        "detection",
    ),
)
