"""The Keras side of the harnesses: strategy, loaders, model, optimizer, training through model.fit.

Task-neutral: the task's framework file (`<task>/runtime/keras.py`) compiles
the model with its loss (written in train.py: Keras' compiled train step is
the task's step), shapes the targets for it, and turns the model's output into
the predictions its evaluation reads.

Each epoch is one `model.fit(..., initial_epoch=e, epochs=e + 1)` call, so the
shared loop (loop.py) owns the schedule, early stopping and checkpoints as it
does for PyTorch; Keras users still get fit's compiled train step, callbacks
and `tf.distribute`: build and compile happen under `env.strategy.scope()`
(--strategy mirrored over the GPUs, multi_worker across machines as
TF_CONFIG says, cpu2 over two logical CPU devices for testing).

Batches come from a `keras.utils.PyDataset` whose worker threads decode and
augment (numpy and PIL release the GIL); --batch-size is the global batch.
Reproducible on CPU: seeds for weights, TF op determinism, and per epoch the
dropout seed states are set from (seed, epoch), so a resumed run ends with the
weights of an uninterrupted one.  The optimizers use PyTorch's default
hyper-parameters (Adam epsilon 1e-8, RMSprop rho 0.99, ...) so the same
options mean the same training in both frameworks; L2 weight decay w adds
w * weight to each gradient (a Keras L2 regularizer of w / 2) as in PyTorch.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: no start-up chatter
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from . import config, loop
from . import data as data_lib
from .config import ConfigError
from .keras_data import Batches, workers_for

fit, test = loop.fit, loop.test


# ---------------------------------------------------------------- strategy and seeds


@dataclass
class Env:
    strategy: tf.distribute.Strategy
    is_main: bool = True
    seed: int = 0

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    def log(self, *args, **kwargs) -> None:
        if self.is_main:
            print(*args, **kwargs, flush=True)


def parse_args(task_options, values: dict, argv: list[str] | None, doc: str = ""):
    """The run's options: the script's CONFIG, overridden by the command line (`task_options`: the task's
    options module)."""
    return config.parse(config.options_for("keras", *config.task_options(task_options)), values, argv, doc)


def setup(cfg) -> Env:
    """Threads, the tf.distribute strategy, mixed precision, seeds and determinism."""
    if cfg.threads:
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
    gpus = tf.config.list_physical_devices("GPU")
    if cfg.strategy == "cpu2":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif cfg.strategy == "mirrored" or (cfg.strategy == "auto" and len(gpus) > 1):
        strategy = tf.distribute.MirroredStrategy()
    elif cfg.strategy == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    if cfg.amp == "on" or (cfg.amp == "auto" and gpus):
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(cfg.seed)
    if not gpus:
        tf.config.experimental.enable_op_determinism()
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    env = Env(strategy, is_main=task.get("index", 0) == 0, seed=cfg.seed)
    if env.replicas > 1:
        env.log(f"strategy: {type(strategy).__name__}, {env.replicas} replicas")
    return env


def run(main) -> int:
    """Run a script's main (see loop.run)."""
    return loop.run(main)


# ---------------------------------------------------------------- data


def load_data(cfg, inputs: dict, env: Env, reader):
    """The data split and its pipeline, for the model's (only) input; `reader`: the task's targets."""
    (shape,) = inputs.values()
    data, pipeline = data_lib.prepare(cfg, tuple(shape), reader)
    env.log(data.describe())
    return data, pipeline


# ---------------------------------------------------------------- model


def make_model(
    build_model, layers: tuple[str, ...], cfg, env: Env, arguments: dict | None = None, head_layer: str | None = None
) -> keras.Model:
    """The spec's model (call under env.strategy.scope()): constructor `arguments` (the task's), start weights
    (--reset-head leaves `head_layer` as initialised), freezing, L1/L2 penalties on the trainable weights."""
    model = build_model(**(arguments or {}))
    if cfg.init == "torch":
        torch_init(model, cfg.seed)
    if cfg.weights:
        load_matching(model, cfg.weights, env, skip=(head_layer,) if cfg.reset_head and head_layer else ())
    freeze(model, layers, cfg, head_layer, env)
    if cfg.l1 or cfg.weight_decay:
        penalty = keras.regularizers.L1L2(l1=cfg.l1, l2=cfg.weight_decay / 2)
        for variable in model.trainable_variables:
            variable.regularizer = penalty
    return model


# the kernels PyTorch initialises, and how many of a Keras kernel's leading axes make PyTorch's fan-in
_KERNELS = {"kernel": -1, "pointwise_kernel": -1, "depthwise_kernel": -2}


def torch_init(model: keras.Model, seed: int) -> None:
    """--init torch: PyTorch's default initialisation of convolutions and dense layers, uniform within
    +-1/sqrt(fan_in) for the kernel (kaiming_uniform with a=sqrt(5)) and the bias, so that one set of options
    trains alike in both frameworks (Keras' Glorot start is up to 2.4x wider on wide dense layers)."""
    rng = np.random.default_rng((seed, 4099))
    for layer in model.layers:
        bound = None
        depthwise = type(layer).__name__.startswith("DepthwiseConv")  # its `kernel` is (..., in, multiplier)
        for name, last in _KERNELS.items():
            kernel = getattr(layer, name, None)
            if kernel is not None:
                last = -2 if depthwise else last
                bound = 1 / np.sqrt(max(1, int(np.prod(kernel.shape[:last]))))
                kernel.assign(rng.uniform(-bound, bound, kernel.shape).astype(kernel.dtype))
        bias = getattr(layer, "bias", None)
        if bias is not None and bound is not None:
            bias.assign(rng.uniform(-bound, bound, bias.shape).astype(bias.dtype))


def freeze(model: keras.Model, layers: tuple[str, ...], cfg, head_layer: str | None, env: Env) -> None:
    """--freeze-below LAYER, or --unfreeze-top N (all but the head and the N weighted layers below it)."""
    frozen = config.layers_to_freeze(layers, cfg, head_layer)
    names = {layer.name for layer in model.layers}
    for name in frozen:
        if name not in names:
            raise ConfigError(f"the model has no layer `{name}` (LAYERS in train.py lists the spec's layers)")
        model.get_layer(name).trainable = False  # frozen batch norm runs in inference mode (Keras rule)
    if frozen:
        env.log(f"frozen: {len(frozen)} layers ({frozen[0]} .. {frozen[-1]})")


def _weight_key(variable) -> str:
    return variable.path


def load_matching(model: keras.Model, path: str, env: Env, skip: tuple = ()) -> None:
    """Start weights: a .npz of ours (matched by variable path and shape; the rest reported), or a Keras
    weights file (.weights.h5 / .keras, matched by Keras, mismatched shapes skipped)."""
    if not Path(path).exists():
        raise ConfigError(f"no weights file {path}")
    if path.endswith((".pt", ".pth")):  # the layouts differ (kernels, flatten order): only the spec says how
        raise ConfigError(
            f"{path} is a PyTorch state dict: run `cnnc train SPEC --target keras --weights {path}` "
            "or `cnnc import-weights SPEC FILE -o OUT.weights.h5 --target keras` first"
        )
    try:
        if not path.endswith(".npz"):
            model.load_weights(path, skip_mismatch=True)
            env.log(f"weights: from {path}")
            return
        with np.load(path, allow_pickle=False) as blob:
            names = json.loads(str(blob["names"])) if "names" in blob else []
            source = {name: blob[f"model/{i}"] for i, name in enumerate(names)}
    except Exception as exc:  # truncated or not a weights file: one line, exit 2
        raise ConfigError(f"cannot read weights {path}: {loop.first_line(exc)}") from None
    taken, left = 0, []
    for variable in model.weights:
        key = _weight_key(variable)
        if key in source and tuple(source[key].shape) == tuple(variable.shape) and key.split("/")[0] not in skip:
            variable.assign(source[key])
            taken += 1
        else:
            left.append(key)
    if not taken:
        raise ConfigError(f"{path}: no weight matches the model by name and shape")
    env.log(
        f"weights: {taken}/{len(model.weights)} from {path}"
        + (f"; left as initialised: {', '.join(left)}" if left else "")
    )


# ---------------------------------------------------------------- optimizer


def make_optimizer(cfg, lr: float | None = None) -> keras.optimizers.Optimizer:
    lr = cfg.lr if lr is None else lr
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
    return {
        "adam": lambda: keras.optimizers.Adam(lr, epsilon=1e-8),
        "rmsprop": lambda: keras.optimizers.RMSprop(lr, rho=0.99, epsilon=1e-8),
        "adagrad": lambda: keras.optimizers.Adagrad(lr, initial_accumulator_value=0.0, epsilon=1e-10),
        "adadelta": lambda: keras.optimizers.Adadelta(lr, rho=0.9, epsilon=1e-6),
    }[cfg.optimizer]()


# ---------------------------------------------------------------- training


class _Watch(keras.callbacks.Callback):
    """Per step: the NaN/explosion guard, the progress bar, a data failure in a worker."""

    def __init__(self, data: Batches, epoch: int, progress: loop.Progress, guard: loop.Guard, names: tuple):
        super().__init__()
        self.data, self.epoch, self.progress, self.guard, self.names = data, epoch, progress, guard, names

    def on_train_batch_end(self, batch, logs=None):
        if self.data.failure:
            self.model.stop_training = True
            return
        logs = logs or {}
        self.guard.check(self.epoch, batch + 1, float(logs["loss"]))
        if self.progress.due():
            self.progress.update(batch + 1, {"loss": float(logs["loss"]), **running(logs, self.names)})


def running(logs: dict, names: tuple[str, ...]) -> dict[str, float]:
    """The task's running numbers from fit's logs (a metric of output `y` is logged as `y_<name>`)."""
    return {
        name: next((float(v) for k, v in logs.items() if k == name or k.endswith("_" + name)), float("nan"))
        for name in names
    }


class Trainer:
    """One compiled model and its loaders: what `loop.fit` drives (see loop.Trainer)."""

    def __init__(self, model: keras.Model, task, optimizer, data, pipeline, cfg, env: Env):
        self.model, self.task, self.data, self.pipeline, self.cfg, self.env = model, task, data, pipeline, cfg, env
        with env.strategy.scope():
            task.compile(model, optimizer)  # the task's loss and metrics: fit's compiled train step (train.py)
            optimizer.build(model.trainable_variables)
        self.optimizer = optimizer
        self.train_data = self._batches(data.train, train=True)
        self.is_main = env.is_main
        out = Path(cfg.out)
        self.files = {"last": out / "last.npz", "best": out / "best.weights.h5"}
        self.seed_states = [v for v in model.variables if "seed_generator_state" in v.path]

    def _batches(self, split, train: bool, ten_crop: float = 0.0) -> Batches:
        workers = workers_for(self.cfg, split, self.pipeline, train, bool(ten_crop))
        return Batches(
            split,
            self.pipeline,
            self.cfg,
            train,
            self.task.fit_targets if train else None,
            ten_crop,
            workers,
            data_lib.task_order(self.task, split) if train else None,
        )

    def train_epoch(self, epoch: int, lr: float, progress: loop.Progress, guard: loop.Guard) -> dict:
        self.optimizer.learning_rate = lr
        for i, state in enumerate(self.seed_states):  # this epoch's dropout draws
            state.assign(np.array([self.cfg.seed * 1_000_003 + epoch * 1_009 + i, 0], dtype=np.int64))
        self.train_data.set_epoch(epoch)
        progress.start(epoch, self.cfg.epochs, len(self.train_data))
        start = time.perf_counter()
        history = self.model.fit(
            self._epoch_dataset() or self.train_data,
            initial_epoch=epoch,
            epochs=epoch + 1,
            verbose=0,
            shuffle=False,
            callbacks=[_Watch(self.train_data, epoch, progress, guard, self.task.running_names)],
        )
        self.train_data.check()
        logs = {k: v[-1] for k, v in history.history.items()}
        seconds = time.perf_counter() - start
        count = sum(len(b) for b in self.train_data.order)
        guard.check(epoch, len(self.train_data), float(logs["loss"]))
        numbers = {"loss": float(logs["loss"]), **running(logs, self.task.running_names)}
        return {**{f"train_{k}": v for k, v in numbers.items()}, "images_per_s": round(count / seconds, 1)}

    def _epoch_dataset(self) -> tf.data.Dataset | None:
        """The epoch's batches of a prepared in-memory split as a tf.data pipeline, the same batches in the same
        order as the PyDataset's.  fit sets this up in about a millisecond, where a PyDataset costs it about 25 ms
        (a generator-backed dataset, probed for its signature) and Python per batch: with one fit call per epoch
        that was a third of a small model's epoch.  Loaded or augmented examples keep the PyDataset's workers."""
        batches = self.train_data
        sizes = {len(b) for b in batches.order}
        if batches.prepared is None or len(sizes) != 1:
            return None
        parts = [batches[i] for i in range(len(batches))]
        x, y = keras.tree.map_structure(lambda *p: np.concatenate(p), *parts)
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(sizes.pop())

    def predict(self, split, ten_crop: bool = False) -> np.ndarray:
        """The task's predictions for a split; 10-crop averages the crops."""
        if not len(split):
            return np.zeros((0, *self.task.prediction_shape))
        batches = self._batches(split, train=False, ten_crop=self.cfg.tta_scale if ten_crop else 0.0)
        if batches.prepared is not None and not ten_crop and self.env.replicas == 1:
            # In memory: the compiled predict step batch by batch; `predict` would set up a data adapter and
            # its workers every epoch, which costs more than a small validation split's forward passes.
            # One replica only: under a tf.distribute strategy predict_on_batch gives one replica's share.
            parts = [self.model.predict_on_batch(batches[i][0]) for i in range(len(batches))]
            out = keras.tree.map_structure(lambda *p: np.concatenate(p), *parts)
        else:
            out = self.model.predict(batches, verbose=0)
        batches.check()
        predicted = self.task.predictions(out)
        return predicted.reshape(-1, 10, *predicted.shape[1:]).mean(axis=1) if ten_crop else predicted

    def save_checkpoint(self, path: Path, state: dict) -> None:
        arrays = {f"model/{i}": np.asarray(v.numpy()) for i, v in enumerate(self.model.variables)}
        arrays.update({f"optimizer/{i}": np.asarray(v.numpy()) for i, v in enumerate(self.optimizer.variables)})
        arrays["names"] = np.array(json.dumps([_weight_key(v) for v in self.model.variables]))
        arrays["state"] = np.array(json.dumps(state))
        with loop.atomic_path(path) as tmp:
            np.savez(tmp, **arrays)

    def load_checkpoint(self, path: Path) -> dict:
        try:
            with np.load(path, allow_pickle=False) as blob:
                for i, v in enumerate(self.model.variables):
                    v.assign(blob[f"model/{i}"])
                for i, v in enumerate(self.optimizer.variables):
                    v.assign(blob[f"optimizer/{i}"])
                return dict(json.loads(str(blob["state"])))
        except Exception as exc:  # truncated, another spec's, not a checkpoint: one line, exit 2
            raise ConfigError(f"cannot resume from {path}: {loop.first_line(exc)} (delete it to start over)") from None

    def weights_finite(self) -> bool:
        """Every variable is finite (checked before any is saved)."""
        return all(
            np.isfinite(np.asarray(v.numpy())).all()
            for v in self.model.variables
            if np.issubdtype(np.asarray(v.numpy()).dtype, np.floating)
        )

    def save_weights(self, path: Path) -> None:
        with loop.atomic_path(path) as tmp:
            self.model.save_weights(str(tmp))

    def load_weights(self, path: str) -> None:
        try:
            if path.endswith(".npz"):
                with np.load(path, allow_pickle=False) as blob:
                    for i, v in enumerate(self.model.variables):
                        v.assign(blob[f"model/{i}"])
            else:
                self.model.load_weights(path)
        except Exception as exc:  # truncated, another spec's: one line, exit 2
            raise ConfigError(f"cannot read weights {path}: {loop.first_line(exc)}") from None


def check_ranks_agree(model: keras.Model, env: Env) -> None:
    """Nothing to check: a tf.distribute strategy keeps the replicas' variables mirrored."""


def digest(model: keras.Model) -> str:
    import hashlib

    h = hashlib.sha256()
    for v in model.weights:
        h.update(v.path.encode())
        h.update(np.ascontiguousarray(v.numpy()).tobytes())
    return h.hexdigest()[:16]
