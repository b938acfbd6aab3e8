"""Classification with PyTorch: what the shared Trainer asks of the task, and transfer on cached features.

The loss and the training step's forward pass are written in train.py (specialised to the spec's head
by cnnc); this file turns the head's output into class probabilities and counts correct predictions.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...runtime import loop
from ...runtime.config import ConfigError
from ...runtime.torch_data import batches_on_device, loader
from ...runtime.torch_lib import digest, make_optimizer
from .common import Evaluation, Head, summary
from .common import Reader as Reader  # train.py reads the data through the task's framework file

_EPS = 1e-7


def main_output(head: Head, out):
    """The trained output of a forward pass (the others are auxiliary heads)."""
    return out[head.outputs.index(head.output)] if isinstance(out, (tuple, list)) else out


def probabilities(head: Head, out: torch.Tensor) -> torch.Tensor:
    """Class probabilities, N x K (a binary head gives [1 - p, p])."""
    out = out.float()
    if head.activation == "logits":
        out = torch.sigmoid(out) if head.binary else torch.softmax(out, dim=1)
    if head.binary:
        return torch.cat([1 - out, out], dim=1)
    if head.activation == "sigmoid":  # one-vs-rest scores, normalised to compare
        return out / out.sum(dim=1, keepdim=True).clamp_min(_EPS)
    return out


class Classify(Evaluation):
    """The task for the shared Trainer: `step` and `loss` come from train.py."""

    running_names = ("acc",)

    def __init__(self, head: Head, cfg, step, loss, classes: int):
        super().__init__(head, cfg)
        self._step, self.loss = step, loss
        self.prediction_shape = (max(classes, 2),)

    def step(self, net, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._step(net, x, y, self.cfg)

    def running(self, main: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """How many predictions of a batch are right (a binary head: past 0.5, or past 0 for a logit)."""
        if self.head.binary:
            threshold = 0.5 if self.head.activation == "sigmoid" else 0.0
            return [((main[:, 0] > threshold).long() == y).sum().double()]
        return [(main.argmax(dim=1) == y).sum().double()]

    def predictions(self, out) -> torch.Tensor:
        return probabilities(self.head, main_output(self.head, out))


# ---------------------------------------------------------------- transfer learning: cached features


class _Stop(Exception):
    pass


def _features(model: nn.Module, layer: nn.Module, batches) -> np.ndarray:
    """The inputs of `layer` over a split: the forward pass stops there."""
    grabbed: list[torch.Tensor] = []

    def grab(module, args):
        grabbed.append(torch.flatten(args[0], 1).float().cpu())
        raise _Stop

    handle = layer.register_forward_pre_hook(grab)
    model.eval()
    try:
        with torch.inference_mode():
            for x, _ in batches:
                try:
                    model(x)
                except _Stop:
                    pass
    finally:
        handle.remove()
    return torch.cat(grabbed).numpy() if grabbed else np.zeros((0, 0), np.float32)


def cached_features(trainer, split, name: str) -> np.ndarray:
    """Features of a split from <out>/features, computed once per (weights, data, seed)."""
    cfg, env = trainer.cfg, trainer.env
    key = hashlib.sha256(f"{digest(trainer.model)}|{cfg.data}|{cfg.split}|{cfg.seed}|{cfg.normalize}".encode())
    path = Path(cfg.out) / "features" / f"{name}-{key.hexdigest()[:12]}.npy"
    if path.exists():
        return np.load(path)
    batches = batches_on_device(loader(split, trainer.pipeline, cfg, env, train=False), env)
    feats = _features(trainer.model, getattr(trainer.model, trainer.task.head.layer), batches)
    if env.is_main:
        with loop.atomic_path(path) as tmp:
            np.save(tmp, feats)
    return feats


def train_head_on_features(trainer, log=print) -> None:
    """Feature extraction: run the frozen base once, cache its features, train the head layer on them."""
    head, cfg, env, model = trainer.task.head, trainer.cfg, trainer.env, trainer.model
    if not head.dense_tail:
        raise ConfigError(
            "--feature-extract needs the spec to end in a dense layer followed only by activations or dropout"
        )
    feats = {s: torch.from_numpy(cached_features(trainer, getattr(trainer.data, s), s)) for s in ("train", "val")}
    labels = {s: torch.from_numpy(getattr(trainer.data, s).targets) for s in ("train", "val")}
    layer = copy.deepcopy(getattr(model, head.layer)).cpu().float().train()
    optimizer = make_optimizer(layer.parameters(), cfg, lr=cfg.head_lr or cfg.lr)
    act = {"softmax": lambda t: torch.softmax(t, 1), "sigmoid": torch.sigmoid}.get(head.activation, lambda t: t)
    generator = torch.Generator().manual_seed(cfg.seed)
    n = len(feats["train"])
    for epoch in range(cfg.head_epochs):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            loss = trainer.task.loss(act(layer(feats["train"][idx])), labels["train"][idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if len(labels["val"]) and (epoch + 1) % max(1, cfg.head_epochs // 5) == 0:
            with torch.no_grad():
                probs = probabilities(head, act(layer(feats["val"]))).numpy()
            s = summary(probs, labels["val"].numpy())
            log(
                f"head {epoch + 1}/{cfg.head_epochs}: loss {loss.item():.4f} | val loss {s['loss']:.4f} "
                f"acc {s['acc']:.4f}"
            )
    getattr(model, head.layer).load_state_dict(layer.state_dict())
    if env.is_main:
        trainer.save_weights(trainer.files["best"])
