"""PyTorch loaders for the harnesses: whole batches from the shared pipeline (data.py), NCHW.

The sampler yields (epoch, indices) for this process's share of every global batch, so the epoch's
augmentation seeds travel with the indices to the workers; a file that fails to decode comes back from a
worker as its message and is raised, with the file's name, in the main process.  In-memory examples that
are not augmented are prepared once and indexed per batch in the main process, as a hand-written loop
over a tensor would.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from . import data as data_lib
from .data import DataError


class _EpochBatches(Sampler):
    """Yields (epoch, indices) of this process's batches; the epoch travels with them to the workers."""

    def __init__(self, n, batch_size, seed, shuffle, env, drop_last, order=None):
        self.args = (n, batch_size, seed)
        self.shuffle, self.env, self.drop_last, self.epoch, self.order = shuffle, env, drop_last, 0, order

    def batches(self) -> list[np.ndarray]:
        if self.order is not None and self.shuffle:  # the task's training batches (verification: P x K)
            return self.order(self.epoch, self.env.rank, self.env.world)
        n, batch_size, seed = self.args
        world = self.env.world if self.shuffle else 1  # evaluation: every rank sees everything
        return data_lib.batch_indices(
            n, batch_size, seed, self.epoch, self.shuffle, self.env.rank, world, self.drop_last
        )

    def __iter__(self):
        return iter([(self.epoch, b) for b in self.batches()])

    def __len__(self) -> int:
        return len(self.batches())


class _Batches(Dataset):
    """Whole batches, NCHW; a file that fails to load comes back as its message, raised in the main process.

    Examples in memory that are not augmented are prepared once (scaled, centred, NCHW) and then only
    indexed, as a hand-written loop over a tensor would."""

    def __init__(self, split, pipeline, train: bool, ten_crop: float = 0.0):
        self.split, self.pipeline, self.train, self.ten_crop = split, pipeline, train, ten_crop
        fixed = split.in_memory and not ten_crop and not (train and pipeline.augment.active)
        self.prepared = None
        if fixed and split.images.size * 4 < data_lib.PREPARE_LIMIT:
            x, _ = pipeline.batch(split, np.arange(len(split)), 0, train=False)
            self.prepared = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
            self.targets = torch.from_numpy(split.targets)

    def __getitem__(self, item):
        epoch, indices = item
        if self.prepared is not None:
            index = torch.from_numpy(indices)
            return self.prepared[index], self.targets[index]
        try:
            if self.ten_crop:
                x, y = self.pipeline.ten_crop_batch(self.split, indices, self.ten_crop), self.split.targets[indices]
            else:
                x, y = self.pipeline.batch(self.split, indices, epoch, self.train)
        except DataError as exc:
            return str(exc)
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
        return torch.from_numpy(x), torch.from_numpy(np.asarray(y))

    def __len__(self) -> int:
        return len(self.split)


def loader(split, pipeline, cfg, env, train: bool, ten_crop: float = 0.0, order=None) -> DataLoader:
    """`order(epoch, rank, world)`: this process's training batches where the task chooses them."""
    workers = cfg.workers
    if workers < 0:  # auto: decoding or augmenting goes to background workers
        busy = not split.in_memory or (train and pipeline.augment.active) or bool(ten_crop)
        workers = min(4, max(1, (os.cpu_count() or 2) // max(env.world, 1) - 1)) if busy else 0
    sampler = _EpochBatches(
        len(split), cfg.batch_size, cfg.seed, train, env, drop_last=train and len(split) > cfg.batch_size, order=order
    )
    # its own generator: starting workers must not draw from the global one, which seeds dropout
    return DataLoader(
        _Batches(split, pipeline, train, ten_crop),
        sampler=sampler,
        batch_size=None,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator(),
        pin_memory=env.device.type == "cuda",
        prefetch_factor=4 if workers else None,
    )


def batches_on_device(loader_: DataLoader, env):
    """(x, y) on the device.  Prepared in-memory data skips the DataLoader machinery: nothing to overlap."""
    dataset = loader_.dataset
    batches = (
        (dataset[item] for item in loader_.sampler)
        if dataset.prepared is not None and loader_.num_workers == 0
        else loader_
    )
    for batch in batches:
        if isinstance(batch, str):
            raise DataError(batch)
        x, y = batch
        yield x.to(env.device, non_blocking=True), y.to(env.device, non_blocking=True)
