"""Training tasks, framework-neutral: what a task needs from a spec and what it writes.

A task is one folder, `cnnc/tasks/<task>/`, and one `Task` record in `TASKS`:

- `plan(graph) -> object`: checks that the spec has the inputs and outputs the
  task needs and returns what the script must know about them (a head
  record); a mismatch is a `CnncError` with diagnostics that point at the spec.
- `render(plan, framework, config, analysis) -> str`: the task's `train.py`,
  a short script: the head, the options with this compile's defaults, the
  task's loss and training step written out for the spec's head, main().
- `options`: its options module (its own options, and the shared ones it
  leaves out); `folder`: its package, whose `options.py` and `runtime/` go
  into the compiled folder beside the shared runtime (see task.py).

The shared runtime (`cnnc/tasks/runtime/`) knows no task.  A new task
(landmarks, detection, segmentation, siamese, style transfer) is a new folder
like `localize/` and one entry in `TASKS` below.
"""

from __future__ import annotations

from cnnc.errors import UsageError
from cnnc.tasks import classify, detect, landmarks, localize, segment, style, verify, visualize
from cnnc.tasks.task import Task, runtime_files, task_config

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        classify.TASK,
        localize.TASK,
        landmarks.TASK,
        detect.TASK,
        segment.TASK,
        verify.TASK,
        style.TASK,
        visualize.TASK,
    )
}


def generate(analysis, options) -> dict[str, str]:
    """train.py and the runtime for `options.task` on `options.target` (called by `cnnc compile --task`)."""
    task = TASKS.get(options.task)
    if task is None:
        raise UsageError(f"unknown task {options.task!r}; tasks: {', '.join(sorted(TASKS))}")
    if options.target not in task.frameworks:
        raise UsageError(f"task {task.name} has no {options.target} harness")
    try:
        values = task_config(task, options.target, dict(options.task_options))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    plan = task.plan(analysis.graph, values) if task.configured else task.plan(analysis.graph)
    files = {task.script: task.render(plan, options.target, values, analysis)}
    if task.scripts is not None:  # the task's other scripts (verify: verify.py, recognize.py)
        files.update(task.scripts(plan, options.target))
    files.update(runtime_files(task, options.target))
    return files
