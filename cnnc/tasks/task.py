"""The `Task` record and what every task's compile shares: its options, the runtime files, and the
parts of `train.py` every task writes (the module docstring, LAYERS and the CONFIG block), through the
one code writer, `cnnc.backends.pysource`.

A compiled folder gets `cnnc_tasks/`, the parts of this package a run needs at
the same relative places: `cnnc_tasks/runtime/` (the shared runtime: neutral
modules plus the framework's two files) and `cnnc_tasks/<task>/` (the task's
options.py and its runtime/: every module of it but the other framework's file).  So a
task's runtime imports the shared one as `...runtime` both inside cnnc and in
the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cnnc.backends.pysource import CodeWriter, file_label, literal, quote, tuple_of
from cnnc.tasks.runtime import config

TASKS_DIR = Path(__file__).parent
RUNTIME_DIR = TASKS_DIR / "runtime"
PACKAGE = "cnnc_tasks"
FRAMEWORK_FILES = {"torch": ("torch_lib.py", "torch_data.py"), "keras": ("keras_lib.py", "keras_data.py")}
NEUTRAL_MODULES = ("__init__", "config", "data", "augment", "metrics", "loop", "curves", "records")
FRAMEWORK_NAMES = {"torch": "PyTorch", "keras": "Keras"}


@dataclass(frozen=True)
class Task:
    """One task of the material; see cnnc/tasks/__init__.py for what each field does."""

    name: str
    summary: str
    folder: Path  # the task's package: options.py, runtime/ (common.py, torch.py, keras.py)
    options: ModuleType  # its options module: OPTIONS (its own), WITHOUT (shared ones it has no use for)
    plan: Callable[[Any], Any]  # graph -> what the script must know (or CnncError)
    render: Callable[[Any, str, dict[str, Any], Any], str]  # plan, framework, config, analysis -> train.py
    frameworks: tuple[str, ...] = ("torch", "keras")
    scripts: Callable[[Any, str], dict[str, str]] | None = None  # plan, framework -> more scripts (verify.py)
    configured: bool = False  # plan(graph, options): the plan checks options against the spec (layer names)
    script: str = "train.py"  # the name of the main script render writes

    def option_list(self, framework: str) -> list[config.Option]:
        return config.options_for(framework, *config.task_options(self.options))


def task_config(task: Task, framework: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The task's options with their defaults, overridden (and checked) by `overrides`: ValueError if wrong."""
    options = {o.name: o for o in task.option_list(framework)}
    values = config.defaults(list(options.values()))
    for name, value in overrides.items():
        if name not in values:
            raise ValueError(f"task {task.name} has no option {name!r} for {framework}")
        values[name] = config.convert(options[name], value)
    return values


def runtime_files(task: Task, framework: str) -> dict[str, str]:
    """The runtime as it goes into the output folder: the shared runtime and the task's pieces."""
    shared = [f"{m}.py" for m in NEUTRAL_MODULES] + list(FRAMEWORK_FILES[framework])
    files = {f"{PACKAGE}/__init__.py": '"""The training runtime of this folder, copied from cnnc/tasks/."""\n'}
    files.update({f"{PACKAGE}/runtime/{name}": _read(RUNTIME_DIR / name) for name in shared})
    own = f"{PACKAGE}/{task.name}"
    files[f"{own}/__init__.py"] = f'"""The {task.name} task\'s options and runtime, copied from cnnc."""\n'
    files[f"{own}/options.py"] = _read(task.folder / "options.py")
    others = {f"{name}.py" for name in FRAMEWORK_FILES if name != framework}  # the other frameworks' files
    for path in sorted((task.folder / "runtime").glob("*.py")):
        if path.name not in others:
            files[f"{own}/runtime/{path.name}"] = _read(path)
    return files


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def weighted_layers(graph) -> list[str]:
    """Names of the layers that own weights, in the spec's order (a shared layer once)."""
    from cnnc.backends.naming import layer_name

    return [layer_name(n.id) for n in graph.topological() if n.params.total and not n.shares]


def head_layer(graph, output_id) -> str | None:
    """The layer name of the last layer with weights before an output (the head --reset-head re-initialises),
    going back through ops without weights along their first input."""
    from cnnc.backends.naming import layer_name

    node = graph.node(output_id)
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        node = graph.node(graph.input_ids(node.id)[0])
    return layer_name(graph.weight_owner(node).id) if node.params.total or node.shares else None


def write_header(code: CodeWriter, title: str, spec_file: str, framework: str, runs: list[str], writes: str) -> None:
    """The module docstring: what the script does, how to run it, what it writes."""
    name = file_label(spec_file)
    code.line(f'"""{title}, with {FRAMEWORK_NAMES[framework]}.')
    code.line()
    code.line(f"Generated by cnnc from {name}; edit freely." if name else "Generated by cnnc; edit freely.")
    code.line("The model is in model.py; the harness shared by every spec (data, augmentation, the epoch loop,")
    code.line("checkpoints) is in cnnc_tasks/runtime/, the task's own pieces (targets, metrics) beside it.")
    code.line()
    for run in runs:
        code.line("    " + run)
    code.lines += ["", writes, '"""']


def write_layers(code: CodeWriter, graph) -> None:
    """LAYERS = (...): the layers with weights in spec order, along which the freezing options count."""
    code.line("# The layers with weights in spec order: --freeze-below and --unfreeze-top count along it.")
    code.statement("LAYERS = ", tuple_of(*(quote(name) for name in weighted_layers(graph))))
    code.line()


def write_config(code: CodeWriter, options: list[config.Option], values: dict[str, Any]) -> None:
    """CONFIG = {...}: every option of the task, grouped, with this compile's values."""
    code.line("# Every option, with this compile's defaults; the command line overrides any of them")
    code.line("# (python train.py --help describes each).")
    code.line("CONFIG = {")
    with code.indented():
        for group in config.groups(options):
            members = [o for o in options if o.group == group]
            if members:
                code.line(f"# {group}")
            for option in members:
                code.statement(f"{quote(option.name)}: ", literal(values[option.name]), ",")
    code.line("}")


def write_imports(
    code: CodeWriter, task: str, framework: str, head: str, modules: list[str], names: list[str] = ()
) -> None:
    """The script's imports as ruff's isort orders them in the compiled folder: the standard library, the
    framework (`modules`, then `names`), then the folder's own modules (first party there): the task's
    options, its runtime file for `framework` as `task`, its `head` record, the shared runtime as `rt`,
    and the model."""
    own = f"{PACKAGE}.{task}"
    local = [
        f"from {own} import options",
        f"from {own}.runtime import {framework} as task",
        f"from {own}.runtime.common import {head}",
        f"from {PACKAGE}.runtime import {framework}_lib as rt",
        "from model import INPUTS, build_model",
    ]
    local.sort(key=lambda line: line.split()[1].lower())  # by module, as isort: a task may sort after `runtime`
    imported = [*modules, *names]
    code.lines += ["", "import sys", "", *imported, *([""] if imported else []), *local, ""]


def write_main(
    code: CodeWriter,
    build: list[str],
    before_fit: list[str] = (),
    writes: str = "metrics.json",
    reader: str = "task.Reader()",
    before_data: list[str] = (),
    after_test: list[str] = (),
) -> None:
    """build_trainer() (`before_data`, the data through the task's `reader`, then `build`: the model, optimizer
    and the task's objective) and main(), the sequence of calls a person would change; `before_fit`: the
    task's extra steps; `after_test`: steps after the test (with or without training), at main's indentation."""
    then = ["    " + line for line in after_test]
    code.lines += [
        "def build_trainer(cfg, env):",
        '    """The data, the model, its optimizer and the task, in the trainer that fit drives."""',
        *before_data,
        f"    data, pipeline = rt.load_data(cfg, INPUTS, env, {reader})  # split, scaling, augmentation",
        *build,
        "    return rt.Trainer(model, objective, optimizer, data, pipeline, cfg, env)",
        "",
        "",
        "def main(argv: list[str] | None = None) -> int:",
        "    cfg = rt.parse_args(options, CONFIG, argv, __doc__)",
        "    env = rt.setup(cfg)  # the device or strategy, the processes, seeds",
        "    trainer = build_trainer(cfg, env)",
        "    if cfg.ensemble or cfg.eval_only:  # evaluate weights files, no training",
        "        rt.test(trainer, cfg, cfg.ensemble or ([cfg.weights] if cfg.weights else None))",
        *then,
        "        return 0",
        *before_fit,
        "    status = rt.fit(trainer, cfg, trainer.data, env.log)  # epochs, checkpoints, early stopping, curves",
        "    rt.check_ranks_agree(trainer.model, env)",
        "    if status == 0:",
        f"        rt.test(trainer, cfg)  # the best weights on the test split: {writes}",
        *then,
        "    return status",
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(rt.run(main))",
    ]
