"""The epoch loop, once for every framework: schedule, early stopping, checkpoints, logs.

A framework file supplies a `Trainer` (see the protocol below); `fit` drives
it.  What the numbers are is the task's: after each epoch `fit` asks the
task's evaluation for the validation split's numbers (`summary`) and writes
and plots whatever comes back (train_* from the trainer, val_* from the task);
early stopping, the best checkpoint and the plateau schedule follow any of
them (--monitor).  After every epoch the loop writes, atomically: `last` (everything needed
to resume: weights, optimizer, schedule, early-stopping state, history),
`best` (the weights with the best --monitor so far) and `log.csv`;
`curves.png` is drawn by a helper process (curves.py) every `PLOT_SECONDS` and
when the run ends (however it ends), so drawing never holds up an epoch.
Resuming loads `last` and continues with the next epoch; since the shuffling,
the augmentation and the dropout draws of an epoch are seeded by (seed, epoch),
a resumed run ends with the weights of an uninterrupted one.

A step loss that is NaN or infinite, or more than --max-loss-ratio times the
mean loss of the run's first steps (a reference from the first step on), stops
the run (`Diverged`, exit 3), as do a learning rate float32 cannot hold, a
validation number that is not finite and weights that are not: nothing
non-finite is ever saved, and the message names the last good checkpoint.
"""

from __future__ import annotations

import atexit
import gc
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import ConfigError
from .curves import Curves
from .data import DataError
from .records import atomic_path as atomic_path  # the framework and task files write through loop
from .records import write_csv, write_text

EXIT_OK, EXIT_DATA, EXIT_DIVERGED = 0, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process ended by Ctrl-C


FLOAT32_MAX = 3.4028234663852886e38


class Diverged(Exception):
    def __init__(self, epoch: int, step: int | None, loss: float, reason: str, what: str = "the loss"):
        where = f"epoch {epoch + 1}, step {step}" if step is not None else f"the end of epoch {epoch + 1}"
        super().__init__(f"{where}: {what} {reason} ({loss:.4g})")
        self.epoch, self.step, self.loss = epoch, step, loss


class Evaluation(Protocol):
    """The task's side of evaluation (its runtime/common.py), numpy on the trainer's predictions."""

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]: ...  # per epoch: {"loss": ..., ...}
    def evaluate(self, predictions: np.ndarray, split, data) -> dict: ...  # the test result (metrics.json)
    def report(self, result: dict, title: str) -> str: ...  # the printed test report
    def show(self, trainer, predictions: np.ndarray, split) -> None: ...  # pictures of predictions, if any


class Trainer(Protocol):
    is_main: bool  # the process that prints and writes files (rank 0)
    files: dict[str, Path]  # "last", "best"
    task: Evaluation

    def train_epoch(self, epoch: int, lr: float, progress: Progress, guard: Guard) -> dict[str, float]: ...
    def predict(self, split) -> np.ndarray: ...  # what the task's evaluation reads, N x ...
    def save_checkpoint(self, path: Path, state: dict) -> None: ...
    def load_checkpoint(self, path: Path) -> dict: ...
    def save_weights(self, path: Path) -> None: ...
    def load_weights(self, path: str) -> None: ...


# ---------------------------------------------------------------- what a person sees


class Progress:
    """A bar per epoch on a terminal; one line per epoch otherwise."""

    def __init__(self, mode: str = "auto", stream=None, enabled: bool = True):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "epoch"
        self.mode = mode if enabled else "none"
        self.epoch, self.epochs, self.steps, self.start_time, self.last_draw = 0, 0, 0, 0.0, 0.0

    def start(self, epoch: int, epochs: int, steps: int) -> None:
        self.epoch, self.epochs, self.steps = epoch, epochs, steps
        self.start_time = self.last_draw = time.perf_counter()

    def due(self) -> bool:
        """Whether a redraw is due (the caller then reads its running numbers, which may sync a device)."""
        return self.mode == "bar" and time.perf_counter() - self.last_draw > 0.5

    def update(self, step: int, values: dict[str, float]) -> None:
        if self.mode != "bar":
            return
        self.last_draw = time.perf_counter()
        done = int(24 * step / max(self.steps, 1))
        bar = "=" * done + (">" if done < 24 else "") + " " * (23 - done)
        text = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        print(
            f"\repoch {self.epoch + 1}/{self.epochs} [{bar}] {step}/{self.steps} {text}",
            end="",
            file=self.stream,
            flush=True,
        )

    def line(self, text: str) -> None:
        if self.mode == "none":
            return
        if self.mode == "bar":
            print("\r\033[K", end="", file=self.stream)
        print(text, file=self.stream, flush=True)


class Guard:
    """Stops a run whose loss is NaN, infinite, or exploding.

    The reference is the mean loss of the run's first steps, from the first one on (so a run of a
    few steps is guarded too); `limit` is the loss past which a step has exploded, for a framework
    that compares on the device and asks `check` only when a step crossed it.
    """

    def __init__(self, max_ratio: float, warmup_steps: int = 10):
        self.max_ratio, self.warmup_steps = max_ratio, warmup_steps
        self.reference: float | None = None
        self._first: list[float] = []

    @property
    def warming_up(self) -> bool:
        return len(self._first) < self.warmup_steps

    @property
    def limit(self) -> float:
        if self.reference is None or self.max_ratio <= 0:
            return math.inf
        return self.max_ratio * self.reference

    def check(self, epoch: int, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            raise Diverged(epoch, step, loss, "is not a number" if math.isnan(loss) else "is infinite")
        if loss > self.limit:
            raise Diverged(
                epoch, step, loss, f"exploded past {self.max_ratio:g} times its start ({self.reference:.4g})"
            )
        if self.warming_up:
            self._first.append(loss)
            self.reference = max(float(np.mean(self._first)), 1e-8)

    def check_rate(self, epoch: int, lr: float) -> None:
        """A learning rate float32 cannot hold turns every weight into inf or NaN at the first step."""
        if not (math.isfinite(lr) and abs(lr) <= FLOAT32_MAX):
            raise Diverged(epoch, 0, lr, "overflows float32", what="the learning rate")

    @staticmethod
    def check_losses(epoch: int, row: dict) -> None:
        """The epoch's losses, training and validation, are finite."""
        for name, value in row.items():
            if name.endswith("loss") and isinstance(value, float) and not math.isfinite(value):
                raise Diverged(
                    epoch,
                    None,
                    value,
                    "is not a number" if math.isnan(value) else "is infinite",
                    what=f"the {name.replace('_', ' ')}",
                )


# ---------------------------------------------------------------- schedule, early stopping


class Schedule:
    """The learning rate of each epoch: warm-up, then constant, step, cosine, exponential or plateau."""

    def __init__(self, cfg):
        self.kind, self.base, self.epochs = cfg.schedule, cfg.lr, cfg.epochs
        self.step, self.gamma, self.warmup = max(1, cfg.lr_step), cfg.lr_gamma, cfg.warmup
        self.state = {"reductions": 0, "best": None, "wait": 0}

    def lr(self, epoch: int) -> float:
        if epoch < self.warmup:
            return self.base * (epoch + 1) / (self.warmup + 1)
        e = epoch - self.warmup
        if self.kind == "step":
            return self.base * self.gamma ** (e // self.step)
        if self.kind == "exponential":
            return self.base * self.gamma**e
        if self.kind == "cosine":
            return 0.5 * self.base * (1 + math.cos(math.pi * e / max(1, self.epochs - self.warmup)))
        if self.kind == "plateau":
            return self.base * self.gamma ** self.state["reductions"]
        return self.base

    def observe(self, value: float | None, better) -> None:
        """Plateau: after --lr-step epochs without improvement, multiply the rate by --lr-gamma."""
        if self.kind != "plateau" or value is None:
            return
        if self.state["best"] is None or better(value, self.state["best"]):
            self.state.update(best=value, wait=0)
        else:
            self.state["wait"] += 1
            if self.state["wait"] >= self.step:
                self.state.update(reductions=self.state["reductions"] + 1, wait=0)


def better_for(monitor: str):
    if monitor.endswith("loss"):
        return lambda new, old: new < old
    return lambda new, old: new > old


# ---------------------------------------------------------------- the loop


def fit(trainer: Trainer, cfg, data, log=print) -> int:
    """Train for cfg.epochs (resuming if asked); returns an exit status."""
    out = Path(cfg.out)
    state: dict[str, Any] = {"epoch": 0, "best": None, "best_epoch": None, "wait": 0, "history": [], "schedule": None}
    last = trainer.files["last"]
    if cfg.resume and last.exists():
        state.update(trainer.load_checkpoint(last))
        log(f"resumed from {last} after epoch {state['epoch']}")
    elif cfg.resume:
        log(f"no checkpoint at {last}: starting from the beginning")
    schedule = Schedule(cfg)
    if state["schedule"]:
        schedule.state.update(state["schedule"])
    monitor = cfg.monitor
    better = better_for(monitor)
    progress = Progress(cfg.progress, enabled=trainer.is_main)
    guard = Guard(cfg.max_loss_ratio)
    ran = 0
    curves = Curves(out / "curves.png", enabled=trainer.is_main)
    try:
        for epoch in range(state["epoch"], cfg.epochs):
            lr = schedule.lr(epoch)
            start = time.perf_counter()
            try:
                guard.check_rate(epoch, lr)
                row = {"epoch": epoch + 1, "lr": lr, **trainer.train_epoch(epoch, lr, progress, guard)}
                row["seconds"] = round(time.perf_counter() - start, 3)
                if len(data.val):
                    summary = trainer.task.summary(trainer.predict(data.val), data.val)
                    row.update({f"val_{k}": v for k, v in summary.items()})
                guard.check_losses(epoch, row)
                if not getattr(trainer, "weights_finite", lambda: True)():  # never saved as best or last
                    raise Diverged(epoch, None, math.nan, "are not all finite", what="the weights")
            except Diverged as exc:
                log(
                    f"error: training stopped at {exc}; {_kept(trainer, state)}\n"
                    f"help: lower the learning rate (--lr {cfg.lr:g}), or add batch norm or gradient-friendly init"
                )
                return EXIT_DIVERGED
            if monitor not in row:
                fallback = "val_loss" if "val_loss" in row else "train_loss"
                log(
                    f"note: no {monitor} this run (no validation split, or the task does not report it: it reports "
                    f"{', '.join(c for c in row if c.startswith(('train_', 'val_')))}): monitoring {fallback} instead"
                )
                monitor, better = fallback, better_for(fallback)
            value = row[monitor]
            improved = value is not None and (state["best"] is None or better(value, state["best"]))
            if improved:
                state.update(best=value, best_epoch=epoch + 1, wait=0)
                if trainer.is_main:
                    trainer.save_weights(trainer.files["best"])
            else:
                state["wait"] += 1
            schedule.observe(value, better)
            state["history"].append(row)
            state.update(epoch=epoch + 1, schedule=dict(schedule.state))
            if trainer.is_main:
                trainer.save_checkpoint(last, state)
                write_csv(out / "log.csv", state["history"])
            curves.update(state["history"])
            progress.line(epoch_line(row, cfg.epochs, improved))
            ran += 1
            if cfg.patience and state["wait"] >= cfg.patience:
                log(
                    f"early stop: no better {monitor} for {cfg.patience} epochs (best {state['best']:.4f} "
                    f"at epoch {state['best_epoch']})"
                )
                break
            if cfg.stop_after and ran >= cfg.stop_after and epoch + 1 < cfg.epochs:
                log(f"stopping after {ran} epoch(s) of this run (--stop-after); continue with --resume")
                break
    except KeyboardInterrupt as exc:
        log(f"interrupted in epoch {state['epoch'] + 1}: {_kept(trainer, state)}; --resume goes on from there")
        exc.reported = True  # run() adds nothing
        raise
    finally:
        curves.close(state["history"])
    return EXIT_OK


def run(main, finish=None) -> int:
    """Run a script's main: a data or option problem is one clear line and exit status 2; `finish` runs last
    whatever happens (leaving a process group)."""
    # At exit the interpreter's collector would walk every object the frameworks made (about a second
    # after torch or TensorFlow, measured with bench/train_command.py); frozen, they are only freed.
    atexit.register(gc.freeze)
    try:
        return main()
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}", flush=True)
        return EXIT_DATA
    except KeyboardInterrupt as exc:  # one line, not a traceback from wherever the step was
        if not getattr(exc, "reported", False):  # fit says what was kept
            print("interrupted", flush=True)
        return EXIT_INTERRUPTED
    finally:
        if finish is not None:
            finish()


def first_line(exc: BaseException) -> str:
    """An exception as one line for a person: its first line, or its type if it has no message."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _kept(trainer: Trainer, state: dict) -> str:
    """What a stopped run leaves: the last good checkpoint and the best weights, by name."""
    if not state["epoch"]:
        return "no checkpoint was saved (it stopped in the first epoch)"
    text = f"the last good checkpoint is {trainer.files['last']} (epoch {state['epoch']})"
    if state["best_epoch"]:
        text += f", the best weights {trainer.files['best']} (epoch {state['best_epoch']})"
    return text


def epoch_line(row: dict, epochs: int, improved: bool) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}"]
    parts.append(" ".join(f"{k.removeprefix('train_')} {row[k]:.4f}" for k in row if k.startswith("train_")))
    val = [f"{k.removeprefix('val_')} {row[k]:.4f}" for k in row if k.startswith("val_")]
    if val:
        parts.append("val " + " ".join(val))
    extra = f"lr {row['lr']:.3g}  {row['seconds']:.1f}s"
    if "images_per_s" in row:
        extra += f" {row['images_per_s']:.0f} img/s"
    parts.append(extra + ("  *best" if improved else ""))
    return " | ".join(parts)


def save_report(out: Path, result: dict, name: str = "metrics.json") -> None:
    write_text(Path(out) / name, json.dumps(result, indent=1) + "\n")


def test(trainer: Trainer, cfg, files: list[str] | None = None) -> dict:
    """The test split with the best weights, or the average prediction of several weight files (an ensemble
    of runs): the task's report printed and written to <out>/metrics.json, and its pictures (if any)."""
    files = files or ([str(trainer.files["best"])] if trainer.files["best"].exists() else [])
    split = trainer.data.test
    if not len(split):
        trainer.env.log("test: the test split is empty")
        return {}
    ten_crop = getattr(cfg, "ten_crop", False)  # a test-time option of the tasks that offer it
    predictions = []
    for path in files or [None]:
        if path is not None:
            trainer.load_weights(path)
        predictions.append(trainer.predict(split, ten_crop=ten_crop))
    mean_prediction = np.mean(predictions, axis=0)
    result = trainer.task.evaluate(mean_prediction, split, trainer.data)
    title = "test" + (" (10-crop)" if ten_crop else "")
    title += f" (ensemble of {len(files)})" if len(files) > 1 else ""
    result.update(weights=files, ten_crop=ten_crop)
    if trainer.is_main:
        print(trainer.task.report(result, title), flush=True)
        save_report(Path(cfg.out), result)
        trainer.task.show(trainer, mean_prediction, split)
    return result
