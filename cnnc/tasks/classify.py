"""Image classification (and 1D/3D classification): the spec's head, and the train.py that trains it.

The plan reads the end of the network from the IR:
- one input; the outputs that are vectors of class scores (shape (K,)); the
  first declared one is trained and evaluated, the others of the same width
  are auxiliary heads (GoogLeNet) added to the loss with --aux-weight;
- the output's last op decides the loss: `softmax` -> NLL on the log of the
  probabilities, `sigmoid` -> binary cross-entropy (one unit: a binary
  classifier), anything else -> the output is logits (cross-entropy with the
  softmax, or the sigmoid, inside the loss);
- the head layer: the last layer with weights on the way back from the output
  (the one a new number of classes replaces), the network parameter that sets
  its width when that can change without recompiling (`num_classes`), and
  whether only activations or dropout follow it (needed to train it alone on
  cached features).
"""

from __future__ import annotations

from pathlib import Path

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph
from cnnc.tasks import render
from cnnc.tasks.classify_task import options
from cnnc.tasks.classify_task.runtime.common import Head
from cnnc.tasks.task import Task

_PASS_THROUGH = {"dropout", "identity", "flatten", "reshape"}  # ops that carry the scores unchanged in meaning
_WIDTH_ATTR = {"dense": "units", "conv": "filters", "pointwise": "filters"}

_LOSS_NOTES = {
    ("softmax", False): "it ends in softmax: the loss is NLL on the log of its probabilities",
    ("logits", False): "it ends without an activation (logits): cross-entropy with the softmax inside the loss",
    ("sigmoid", True): "one sigmoid unit (binary): binary cross-entropy on its probability",
    ("logits", True): "one unit without an activation (a binary logit): binary cross-entropy with the sigmoid "
                      "inside the loss",
    ("sigmoid", False): "sigmoid units (one-vs-rest): binary cross-entropy per class",
}


def plan(graph: Graph) -> Head:
    """The head of a classifier, or CnncError pointing at what does not fit."""
    problems: list[Diagnostic] = []
    if len(graph.inputs) != 1:
        problems.append(Diagnostic("error", "E0701", f"task `classify` needs one input, the network has "
                                   f"{len(graph.inputs)}", graph.span,
                                   help="train several-input networks with your own loop on model.py"))
    vectors = [name for name, nid in graph.outputs.items() if len(graph.node(nid).shape) == 1]
    for name, nid in graph.outputs.items():
        shape = graph.node(nid).shape
        if len(shape) != 1:
            problems.append(Diagnostic(
                "error", "E0702", f"task `classify` needs class scores, but output `{name}` is "
                f"{'x'.join(map(str, shape))}", graph.output_spans.get(name),
                help="end with `-> global_avgpool -> dense(num_classes) -> softmax` (or flatten before dense)"))
    if vectors:
        width = graph.node(graph.outputs[vectors[0]]).shape[0]
        for name in vectors[1:]:
            if graph.node(graph.outputs[name]).shape[0] != width:
                problems.append(Diagnostic(
                    "error", "E0703", f"auxiliary output `{name}` has {graph.node(graph.outputs[name]).shape[0]} "
                    f"scores, the main output `{vectors[0]}` has {width}", graph.output_spans.get(name)))
        end = graph.node(graph.outputs[vectors[0]])
        if end.op.name == "softmax" and width == 1:
            problems.append(Diagnostic("error", "E0704", "softmax over one unit is always 1",
                                       graph.output_spans.get(vectors[0]),
                                       help="use `sigmoid` for a binary classifier, or two units with softmax"))
    if problems:
        raise CnncError(problems)
    return _head(graph, vectors[0], vectors)


def _head(graph: Graph, output: str, outputs: list[str]) -> Head:
    end = graph.node(graph.outputs[output])
    activation = end.op.name if end.op.name in ("softmax", "sigmoid") else "logits"
    node, between = end, []
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        between.append(node.op.name)
        node = graph.node(graph.input_ids(node.id)[0])
    layer = graph.weight_owner(node) if node.params.total or node.shares else None
    units_param = None
    if layer is not None and layer.op.name in _WIDTH_ATTR:
        bound = layer.bindings.get(_WIDTH_ATTR[layer.op.name])
        if bound and bound in graph.params and not graph.params[bound].structural:
            units_param = bound
    from cnnc.backends.naming import layer_name

    dense_tail = (layer is not None and layer.op.name == "dense" and node is layer
                  and all(op in _PASS_THROUGH or op in ("softmax", "sigmoid") for op in between))
    return Head(output=output, outputs=tuple(graph.outputs), units=end.shape[0], activation=activation,
                layer=layer_name(layer.id) if layer is not None else None, units_param=units_param,
                dense_tail=dense_tail)


def weighted_layers(graph: Graph) -> list[str]:
    """Names of the layers that own weights, in the spec's order (a shared layer once)."""
    from cnnc.backends.naming import layer_name

    return [layer_name(n.id) for n in graph.topological() if n.params.total and not n.shares]


# The loss of each head, written into train.py: (activation, one unit) -> (docstring, body).
_TORCH_LOSS = {
    ("softmax", False): ("NLL on the log of the softmax's probabilities",
                         "F.nll_loss(torch.log(out.float().clamp_min(1e-7)), y)"),
    ("logits", False): ("cross-entropy, the softmax inside the loss", "F.cross_entropy(out.float(), y)"),
    ("sigmoid", True): ("binary cross-entropy on the sigmoid's probability",
                        "F.binary_cross_entropy(out.float().clamp(1e-7, 1 - 1e-7), y.float()[:, None])"),
    ("logits", True): ("binary cross-entropy, the sigmoid inside the loss",
                       "F.binary_cross_entropy_with_logits(out.float(), y.float()[:, None])"),
    ("sigmoid", False): ("binary cross-entropy per class (one-vs-rest)",
                         "F.binary_cross_entropy(out.float().clamp(1e-7, 1 - 1e-7), "
                         "F.one_hot(y, out.shape[1]).float())"),
}
_KERAS_LOSS = {
    ("softmax", False): "keras.losses.SparseCategoricalCrossentropy(name=\"loss\")",
    ("logits", False): "keras.losses.SparseCategoricalCrossentropy(from_logits=True, name=\"loss\")",
    ("sigmoid", True): "keras.losses.BinaryCrossentropy(name=\"loss\")",
    ("logits", True): "keras.losses.BinaryCrossentropy(from_logits=True, name=\"loss\")",
}

_RUNS = {
    "torch": ["python train.py --data DATA --epochs 20      # DATA: a folder of class subfolders, or a .npz",
              "python train.py --data DATA --resume         # go on after an interruption",
              "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
              "python train.py --help                       # every option"],
    "keras": ["python train.py --data DATA --epochs 20      # DATA: a folder of class subfolders, or a .npz",
              "python train.py --data DATA --resume         # go on after an interruption",
              "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
              "python train.py --help                       # every option"],
}

_WRITES = {"torch": "Writes to --out (run/): last.pt (to resume), best.pt (best weights), log.csv, curves.png, "
                    "metrics.json.",
           "keras": "Writes to --out (run/): last.npz (to resume), best.weights.h5 (best weights), log.csv, "
                    "curves.png, metrics.json."}


def _torch_task(head: Head) -> list[str]:
    doc, body = _TORCH_LOSS[(head.activation, head.binary)]
    aux = len(head.outputs) > 1
    step = ["    main, *aux = net(x)  # the first output is trained; the others are auxiliary heads",
            "    loss = loss_fn(main, y) + cfg.aux_weight * sum(loss_fn(a, y) for a in aux)"] if aux else \
        ["    main = net(x)", "    loss = loss_fn(main, y)"]
    return ["def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
            f'    """The head\'s loss: {doc}."""', f"    return {body}", "", "",
            "def training_step(net, x: torch.Tensor, y: torch.Tensor, cfg) -> tuple[torch.Tensor, torch.Tensor]:",
            '    """One step\'s forward pass and loss; the runtime does backward, the optimizer and the '
            'bookkeeping."""', *step, "    return loss, main"]


def _keras_task(head: Head) -> list[str]:
    key = (head.activation, head.binary)
    if key in _KERAS_LOSS:
        loss = [f"loss_fn = {_KERAS_LOSS[key]}  # {_TORCH_LOSS[key][0]}"]
    else:
        loss = ["def loss_fn(y_true, y_pred):", f'    """The head\'s loss: {_TORCH_LOSS[key][0]}."""',
                "    target = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), \"int32\"), "
                "y_pred.shape[-1])", "    return keras.losses.binary_crossentropy(target, y_pred)"]
    n = len(head.outputs)
    if n > 1:
        compile_call = [f"    weights = [1.0] + [cfg.aux_weight] * {n - 1}  # the first output is trained; the "
                        "others are auxiliary heads",
                        f"    model.compile(optimizer=optimizer, loss=[loss_fn] * {n}, loss_weights=weights,",
                        f"                  metrics=[[task.accuracy(HEAD)]] + [[]] * {n - 1})"]
    else:
        compile_call = ["    model.compile(optimizer=optimizer, loss=loss_fn, metrics=[task.accuracy(HEAD)])"]
    return [*loss, "", "", "def compile_model(model, optimizer, cfg) -> None:",
            '    """What Keras\' compiled train step (the training step) minimises and reports."""', *compile_call]


_BUILD = {
    "torch": [
        "    data, pipeline = rt.load_data(cfg, INPUTS, env, task.Reader())  # split, scaling, augmentation, loaders",
        "    model = rt.make_model(build_model, LAYERS, cfg, env, HEAD.model_arguments(data.num_classes), HEAD.layer)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Classify(HEAD, cfg, training_step, loss_fn, data.num_classes)",
    ],
    "keras": [
        "    data, pipeline = rt.load_data(cfg, INPUTS, env, task.Reader())  # split, scaling, augmentation, loaders",
        "    with env.strategy.scope():",
        "        model = rt.make_model(build_model, LAYERS, cfg, env, HEAD.model_arguments(data.num_classes), "
        "HEAD.layer)",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Classify(HEAD, cfg, compile_model, loss_fn, data.num_classes)",
    ],
}

_IMPORTS = {
    "torch": ["import torch", "import torch.nn.functional as F", ""],
    "keras": ["import keras", ""],
}


def render_script(head: Head, framework: str, values: dict, analysis) -> str:
    graph = analysis.graph
    lines = render.header(f"Train {graph.name} to classify", graph.file, framework, _RUNS[framework],
                          _WRITES[framework])
    lines += ["", "import sys", "", *_IMPORTS[framework],
              "from cnnc_tasks.classify import options",
              f"from cnnc_tasks.classify.runtime import {framework} as task",
              "from cnnc_tasks.classify.runtime.common import Head",
              f"from cnnc_tasks.runtime import {framework}_lib as rt", "from model import INPUTS, build_model", ""]
    note = _LOSS_NOTES[(head.activation, head.binary)]
    lines += [f"# What cnnc found at the end of the spec: output `{head.output}` has {head.units} unit(s);",
              f"# {note}.", "HEAD = " + render.call("Head", vars(head), indent=7), ""]
    lines += ["# The layers with weights in spec order: --freeze-below and --unfreeze-top count along it."]
    lines += render.wrapped_tuple("LAYERS", weighted_layers(graph)) + [""]
    lines += render.config_block(TASK.option_list(framework), values)
    lines += ["", ""] + (_torch_task(head) if framework == "torch" else _keras_task(head))
    lines += ["", "", "def build_trainer(cfg, env):",
              '    """The data, the model, its optimizer and the task, in the trainer that fit drives."""']
    lines += _BUILD[framework]
    lines += ["    return rt.Trainer(model, objective, optimizer, data, pipeline, cfg, env)", "", "",
              "def main(argv: list[str] | None = None) -> int:",
              "    cfg = rt.parse_args(options, CONFIG, argv, __doc__)",
              "    env = rt.setup(cfg)  # " + ("device, the processes of torchrun, seeds" if framework == "torch"
                                             else "seeds, determinism, the tf.distribute strategy"),
              "    trainer = build_trainer(cfg, env)"]
    lines += [
        "    if cfg.ensemble or cfg.eval_only:  # evaluate weights files, no training",
        "        rt.test(trainer, cfg, cfg.ensemble or ([cfg.weights] if cfg.weights else None))",
        "        return 0",
        "    if cfg.feature_extract:  # transfer learning: the head on cached features of the frozen base",
        "        task.train_head_on_features(trainer, env.log)",
        "    status = rt.fit(trainer, cfg, trainer.data, env.log)  # epochs, checkpoints, early stopping, log.csv, "
        "curves.png",
        "    rt.check_ranks_agree(trainer.model, env)",
        "    if status == 0:",
        "        rt.test(trainer, cfg)  # the best weights on the test split: metrics.json",
        "    return status",
        "", "",
        'if __name__ == "__main__":',
        "    sys.exit(rt.run(main))",
    ]
    return "\n".join(lines) + "\n"


TASK = Task("classify", "image (or 1D/3D) classification: softmax or sigmoid heads, transfer learning",
            folder=Path(__file__).parent / "classify_task", options=options, plan=plan, render=render_script)
