"""The `Task` record and what every task's compile shares: its options and the runtime files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnc.tasks.runtime import config

RUNTIME_DIR = Path(__file__).parent / "runtime"
RUNTIME_PACKAGE = "cnnc_runtime"
FRAMEWORK_FILES = {"torch": ("torch_lib.py", "torch_data.py"), "keras": ("keras_lib.py", "keras_data.py")}
NEUTRAL_MODULES = ("__init__", "config", "data", "augment", "metrics", "loop")


@dataclass(frozen=True)
class Task:
    """One task of the material; see cnnc/tasks/__init__.py for what each field does."""

    name: str
    summary: str
    plan: Callable[[Any], Any]  # graph -> what the script must know (or CnncError)
    render: Callable[[Any, str, dict[str, Any], Any], str]  # plan, framework, config, analysis -> train.py
    runtime: tuple[str, ...] = NEUTRAL_MODULES
    frameworks: tuple[str, ...] = ("torch", "keras")


def task_config(task: str, framework: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The task's options with their defaults, overridden (and checked) by `overrides`: ValueError if wrong."""
    values = config.defaults(task, framework)
    for name, value in overrides.items():
        if name not in values:
            raise ValueError(f"task {task} has no option {name!r} for {framework}")
        values[name] = config.convert(config.BY_NAME[name], value)
    return values


def runtime_files(task: Task, framework: str) -> dict[str, str]:
    """The runtime package as it goes into the output folder."""
    names = [f"{m}.py" for m in task.runtime] + list(FRAMEWORK_FILES[framework])
    return {f"{RUNTIME_PACKAGE}/{name}": (RUNTIME_DIR / name).read_text(encoding="utf-8") for name in names}
