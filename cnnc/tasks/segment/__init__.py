"""Semantic segmentation (`--task segment`): a class per pixel (or voxel), U-Net style, 2D and 3D.

plan.py      what the task reads from the spec's output (a class map); its diagnostics (E0741-E0744)
options.py   --loss ce|dice|ce+dice, --class-weights, --ignore-index, --flip-axes, --draw, --predict
script.py    the train.py it writes (the step, specialised to the head and the crop)
runtime/     copied beside train.py: metrics.py (losses in numpy, pixel accuracy, IoU, Dice, confusion),
             tiles.py (centre crop, overlap-tile prediction), masks.py and reader.py (mask files and
             arrays, named errors, masks following augmentation), common.py (the head, the evaluation),
             pictures.py (side-by-side PNGs, overlays, --predict), torch.py and keras.py (the losses and
             the task per framework)
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.segment import options, plan, script
from cnnc.tasks.task import Task


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "segment",
    "semantic segmentation: a class for every pixel (or voxel), 2D and 3D",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
)
