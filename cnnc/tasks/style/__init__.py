"""Neural style transfer (`--task style`): optimise the pixels of a generated image G so that
J(G) = alpha J_content(C, G) + beta J_style(S, G), with the spec's network as the feature extractor
(vgg19.cnn with a torchvision state dict, keras_vgg19.cnn with the Keras VGG19 weights, or any spec).

  plan.py      what the task reads from the spec: one image input, the content and style layers by name
               (E0771-E0774)
  options.py   --content, --style, --content-layer, --style-layers, --style-weights, alpha, beta,
               --init-image, --optimizer adam|lbfgs, --preprocess imagenet|caffe|none, ...
  script.py    train.py: the head, the layers, main()
  runtime/     copied beside train.py: common.py (the costs' numpy reference, images, the loop and what it
               writes), torch.py and keras.py (features at named layers, the costs, a step)
"""

from __future__ import annotations

from pathlib import Path

from cnnc.tasks.style import options, plan, script
from cnnc.tasks.task import Task


def _render(head, framework: str, values: dict, analysis) -> str:
    return script.render_script(head, framework, values, analysis, TASK.option_list(framework))


TASK = Task(
    "style",
    "neural style transfer: the pixels of G optimised for alpha J_content + beta J_style",
    folder=Path(__file__).parent,
    options=options,
    plan=plan.plan,
    render=_render,
    configured=True,
)
