"""The README's digits command written by hand: the yardstick for `cnnc train`'s fixed costs.

    python bench/digits_minimal.py --framework torch [--data examples/digits/digits.npz] [--epochs 20]
    python bench/digits_minimal.py --framework keras

What a person writes without cnnc for the work `cnnc train examples/digits/lenet5.cnn --epochs 20
--optimizer adam --lr 0.002 --schedule cosine --normalize standardize --threads 1` does: LeNet-5 by
hand, the same stratified 70/10/20 split (seed 0), the 8x8 digits resized to 32x32 (bilinear) and
standardized with the training split's mean and std, batch 32, Adam at 0.002 on a per-epoch cosine
schedule, validation every epoch, the best validation loss's weights kept (in memory) for the test.
It writes nothing.  The last line is JSON: test accuracy, training images per second per epoch
(the steps only), and the seconds from start to end of this process's own work.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def stratified_split(y: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """70/10/20 per class from a seeded permutation (the harness's split)."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test, n_val = round(len(idx) * 0.2), round(len(idx) * 0.1)
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    return [np.sort(np.concatenate(p)) for p in parts]


def load(path: str, resize) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    data = np.load(path)
    x, y = resize(data["x"].astype(np.float32) / 16.0), data["y"].astype(np.int64)
    train, val, test = stratified_split(y)
    mean, std = x[train].mean(), x[train].std()
    return tuple(((x[i] - mean) / std, y[i]) for i in (train, val, test))


def cosine(lr: float, epoch: int, epochs: int) -> float:
    return lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def run_torch(args) -> dict:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    def resize(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(x)[:, None]
        return F.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False).numpy()

    (xt, yt), (xv, yv), (xs, ys) = (tuple(map(torch.from_numpy, s)) for s in load(args.data, resize))
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        nn.Softmax(1),
    )
    optimizer = torch.optim.Adam(model.parameters(), args.lr)
    best, best_state, rates = math.inf, None, []

    def nll(x, y):
        return F.nll_loss(torch.log(model(x).clamp_min(1e-7)), y)

    for epoch in range(args.epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine(args.lr, epoch, args.epochs)
        model.train()
        start, order = time.perf_counter(), torch.randperm(len(yt))
        steps = len(yt) // 32
        for i in range(steps):
            idx = order[i * 32 : (i + 1) * 32]
            loss = nll(xt[idx], yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        rates.append(steps * 32 / (time.perf_counter() - start))
        model.eval()
        with torch.no_grad():
            val = nll(xv, yv).item()
        if val < best:
            best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        accuracy = (model(xs).argmax(1) == ys).float().mean().item()
    return {"accuracy": accuracy, "images_per_s": rates}


def run_keras(args) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)

    def resize(x: np.ndarray) -> np.ndarray:
        return tf.image.resize(x[..., None], (32, 32), method="bilinear").numpy()

    (xt, yt), (xv, yv), (xs, ys) = load(args.data, resize)
    model = keras.Sequential([
        keras.Input((32, 32, 1)), layers.Conv2D(6, 5, activation="tanh"), layers.AveragePooling2D(2),
        layers.Conv2D(16, 5, activation="tanh"), layers.AveragePooling2D(2), layers.Flatten(),
        layers.Dense(120, activation="tanh"), layers.Dense(84, activation="tanh"), layers.Dense(10, "softmax"),
    ])
    model.compile(keras.optimizers.Adam(args.lr), "sparse_categorical_crossentropy", metrics=["accuracy"])

    class Keep(keras.callbacks.Callback):
        """The best validation loss's weights, and the training steps' images per second."""

        best, weights, rates, start = math.inf, None, [], 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_test_begin(self, logs=None):  # the epoch's steps are done, validation starts
            self.rates.append(len(yt) / (time.perf_counter() - self.start))

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < self.best:
                self.best, self.weights = logs["val_loss"], self.model.get_weights()

    keep = Keep()
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: cosine(args.lr, epoch, args.epochs))
    model.fit(xt, yt, batch_size=32, epochs=args.epochs, validation_data=(xv, yv), callbacks=[keep, schedule],
              verbose=0)
    model.set_weights(keep.weights)
    accuracy = float((model.predict_on_batch(xs).argmax(1) == ys).mean())
    return {"accuracy": accuracy, "images_per_s": keep.rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("torch", "keras"), default="torch")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "examples", "digits",
                                                       "digits.npz"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    result = (run_torch if args.framework == "torch" else run_keras)(args)
    result["seconds"] = time.perf_counter() - START
    print(f"{args.framework}: test accuracy {result['accuracy']:.4f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
