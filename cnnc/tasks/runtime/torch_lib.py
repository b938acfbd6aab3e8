"""The PyTorch side of the harnesses: device and processes, loaders, model, optimizer, the Trainer.

Task-neutral: the task's framework file (`<task>/runtime/torch.py`) gives the
Trainer its training step's forward pass and loss (written in train.py), the
running numbers of a batch, and the predictions its evaluation reads; the
Trainer does the rest (backward, optimizer, mixed precision, DDP, checkpoints).

Distributed: under `torchrun --nproc_per_node=N` (WORLD_SIZE > 1) every process
joins a process group (nccl on CUDA, gloo on CPU), wraps the model in
DistributedDataParallel and trains on its share of every global batch;
--batch-size is the global batch.  Only rank 0 prints and writes files; every
rank evaluates the whole validation split itself, so all ranks take the same
early-stopping decisions.  Mixed precision (autocast; bfloat16 where the GPU
has it, else float16 with a GradScaler) is on for CUDA with --amp auto.

Reproducible on CPU: the weights are initialised from --seed, the epoch's order
and augmentations come from (seed, epoch) (see data.py), and the dropout draws
of an epoch from a generator seeded with (seed, epoch, rank).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from . import config, loop
from . import data as data_lib
from .config import ConfigError
from .torch_data import batches_on_device, loader

fit, test = loop.fit, loop.test


# ---------------------------------------------------------------- device and processes


@dataclass
class Env:
    device: torch.device
    rank: int = 0
    world: int = 1
    amp_dtype: torch.dtype | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def log(self, *args, **kwargs) -> None:
        if self.is_main:
            print(*args, **kwargs, flush=True)


def parse_args(task_options, values: dict, argv: list[str] | None, doc: str = ""):
    """The run's options: the script's CONFIG, overridden by the command line (`task_options`: the task's
    options module)."""
    return config.parse(config.options_for("torch", *config.task_options(task_options)), values, argv, doc)


def setup(cfg) -> Env:
    """Device, process group (under torchrun), threads, mixed precision, seeds."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device != "auto":
        device = torch.device(cfg.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    amp = cfg.amp == "on" or (cfg.amp == "auto" and device.type == "cuda")
    amp_dtype = None
    if amp:
        bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
        amp_dtype = torch.bfloat16 if bf16 else torch.float16
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    return Env(device, rank, world, amp_dtype)


def run(main) -> int:
    """Run a script's main (see loop.run), leaving the process group at the end."""
    return loop.run(main, finish=lambda: dist.destroy_process_group() if dist.is_initialized() else None)


# ---------------------------------------------------------------- data


def load_data(cfg, inputs: dict, env: Env, reader):
    """The data split and its pipeline, for the model's (only) input; `reader`: the task's targets."""
    (shape,) = inputs.values()
    channels_last = tuple(shape[1:]) + (shape[0],)
    data, pipeline = data_lib.prepare(cfg, channels_last, reader)
    env.log(data.describe())
    return data, pipeline


# ---------------------------------------------------------------- model


def make_model(
    build_model, layers: tuple[str, ...], cfg, env: Env, arguments: dict | None = None, head_layer: str | None = None
) -> nn.Module:
    """The spec's model: constructor `arguments` (the task's, e.g. the head's width for the data), start
    weights (--reset-head leaves `head_layer` as initialised), frozen layers."""
    model = build_model(**(arguments or {})).to(env.device)
    if cfg.weights:
        skip = (head_layer,) if cfg.reset_head and head_layer else ()
        load_matching(model, cfg.weights, env, skip=skip, head=head_layer)
    freeze(model, layers, cfg, head_layer, env)
    return model


def freeze(model: nn.Module, layers: tuple[str, ...], cfg, head_layer: str | None, env: Env) -> None:
    """--freeze-below LAYER, or --unfreeze-top N (all but the head and the N weighted layers below it)."""
    frozen = config.layers_to_freeze(layers, cfg, head_layer)
    for name in frozen:
        if not hasattr(model, name):
            raise ConfigError(f"the model has no layer `{name}` (LAYERS in train.py lists the spec's layers)")
        for p in getattr(model, name).parameters():
            p.requires_grad_(False)
    if frozen:
        env.log(f"frozen: {len(frozen)} layers ({frozen[0]} .. {frozen[-1]})")


def _set_train_mode(model: nn.Module) -> None:
    """Train mode, except batch norms whose weights are frozen: their statistics stay as they are."""
    model.train()
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            module.eval()


def read_weights(path: str, device) -> dict[str, torch.Tensor]:
    """A state dict from a weights file (a state dict, or one of our checkpoints)."""
    try:
        obj = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"no weights file {path}") from None
    except Exception as exc:
        raise ConfigError(f"cannot read weights {path}: {loop.first_line(exc)}") from None
    return obj["model"] if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict) else obj


def load_matching(model: nn.Module, path: str, env: Env, skip: tuple = (), head: str | None = None) -> None:
    """Load the tensors whose name and shape match; report the rest (a new head is the usual case).  A state
    dict with none of the model's names (torchvision's) is aligned by order and shape instead."""
    source = read_weights(path, env.device)
    own = model.state_dict()
    how = ""
    if not set(own) & set(source):
        source, how = align_by_order(own, source, path, head), " (no name in common: aligned by order and shape)"
    extra = sorted(k for k in source if k not in own)
    if extra:  # a deeper network's file (resnet34 into resnet18) shares names: never load part of it silently
        raise ConfigError(
            f"{path} does not fit the model: {len(extra)} of its tensors have no place in it "
            f"(first: {extra[0]}; nothing loaded)"
        )
    take = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape and k.split(".")[0] not in skip}
    if not take:
        raise ConfigError(f"{path}: no tensor matches the model by name and shape")
    model.load_state_dict(take, strict=False)
    left = sorted(set(own) - set(take))
    env.log(
        f"weights: {len(take)}/{len(own)} tensors from {path}{how}"
        + (f"; left as initialised: {', '.join(left)}" if left else "")
    )


def align_by_order(own: dict, source: dict, path: str, head: str | None) -> dict[str, torch.Tensor]:
    """`source`'s tensors under the model's names: the i-th tensor of each (batch-norm counters aside) must
    have the same shape, except the head's (`head`: its layer), left for a new number of classes.  Anything
    else refuses the whole file, naming both tensors.  (`cnnc import-weights` does this with the spec at
    hand, also for Keras files, and lists every match.)"""
    mine = [k for k in own if not k.endswith("num_batches_tracked")]
    theirs = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    if len(mine) != len(theirs):
        raise ConfigError(f"{path} does not fit the model: {len(theirs)} tensors, the model has {len(mine)}")
    out = {}
    for key, (name, value) in zip(mine, theirs, strict=True):  # equal lengths, checked above
        if tuple(value.shape) != tuple(own[key].shape):
            if head is not None and key.startswith(head + "."):
                continue
            raise ConfigError(
                f"{path} does not fit the model: {name} is {tuple(value.shape)}, the model's {key} "
                f"needs {tuple(own[key].shape)} (nothing loaded)"
            )
        out[key] = value
    return out


def digest(model: nn.Module) -> str:
    """A fingerprint of every weight and buffer (to compare processes or runs)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- optimizer


def make_optimizer(params, cfg, lr: float | None = None) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ConfigError("every weight is frozen: nothing to train")
    lr = cfg.lr if lr is None else lr
    decay = cfg.weight_decay
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=decay
        )
    table = {
        "adam": torch.optim.Adam,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
        "adadelta": torch.optim.Adadelta,
    }
    return table[cfg.optimizer](params, lr, weight_decay=decay)


# ---------------------------------------------------------------- training


class Trainer:
    """One model, its optimizer and loaders: what `loop.fit` drives (see loop.Trainer)."""

    def __init__(self, model: nn.Module, task, optimizer, data, pipeline, cfg, env: Env):
        self.model, self.task, self.optimizer = model, task, optimizer
        self.data, self.pipeline, self.cfg, self.env = data, pipeline, cfg, env
        self.net = model
        if env.distributed:
            # convs with one input channel give grads whose strides DDP's buckets do not expect: harmless
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
            ids = [env.device.index] if env.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.train_loader = loader(
            data.train, pipeline, cfg, env, train=True, order=data_lib.task_order(task, data.train)
        )
        self.scaler = torch.amp.GradScaler(enabled=env.amp_dtype == torch.float16)
        self.is_main = env.is_main
        out = Path(cfg.out)
        self.files = {"last": out / "last.pt", "best": out / "best.pt"}
        self.regularized = [p for p in model.parameters() if p.requires_grad] if cfg.l1 else []

    def _autocast(self):
        if self.env.amp_dtype is None:  # entering a disabled autocast costs as much as a small layer, every step
            return contextlib.nullcontext()
        return torch.autocast(self.env.device.type, dtype=self.env.amp_dtype)

    def _step_loss(self, x, y):
        loss, outputs = self.task.step(self.net, x, y)  # the task's forward pass and loss (train.py)
        if self.regularized:
            loss = loss + self.cfg.l1 * sum(p.abs().sum() for p in self.regularized)
        return outputs, loss

    def train_epoch(self, epoch: int, lr: float, progress: loop.Progress, guard: loop.Guard) -> dict:
        env = self.env
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        torch.manual_seed(self.cfg.seed * 1_000_003 + epoch * 1_009 + env.rank)  # this epoch's dropout draws
        _set_train_mode(self.model)
        self.train_loader.sampler.epoch = epoch
        steps = len(self.train_loader)
        progress.start(epoch, self.cfg.epochs, steps)
        names = ("loss", *self.task.running_names)
        # Per step, one row on the device: the batch's loss and the task's running sums.  Nothing is read
        # back during a step (no sync on a GPU, and one copy instead of a dozen tiny ops on a CPU); the
        # guard reads the rows since its last look at the read points below.
        record = torch.zeros(steps, len(names), device=env.device, dtype=torch.float64)
        sizes: list[int] = []
        read = 0  # rows the guard has seen
        start = loop.time.perf_counter()
        for step, (x, y) in enumerate(batches_on_device(self.train_loader, env), 1):
            with self._autocast():
                outputs, loss = self._step_loss(x, y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            with torch.no_grad():
                record[step - 1] = torch.stack([loss.detach().double(), *self.task.running(outputs, y)])
            sizes.append(len(y))
            # the run's first steps are read at once (the guard's reference); after that, a deterministic
            # schedule of reads: under DDP every rank must call the same collectives
            if guard.warming_up or step % 20 == 0 or (not env.distributed and progress.due()):
                read = self._check(guard, epoch, record, read, step)
                if progress.mode == "bar":
                    progress.update(step, dict(zip(names, self._means(record[:step], sizes).tolist(), strict=True)))
        self._check(guard, epoch, record, read, len(sizes))
        totals = self._means(record[: len(sizes)], sizes, totals=True)
        if env.distributed:
            dist.all_reduce(totals)
            for buffer in self.model.buffers():  # batch-norm statistics: rank 0's, as DDP's next forward would
                dist.broadcast(buffer, 0)
        means, count = (totals[:-1] / totals[-1]).tolist(), totals[-1].item()
        guard.check(epoch, steps, means[0])
        seconds = loop.time.perf_counter() - start
        return {
            **{f"train_{n}": v for n, v in zip(names, means, strict=True)},
            "images_per_s": round(count / max(seconds, 1e-9), 1),
        }

    @staticmethod
    def _means(rows: torch.Tensor, sizes: list[int], totals: bool = False) -> torch.Tensor:
        """Steps' rows -> the loss's example-weighted mean and the running numbers per example; `totals`: the
        sums and the count instead (what ranks add up)."""
        weights = torch.tensor(sizes[: len(rows)], device=rows.device, dtype=torch.float64)
        sums = torch.cat([(rows[:, :1] * weights[:, None]).sum(0), rows[:, 1:].sum(0), weights.sum()[None]])
        return sums if totals else sums[:-1] / sums[-1].clamp_min(1)

    def _check(self, guard: loop.Guard, epoch: int, record: torch.Tensor, read: int, step: int) -> int:
        """The guard looks at the losses of steps read+1 .. step (under DDP, each step's worst over the ranks, so
        every rank stops at the same step); returns the steps read."""
        losses = record[read:step, 0]
        if self.env.distributed:  # NaN travels as a flag: a MAX reduction need not propagate it
            both = torch.cat([torch.isnan(losses).double(), torch.nan_to_num(losses, nan=-math.inf)])
            dist.all_reduce(both, op=dist.ReduceOp.MAX)
            losses = torch.where(both[: len(losses)] > 0, math.nan, both[len(losses) :])
        for i, value in enumerate(losses.tolist(), read + 1):
            guard.check(epoch, i, value)
        return step

    def weights_finite(self) -> bool:
        """Every weight and buffer is finite (checked before any is saved)."""
        finite = (
            torch.stack([torch.isfinite(t).all() for t in self.model.state_dict().values() if t.is_floating_point()])
            .all()
            .float()
        )
        if self.env.distributed:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite.item())

    @torch.inference_mode()
    def predict(self, split, ten_crop: bool = False) -> np.ndarray:
        """The task's predictions for a split (every rank computes all of them); 10-crop averages crops."""
        self.model.eval()
        crops = self.cfg.tta_scale if ten_crop else 0.0
        outs = []
        batches = loader(split, self.pipeline, self.cfg, self.env, train=False, ten_crop=crops)
        for x, _ in batches_on_device(batches, self.env):
            with self._autocast():
                predicted = self.task.predictions(self.model(x)).float()
            if ten_crop:
                predicted = predicted.view(-1, 10, *predicted.shape[1:]).mean(dim=1)
            outs.append(predicted.cpu())
        return torch.cat(outs).numpy().astype(np.float64) if outs else np.zeros((0, *self.task.prediction_shape))

    def save_checkpoint(self, path: Path, state: dict) -> None:
        blob = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": state,
        }
        with loop.atomic_path(path) as tmp:
            torch.save(blob, tmp)

    def load_checkpoint(self, path: Path) -> dict:
        try:
            blob = torch.load(path, map_location=self.env.device, weights_only=True)
            self.model.load_state_dict(blob["model"])
            self.optimizer.load_state_dict(blob["optimizer"])
            self.scaler.load_state_dict(blob["scaler"])
            return dict(blob["state"])
        except Exception as exc:  # truncated, another spec's, not a checkpoint: one line, exit 2
            raise ConfigError(f"cannot resume from {path}: {loop.first_line(exc)} (delete it to start over)") from None

    def save_weights(self, path: Path) -> None:
        with loop.atomic_path(path) as tmp:
            torch.save(self.model.state_dict(), tmp)

    def load_weights(self, path: str) -> None:
        self.model.load_state_dict(read_weights(path, self.env.device))


def check_ranks_agree(model: nn.Module, env: Env) -> None:
    """Each rank prints its weights' fingerprint; rank 0 says whether they all agree."""
    if not env.distributed:
        return
    mine = digest(model)
    print(f"rank {env.rank}: weights {mine}", flush=True)
    if env.distributed:
        gathered: list = [None] * env.world
        dist.all_gather_object(gathered, mine)
        env.log("ranks agree: identical weights" if len(set(gathered)) == 1 else f"warning: ranks disagree: {gathered}")


# --- reading a network's layers (style transfer, unit visualisation) ---------------------------

TAP_ACTIVATIONS = {  # (tensor, alpha) -> tensor: the ops a generated model may apply after a module as functions
    "relu": lambda x, a: F.relu(x),
    "relu6": lambda x, a: F.relu6(x),
    "sigmoid": lambda x, a: torch.sigmoid(x),
    "tanh": lambda x, a: torch.tanh(x),
    "swish": lambda x, a: F.silu(x),
    "hard_swish": lambda x, a: F.hardswish(x),
    "hard_sigmoid": lambda x, a: F.hardsigmoid(x),
    "gelu": lambda x, a: F.gelu(x),
    "leaky_relu": lambda x, a: F.leaky_relu(x, a),
    "elu": lambda x, a: F.elu(x, a),
    "dropout": lambda x, a: x,  # eval mode
    "identity": lambda x, a: x,
}


class EnoughLayers(Exception):
    """Raised by the hook of the deepest layer read: nothing after it need be computed."""
