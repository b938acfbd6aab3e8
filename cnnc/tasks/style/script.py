"""The train.py of `--task style`: the head found in the spec, the layers by name, the options, and main(),
the sequence of calls a person would change (read C and S, the feature network, J, the optimisation).

Style transfer trains no weights: the variable is the image G.  So main() is not the shared epoch loop;
it reads two images, builds J(G) on the spec's network (the costs are in the copied runtime, one readable
function each, held to common.py's numpy reference by the tests) and optimises G, with the shared
runtime's options, checkpoints (atomic) and error handling.
"""

from __future__ import annotations

from cnnc.backends.pysource import CodeWriter, call, dict_of, literal, quote
from cnnc.ir.names import code_name, module_path
from cnnc.tasks.checks import feature_maps, functional_taps
from cnnc.tasks.style.runtime.common import StyleHead
from cnnc.tasks.task import FRAMEWORK_NAMES, write_config, write_header

_RUNS = [
    "python train.py --content PHOTO --style PAINTING           # writes run/result.png and run/strip.png",
    "python train.py --content C --style S --weights FILE       # a trained network's weights (else random)",
    "python train.py --content C --style S --optimizer lbfgs    # L-BFGS, as Gatys et al.",
    "python train.py --content C --style S --resume             # go on from run/last.npz",
]
_WRITES = (
    "Writes to --out (run/): step_NNNN.png every --image-every steps, result.png, strip.png (content | style |\n"
    "result), costs.csv and costs.png (alpha J_content, beta J_style, J per step), result.json, last.npz."
)


def write_functional(code: CodeWriter, graph) -> None:
    code.line("# Activations the model computes as functions (F.relu(x)), not modules, are read after the module")
    code.line("# with weights they follow: (its path, the activations applied to its output, each (op, alpha)).")
    taps = functional_taps(graph)
    code.statement("FUNCTIONAL = ", dict_of([(quote(k), literal(v)) for k, v in taps.items()]))
    code.line()


def render_script(head: StyleHead, framework: str, values: dict, analysis, options: list) -> str:
    graph = analysis.graph
    code = CodeWriter()
    write_header(code, f"Neural style transfer on {graph.name}'s features", graph.file, framework, _RUNS, _WRITES)
    local = {"torch": "torch", "keras": "keras"}[framework]
    code.lines += [
        "",
        "import sys",
        "",
        f"from cnnc_tasks.runtime import {local}_lib as rt",
        "from cnnc_tasks.style import options",
        "from cnnc_tasks.style.runtime import common",
        f"from cnnc_tasks.style.runtime import {local} as task",
        "from cnnc_tasks.style.runtime.common import StyleHead",
        "from model import build_model",
        "",
    ]
    size = "x".join(map(str, head.size))
    code.line(f"# What cnnc found in the spec: input `{head.input}`, {size}: G, C and S have its size.")
    code.line(f"# J(G) = alpha J_content at `{head.content_layer}` + beta sum_l lambda_l J_style at the style layers.")
    code.statement("HEAD = ", call("StyleHead", **{k: literal(v) for k, v in vars(head).items()}))
    code.line()
    name = code_name if framework == "keras" else module_path
    code.line(f"# The layers with a feature map, as the spec names them, and their {FRAMEWORK_NAMES[framework]} names:")
    code.line("# --content-layer and --style-layers take any of them.")
    code.statement("LAYERS = ", dict_of([(quote(n.id), quote(name(n.id))) for n in feature_maps(graph)]))
    code.line()
    if framework == "torch":
        write_functional(code, graph)
    write_config(
        code,
        options,
        {
            **values,
            "content_layer": head.content_layer,
            "style_layers": list(head.style_layers),
            "style_weights": list(head.style_weights),
        },
    )
    device = ", env.device" if framework == "torch" else ""
    functional = ", FUNCTIONAL" if framework == "torch" else ""
    code.lines += [
        "",
        "",
        "def main(argv: list[str] | None = None) -> int:",
        "    cfg = rt.parse_args(options, CONFIG, argv, __doc__)",
        "    env = task.setup(cfg)  # the device, threads, the seed of noise and random weights",
        "    layers = common.resolve(HEAD, LAYERS, cfg)  # (content layer, style layers, lambdas), checked",
        '    content = common.read_image(cfg.content, HEAD.size, "content", env.log)  # H x W x C in [0,1]',
        '    style = common.read_image(cfg.style, HEAD.size, "style", env.log)',
        "    if not cfg.weights:",
        "        env.log(common.RANDOM_WEIGHTS)",
        "    env.log(common.describe(cfg, layers))  # the preprocessing, the layers and their lambdas",
        f"    net = task.feature_network(build_model, LAYERS, [layers[0], *layers[1]], cfg, env{functional})",
        f"    objective = task.Objective(net, content, style, layers, cfg{device})  # a(C) and G(S) computed once",
        "    run = common.Run(cfg, content, style, env.log)",
        "    image, start = run.resume(common.first_image(content, cfg))  # G at step 0, or where --resume left it",
        "    image = common.optimise(objective, image, run, start)  # Adam or L-BFGS on the pixels of G",
        '    run.finish(image, cfg.weights or "random")',
        "    return 0",
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(rt.run(main))",
    ]
    return code.source()
