"""Training tasks, framework-neutral: what a task needs from a spec and what it writes.

A task is one `Task` record in `TASKS`:

- `plan(graph) -> object`: checks that the spec has the inputs and outputs the
  task needs (a classifier needs one input and an output vector of class
  scores) and returns what the script must know about them (for classify, a
  `Head`: the output, its activation, the head layer); a mismatch is a
  `CnncError` with diagnostics that point at the spec.
- `render(plan, framework, config, analysis) -> str`: the task's `train.py`,
  a short script: the task's options with this compile's defaults, then the
  calls into the runtime.
- `runtime`: the neutral runtime modules the script imports (besides the
  framework's own file).

Options live in `cnnc/tasks/runtime/config.py`, one record each, tagged with
the tasks and frameworks they apply to; the runtime reads the same table, so
a compiled folder needs nothing from cnnc.  `generate` writes `train.py` and
copies the runtime package into the output as `cnnc_runtime/`.  A new task
(localization, landmarks, detection, segmentation, siamese, style transfer)
is a new module with its plan, render and `TASK`, its options in the table,
its shared logic in the runtime, and one entry in `TASKS` below.
"""

from __future__ import annotations

from cnnc.tasks import classify, localize
from cnnc.tasks.task import Task, runtime_files, task_config

TASKS: dict[str, Task] = {task.name: task for task in (classify.TASK, localize.TASK)}


def generate(analysis, options) -> dict[str, str]:
    """train.py and the runtime for `options.task` on `options.target` (called by `cnnc compile --task`)."""
    from cnnc.cli import UsageError

    task = TASKS.get(options.task)
    if task is None:
        raise UsageError(f"unknown task {options.task!r}; tasks: {', '.join(sorted(TASKS))}")
    if options.target not in task.frameworks:
        raise UsageError(f"task {task.name} has no {options.target} harness")
    try:
        values = task_config(task, options.target, dict(options.task_options))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    plan = task.plan(analysis.graph)
    files = {"train.py": task.render(plan, options.target, values, analysis)}
    files.update(runtime_files(task, options.target))
    return files
