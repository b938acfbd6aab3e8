"""Keras loaders for the harnesses: a PyDataset of whole batches from the shared pipeline (data.py).

Worker threads decode and augment (numpy and PIL release the GIL); a file that fails to load is kept in
`failure` (a zero batch stands in) and raised with its name by the caller after fit or predict.
In-memory examples that are not augmented are prepared once and only indexed.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from . import data as data_lib
from .data import DataError


class Batches(keras.utils.PyDataset):
    """An epoch's batches of one split, loaded in worker threads; a file that fails to load stops the run
    with its name (kept in `failure`, checked by the caller; a zero batch stands in meanwhile)."""

    def __init__(
        self, split, pipeline, cfg, train: bool, targets=None, ten_crop: float = 0.0, workers: int = 1, order=None
    ):
        super().__init__(workers=max(1, workers), use_multiprocessing=False, max_queue_size=8)
        self.split, self.pipeline, self.cfg, self.train = split, pipeline, cfg, train
        self.targets = targets or (lambda y: y)  # the task's: targets as its compiled loss wants them
        self.ten_crop, self.failure = ten_crop, None
        self.task_order = order  # the task's training batches, order(epoch, rank, world), or None
        self.prepared = None  # in memory and not augmented: scaled once, then only indexed
        if (
            split.in_memory
            and not ten_crop
            and not (train and pipeline.augment.active)
            and split.images.size * 4 < data_lib.PREPARE_LIMIT
        ):
            self.prepared, _ = pipeline.batch(split, np.arange(len(split)), 0, train=False)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.task_order is not None and self.train:  # one process: tf.distribute splits each batch itself
            self.order = self.task_order(epoch, 0, 1)
            return
        self.order = data_lib.batch_indices(
            len(self.split),
            self.cfg.batch_size,
            self.cfg.seed,
            epoch,
            self.train,
            drop_last=self.train and len(self.split) > self.cfg.batch_size,
        )

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int):
        indices = self.order[i]
        try:
            if self.prepared is not None:
                x, y = self.prepared[indices], self.split.targets[indices]
            elif self.ten_crop:
                x = self.pipeline.ten_crop_batch(self.split, indices, self.ten_crop)
                y = np.repeat(self.split.targets[indices], 10, axis=0)
            else:
                x, y = self.pipeline.batch(self.split, indices, self.epoch, self.train)
        except DataError as exc:
            self.failure = str(exc)
            n = len(indices) * (10 if self.ten_crop else 1)
            x = np.zeros((n, *self.pipeline.data.shape), np.float32)
            y = np.zeros((n, *self.split.targets.shape[1:]), self.split.targets.dtype)
        return x, self.targets(y)

    def check(self) -> None:
        if self.failure:
            raise DataError(self.failure)


def workers_for(cfg, split, pipeline, train: bool, ten_crop: bool) -> int:
    if cfg.workers >= 0:
        return cfg.workers
    busy = not split.in_memory or (train and pipeline.augment.active) or ten_crop
    return min(4, max(1, (os.cpu_count() or 2) - 1)) if busy else 1
