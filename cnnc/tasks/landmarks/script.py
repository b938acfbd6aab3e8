"""The train.py of `--task landmarks`: the head found in the spec, the loss and the step, main().

The loss is written out for the spec's head: the mean squared error of the output against the target's
first 2N columns (the points) or 2N + 4 (the points and the box), so a learner reads and changes it in the
script itself.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, literal
from cnnc.tasks.landmarks.runtime.common import LandmarkHead
from cnnc.tasks.task import write_config, write_header, write_imports, write_layers, write_main


def _what(head: LandmarkHead) -> str:
    return f"l1x..l{head.points}y" + (", bx, by, bh, bw" if head.box else "")


def torch_task(head: LandmarkHead) -> list[str]:
    return [
        "def landmark_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
        '    """Mean squared error over the batch and the output\'s components: the target row is [l1x, l1y, ...,',
        f'    lNx, lNy, bx, by, bh, bw, has_box]; this head predicts its first {head.width} ({_what(head)})."""',
        f"    return F.mse_loss(out.float(), y[:, :{head.width}])",
        "",
        "",
        "def training_step(net, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:",
        '    """One step\'s forward pass and loss; the runtime does backward, the optimizer and the bookkeeping."""',
        f"    out = net(x)  # [{_what(head)}] per image, fractions of the image",
        "    return landmark_loss(out, y), out",
    ]


def keras_task(head: LandmarkHead) -> list[str]:
    return [
        "def landmark_loss(y_true, y_pred):",
        '    """Mean squared error over the output\'s components (per image; Keras takes the mean): the target',
        f"    row is [l1x, l1y, ..., lNx, lNy, bx, by, bh, bw, has_box]; this head predicts its first {head.width}",
        f'    ({_what(head)})."""',
        f'    return ops.mean(ops.square(ops.cast(y_pred, "float32") - y_true[:, :{head.width}]), axis=1)',
        "",
        "",
        "def compile_model(model, optimizer) -> None:",
        '    """What Keras\' compiled train step (the training step) minimises."""',
        "    model.compile(optimizer=optimizer, loss=landmark_loss)",
    ]


_IMPORTS = {
    "torch": (["import torch", "import torch.nn.functional as F"], []),
    "keras": ([], ["from keras import ops"]),
}
_BUILD = {
    "torch": [
        "    model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Landmarks(HEAD, cfg, training_step)",
    ],
    "keras": [
        "    with env.strategy.scope():",
        "        model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Landmarks(HEAD, cfg, compile_model)",
    ],
}
_DATA = "# DATA: images + labels.csv/labels.json, or a .npz"
_RUNS = {
    "torch": [
        f"python train.py --data DATA --epochs 20   {_DATA}",
        "python train.py --data DATA --resume      # go on after an interruption",
        "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
        "python train.py --help                    # every option",
    ],
    "keras": [
        f"python train.py --data DATA --epochs 20   {_DATA}",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
        "python train.py --help                    # every option",
    ],
}
_WRITES = "Writes to --out (run/): last (to resume), best weights, log.csv, curves.png, metrics.json, predictions.png."


def render_script(head: LandmarkHead, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(
        code, f"Train {graph.name} to find {head.points} landmarks", graph.file, framework, _RUNS[framework], _WRITES
    )
    write_imports(code, "landmarks", framework, "LandmarkHead", *_IMPORTS[framework])
    code.line(
        f"# What cnnc found at the end of the spec: output `{head.output}` is [{_what(head)}] "
        f"({head.points} points{' and the box' if head.box else ''})."
    )
    code.statement("HEAD = ", call("LandmarkHead", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    write_layers(code, graph)
    write_config(code, options, values)
    code.lines += ["", "", *(torch_task(head) if framework == "torch" else keras_task(head)), "", ""]
    build = ["    HEAD.check(data.train.targets)  # the data's points against the spec's output", *_BUILD[framework]]
    write_main(code, build, writes="metrics.json, predictions.png")
    return code.source()
