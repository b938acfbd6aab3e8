"""Training curves (curves.png), drawn in a helper process so that drawing never holds up training.

Importing matplotlib and drawing a figure takes about half a second, which is more than a small
model's epoch, so `Curves` (below, used by loop.fit) starts this module as a process when training
starts (its imports then overlap the first epoch, on another core where there is one), sends it the
history (one JSON line) whenever the curves should be redrawn, and at the end of the run waits for the
last picture.  The process draws each history it reads and ends when its input closes, so a run that
is killed still leaves the last curves it sent.

    python -m cnnc_tasks.runtime.curves run/curves.png < histories.jsonl
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .records import atomic_path, metric_names

PLOT_SECONDS = 10.0  # at most one redraw in this time
WAIT_SECONDS = 60.0  # for the last picture, before drawing it here instead
END = "end"  # the last line the helper reads


class Curves:
    """`curves.png` for a history: redrawn at most every `PLOT_SECONDS` and at the end (`close`), by this module
    run as a helper process, which imports matplotlib while training runs.  If the helper cannot start or fails,
    the curves are drawn here at the end, so a real error (no matplotlib) still stops the run with its
    message."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled
        self.drawn, self.at = 0, time.perf_counter()  # rows sent, and when
        self.worker: subprocess.Popen | None = None
        if enabled and sys.executable:
            package = __package__ or "cnnc_tasks.runtime"
            root = Path(__file__).resolve().parents[package.count(".") + 1]  # where the package imports from
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
            try:
                self.worker = subprocess.Popen(
                    [sys.executable, "-m", f"{package}.curves", str(self.path)],
                    stdin=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            except OSError:
                self.worker = None

    def update(self, history: list[dict]) -> None:
        if time.perf_counter() - self.at >= PLOT_SECONDS:
            self._send(history)

    def _send(self, history: list[dict]) -> None:
        if self.enabled and len(history) > self.drawn and self.worker is not None:
            try:
                self.worker.stdin.write(json.dumps(history) + "\n")
                self.worker.stdin.flush()
                self.drawn = len(history)
            except OSError:  # the helper has gone: close() draws here
                pass
        self.at = time.perf_counter()

    def close(self, history: list[dict]) -> None:
        """The last curves, drawn before this returns."""
        if not self.enabled:
            return
        self._send(history)
        failed = self.worker is None
        if self.worker is not None:
            # "end", not only the end of input: DataLoader workers forked meanwhile hold a copy of the pipe
            try:
                self.worker.stdin.write(END + "\n")
                self.worker.stdin.close()
            except OSError:
                pass
            try:
                failed = self.worker.wait(timeout=WAIT_SECONDS) != 0
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
                failed = True
        if (failed or self.drawn < len(history)) and history:
            plot_curves(self.path, history)


def plot_curves(path: Path, history: list[dict]) -> None:
    """Training and validation curves: one panel per metric of the task (loss first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    names = metric_names(history) or ["loss"]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, metric in zip(axes[0], names, strict=True):
        for split in ("train", "val"):
            values = [row.get(f"{split}_{metric}", math.nan) for row in history]
            if not all(v is None or math.isnan(v) for v in values):
                ax.plot(epochs, [math.nan if v is None else v for v in values], marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    # fixed margins (inches over the figure's width): tight_layout would draw the figure twice
    width = 5 * len(names)
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.2 / width, bottom=0.13, top=0.95, wspace=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def main(argv: list[str]) -> None:
    """Draw `argv[0]` from each history read on standard input (an error exits with its traceback, 1)."""
    path = Path(argv[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the run decides, then says "end"
    import matplotlib.pyplot  # noqa: F401  (imported while the first epoch runs, not when it is drawn)

    for line in sys.stdin:
        if line.strip() == END:
            break
        plot_curves(path, json.loads(line))
    sys.stdout.flush()
    os._exit(0)  # the picture is written and replaced whole: skip tearing down matplotlib (the run waits)


if __name__ == "__main__":
    main(sys.argv[1:])
