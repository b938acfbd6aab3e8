"""YOLO-style object detection (`--task detect`): an S x S grid of A anchors x (5 + C) numbers.

plan.py      what the task reads from the spec's grid output; its diagnostics (E0721-E0725)
options.py   --anchors auto|"w,h ...", loss weights, score and IoU thresholds, --predict FOLDER, ...
script.py    the train.py it writes (the weighted loss and the step)
runtime/     copied beside train.py: boxes.py (IoU, k-means anchors), yolo.py (assignment, encoding, the
             loss written once for numpy, PyTorch and TensorFlow, decoding), nms.py, evaluate.py (VOC and
             COCO mAP), coco.py (COCO JSON), labels.py (YOLO text, COCO JSON, .npz; boxes that follow
             augmentation), report.py, common.py (what the shared loop asks), torch.py and keras.py
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.detect import options, plan, script
from cnnc.tasks.task import Task


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "detect",
    "YOLO-style object detection: boxes and classes on a grid of anchors",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
)
