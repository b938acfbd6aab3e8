"""The train.py of `--task detect`: the head found in the spec, the weighted YOLO loss and the step, main().

The four loss terms are one function in cnnc_tasks/detect/runtime/yolo.py (written once, run by numpy,
PyTorch and TensorFlow alike); the script shows how they are weighted into the loss and where the step
is, so a learner changes the weights or the step here.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, literal
from cnnc.tasks.detect.runtime.common import DetectHead
from cnnc.tasks.task import write_config, write_header, write_imports, write_layers, write_main

_LOSS_DOC = [
    '    """YOLOv2\'s loss: box (sigmoid offsets in the cell, log sizes against the anchor), objectness where',
    "    there is an object and where there is none, and the classes (softmax cross-entropy), each summed",
    '    over the grid; see cnnc_tasks/detect/runtime/yolo.py."""',
]


def torch_task() -> list[str]:
    return [
        "def yolo_loss(out: torch.Tensor, y: torch.Tensor, anchors, cfg) -> tuple[torch.Tensor, dict]:",
        *_LOSS_DOC,
        "    terms = task.loss_terms(out, y, anchors, HEAD.classes)  # box, obj, noobj, cls: means over images",
        '    loss = cfg.box_weight * terms["box"] + terms["obj"] + cfg.noobj_weight * terms["noobj"] + terms["cls"]',
        "    return loss, terms",
        "",
        "",
        "def training_step(net, x: torch.Tensor, y: torch.Tensor, anchors, cfg):",
        '    """One step\'s forward pass and loss; the runtime does backward, the optimizer and the bookkeeping."""',
        f"    out = net(x)  # N x A(5 + C) x S_h x S_w: {HEAD_COMMENT}",
        "    loss, terms = yolo_loss(out, y, anchors, cfg)  # y: N x M x (class, cx, cy, w, h), class -1 pads",
        "    return loss, out, terms",
    ]


def keras_task() -> list[str]:
    return [
        "def compile_model(model, optimizer, anchors, cfg) -> None:",
        '    """What Keras\' compiled train step (the training step) minimises, and the terms it logs."""',
        "",
        "    def yolo_loss(y_true, y_pred):",
        *["    " + line for line in _LOSS_DOC],
        "        terms = task.loss_terms(y_pred, y_true, anchors, HEAD.classes, per_image=True)  # Keras averages",
        '        weighted = cfg.box_weight * terms["box"] + cfg.noobj_weight * terms["noobj"]',
        '        return weighted + terms["obj"] + terms["cls"]',
        "",
        "    model.compile(optimizer=optimizer, loss=yolo_loss, metrics=[task.LossTerms(anchors, HEAD.classes)])",
    ]


HEAD_COMMENT = "per cell A anchors x (t_x, t_y, t_w, t_h, t_o, c_1..c_C)"
_BUILD = {
    "torch": [
        "    model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "    optimizer = rt.make_optimizer(model.parameters(), cfg)",
        "    objective = task.Detect(HEAD, cfg, anchors, data.class_names, data.shape[:2], training_step, env.log)",
    ],
    "keras": [
        "    with env.strategy.scope():",
        "        model = rt.make_model(build_model, LAYERS, cfg, env, {}, HEAD.layer)",
        "        optimizer = rt.make_optimizer(cfg)",
        "    objective = task.Detect(HEAD, cfg, anchors, data.class_names, data.shape[:2], compile_model, env.log)",
    ],
}
_RUNS = {
    "torch": [
        "python train.py --data DATA --epochs 30   # DATA: YOLO-labelled folder, COCO .json, or .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --eval-only --weights run/best.pt --predict FOLDER   # detect in a folder",
        "torchrun --nproc_per_node=2 train.py --data DATA   # data-parallel (DDP)",
        "python train.py --help                    # every option",
    ],
    "keras": [
        "python train.py --data DATA --epochs 30   # DATA: YOLO-labelled folder, COCO .json, or .npz",
        "python train.py --data DATA --resume      # go on after an interruption",
        "python train.py --data DATA --eval-only --weights run/best.weights.h5 --predict FOLDER",
        "python train.py --data DATA --strategy mirrored   # tf.distribute over the GPUs",
        "python train.py --help                    # every option",
    ],
}
_WRITES = (
    "Writes to --out (run/): last (to resume), best weights, log.csv, curves.png, metrics.json, test_instances.json\n"
    "and test_results.json (COCO), pr_curves.png, detections/ (drawn test images), predict/ (with --predict)."
)


def render_script(head: DetectHead, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(code, f"Train {graph.name} to detect objects (YOLO)", graph.file, framework, _RUNS[framework], _WRITES)
    write_imports(code, "detect", framework, "DetectHead", *_IMPORTS[framework])
    rows, cols = head.grid
    code.line(
        f"# What cnnc found at the end of the spec: output `{head.output}` is a {rows}x{cols} grid of "
        f"{head.anchors} anchors x (5 + {head.classes})."
    )
    code.statement("HEAD = ", call("DetectHead", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    write_layers(code, graph)
    write_config(code, options, values)
    code.lines += ["", "", *(torch_task() if framework == "torch" else keras_task()), "", ""]
    build = [
        "    HEAD.check_classes(data.class_names)",
        "    anchors = task.find_anchors(cfg, HEAD, data.train.targets, env.log)  # --anchors, or k-means",
        *_BUILD[framework],
    ]
    predict = [
        "    if cfg.predict and env.is_main:  # drawn images and detections.json in <out>/predict",
        "        task.predict_folder(trainer, cfg.predict)",
    ]
    write_main(
        code,
        build,
        writes="metrics.json, COCO files, drawn images",
        reader="task.Reader(cfg.max_objects)",
        after_test=predict,
    )
    return code.source()


_IMPORTS = {"torch": (["import torch"], []), "keras": ([], [])}
