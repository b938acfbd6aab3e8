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

from cnnc.backends.common import constructor_params
from cnnc.backends.pysource import CodeWriter, call, literal, quote, tuple_of
from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph, Node
from cnnc.tasks.runtime.config import Head
from cnnc.tasks.task import Task, write_config, write_header

_PROBABILITIES = ("softmax", "sigmoid")  # the end activations the loss reads probabilities from

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
        problems.append(
            Diagnostic(
                "error",
                "E0701",
                f"task `classify` needs one input, the network has {len(graph.inputs)}",
                graph.span,
                help="train several-input networks with your own loop on model.py",
            )
        )
    vectors = [name for name, nid in graph.outputs.items() if len(graph.node(nid).shape) == 1]
    for name, nid in graph.outputs.items():
        shape = graph.node(nid).shape
        if len(shape) != 1:
            problems.append(
                Diagnostic(
                    "error",
                    "E0702",
                    f"task `classify` needs class scores, but output `{name}` is {'x'.join(map(str, shape))}",
                    graph.output_spans.get(name),
                    help="end with `-> global_avgpool -> dense(num_classes) -> softmax` (or flatten before dense)",
                )
            )
    if vectors:
        width = graph.node(graph.outputs[vectors[0]]).shape[0]
        for name in vectors[1:]:
            if graph.node(graph.outputs[name]).shape[0] != width:
                problems.append(
                    Diagnostic(
                        "error",
                        "E0703",
                        f"auxiliary output `{name}` has {graph.node(graph.outputs[name]).shape[0]} "
                        f"scores, the main output `{vectors[0]}` has {width}",
                        graph.output_spans.get(name),
                    )
                )
        end = graph.node(graph.outputs[vectors[0]])
        if end.op.name == "softmax" and width == 1:
            problems.append(
                Diagnostic(
                    "error",
                    "E0704",
                    "softmax over one unit is always 1",
                    graph.output_spans.get(vectors[0]),
                    help="use `sigmoid` for a binary classifier, or two units with softmax",
                )
            )
    if problems:
        raise CnncError(problems)
    return _head(graph, vectors[0], vectors)


def _head(graph: Graph, output: str, outputs: list[str]) -> Head:
    end = graph.node(graph.outputs[output])
    activation = end.op.name if end.op.name in _PROBABILITIES else "logits"
    node, between = end, []
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        between.append(node.op)
        node = graph.node(graph.input_ids(node.id)[0])
    layer = graph.weight_owner(node) if node.params.total or node.shares else None
    from cnnc.backends.naming import layer_name

    # train_head_on_features applies the layer, then the end's probabilities: nothing else may sit between
    dense_tail = (
        layer is not None
        and layer.op.name == "dense"
        and node is layer
        and all(op.keeps_values or (i == 0 and activation != "logits") for i, op in enumerate(between))
    )
    return Head(
        output=output,
        outputs=tuple(graph.outputs),
        units=end.shape[0],
        activation=activation,
        layer=layer_name(layer.id) if layer is not None else None,
        units_param=_units_param(graph, layer, end.shape[0]),
        dense_tail=dense_tail,
    )


def _units_param(graph: Graph, layer: Node | None, units: int) -> str | None:
    """The model's constructor argument that sets the head's width to the output's, if there is one.

    Asked of the same function the backends write the constructor from, so
    train.py never passes an argument the model does not take; and the layer's
    width must be the output's (a `flatten` of 2x2xK would make 4K scores)."""
    if layer is None or layer.op.width_attr is None or getattr(layer.attrs, layer.op.width_attr) != units:
        return None
    bound = layer.bindings.get(layer.op.width_attr)
    sites = constructor_params(graph).get(bound, []) if bound is not None else []
    return bound if (layer.id, layer.op.width_attr) in sites else None


def weighted_layers(graph: Graph) -> list[str]:
    """Names of the layers that own weights, in the spec's order (a shared layer once)."""
    from cnnc.backends.naming import layer_name

    return [layer_name(n.id) for n in graph.topological() if n.params.total and not n.shares]


_BODY = {
    "torch": [
        "    env = rt.setup(cfg)  # device, the processes of torchrun, seeds",
        "    data, pipeline = rt.load_data(cfg, INPUTS, env)  # split, scaling, augmentation, loaders",
        "    model = rt.make_model(build_model, HEAD, LAYERS, cfg, env, data.num_classes)  # head width, weights, "
        "freezing",
        "    loss_fn = rt.make_loss(HEAD)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
    ],
    "keras": [
        "    env = rt.setup(cfg)  # seeds, determinism, the tf.distribute strategy",
        "    data, pipeline = rt.load_data(cfg, INPUTS, env)  # split, scaling, augmentation, loaders",
        "    with env.strategy.scope():",
        "        model = rt.make_model(build_model, HEAD, LAYERS, cfg, env, data.num_classes)  # head width, weights, "
        "freezing",
        "        loss_fn = rt.make_loss(HEAD)",
        "        optimizer = rt.make_optimizer(cfg)",
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


def render_script(head: Head, framework: str, values: dict, analysis) -> str:
    graph = analysis.graph
    module = "torch_lib" if framework == "torch" else "keras_lib"
    code = CodeWriter()
    write_header(code, f"Train {graph.name} to classify", graph.file, framework, _RUNS[framework], _WRITES[framework])
    code.lines += ["", "import sys", "", f"from cnnc_runtime import {module} as rt"]
    code.lines += ["from cnnc_runtime.config import Head", "from model import INPUTS, build_model", ""]
    code.line(f"# What cnnc found at the end of the spec: output `{head.output}` has {head.units} unit(s);")
    code.line(f"# {_LOSS_NOTES[(head.activation, head.binary)]}.")
    code.statement("HEAD = ", call("Head", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    code.line("# The layers with weights in spec order: --freeze-below and --unfreeze-top count along it.")
    code.statement("LAYERS = ", tuple_of(*(quote(name) for name in weighted_layers(graph))))
    code.line()
    write_config(code, "classify", framework, values)
    code.lines += ["", "", "def main(argv: list[str] | None = None) -> int:"]
    code.line('    cfg = rt.parse_args("classify", CONFIG, argv, __doc__)')
    code.lines += _BODY[framework] + _MAIN_TAIL
    return code.source()


_MAIN_TAIL = [
    "    trainer = rt.Trainer(model, loss_fn, optimizer, data, pipeline, HEAD, cfg, env)",
    "    if cfg.ensemble or cfg.eval_only:  # evaluate weights files, no training",
    "        rt.test(trainer, cfg, cfg.ensemble or ([cfg.weights] if cfg.weights else None))",
    "        return 0",
    "    if cfg.feature_extract:  # transfer learning: the head on cached features of the frozen base",
    "        rt.train_head_on_features(trainer, env.log)",
    "    status = rt.fit(trainer, cfg, data, env.log)  # epochs, checkpoints, early stopping, log.csv, curves.png",
    "    rt.check_ranks_agree(model, env)",
    "    if status == 0:",
    "        rt.test(trainer, cfg)  # the best weights on the test split: metrics.json",
    "    return status",
    "",
    "",
    'if __name__ == "__main__":',
    "    sys.exit(rt.run(main))",
]


TASK = Task(
    "classify",
    "image (or 1D/3D) classification: softmax or sigmoid heads, transfer learning",
    plan=plan,
    render=render_script,
)
