"""The train.py of `--task classify`: the head found in the spec, its loss and step written out, main().

The loss is chosen here, at compile time, from the spec's head (softmax, sigmoid or logits; one unit or
many; auxiliary outputs), so the script shows the formula a learner would change; the runtime keeps
only the plumbing.  Written with the one code writer (`cnnc.backends.pysource`), ruff-format clean.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, literal
from cnnc.tasks.classify.runtime.common import Head
from cnnc.tasks.task import write_config, write_header, write_imports, write_layers, write_main

_LOSS_NOTES = {
    ("softmax", False): "it ends in softmax: the loss is NLL on the log of its probabilities",
    ("logits", False): "it ends without an activation (logits): cross-entropy with the softmax inside the loss",
    ("sigmoid", True): "one sigmoid unit (binary): binary cross-entropy on its probability",
    ("logits", True): "one unit without an activation (a binary logit): binary cross-entropy with the sigmoid "
    "inside the loss",
    ("sigmoid", False): "sigmoid units (one-vs-rest): binary cross-entropy per class",
}

# The loss of each head in PyTorch: (activation, one unit) -> (what it is, the returned expression).
_TORCH_LOSS = {
    ("softmax", False): (
        "NLL on the log of the softmax's probabilities",
        "F.nll_loss(torch.log(out.float().clamp_min(1e-7)), y)",
    ),
    ("logits", False): ("cross-entropy, the softmax inside the loss", "F.cross_entropy(out.float(), y)"),
    ("sigmoid", True): (
        "binary cross-entropy on the sigmoid's probability",
        "F.binary_cross_entropy(out.float().clamp(1e-7, 1 - 1e-7), y.float()[:, None])",
    ),
    ("logits", True): (
        "binary cross-entropy, the sigmoid inside the loss",
        "F.binary_cross_entropy_with_logits(out.float(), y.float()[:, None])",
    ),
    ("sigmoid", False): (
        "binary cross-entropy per class (one-vs-rest)",
        "F.binary_cross_entropy(out.float().clamp(1e-7, 1 - 1e-7), F.one_hot(y, out.shape[1]).float())",
    ),
}
_KERAS_LOSS = {
    ("softmax", False): 'keras.losses.SparseCategoricalCrossentropy(name="loss")',
    ("logits", False): 'keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="loss")',
    ("sigmoid", True): 'keras.losses.BinaryCrossentropy(name="loss")',
    ("logits", True): 'keras.losses.BinaryCrossentropy(from_logits=True, name="loss")',
}
_ONE_VS_REST = [
    "def loss_fn(y_true, y_pred):",
    '    """The head\'s loss: binary cross-entropy per class (one-vs-rest)."""',
    '    target = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), y_pred.shape[-1])',
    "    return keras.losses.binary_crossentropy(target, y_pred)",
]
_STEP_DOC = '    """One step\'s forward pass and loss; the runtime does backward, the optimizer and the bookkeeping."""'


def torch_task(head: Head) -> list[str]:
    what, expression = _TORCH_LOSS[(head.activation, head.binary)]
    if len(head.outputs) > 1:
        step = [
            "    main, *aux = net(x)  # the first output is trained; the others are auxiliary heads",
            "    loss = loss_fn(main, y) + cfg.aux_weight * sum(loss_fn(a, y) for a in aux)",
        ]
    else:
        step = ["    main = net(x)", "    loss = loss_fn(main, y)"]
    return [
        "def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
        f'    """The head\'s loss: {what}."""',
        f"    return {expression}",
        "",
        "",
        "def training_step(net, x: torch.Tensor, y: torch.Tensor, cfg) -> tuple[torch.Tensor, torch.Tensor]:",
        _STEP_DOC,
        *step,
        "    return loss, main",
    ]


def keras_task(head: Head) -> list[str]:
    key = (head.activation, head.binary)
    loss = (
        [f"# The head's loss: {_TORCH_LOSS[key][0]}.", f"loss_fn = {_KERAS_LOSS[key]}"]
        if key in _KERAS_LOSS
        else _ONE_VS_REST
    )
    n = len(head.outputs)
    if n > 1:
        compile_call = [
            f"    weights = [1.0] + [cfg.aux_weight] * {n - 1}  # the first output is trained, the "
            "others are auxiliary heads",
            "    model.compile(",
            f"        optimizer=optimizer, loss=[loss_fn] * {n}, loss_weights=weights, "
            f"metrics=[[task.accuracy(HEAD)]] + [[]] * {n - 1}",
            "    )",
        ]
    else:
        compile_call = ["    model.compile(optimizer=optimizer, loss=loss_fn, metrics=[task.accuracy(HEAD)])"]
    return [
        *loss,
        "",
        "",
        "def compile_model(model, optimizer, cfg) -> None:",
        '    """What Keras\' compiled train step (the training step) minimises and reports."""',
        *compile_call,
    ]


_IMPORTS = {"torch": ["import torch", "import torch.nn.functional as F"], "keras": ["import keras"]}
_MODEL = "model = rt.make_model(build_model, LAYERS, cfg, env, HEAD.model_arguments(data.num_classes), HEAD.layer)"
_BUILD = {
    "torch": [
        f"    {_MODEL}",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Classify(HEAD, cfg, training_step, loss_fn, data.num_classes)",
    ],
    "keras": [
        "    with env.strategy.scope():",
        f"        {_MODEL}",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Classify(HEAD, cfg, compile_model, loss_fn, data.num_classes)",
    ],
}
_RUNS = {
    "torch": [
        "python train.py --data DATA --epochs 20      # DATA: a folder of class subfolders, or a .npz",
        "python train.py --data DATA --resume         # go on after an interruption",
        "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
        "python train.py --help                       # every option",
    ],
    "keras": [
        "python train.py --data DATA --epochs 20      # DATA: a folder of class subfolders, or a .npz",
        "python train.py --data DATA --resume         # go on after an interruption",
        "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
        "python train.py --help                       # every option",
    ],
}
_WRITES = {
    "torch": "Writes to --out (run/): last.pt (to resume), best.pt (best weights), log.csv, curves.png, metrics.json.",
    "keras": "Writes to --out (run/): last.npz (to resume), best.weights.h5 (best weights), log.csv, "
    "curves.png, metrics.json.",
}
_FEATURES = [
    "    if cfg.feature_extract:  # transfer learning: the head on cached features of the frozen base",
    "        task.train_head_on_features(trainer, env.log)",
]


def render_script(head: Head, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(code, f"Train {graph.name} to classify", graph.file, framework, _RUNS[framework], _WRITES[framework])
    write_imports(code, "classify", framework, "Head", _IMPORTS[framework])
    code.line(f"# What cnnc found at the end of the spec: output `{head.output}` has {head.units} unit(s);")
    code.line(f"# {_LOSS_NOTES[(head.activation, head.binary)]}.")
    code.statement("HEAD = ", call("Head", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    write_layers(code, graph)
    write_config(code, options, values)
    code.lines += ["", "", *(torch_task(head) if framework == "torch" else keras_task(head)), "", ""]
    write_main(code, _BUILD[framework], _FEATURES)
    return code.source()
