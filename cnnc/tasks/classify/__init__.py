"""Image (and 1D/3D) classification (`--task classify`): softmax or sigmoid heads, transfer learning.

plan.py      the spec's head (which output, which loss, the head layer); its diagnostics (E0701-E0704)
options.py   --aux-weight, --top-k, --ten-crop, --feature-extract, ...
script.py    the train.py it writes (the loss and the step, specialised to the head)
runtime/     copied beside train.py: common.py (Head, targets, metrics, report), torch.py and keras.py
             (what each framework's trainer asks of the task; transfer on cached features)
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.classify import options, script
from cnnc.tasks.classify.plan import plan
from cnnc.tasks.task import Task, weighted_layers

__all__ = ["TASK", "plan", "weighted_layers"]


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "classify",
    "image (or 1D/3D) classification: softmax or sigmoid heads, transfer learning",
    folder=Path(__file__).parent,
    options=options,
    plan=plan,
    render=_render,
)
