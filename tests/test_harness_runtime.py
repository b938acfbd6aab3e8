"""The framework-neutral runtime: data, split, scaling, augmentation, metrics, schedule, guard, files."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import time
from types import SimpleNamespace

import numpy as np
import pytest
from harness_util import bands_folder

from cnnc.tasks.classify import options as classify_options
from cnnc.tasks.classify.runtime import common as classify
from cnnc.tasks.runtime import augment, config, curves, data, loop

READER = classify.Reader()  # the shared loader with classification's targets


def load(*args, **kwargs):
    return data.load(*args, reader=READER, **kwargs)

# ---------------------------------------------------------------- data

def test_stratified_split_takes_each_share_per_class():
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    train, val, test = data.stratified_split(labels, (0.7, 0.1, 0.2), seed=3)
    assert [np.bincount(labels[s]).tolist() for s in (train, val, test)] == [[7, 14, 21], [1, 2, 3], [2, 4, 6]]
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(60))
    again = data.stratified_split(labels, (0.7, 0.1, 0.2), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    other = data.stratified_split(labels, (0.7, 0.1, 0.2), seed=4)
    assert not np.array_equal(test, other[2])


def test_split_keeps_a_training_example_of_a_tiny_class():
    train, val, test = data.stratified_split(np.array([0, 1, 1]), (0.0001, 0.5, 0.5), seed=0)
    assert 0 in train.tolist()


def test_npz_gets_a_channel_axis_and_a_resize(tmp_path):
    x = np.arange(10 * 8 * 8, dtype=np.float64).reshape(10, 8, 8) % 17
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10) % 2)
    loaded = load(str(tmp_path / "d.npz"), (16, 16, 1), (0.6, 0.2, 0.2), seed=0)
    assert loaded.train.images.shape == (6, 16, 16, 1) and loaded.train.images.dtype == np.float32
    assert loaded.class_names == ["0", "1"] and loaded.notes == ["resized 8x8x1 to 16x16x1"]


def test_npz_already_split_and_one_hot(tmp_path):
    arrays = {f"x_{n}": np.zeros((k, 20, 2), np.float32) for n, k in (("train", 6), ("val", 2), ("test", 3))}
    arrays.update({f"y_{n}": np.eye(3)[np.arange(k) % 3] for n, k in (("train", 6), ("val", 2), ("test", 3))})
    np.savez(tmp_path / "s.npz", **arrays)
    loaded = load(str(tmp_path / "s.npz"), (20, 2), (0.7, 0.1, 0.2), seed=0)
    assert (len(loaded.train), len(loaded.val), len(loaded.test)) == (6, 2, 3)
    assert loaded.val.targets.tolist() == [0, 1] and loaded.num_classes == 3


@pytest.mark.parametrize("shape, model, message", [
    ((4, 30, 2), (32, 2), "examples of shape (30, 2) do not fit the model's input (32, 2)"),
    ((4, 8, 8, 8), (8, 8, 8, 1), None),
    ((4, 5, 5, 5, 1), (8, 8, 8, 1), "examples of shape (5, 5, 5, 1) do not fit the model's input (8, 8, 8, 1)"),
])
def test_1d_and_3d_arrays_must_match(tmp_path, shape, model, message):
    np.savez(tmp_path / "v.npz", x=np.zeros(shape, np.float32), y=np.arange(shape[0]) % 2)
    if message is None:
        assert load(str(tmp_path / "v.npz"), model, (0.5, 0.0, 0.5), 0).train.images.shape[1:] == model
    else:
        with pytest.raises(data.DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load(str(tmp_path / "v.npz"), model, (0.5, 0.0, 0.5), 0)


def test_npz_without_known_arrays_names_what_it_has(tmp_path):
    np.savez(tmp_path / "w.npz", inputs=np.zeros(3), targets=np.zeros(3))
    with pytest.raises(data.DataError, match="needs the examples as `x`.*it has inputs, targets"):
        load(str(tmp_path / "w.npz"), (3,), (0.7, 0.1, 0.2), 0)


def test_image_folder_classes_resize_and_labels(tmp_path):
    root = bands_folder(tmp_path / "img", per_class=5, size=20, classes=3)
    loaded = load(str(root), (16, 16, 1), (0.6, 0.2, 0.2), seed=0)
    assert loaded.class_names == ["left", "right", "top"]
    assert (len(loaded.train), len(loaded.val), len(loaded.test)) == (9, 3, 3)
    batch = loaded.train.load(np.array([0, 1]), (16, 16, 1))
    assert batch.shape == (2, 16, 16, 1) and batch.dtype == np.uint8


def test_corrupt_images_are_named_all_at_once(tmp_path):
    root = bands_folder(tmp_path / "img", per_class=4, size=20, classes=2)
    (root / "left" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "right" / "empty.jpg").write_bytes(b"")
    with pytest.raises(data.DataError) as caught:
        load(str(root), (16, 16, 3), (0.5, 0.25, 0.25), 0)
    text = str(caught.value)
    assert text.startswith("2 unreadable image file(s):")
    assert str(root / "left" / "broken.png") in text and str(root / "right" / "empty.jpg") in text
    kept = load(str(root), (16, 16, 3), (0.5, 0.25, 0.25), 0, skip_corrupt=True)
    assert len(kept.train) + len(kept.val) + len(kept.test) == 8
    assert "left out 2 unreadable file(s)" in kept.notes[0]


def test_an_image_that_fails_later_is_named(tmp_path):
    path = tmp_path / "gone.png"
    with pytest.raises(data.DataError, match=f"cannot read image {path}"):
        data.decode_image(str(path), (8, 8, 3))


def test_normalizer_scales_and_standardizes_from_the_training_split():
    split = data.Split("train", np.zeros(4, np.int64), images=np.array([0, 51, 102, 255], np.uint8).reshape(4, 1, 1, 1))
    norm = data.Normalizer.fit("standardize", split, (1, 1, 1))
    assert norm.scale == pytest.approx(1 / 255)
    assert norm.mean == pytest.approx([(0 + 0.2 + 0.4 + 1.0) / 4])
    x = norm.standardize(norm.scaled(split.images))
    assert x.mean() == pytest.approx(0, abs=1e-6) and x.std() == pytest.approx(1, abs=1e-5)
    floats = data.Split("train", np.zeros(2, np.int64), images=np.array([0.0, 16.0], np.float32).reshape(2, 1, 1))
    assert data.Normalizer.fit("scale", floats, (1, 1)).scale == pytest.approx(1 / 16)


def test_batches_share_global_batches_between_processes():
    one = data.batch_indices(10, 4, seed=1, epoch=2, shuffle=True)
    assert [len(b) for b in one] == [4, 4, 2]
    ranks = [data.batch_indices(10, 4, seed=1, epoch=2, shuffle=True, rank=r, world=2) for r in (0, 1)]
    assert [len(b) for b in ranks[0]] == [2, 2, 1] and [len(b) for b in ranks[1]] == [2, 2, 1]
    assert sorted(np.concatenate(ranks[0] + ranks[1]).tolist()) == list(range(10))
    assert [len(b) for b in data.batch_indices(10, 4, 0, 0, True, drop_last=True)] == [4, 4]
    assert np.array_equal(np.concatenate(data.batch_indices(5, 2, 0, 0, shuffle=False)), np.arange(5))


# ---------------------------------------------------------------- augmentation

def test_each_augmentation_is_reproducible_by_seed_epoch_index():
    x = np.random.default_rng(0).random((12, 12, 3)).astype(np.float32)
    aug = augment.Augment(flip=0.5, crop=2, rotate=20, shear=10, zoom=0.2, shift=0.1, color_shift=0.1,
                          brightness=0.1, contrast=0.2, noise=0.05, pca_color=0.1)
    aug.fit_pca(x.reshape(-1, 3))
    a = aug(x, augment.example_rng(0, 1, 5))
    assert np.array_equal(a, aug(x, augment.example_rng(0, 1, 5)))
    assert not np.array_equal(a, aug(x, augment.example_rng(0, 2, 5)))
    assert a.shape == x.shape and a.dtype == np.float32


def test_mirror_crop_and_shift_move_pixels_exactly():
    x = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    assert np.array_equal(augment.Augment(flip=1.0)(x, augment.example_rng(0, 0, 0)), x[:, ::-1])
    assert np.array_equal(augment.shift(x, [1, -1])[..., 0], [[1, 2, 3, 3], [1, 2, 3, 3], [5, 6, 7, 7],
                                                               [9, 10, 11, 11]])
    crop = augment.random_crop(x, 1, np.random.default_rng(0))
    assert crop.shape == (4, 4, 1)
    assert any(np.array_equal(crop, np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="reflect")[r:r + 4, c:c + 4])
               for r in range(3) for c in range(3))


def test_quarter_turn_is_exact():
    x = np.arange(25, dtype=np.float32).reshape(5, 5, 1)
    matrix = np.array([[0.0, -1.0, 4.0], [1.0, 0.0, 0.0]])  # output (r, c) reads input (4 - c, r)
    assert np.array_equal(augment.warp_affine(x, matrix)[..., 0], np.rot90(x[..., 0], k=-1))
    identity = augment.Augment()._affine((5, 5), np.random.default_rng(0))
    assert np.array_equal(augment.warp_affine(x, identity), x)


def test_ten_crops_are_the_corners_centre_and_mirrors():
    x = np.arange(36, dtype=np.float32).reshape(6, 6, 1)
    crops = augment.ten_crops(x, (4, 4))
    assert crops.shape == (10, 4, 4, 1)
    assert [c[0, 0, 0] for c in crops[:5]] == [0, 2, 12, 14, 7]
    assert np.array_equal(crops[5:], crops[:5, :, ::-1])


def test_geometry_on_a_signal_is_refused():
    assert augment.Augment(rotate=5, pca_color=0.1).problems((32, 2)) == ["--rotate needs 2D images",
                                                                          "--pca-color needs RGB images"]


# ---------------------------------------------------------------- metrics

def test_metrics_numbers():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    labels = np.array([0, 1, 1, 2])
    result = classify.evaluate(probs, labels, ["a", "b", "c"], top_k=2)
    assert result["acc"] == 0.75
    assert result["loss"] == pytest.approx(-np.mean(np.log([0.7, 0.8, 0.4, 0.6])))
    assert result["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert result["per_class"]["a"] == {"precision": 0.5, "recall": 1.0, "support": 1}
    assert result["per_class"]["b"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert result["top2"] == 1.0
    assert classify.top_k_accuracy(probs, np.array([0, 2, 2, 2]), 1) == 0.5
    assert "top5" not in classify.summary(probs, labels)
    report = classify.format_report(result)
    assert report.splitlines()[0] == "test: 4 examples, loss 0.5017, accuracy 0.7500, top2 accuracy 1.0000"


# ---------------------------------------------------------------- loop

def _cfg(**kw):
    base = dict(schedule="constant", lr=0.1, epochs=10, lr_step=3, lr_gamma=0.5, warmup=0)
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("kind, expected", [
    ("constant", [0.1] * 4),
    ("step", [0.1, 0.1, 0.1, 0.05]),
    ("exponential", [0.1, 0.05, 0.025, 0.0125]),
    ("cosine", [0.1, 0.1 * (1 + math.cos(math.pi / 10)) / 2, 0.1 * (1 + math.cos(math.pi / 5)) / 2,
                0.1 * (1 + math.cos(3 * math.pi / 10)) / 2]),
])
def test_schedules(kind, expected):
    schedule = loop.Schedule(_cfg(schedule=kind))
    assert [schedule.lr(e) for e in range(4)] == pytest.approx(expected)


def test_warmup_then_plateau():
    schedule = loop.Schedule(_cfg(schedule="plateau", warmup=2, lr_step=2))
    assert [schedule.lr(0), schedule.lr(1)] == pytest.approx([0.1 / 3, 0.2 / 3])
    better = loop.better_for("val_loss")
    for value in (1.0, 0.9, 0.95, 0.93):
        schedule.observe(value, better)
    assert schedule.lr(5) == pytest.approx(0.05)


def test_guard_stops_nan_and_explosion():
    guard = loop.Guard(max_ratio=10, warmup_steps=2)
    guard.check(0, 1, 1.0)
    guard.check(0, 2, 3.0)
    guard.check(0, 3, 19.0)
    with pytest.raises(loop.Diverged, match=r"epoch 1, step 4: the loss exploded past 10 times its start \(2\)"):
        guard.check(0, 4, 21.0)
    with pytest.raises(loop.Diverged, match="is not a number"):
        loop.Guard(10).check(2, 1, float("nan"))


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "last.pt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with loop.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_csv_and_plot(tmp_path):
    history = [{"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4,
                "seconds": 1.0}, {"epoch": 2, "lr": 0.1, "train_loss": 0.5, "train_acc": 0.8, "seconds": 1.0}]
    loop.write_csv(tmp_path / "log.csv", history)
    assert (tmp_path / "log.csv").read_text().splitlines() == [
        "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds", "1,0.1,1.0,0.5,1.1,0.4,1.0",
        "2,0.1,0.5,0.8,,,1.0"]
    curves.plot_curves(tmp_path / "curves.png", history)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_are_drawn_by_a_helper_process_and_ready_when_close_returns(tmp_path):
    history = [{"epoch": e, "lr": 0.1, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_acc": 0.1 * e}
               for e in (1, 2, 3)]
    drawn = curves.Curves(tmp_path / "curves.png")
    assert drawn.worker is not None and drawn.worker.poll() is None  # started with the run
    drawn.close(history)
    assert drawn.worker.returncode == 0 and drawn.drawn == 3
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="a forked loader worker is the case")
def test_curves_do_not_wait_for_a_forked_process_holding_the_pipe(tmp_path):
    """A DataLoader worker forked during training keeps a copy of the helper's input: close() must not wait for
    the end of input, which would come only when that process ends."""
    drawn = curves.Curves(tmp_path / "curves.png")
    child = os.fork()
    if child == 0:  # a loader worker: holds every inherited descriptor for a while
        time.sleep(30)
        os._exit(0)
    try:
        start = time.perf_counter()
        drawn.close([{"epoch": 1, "train_loss": 1.0}])
        assert time.perf_counter() - start < 20 and drawn.worker.returncode == 0
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert (tmp_path / "curves.png").exists()


def test_curves_are_drawn_here_when_the_helper_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(curves.sys, "executable", str(tmp_path / "no-python"))  # the helper cannot start
    drawn = curves.Curves(tmp_path / "curves.png")
    assert drawn.worker is None
    drawn.close([{"epoch": 1, "train_loss": 1.0}])
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    monkeypatch.undo()
    broken = curves.Curves(tmp_path / "broken.png")  # a history the helper cannot draw: the error shows here
    with pytest.raises(KeyError, match="epoch"):
        broken.close([{"train_loss": 1.0}])
    assert broken.worker.returncode == 1 and not (tmp_path / "broken.png").exists()


# ---------------------------------------------------------------- options

def test_options_parse_with_the_scripts_defaults():
    options = config.options_for("torch", *config.task_options(classify_options))
    values = config.defaults(options)
    values.update(epochs=3, data="d.npz")
    cfg = config.parse(options, values, ["--lr", "0.5", "--nesterov", "--ensemble", "a", "b"])
    assert (cfg.epochs, cfg.data, cfg.lr, cfg.nesterov, cfg.ensemble) == (3, "d.npz", 0.5, True, ["a", "b"])
    assert not hasattr(cfg, "strategy")
    assert config.split_fractions("70/10/20") == pytest.approx((0.7, 0.1, 0.2))
    with pytest.raises(ValueError, match="--split takes three fractions"):
        config.split_fractions("0.8,0.2")


# ---------------------------------------------------------------- the epoch loop with a stand-in trainer

class FakeTrainer:
    """Trains nothing: each epoch's loss comes from a list; checkpoints are JSON files."""

    def __init__(self, out, losses, val_probs):
        self.is_main, self.losses, self.val_probs = True, losses, val_probs
        self.task = SimpleNamespace(summary=lambda probs, split: classify.summary(probs, split.targets))
        self.files = {"last": out / "last.json", "best": out / "best.json"}
        self.epochs_run, self.weights = [], 0

    def train_epoch(self, epoch, lr, progress, guard):
        self.epochs_run.append(epoch)
        self.weights = epoch + 1
        guard.check(epoch, 1, self.losses[epoch])
        return {"train_loss": self.losses[epoch], "train_acc": 0.5}

    def predict(self, split):
        return self.val_probs[len(self.epochs_run) - 1]

    def save_checkpoint(self, path, state):
        loop.write_text(path, json.dumps({"weights": self.weights, "state": state}))

    def load_checkpoint(self, path):
        blob = json.loads(path.read_text())
        self.weights = blob["weights"]
        return blob["state"]

    def save_weights(self, path):
        loop.write_text(path, json.dumps({"weights": self.weights}))


def _loop_cfg(out, **kw):
    base = dict(out=str(out), resume=False, schedule="constant", lr=0.1, epochs=6, lr_step=2, lr_gamma=0.5,
                warmup=0, monitor="val_acc", patience=0, stop_after=0, max_loss_ratio=100.0, progress="none",
                top_k=5)
    return SimpleNamespace(**{**base, **kw})


def _val(accs):
    """Validation probabilities over two examples of classes 0 and 1 giving these accuracies."""
    table = {0.0: [[0.2, 0.8], [0.8, 0.2]], 0.5: [[0.8, 0.2], [0.8, 0.2]], 1.0: [[0.8, 0.2], [0.2, 0.8]]}
    return [np.array(table[a]) for a in accs]


def _data():
    val = data.Split("val", np.array([0, 1]))
    return SimpleNamespace(val=val)


def test_fit_keeps_the_best_and_stops_early(tmp_path):
    trainer = FakeTrainer(tmp_path, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], _val([0.5, 1.0, 0.5, 0.5, 1.0, 1.0]))
    lines = []
    status = loop.fit(trainer, _loop_cfg(tmp_path, patience=2), _data(), log=lines.append)
    assert status == loop.EXIT_OK and trainer.epochs_run == [0, 1, 2, 3]
    assert json.loads((tmp_path / "best.json").read_text()) == {"weights": 2}
    assert lines == ["early stop: no better val_acc for 2 epochs (best 1.0000 at epoch 2)"]
    state = json.loads((tmp_path / "last.json").read_text())["state"]
    assert state["epoch"] == 4 and [row["val_acc"] for row in state["history"]] == [0.5, 1.0, 0.5, 0.5]


def test_fit_resumes_where_it_stopped(tmp_path):
    losses, probs = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], _val([0.5, 0.5, 1.0, 0.5, 0.5, 0.5])
    first = FakeTrainer(tmp_path, losses, probs)
    lines = []
    assert loop.fit(first, _loop_cfg(tmp_path, stop_after=3), _data(), log=lines.append) == loop.EXIT_OK
    assert first.epochs_run == [0, 1, 2]
    assert lines == ["stopping after 3 epoch(s) of this run (--stop-after); continue with --resume"]
    second = FakeTrainer(tmp_path, losses, probs)
    second.epochs_run = [0, 1, 2]  # predict() reads the epoch count
    assert loop.fit(second, _loop_cfg(tmp_path, resume=True), _data(), log=lines.append) == loop.EXIT_OK
    assert second.epochs_run == [0, 1, 2, 3, 4, 5]
    assert lines[-1] == f"resumed from {tmp_path / 'last.json'} after epoch 3"
    assert [int(r.split(",")[0]) for r in (tmp_path / "log.csv").read_text().splitlines()[1:]] == [1, 2, 3, 4, 5, 6]
    assert json.loads((tmp_path / "best.json").read_text()) == {"weights": 3}


def test_fit_stops_on_nan_and_keeps_the_last_good_epoch(tmp_path):
    trainer = FakeTrainer(tmp_path, [1.0, 0.9, float("nan"), 0.5, 0.5, 0.5], _val([0.5] * 6))
    lines = []
    assert loop.fit(trainer, _loop_cfg(tmp_path), _data(), log=lines.append) == loop.EXIT_DIVERGED
    assert lines[0].startswith(f"error: training stopped at epoch 3, step 1: the loss is not a number (nan); the "
                               f"last good checkpoint is {tmp_path / 'last.json'} (epoch 2), the best weights "
                               f"{tmp_path / 'best.json'} (epoch 1)\nhelp: lower the learning rate")
    assert json.loads((tmp_path / "last.json").read_text())["state"]["epoch"] == 2


def test_guard_has_a_reference_from_the_first_step():
    guard = loop.Guard(max_ratio=100)
    guard.check(0, 1, 2.0)  # the reference is 2 from here on
    with pytest.raises(loop.Diverged, match=r"epoch 1, step 2: the loss exploded past 100 times its start \(2\)"):
        guard.check(0, 2, 4e7)
    assert guard.limit == 200.0


def test_fit_stops_a_short_run_whose_loss_explodes_in_its_first_epoch(tmp_path):
    class Exploding(FakeTrainer):
        def train_epoch(self, epoch, lr, progress, guard):
            for step, loss in enumerate([2.3, 2.2, 4e7], 1):  # three steps: the old guard had no reference yet
                guard.check(epoch, step, loss)
            return {"train_loss": 2.0, "train_acc": 0.5}

    trainer, lines = Exploding(tmp_path, [1.0] * 6, _val([0.5] * 6)), []
    assert loop.fit(trainer, _loop_cfg(tmp_path), _data(), log=lines.append) == loop.EXIT_DIVERGED
    assert lines[0].startswith("error: training stopped at epoch 1, step 3: the loss exploded past 100 times its "
                               "start (2.25) (4e+07); no checkpoint was saved (it stopped in the first epoch)")
    assert not (tmp_path / "best.json").exists() and not (tmp_path / "last.json").exists()


def test_fit_stops_on_a_nan_validation_loss_before_saving(tmp_path):
    nan_probs = [np.array([[np.nan, np.nan], [np.nan, np.nan]])]
    trainer, lines = FakeTrainer(tmp_path, [1.0] * 6, _val([0.5]) + nan_probs + _val([0.5] * 4)), []
    assert loop.fit(trainer, _loop_cfg(tmp_path), _data(), log=lines.append) == loop.EXIT_DIVERGED
    assert lines[0].startswith("error: training stopped at the end of epoch 2: the val loss is not a number (nan); "
                               f"the last good checkpoint is {tmp_path / 'last.json'} (epoch 1)")
    assert json.loads((tmp_path / "last.json").read_text())["state"]["epoch"] == 1
    assert json.loads((tmp_path / "best.json").read_text()) == {"weights": 1}


def test_fit_never_saves_weights_that_are_not_finite(tmp_path):
    class NanWeights(FakeTrainer):
        def weights_finite(self):
            return self.weights < 3  # the weights of epoch 3 hold a NaN, though its loss looked fine

    trainer, lines = NanWeights(tmp_path, [1.0] * 6, _val([0.5, 1.0, 1.0, 1.0, 1.0, 1.0])), []
    assert loop.fit(trainer, _loop_cfg(tmp_path), _data(), log=lines.append) == loop.EXIT_DIVERGED
    assert lines[0].startswith("error: training stopped at the end of epoch 3: the weights are not all finite (nan); "
                               f"the last good checkpoint is {tmp_path / 'last.json'} (epoch 2), the best weights "
                               f"{tmp_path / 'best.json'} (epoch 2)")
    assert json.loads((tmp_path / "best.json").read_text()) == {"weights": 2}
    assert json.loads((tmp_path / "last.json").read_text())["weights"] == 2


def test_fit_stops_when_the_learning_rate_overflows_float32(tmp_path):
    trainer, lines = FakeTrainer(tmp_path, [1.0] * 6, _val([0.5] * 6)), []
    cfg = _loop_cfg(tmp_path, schedule="step", lr=1.0, lr_step=1, lr_gamma=1e20)
    assert loop.fit(trainer, cfg, _data(), log=lines.append) == loop.EXIT_DIVERGED
    assert trainer.epochs_run == [0, 1]  # epoch 3's rate, 1e40, is past float32's 3.4e38
    assert lines[0].startswith("error: training stopped at epoch 3, step 0: the learning rate overflows float32 "
                               f"(1e+40); the last good checkpoint is {tmp_path / 'last.json'} (epoch 2)")


def test_fit_falls_back_to_a_metric_it_has(tmp_path):
    trainer = FakeTrainer(tmp_path, [1.0, 0.9], _val([0.5, 0.5]))
    lines = []
    loop.fit(trainer, _loop_cfg(tmp_path, epochs=2, monitor="val_top5"), _data(), log=lines.append)
    assert lines == ["note: no val_top5 this run (no validation split, or the task does not report it: it reports "
                     "train_loss, train_acc, val_loss, val_acc): monitoring val_loss instead"]


def test_progress_bar_draws_in_place():
    stream = io.StringIO()
    progress = loop.Progress("bar", stream=stream)
    progress.start(epoch=1, epochs=3, steps=10)
    progress.update(5, {"loss": 0.5, "acc": 0.75})
    progress.line("epoch 2/3 | done")
    assert stream.getvalue() == ("\repoch 2/3 [============>           ] 5/10 loss 0.5000 acc 0.7500"
                                 "\r\033[Kepoch 2/3 | done\n")


def test_head_width_follows_the_data():
    head = classify.Head(output="y", outputs=("y",), units=10, activation="softmax", layer="fc")
    assert head.units_for(3) == 3 and not head.binary
    binary = classify.Head(output="y", outputs=("y",), units=1, activation="sigmoid", layer="fc")
    assert binary.units_for(2) == 1
    with pytest.raises(config.ConfigError, match="one unit .a binary classifier. but the data has 3 classes"):
        binary.units_for(3)


def test_head_arguments_resize_through_the_spec_parameter():
    head = classify.Head(output="y", outputs=("y",), units=10, activation="softmax", layer="fc",
                       units_param="num_classes")
    assert head.model_arguments(10) == {} and head.model_arguments(4) == {"num_classes": 4}
    fixed = classify.Head(output="y", outputs=("y",), units=10, activation="softmax", layer="fc")
    with pytest.raises(config.ConfigError, match="compile with --set num_classes=4"):
        fixed.model_arguments(4)


def test_layers_to_freeze_follow_the_spec_order():
    head = classify.Head(output="y", outputs=("y",), units=10, activation="softmax", layer="fc")
    layers = ("conv1", "conv2", "conv3", "fc")

    def frozen(freeze_below="", unfreeze_top=-1):
        return config.layers_to_freeze(layers, SimpleNamespace(freeze_below=freeze_below,
                                                               unfreeze_top=unfreeze_top), head.layer)

    assert frozen() == []
    assert frozen(freeze_below="conv3") == ["conv1", "conv2"]
    assert frozen(unfreeze_top=1) == ["conv1", "conv2"]
    assert frozen(unfreeze_top=0) == ["conv1", "conv2", "conv3"]
    with pytest.raises(config.ConfigError, match="did you mean conv2"):
        frozen(freeze_below="conv_2")
    with pytest.raises(config.ConfigError, match="not both"):
        frozen(freeze_below="conv2", unfreeze_top=1)
