"""The train.py of `--task localize`: the head found in the spec, the losses and the step, main().

The losses are written out for the spec's head (linear or sigmoid), so a learner reads and changes the
material's formula in the script itself; `--loss` picks one of the two at run time.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, literal
from cnnc.tasks.localize.runtime.common import LocalizeHead
from cnnc.tasks.task import write_config, write_header, write_imports, write_layers, write_main

_TORCH_LOGISTIC = {
    "linear": [
        '    pc = F.binary_cross_entropy_with_logits(out[:, 0], present, reduction="none")',
        '    classes = F.cross_entropy(out[:, 5:], y[:, 5].clamp_min(0).long(), reduction="none")',
    ],
    "sigmoid": [
        '    pc = F.binary_cross_entropy(out[:, 0].clamp(1e-7, 1 - 1e-7), present, reduction="none")',
        "    onehot = F.one_hot(y[:, 5].clamp_min(0).long(), out.shape[1] - 5).float()",
        '    classes = F.binary_cross_entropy(out[:, 5:].clamp(1e-7, 1 - 1e-7), onehot, reduction="none").sum(dim=1)',
    ],
}
_KERAS_LOGISTIC = {
    "linear": [
        "    pc = ops.binary_crossentropy(present, out[:, 0], from_logits=True)",
        "    classes = ops.sparse_categorical_crossentropy(label, out[:, 5:], from_logits=True)",
    ],
    "sigmoid": [
        "    pc = ops.binary_crossentropy(present, out[:, 0])",
        "    classes = ops.sum(ops.binary_crossentropy(ops.one_hot(label, out.shape[-1] - 5), out[:, 5:]), axis=1)",
    ],
}
_SQUARED_DOC = [
    '    """The material\'s loss: squared error on [pc, bx, by, bh, bw, c1..cK] (classes one-hot) where there',
    '    is an object, on pc alone where there is not; mean over the batch."""',
]
_LOGISTIC_DOC = {"linear": "the sigmoid and the softmax inside the loss", "sigmoid": "one-vs-rest on the sigmoid"}


def _logistic_doc(activation: str) -> list[str]:
    return [
        '    """pc by binary cross-entropy; where there is an object, the box by squared error and the classes',
        f'    by cross-entropy ({_LOGISTIC_DOC[activation]}); mean over the batch."""',
    ]


def torch_task(head: LocalizeHead) -> list[str]:
    return [
        "def squared_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
        *_SQUARED_DOC,
        "    out, present = out.float(), y[:, 0]",
        "    target = torch.cat([y[:, :5], F.one_hot(y[:, 5].clamp_min(0).long(), out.shape[1] - 5).float()], dim=1)",
        "    error = (out - target) ** 2",
        "    return (present * error.sum(dim=1) + (1 - present) * error[:, 0]).mean()",
        "",
        "",
        "def logistic_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
        *_logistic_doc(head.activation),
        "    out, present = out.float(), y[:, 0]",
        *_TORCH_LOGISTIC[head.activation],
        "    box = ((out[:, 1:5] - y[:, 1:5]) ** 2).sum(dim=1)",
        "    return (pc + present * (box + classes)).mean()",
        "",
        "",
        'LOSSES = {"squared": squared_loss, "logistic": logistic_loss}  # --loss',
        "",
        "",
        "def training_step(net, x: torch.Tensor, y: torch.Tensor, cfg) -> tuple[torch.Tensor, torch.Tensor]:",
        '    """One step\'s forward pass and loss; the runtime does backward, the optimizer and the bookkeeping."""',
        "    out = net(x)  # [pc, bx, by, bh, bw, c1..cK] per image",
        "    return LOSSES[cfg.loss](out, y), out",
    ]


def keras_task(head: LocalizeHead) -> list[str]:
    return [
        "def squared_loss(y_true, y_pred):",
        *_SQUARED_DOC[:1],
        '    is an object, on pc alone where there is not (per image; Keras takes the mean)."""',
        '    out, present = ops.cast(y_pred, "float32"), y_true[:, 0]',
        '    onehot = ops.one_hot(ops.cast(ops.maximum(y_true[:, 5], 0), "int32"), out.shape[-1] - 5)',
        "    error = ops.square(out - ops.concatenate([y_true[:, :5], onehot], axis=1))",
        "    return present * ops.sum(error, axis=1) + (1 - present) * error[:, 0]",
        "",
        "",
        "def logistic_loss(y_true, y_pred):",
        *_logistic_doc(head.activation)[:1],
        f'    by cross-entropy ({_LOGISTIC_DOC[head.activation]}); per image, Keras takes the mean."""',
        '    out, present = ops.cast(y_pred, "float32"), y_true[:, 0]',
        '    label = ops.cast(ops.maximum(y_true[:, 5], 0), "int32")',
        *_KERAS_LOGISTIC[head.activation],
        "    box = ops.sum(ops.square(out[:, 1:5] - y_true[:, 1:5]), axis=1)",
        "    return pc + present * (box + classes)",
        "",
        "",
        'LOSSES = {"squared": squared_loss, "logistic": logistic_loss}  # --loss',
        "",
        "",
        "def compile_model(model, optimizer, cfg) -> None:",
        '    """What Keras\' compiled train step (the training step) minimises."""',
        "    model.compile(optimizer=optimizer, loss=LOSSES[cfg.loss])",
    ]


_IMPORTS = {
    "torch": (["import torch", "import torch.nn.functional as F"], []),
    "keras": ([], ["from keras import ops"]),
}
_BUILD = {
    "torch": [
        "    model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Localize(HEAD, cfg, training_step, LOSSES[cfg.loss])",
    ],
    "keras": [
        "    with env.strategy.scope():",
        "        model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Localize(HEAD, cfg, compile_model, LOSSES[cfg.loss])",
    ],
}
_RUNS = {
    "torch": [
        "python train.py --data DATA --epochs 20   # DATA: images + labels.csv/labels.json, or a .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
        "python train.py --help                    # every option",
    ],
    "keras": [
        "python train.py --data DATA --epochs 20   # DATA: images + labels.csv/labels.json, or a .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
        "python train.py --help                    # every option",
    ],
}
_WRITES = "Writes to --out (run/): last (to resume), best weights, log.csv, curves.png, metrics.json, predictions.png."


def render_script(head: LocalizeHead, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(code, f"Train {graph.name} to classify and localize", graph.file, framework, _RUNS[framework], _WRITES)
    write_imports(code, "localize", framework, "LocalizeHead", *_IMPORTS[framework])
    code.line(
        f"# What cnnc found at the end of the spec: output `{head.output}` is [pc, bx, by, bh, bw, "
        f"c1..c{head.classes}] ({head.activation})."
    )
    code.statement("HEAD = ", call("LocalizeHead", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    write_layers(code, graph)
    write_config(code, options, values)
    code.lines += ["", "", *(torch_task(head) if framework == "torch" else keras_task(head)), "", ""]
    build = ["    HEAD.check_classes(data.class_names)", *_BUILD[framework]]
    write_main(code, build, writes="metrics.json, predictions.png")
    return code.source()
