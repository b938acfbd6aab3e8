"""Face verification and one-shot recognition (`--task verify`): an encoding f(x) learnt so that
d(x1, x2) = ||f(x1) - f(x2)||^2 is small for the same identity and large for different ones.

  plan.py      what the task reads from the spec: one input and a vector, or a siamese pair (E0761-E0764)
  options.py   --formulation triplet|pair, --mining, --margin, --distance, P and K, ...
  script.py    train.py (the step and its loss), verify.py and recognize.py
  runtime/     copied beside train.py: sampling, mining (numpy reference), losses (both frameworks),
               evaluate, plots, identities, common (the task's evaluation), use (verify/recognize),
               torch.py and keras.py
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.task import Task
from cnnc.tasks.verify import options, plan, script


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "verify",
    "face verification and one-shot recognition: an encoding f(x) compared by distance",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
    scripts=script.scripts,
)
