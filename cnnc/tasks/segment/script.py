"""The train.py of `--task segment`: the head found in the spec, the loss and the step, main().

The step is written out for the spec's head (what the output is, whether the mask is cropped to its
centre); the losses it calls are in the copied runtime (cnnc_tasks/segment/runtime/<framework>.py), one
readable function tested against the numpy reference, so both frameworks compute the same number.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, literal
from cnnc.tasks.segment.runtime.common import SegmentHead
from cnnc.tasks.task import write_config, write_header, write_imports, write_layers, write_main

_LOSS_CALL = "task.segment_loss({out}, {y}, cfg.loss, HEAD.activation, {weights}, cfg.ignore_index)"


def _size(size: tuple[int, ...]) -> str:
    return "x".join(map(str, size))


def describe(head: SegmentHead, framework: str) -> list[str]:
    """Comment lines: what the output holds and which part of the mask it is trained on."""
    per = {
        "softmax": "class probabilities",
        "sigmoid": "the foreground's probability",
        "linear": "class logits (the softmax is taken in the loss)"
        if head.channels > 1
        else "the foreground's logit (the sigmoid is taken in the loss)",
    }[head.activation]
    layout = (
        f"N x {head.channels} x {_size(head.output_size)}"
        if framework == "torch"
        else f"N x {_size(head.output_size)} x {head.channels}"
    )
    lines = [f"# out: {layout}, {per} per pixel"]
    if head.output_size != head.input_size:
        lines.append(
            f"# the map is the centre {_size(head.output_size)} of the {_size(head.input_size)} input "
            "(valid convolutions): the loss crops each mask to it"
        )
    return lines


def torch_task(head: SegmentHead) -> list[str]:
    return [
        "def training_step(net, x: torch.Tensor, y: torch.Tensor, cfg) -> tuple[torch.Tensor, torch.Tensor]:",
        '    """One step\'s forward pass and loss over every labelled pixel (--loss ce, dice or ce+dice); the',
        '    runtime does backward, the optimizer and the bookkeeping."""',
        "    out = net(x)",
        *("    " + line for line in describe(head, "torch")),
        "    loss = " + _LOSS_CALL.format(out="out", y="y", weights="cfg.class_weights or None"),
        "    return loss, out",
    ]


def keras_task(head: SegmentHead) -> list[str]:
    return [
        "def compile_model(model, optimizer, cfg) -> None:",
        '    """What Keras\' compiled train step minimises: the loss over every labelled pixel (--loss ce, dice',
        '    or ce+dice)."""',
        "",
        "    weights = cfg.class_weights or None  # --class-weights: the cross-entropy's weight of each class",
        "",
        "    def segment_loss(y_true, y_pred):",
        *("        " + line for line in describe(head, "keras")),
        "        return " + _LOSS_CALL.format(out="y_pred", y="y_true", weights="weights"),
        "",
        "    model.compile(optimizer=optimizer, loss=segment_loss)",
    ]


_IMPORTS = {"torch": ["import torch"], "keras": []}
_BUILD = {
    "torch": [
        "    model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Segment(HEAD, cfg, training_step, reader.colours)",
    ],
    "keras": [
        "    with env.strategy.scope():",
        "        model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Segment(HEAD, cfg, compile_model, reader.colours)",
    ],
}
# The task's reader knows the input's size and the classes, so it checks and resizes masks as they are read.
_MAKE_READER = "    reader = task.Reader(HEAD.input_size, HEAD.classes, cfg.ignore_index)  # masks, checked"
_CHECK = [
    "    HEAD.check_classes(data.class_names)",
    "    pipeline.augment = task.AxisFlips(pipeline.augment, cfg.flip_axes)  # flips per axis; masks follow",
]
_PREDICT = [
    "    if cfg.predict:  # label a folder's images, whole, by overlap-tile, with --weights; no training",
    "        return trainer.task.predict_folder(trainer)",
]
_RUNS = {
    "torch": [
        "python train.py --data DATA --epochs 20   # DATA: images/ + masks/ (index PNGs), or a .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --weights run/best.pt --predict FOLDER   # label whole images",
        "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
        "python train.py --help                    # every option",
    ],
    "keras": [
        "python train.py --data DATA --epochs 20   # DATA: images/ + masks/ (index PNGs), or a .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --weights run/best.weights.h5 --predict FOLDER   # label whole images",
        "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
        "python train.py --help                    # every option",
    ],
}
_WRITES = (
    "Writes to --out (run/): last (to resume), best weights, log.csv, curves.png, metrics.json,\n"
    "predictions.png (image | true | predicted), test_masks/ (index PNGs); with --predict, predicted/."
)


def render_script(head: SegmentHead, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(code, f"Train {graph.name} to segment", graph.file, framework, _RUNS[framework], _WRITES)
    write_imports(code, "segment", framework, "SegmentHead", _IMPORTS[framework])
    code.line(
        f"# What cnnc found at the end of the spec: output `{head.output}`, "
        f"{_size((*head.output_size, head.channels))} ({head.activation}), {head.classes} classes."
    )
    code.statement("HEAD = ", call("SegmentHead", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    write_layers(code, graph)
    write_config(code, options, values)
    code.lines += ["", "", *(torch_task(head) if framework == "torch" else keras_task(head)), "", ""]
    write_main(
        code,
        _CHECK + _BUILD[framework],
        _PREDICT,
        "metrics.json, predictions.png, test_masks/",
        reader="reader",
        before_data=[_MAKE_READER],
    )
    return code.source()
