"""The `Task` record and what every task's compile shares: its options and the runtime files.

A compiled folder gets `cnnc_tasks/`, the parts of this package a run needs at
the same relative places: `cnnc_tasks/runtime/` (the shared runtime, neutral
modules plus the framework's two files) and `cnnc_tasks/<task>/` (the task's
options.py and its runtime/: common.py plus the framework's file).  So the
task's runtime imports the shared one as `...runtime` both inside cnnc and in
the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cnnc.tasks.runtime import config

TASKS_DIR = Path(__file__).parent
RUNTIME_DIR = TASKS_DIR / "runtime"
PACKAGE = "cnnc_tasks"
FRAMEWORK_FILES = {"torch": ("torch_lib.py", "torch_data.py"), "keras": ("keras_lib.py", "keras_data.py")}
NEUTRAL_MODULES = ("__init__", "config", "data", "augment", "metrics", "loop")


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
    read = lambda path: path.read_text(encoding="utf-8")  # noqa: E731
    shared = [f"{m}.py" for m in NEUTRAL_MODULES] + list(FRAMEWORK_FILES[framework])
    files = {f"{PACKAGE}/__init__.py": '"""The training runtime of this folder, copied from cnnc/tasks/."""\n'}
    files.update({f"{PACKAGE}/runtime/{name}": read(RUNTIME_DIR / name) for name in shared})
    own = f"{PACKAGE}/{task.name}"
    files[f"{own}/__init__.py"] = f'"""The {task.name} task\'s options and runtime, copied from cnnc."""\n'
    files[f"{own}/options.py"] = read(task.folder / "options.py")
    for name in ("__init__.py", "common.py", f"{framework}.py"):
        files[f"{own}/runtime/{name}"] = read(task.folder / "runtime" / name)
    return files


def weighted_layers(graph) -> list[str]:
    """Names of the layers that own weights, in the spec's order (a shared layer once): LAYERS in train.py,
    along which --freeze-below and --unfreeze-top count."""
    from cnnc.backends.naming import layer_name

    return [layer_name(n.id) for n in graph.topological() if n.params.total and not n.shares]
