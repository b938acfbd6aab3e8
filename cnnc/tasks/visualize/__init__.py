"""Seeing what a network has learned (`--task visualize`): for a layer's units, the nine image patches
that activate each most ("what are deep ConvNets learning", Zeiler and Fergus 2013), cut at the unit's
receptive field from cnnc's receptive-field pass.  A task of its own, not a subcommand: it has a plan
(the layer, checked at compile time), options and a runtime per framework like every task, and its
script, visualize.py, runs from the compiled folder with the weights of a training run.

  plan.py      one image input, the layer and units (E0776-E0779)
  options.py   --images, --layer, --units, --top, --zoom
  script.py    visualize.py: the head, LAYERS, FIELDS (receptive fields), main()
  runtime/     copied beside visualize.py: common.py (images, top patches, grids), torch.py, keras.py
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.task import Task
from cnnc.tasks.visualize import options, plan, script


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "visualize",
    "unit visualisation: per unit of a layer, the nine image patches that activate it most",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
    configured=True,
    script="visualize.py",
)
