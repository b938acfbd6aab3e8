"""Detection metrics, numpy: PASCAL VOC mAP@0.5 and COCO mAP@[.5:.95], per class, and precision-recall curves.

Boxes here are COCO's: (x, y, w, h) in pixels, x, y the top-left corner, the
form the harness writes to its COCO JSON files, so the numbers can be checked
with pycocotools on those files (tests/test_detect_eval.py does).

- VOC (Everingham et al. 2010, and the devkit's VOCevalDet after 2010):
  detections of a class over all images, best score first; each is a true
  positive when its highest-IoU ground truth box of that class in its image
  has IoU >= 0.5 and was not matched before.  AP is the area under the
  precision-recall curve made monotone ("all-point interpolation").  This is
  the mAP@0.5 the harness reports per epoch and gates the example on.
- COCO (pycocotools' COCOeval, bbox, area "all", 100 detections per image):
  per image, detections best first match the unmatched ground truth box of
  highest IoU >= t, for t = 0.50, 0.55, ..., 0.95; AP is the mean precision at
  the 101 recall points 0, 0.01, ..., 1; mAP is the mean over t and classes.
  The arithmetic follows COCOeval step for step (its IoU, its sort, its
  np.spacing in the precision) so the numbers are the same, not just close.

A class without ground truth boxes has no AP and is left out of the means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COCO_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALLS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1)
VOC_THRESHOLD = 0.5


@dataclass
class Boxes:
    """One image's boxes of every class: xywh pixels (K x 4), classes (K), scores (K; ground truth: ones)."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray | None = None

    def of(self, cls: int) -> tuple[np.ndarray, np.ndarray]:
        mine = np.asarray(self.classes) == cls
        scores = np.ones(int(mine.sum())) if self.scores is None else np.asarray(self.scores)[mine]
        return np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)[mine], scores


def iou_xywh(dets: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """D x G IoU of xywh boxes, with the operations in COCO's maskApi bbIou's order (so rounding matches)."""
    d, g = dets[:, None, :], gts[None, :, :]
    w = np.minimum(d[..., 0] + d[..., 2], g[..., 0] + g[..., 2]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 1] + d[..., 3], g[..., 1] + g[..., 3]) - np.maximum(d[..., 1], g[..., 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    union = d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - inter
    return np.where(inter > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# ---------------------------------------------------------------- VOC


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the monotone precision-recall curve (all-point interpolation)."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def voc_class(truth: list[Boxes], found: list[Boxes], cls: int) -> tuple[float, np.ndarray, np.ndarray] | None:
    """(AP, recall, precision) of one class at IoU >= 0.5, or None without ground truth."""
    gts = [t.of(cls)[0] for t in truth]
    total = sum(len(g) for g in gts)
    if not total:
        return None
    image, boxes, scores = [], [], []
    for i, f in enumerate(found):
        b, s = f.of(cls)
        image += [i] * len(s)
        boxes.append(b)
        scores.append(s)
    order = np.argsort(-np.concatenate(scores), kind="stable")
    boxes = np.concatenate(boxes)[order]
    used = [np.zeros(len(g), dtype=bool) for g in gts]
    tp = np.zeros(len(order))
    for k, i in enumerate(np.asarray(image, dtype=np.int64)[order]):
        if not len(gts[i]):
            continue
        iou = iou_xywh(boxes[k : k + 1], gts[i])[0]
        j = int(iou.argmax())
        if iou[j] >= VOC_THRESHOLD and not used[i][j]:
            used[i][j], tp[k] = True, 1.0
    hits = np.cumsum(tp)
    recall, precision = hits / total, hits / np.arange(1, len(tp) + 1)
    return voc_ap(recall, precision), recall, precision


# ---------------------------------------------------------------- COCO


def coco_matches(dets: np.ndarray, scores: np.ndarray, gts: np.ndarray, max_dets: int = 100):
    """One image and class, as COCOeval.evaluateImg: (the kept detections' scores, T x D matched or not)."""
    order = np.argsort(-scores, kind="mergesort")[:max_dets]
    dets, scores = dets[order], scores[order]
    matched = np.zeros((len(COCO_THRESHOLDS), len(dets)))
    if not len(gts) or not len(dets):
        return scores, matched
    ious = iou_xywh(dets, gts)
    for t, threshold in enumerate(COCO_THRESHOLDS):
        taken = np.zeros(len(gts), dtype=bool)
        for d in range(len(dets)):
            # the unmatched ground truth of highest IoU >= t; on a tie the later one, as COCOeval's loop
            iou = np.where(taken | (ious[d] < min(threshold, 1 - 1e-10)), -1.0, ious[d])
            if iou.max() < 0:
                continue
            g = len(iou) - 1 - int(np.argmax(iou[::-1]))
            taken[g], matched[t, d] = True, 1.0
    return scores, matched


def coco_precision(truth: list[Boxes], found: list[Boxes], cls: int, max_dets: int = 100) -> np.ndarray:
    """T x R precision at COCO's recall points (COCOeval.accumulate), all -1 without ground truth."""
    out = -np.ones((len(COCO_THRESHOLDS), len(COCO_RECALLS)))
    parts = [coco_matches(*f.of(cls), t.of(cls)[0], max_dets) for t, f in zip(truth, found, strict=True)]
    total = sum(len(t.of(cls)[0]) for t in truth)
    if not total:
        return out
    scores = np.concatenate([s for s, _ in parts])
    order = np.argsort(-scores, kind="mergesort")
    tps = np.concatenate([m for _, m in parts], axis=1)[:, order]
    tp_sum, fp_sum = np.cumsum(tps, axis=1), np.cumsum(1 - tps, axis=1)
    for t in range(len(COCO_THRESHOLDS)):
        recall = tp_sum[t] / total
        precision = (tp_sum[t] / (fp_sum[t] + tp_sum[t] + np.spacing(1))).tolist()
        for i in range(len(precision) - 1, 0, -1):  # monotone from the right, as COCOeval
            precision[i - 1] = max(precision[i - 1], precision[i])
        at = np.searchsorted(recall, COCO_RECALLS, side="left")
        q = np.zeros(len(COCO_RECALLS))
        q[at < len(precision)] = np.asarray(precision + [0.0])[at[at < len(precision)]]
        out[t] = q
    return out


def _mean_defined(values: np.ndarray) -> float:
    """COCOeval.summarize's mean over the entries that are not -1 (NaN when none are)."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else float("nan")


# ---------------------------------------------------------------- everything at once


def evaluate(truth: list[Boxes], found: list[Boxes], classes: int) -> dict:
    """The table: mAP@0.5 (VOC), COCO mAP@[.5:.95] and AP@0.5, and per class AP, counts and VOC curves."""
    precision = np.stack([coco_precision(truth, found, c) for c in range(classes)], axis=2)  # T x R x K
    per_class, curves = [], []
    for c in range(classes):
        voc = voc_class(truth, found, c)
        per_class.append(
            {
                "class": c,
                "objects": int(sum(len(t.of(c)[1]) for t in truth)),
                "detections": int(sum(len(f.of(c)[1]) for f in found)),
                "ap50": voc[0] if voc else float("nan"),
                "coco_ap": _mean_defined(precision[:, :, c]),
                "coco_ap50": _mean_defined(precision[0, :, c]),
            }
        )
        curves.append(None if voc is None else (voc[1], voc[2]))
    with_truth = [p["ap50"] for p in per_class if p["objects"]]
    return {
        "map50": float(np.mean(with_truth)) if with_truth else float("nan"),
        "coco_map": _mean_defined(precision),
        "coco_map50": _mean_defined(precision[0]),
        "per_class": per_class,
        "curves": curves,
    }
