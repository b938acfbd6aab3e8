"""Landmark detection (`--task landmarks`): y = [l1x, l1y, ..., lNx, lNy] (+ the box [bx, by, bh, bw]).

plan.py      what the task reads from the spec's output; its diagnostics (E0731-E0734)
options.py   --nme box|points, --nme-points I,J, --draw N
script.py    the train.py it writes (the loss and the step, specialised to the head)
runtime/     copied beside train.py: common.py (targets, the loss in numpy, NME and PCK, report,
             pictures), torch.py and keras.py (what each framework's trainer asks of the task)
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.landmarks import options, plan, script
from cnnc.tasks.task import Task


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "landmarks",
    "landmark detection: N points (x, y) of one object, optionally with its box",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
)
