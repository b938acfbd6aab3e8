"""The scripts of `--task verify`: train.py (the head, the step and its loss, main()), and verify.py and
recognize.py, which use the trained encoding (the material's "use after training").

The loss is the runtime's (losses.py, one definition for both frameworks, held to a numpy reference by the
tests); train.py shows the step that calls it, so a learner sees which embeddings meet which loss.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, literal
from cnnc.tasks.task import write_config, write_header, write_imports, write_layers
from cnnc.tasks.verify.runtime.common import VerifyHead

_TORCH_STEP = [
    "def training_step(net, x: torch.Tensor, y: torch.Tensor, cfg) -> tuple[torch.Tensor, torch.Tensor]:",
    '    """One step on a batch of P identities x K images: the encodings f(x) and the loss over the batch;',
    '    the runtime does backward, the optimizer and the bookkeeping."""',
    "    out = net(x)",
    '    if cfg.formulation == "pair":  # p(same) = sigmoid(sum_k w_k |f(x_i)_k - f(x_j)_k| + b), every pair',
    "        emb, logits = out",
    "        return task.pair_loss(logits, y), emb",
    "    # max(d(A, P) - d(A, N) + margin, 0) over the triplets --mining selects in the batch",
    '    return task.triplet_loss(out, y, cfg.margin, cfg.mining, cfg.distance == "squared"), out',
]
_KERAS_STEP = [
    "def verification_loss(model, emb, y, cfg):",
    '    """The loss of a batch of P identities x K images from its encodings f(x); Keras\' compiled train step',
    '    (the Verifier\'s compute_loss) minimises it."""',
    "    if model.pair is not None:  # p(same) = sigmoid(sum_k w_k |f(x_i)_k - f(x_j)_k| + b), every pair",
    "        return task.pair_loss(y, model.pair(emb))",
    "    # max(d(A, P) - d(A, N) + margin, 0) over the triplets --mining selects in the batch",
    '    return task.triplet_loss(emb, y, cfg.margin, cfg.mining, cfg.distance == "squared")',
]
_BUILD = {
    "torch": [
        "    net = rt.make_model(build_model, LAYERS, cfg, env)",
        "    model = task.Verifier(net, HEAD, cfg)  # f(x): the network, L2-normalised, (the pair head)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Verify(HEAD, cfg, training_step, model)",
    ],
    "keras": [
        "    with env.strategy.scope():",
        "        net = rt.make_model(build_model, LAYERS, cfg, env)",
        "        model = task.Verifier(net, HEAD, cfg, verification_loss)  # f(x), its loss, (the pair head)",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Verify(HEAD, cfg, model)",
    ],
}
_RUNS = {
    "torch": [
        "python train.py --data DATA --epochs 20   # DATA: a folder per identity (LFW), or a .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
        "python verify.py IMG1 IMG2                # same identity? (distance and tau)",
        "python recognize.py --gallery DIR IMG     # who is it? (one image per person in DIR)",
    ],
    "keras": [
        "python train.py --data DATA --epochs 20   # DATA: a folder per identity (LFW), or a .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
        "python verify.py IMG1 IMG2                # same identity? (distance and tau)",
        "python recognize.py --gallery DIR IMG     # who is it? (one image per person in DIR)",
    ],
}
_WRITES = (
    "Writes to --out (run/): last (to resume), best weights, log.csv, curves.png, metrics.json (with tau),\n"
    "roc.png, distances.png, normalizer.json (the scaling verify.py and recognize.py apply)."
)

_MAIN = [
    "def main(argv: list[str] | None = None) -> int:",
    "    cfg = rt.parse_args(options, CONFIG, argv, __doc__)",
    "    env = rt.setup(cfg)  # the device or strategy, the processes, seeds",
    "    trainer = build_trainer(cfg, env)",
    "    if cfg.ensemble or cfg.eval_only:  # evaluate weights files, no training",
    "        rt.test(trainer, cfg, cfg.ensemble or ([cfg.weights] if cfg.weights else None))",
    "        return 0",
    "    status = rt.fit(trainer, cfg, trainer.data, env.log)  # epochs, checkpoints, early stopping, curves",
    "    rt.check_ranks_agree(trainer.model, env)",
    "    if status == 0:",
    "        rt.test(trainer, cfg)  # the best weights on the test identities: metrics.json, roc.png, distances.png",
    "    return status",
    "",
    "",
    'if __name__ == "__main__":',
    "    sys.exit(rt.run(main))",
]


def render_script(head: VerifyHead, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(
        code,
        f"Train {graph.name} as an encoding for face verification",
        graph.file,
        framework,
        _RUNS[framework],
        _WRITES,
    )
    write_imports(code, "verify", framework, "VerifyHead", ["import torch"] if framework == "torch" else [])
    kind = "two inputs with shared weights (siamese)" if head.siamese else "one input"
    code.line(f"# What cnnc found in the spec: {kind};")
    code.line(f"# output `{head.output}` is the encoding f(x), {head.dim} numbers.")
    code.statement("HEAD = ", call("VerifyHead", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    write_layers(code, graph)
    write_config(code, options, values)
    code.lines += ["", "", *(_TORCH_STEP if framework == "torch" else _KERAS_STEP), "", ""]
    code.lines += [
        "def build_trainer(cfg, env):",
        '    """The data, the model, its optimizer and the task, in the trainer that fit drives."""',
        "    image = {HEAD.inputs[0]: INPUTS[HEAD.inputs[0]]}  # a siamese network's inputs share it",
        "    data, pipeline = rt.load_data(cfg, image, env, task.Reader(cfg.mixed_sizes))",
        "    task.save_normalizer(cfg, pipeline.normalizer, env.is_main)  # verify.py scales images alike",
        *_BUILD[framework],
        "    trainer = rt.Trainer(model, objective, optimizer, data, pipeline, cfg, env)",
        "    objective.predict_val = lambda: (trainer.predict(data.val), data.val.targets)  # tau",
        "    return trainer",
        "",
        "",
        *_MAIN,
    ]
    return code.source()


def render_use(name: str, framework: str) -> str:
    """verify.py or recognize.py: the trained encoding, as train.py's CONFIG and HEAD describe it."""
    doc = {
        "verify": [
            "Same identity or not: the distance between two images' encodings against tau.",
            "",
            "    python verify.py IMG1 IMG2 [--tau T] [--weights run/best...]",
        ],
        "recognize": [
            "Who is it: the nearest of a gallery (one image per person, file name = name, or a",
            "folder per person), or 'not recognised' beyond tau.  The gallery's encodings are",
            "computed once and cached in run/gallery-<hash>.npz (the material's pre-compute).",
            "",
            "    python recognize.py --gallery DIR IMG [IMG ...] [--tau T]",
        ],
    }[name]
    code = CodeWriter()
    code.lines += [
        '"""' + doc[0],
        *doc[1:],
        "",
        "Generated by cnnc; tau comes from run/metrics.json (chosen on the validation split).",
        '"""',
        "",
        "import sys",
        "",
    ]
    code.lines += [
        f"from cnnc_tasks.verify.runtime import {framework} as task",
        "from cnnc_tasks.verify.runtime import use",
        "from model import INPUTS, build_model",
        "from train import CONFIG, HEAD",
        "",
        "",
        "def main(argv: list[str] | None = None) -> int:",
        f"    args = use.{name}_arguments(argv, CONFIG)",
        '    encoder = task.Encoder(build_model, INPUTS, HEAD, {**CONFIG, "out": args.out}, args.weights)',
        f"    return use.{name}(encoder, args)",
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(use.run(main))",
    ]
    return code.source()


def scripts(head: VerifyHead, framework: str) -> dict[str, str]:
    return {f"{name}.py": render_use(name, framework) for name in ("verify", "recognize")}
