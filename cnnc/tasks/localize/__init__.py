"""Classification with localization (`--task localize`): y = [pc, bx, by, bh, bw, c1..cK].

plan.py      what the task reads from the spec's output; its diagnostics (E0711-E0714)
options.py   --loss squared|logistic, --draw N
script.py    the train.py it writes (the losses and the step, specialised to the head)
runtime/     copied beside train.py: common.py (targets, the loss in numpy, metrics, report, pictures),
             torch.py and keras.py (what each framework's trainer asks of the task)
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.localize import options, plan, script
from cnnc.tasks.task import Task


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "localize",
    "classification with localization: one object's class and box, or none",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
)
