"""Landmark detection, framework-neutral: targets, the loss in numpy, metrics, report, pictures.

A target row is [l1x, l1y, ..., lNx, lNy, bx, by, bh, bw, has_box] (float32):
the N points as fractions of the image (x across, y down), then the object's
box (midpoint and size as fractions) and 1 where the data gives a box (0 and
zeros where not).  The model's output is the first 2N columns, or the first
2N + 4 when the spec's head also regresses the box, so the loss is one
formula: the mean squared error of the output against as many target columns.

Distances for the metrics are in pixels (the input's height and width), so
a non-square image counts x and y alike.  The normaliser `d` of an example
(`--nme`): `box`, the square root of the true box's area (the data's box, or
the tight box around the true points where the data has none), or `points`,
the distance between the two true points named by `--nme-points` (the
inter-ocular distance of face alignment).  NME is the mean point error over
d; PCK@a the fraction of points whose error is at most a * d.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import DataError, Source
from ...runtime.metrics import format_numbers, mean

_TOLERANCE = 1e-6  # a point this far outside the image is rounding, not a mistake
LABEL_FILES = ("labels.csv", "labels.json")
FLIP_FILE = "flip_pairs.txt"  # beside labels.csv: one pair of point numbers (1-based) per line


@dataclass(frozen=True)
class LandmarkHead:
    """What cnnc found at the end of the spec: written into the script as `HEAD = LandmarkHead(...)`."""

    output: str  # the output trained: [l1x, l1y, ..., lNx, lNy] (+ [bx, by, bh, bw] with box)
    points: int  # N
    box: bool  # the output also regresses the object's box
    size: tuple[int, int]  # the input's height and width: distances in pixels
    layer: str | None  # the last layer with weights before the output (the head, for --reset-head)

    @property
    def width(self) -> int:
        return 2 * self.points + (4 if self.box else 0)

    def check(self, targets: np.ndarray) -> None:
        """The data's points against the spec's output (every split has the same row width)."""
        points = (targets.shape[1] - 5) // 2
        if points != self.points:
            raise ConfigError(
                f"the data has {points} points per image but the spec's output `{self.output}` has "
                f"{self.width} units ({self.points} points{' and a box' if self.box else ''}); "
                f"compile with --set num_points={points}"
            )
        if self.box and len(targets) and targets[:, -1].min() < 0.5:
            raise ConfigError(
                f"the spec's output `{self.output}` regresses a box, but "
                f"{int((targets[:, -1] < 0.5).sum())} example(s) of the data have none"
            )


# ---------------------------------------------------------------- targets


def target_row(points, box=None) -> list[float]:
    flat = [float(v) for v in np.asarray(points, np.float64).reshape(-1)]
    return flat + ([*map(float, box), 1.0] if box is not None else [0.0, 0.0, 0.0, 0.0, 0.0])


def point_problem(points) -> str | None:
    """Why points (N x 2, fractions of the image) are not all inside the image, or None."""
    for i, (x, y) in enumerate(np.asarray(points, np.float64).reshape(-1, 2), 1):
        if not (-_TOLERANCE <= x <= 1 + _TOLERANCE and -_TOLERANCE <= y <= 1 + _TOLERANCE):
            return (
                f"point {i} ({x:.4g}, {y:.4g}) is outside the image (points are (x, y) as fractions of the "
                f"image, within 0..1)"
            )
    return None


def box_problem(box) -> str | None:
    bx, by, bh, bw = (float(v) for v in box)
    if min(bh, bw) <= 0:
        return f"box ({bx:.4g}, {by:.4g}, {bh:.4g}, {bw:.4g}) has no area (bh and bw must be > 0)"
    return None


class Reader:
    """Points (and optionally boxes): an image folder with labels.csv (header file,l1x,l1y,...,lNx,lNy and
    optionally bx,by,bh,bw; left/right pairs in flip_pairs.txt beside it) or labels.json ({"flip_pairs":
    [[i, j], ...], "images": [{"file", "points": [[x, y], ...], "box"}]}), or either file given as --data;
    or a .npz with `points` (examples x N x 2, or x 2N), optionally `boxes` (x 4) and `flip_pairs` (x 2).
    Point numbers in flip pairs are 1-based, as the l1..lN names."""

    def __init__(self):
        self.flip_pairs: list[tuple[int, int]] = []  # 0-based, read with the data

    def files(self, path: Path) -> Source:
        if path.is_dir():
            found = [path / name for name in LABEL_FILES if (path / name).is_file()]
            if not found:
                raise DataError(f"{path}: no {' or '.join(LABEL_FILES)} (rows of file, l1x, l1y, ..., lNx, lNy)")
            path = found[0]
        rows, pairs = read_json(path) if path.suffix == ".json" else read_csv(path)
        targets, paths = [], []
        for line, file, points, box in rows:
            where, image = f"{path}:{line}", path.parent / file
            if not file or not image.is_file():
                raise DataError(f"{where}: image {file!r} does not exist (looked for {image})")
            targets.append(checked_row(points, box, np.asarray(rows[0][2]).size // 2, where))
            paths.append(str(image))
        if not paths:
            raise DataError(f"{path}: no labelled images")
        self.flip_pairs = checked_pairs(pairs, len(targets[0]) // 2 - 2, str(path))
        return Source(np.asarray(targets, dtype=np.float32), paths=paths)

    def arrays(self, arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
        if f"points{suffix}" not in arrays:
            raise DataError(
                f"{path} needs `x{suffix}` and `points{suffix}` (examples x N x 2: x, y as fractions "
                f"of the image), optionally `boxes{suffix}`; it has {', '.join(sorted(arrays))}"
            )
        points = np.asarray(arrays[f"points{suffix}"], np.float64)
        points = points.reshape(len(points), -1, 2) if points.ndim == 2 and points.shape[1] % 2 == 0 else points
        boxes = np.asarray(arrays[f"boxes{suffix}"], np.float64) if f"boxes{suffix}" in arrays else None
        if (
            len(points) != count
            or points.ndim != 3
            or points.shape[2] != 2
            or (boxes is not None and boxes.shape != (count, 4))
        ):
            raise DataError(
                f"{path}: {count} examples, but points{suffix} is {'x'.join(map(str, points.shape))} "
                f"(want {count}xNx2)"
                + ("" if boxes is None else f" and boxes{suffix} {'x'.join(map(str, boxes.shape))} (want {count}x4)")
            )
        rows = [
            checked_row(p, None if boxes is None else boxes[i], points.shape[1], f"{path}: example {i}")
            for i, p in enumerate(points)
        ]
        self.flip_pairs = checked_pairs(
            arrays.get("flip_pairs", np.zeros((0, 2))).tolist(), points.shape[1], f"{path}: flip_pairs"
        )
        return np.asarray(rows, dtype=np.float32).reshape(count, 2 * points.shape[1] + 5)

    def class_names(self, arrays: dict, targets: np.ndarray, path: Path) -> list[str]:
        return []

    def strata(self, targets: np.ndarray) -> np.ndarray:
        return np.zeros(len(targets), dtype=np.int64)  # no classes: a plain seeded split

    def follow(self, target: np.ndarray, geometry) -> np.ndarray:
        """The points after a geometric augmentation; a mirror (a transform that reverses orientation: a
        horizontal or vertical flip) also swaps the left/right pairs, so point i stays the same part."""
        h, w = geometry.size
        n = (len(target) - 5) // 2
        pixels = target[: 2 * n].reshape(n, 2)[:, ::-1].astype(np.float64) * [h, w] - 0.5  # (row, col)
        moved = ((geometry.points(pixels) + 0.5) / [h, w])[:, ::-1]
        if np.linalg.det(geometry.matrix[:2, :2]) < 0:
            for i, j in self.flip_pairs:
                moved[[i, j]] = moved[[j, i]]
        out = np.array(target, dtype=target.dtype)
        out[: 2 * n] = moved.reshape(-1)
        if target[-1] > 0.5:
            out[2 * n : 2 * n + 4] = _moved_box(target[2 * n : 2 * n + 4], geometry)
        return out


def _moved_box(box, geometry) -> tuple[float, ...]:
    """The box around the moved corners of a (bx, by, bh, bw) box, clipped to the image."""
    h, w = geometry.size
    bx, by, bh, bw = (float(v) for v in box)
    corners = (
        np.array(
            [
                [by - bh / 2, bx - bw / 2],
                [by - bh / 2, bx + bw / 2],
                [by + bh / 2, bx - bw / 2],
                [by + bh / 2, bx + bw / 2],
            ]
        )
        * [h, w]
        - 0.5
    )
    moved = (geometry.points(corners) + 0.5) / [h, w]
    top, left = np.clip(moved.min(axis=0), 0, 1)
    bottom, right = np.clip(moved.max(axis=0), 0, 1)
    return (left + right) / 2, (top + bottom) / 2, bottom - top, right - left


def checked_row(points, box, count: int, where: str) -> list[float]:
    """One target row, or DataError at `where` (file:line): the wrong number of points, a point outside the
    image, a box without area."""
    try:
        points = np.asarray(points, np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise DataError(f"{where}: points must be numbers, two per point (x, y)") from None
    if len(points) != count:
        raise DataError(f"{where}: {len(points)} points, but the data has {count} per image")
    problem = point_problem(points) or (box_problem(box) if box is not None else None)
    if problem:
        raise DataError(f"{where}: {problem}")
    return target_row(points, box)


def checked_pairs(pairs, points: int, where: str) -> list[tuple[int, int]]:
    """Flip pairs as 0-based index pairs; the given numbers are 1-based (l1..lN)."""
    out = []
    for pair in pairs:
        numbers = [int(v) for v in pair]
        if len(numbers) != 2 or not all(1 <= v <= points for v in numbers):
            raise DataError(f"{where}: flip pair {numbers} must be two point numbers within 1..{points}")
        out.append((numbers[0] - 1, numbers[1] - 1))
    return out


def read_csv(path: Path) -> tuple[list, list]:
    """(line, file, point fields, box or None) per row of a CSV with a header file,l1x,l1y,...[,bx,by,bh,bw];
    the flip pairs from flip_pairs.txt beside it."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    header = [c.strip() for c in table[0]] if table else []
    boxed = header[-4:] == ["bx", "by", "bh", "bw"]
    names = header[1 : len(header) - (4 if boxed else 0)]
    n = len(names) // 2
    if not header or header[0] != "file" or n < 1 or names != [f"l{i}{a}" for i in range(1, n + 1) for a in "xy"]:
        raise DataError(f"{path}:1: the header must be file,l1x,l1y,...,lNx,lNy (optionally then bx,by,bh,bw)")
    rows = []
    for line, row in enumerate(table[1:], 2):
        if not row:
            continue
        fields = row[1:]
        if len(fields) != len(header) - 1:
            raise DataError(
                f"{path}:{line}: {len(fields)} values after the file, the header names "
                f"{len(header) - 1} ({n} points, two each{', and the box' if boxed else ''})"
            )
        box = _numbers(fields[-4:], f"{path}:{line}") if boxed else None
        rows.append((line, row[0].strip(), _numbers(fields[: 2 * n], f"{path}:{line}"), box))
    pairs_file = path.parent / FLIP_FILE
    pairs = (
        [line.replace(",", " ").split() for line in pairs_file.read_text().splitlines() if line.strip()]
        if pairs_file.is_file()
        else []
    )
    return rows, pairs


def _numbers(fields, where: str) -> list[float]:
    try:
        return [float(v) for v in fields]
    except ValueError:
        raise DataError(f"{where}: {', '.join(fields)} are not all numbers") from None


def read_json(path: Path) -> tuple[list, list]:
    """{"flip_pairs": [...], "images": [{"file", "points": [[x, y], ...], "box"}]}; the line of each entry is
    the line its "file" is on."""
    try:
        text = path.read_text(encoding="utf-8")
        blob = json.loads(text)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    lines = [n for n, line in enumerate(text.splitlines(), 1) for _ in range(line.count('"file"'))]
    rows = [
        (lines[i] if i < len(lines) else 0, str(entry.get("file", "")), entry.get("points") or [], entry.get("box"))
        for i, entry in enumerate(blob.get("images", []))
    ]
    return rows, blob.get("flip_pairs", [])


# ---------------------------------------------------------------- the loss, metrics


def loss(out: np.ndarray, targets: np.ndarray) -> float:
    """The training loss of train.py in float64 numpy (the reference both frameworks are tested against): the
    mean squared error of the output against the first as many target columns."""
    out, targets = np.asarray(out, np.float64), np.asarray(targets, np.float64)
    return float(np.mean((out - targets[:, : out.shape[1]]) ** 2))


def normalisers(targets: np.ndarray, size: tuple[int, int], nme: str, pair: tuple[int, int]) -> np.ndarray:
    """Each example's d in pixels: sqrt of the true box's area (`box`; the box around the points where the
    data gives none), or the distance between true points `pair` (`points`)."""
    h, w = size
    n = (targets.shape[1] - 5) // 2
    points = targets[:, : 2 * n].reshape(len(targets), n, 2) * [w, h]
    if nme == "points":
        return np.linalg.norm(points[:, pair[0]] - points[:, pair[1]], axis=1)
    spans = points.max(axis=1) - points.min(axis=1)  # (width, height) of the points' box
    boxed = targets[:, -1] > 0.5
    spans[boxed] = targets[boxed][:, [2 * n + 3, 2 * n + 2]] * [w, h]
    return np.sqrt(spans[:, 0] * spans[:, 1])


def summary(
    out: np.ndarray, targets: np.ndarray, size: tuple[int, int], nme: str = "box", pair: tuple[int, int] = (0, 1)
) -> dict[str, float]:
    """The per-epoch numbers: the loss, NME, PCK@0.05 and PCK@0.1 (see the module's docstring)."""
    if not len(targets):
        return {"loss": float("nan")}
    out, targets = np.asarray(out, np.float64), np.asarray(targets, np.float64)
    n = (targets.shape[1] - 5) // 2
    h, w = size
    errors = np.linalg.norm((out[:, : 2 * n] - targets[:, : 2 * n]).reshape(len(out), n, 2) * [w, h], axis=2)
    d = np.maximum(normalisers(targets, size, nme, pair), 1e-9)[:, None]
    return {
        "loss": loss(out, targets),
        "nme": mean((errors / d).mean(axis=1)),
        "pck05": mean(errors <= 0.05 * d),
        "pck10": mean(errors <= 0.1 * d),
    }


_NAMES = {"nme": "NME", "pck05": "PCK@0.05", "pck10": "PCK@0.1"}


def nme_pair(cfg) -> tuple[int, int]:
    """--nme-points "I,J" (1-based) as 0-based indices."""
    try:
        i, j = (int(v) for v in str(cfg.nme_points).split(","))
    except ValueError:
        raise ConfigError(f"--nme-points {cfg.nme_points!r}: give two point numbers, e.g. 1,2") from None
    return i - 1, j - 1


class Evaluation:
    """What the shared loop asks of the task: per-epoch numbers, the test report, the drawn predictions."""

    running_names: tuple[str, ...] = ()

    def __init__(self, head: LandmarkHead, cfg):
        self.head, self.cfg = head, cfg
        self.prediction_shape = (head.width,)
        self.pair = nme_pair(cfg)
        if cfg.nme == "points" and not all(0 <= i < head.points for i in self.pair):
            raise ConfigError(f"--nme-points {cfg.nme_points}: the output has points 1..{head.points}")

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]:
        return summary(predictions, split.targets, self.head.size, self.cfg.nme, self.pair)

    def evaluate(self, predictions: np.ndarray, split, data) -> dict:
        normaliser = (
            "sqrt of the box area"
            if self.cfg.nme == "box"
            else f"distance between points {self.pair[0] + 1} and {self.pair[1] + 1}"
        )
        return {
            **self.summary(predictions, split),
            "examples": int(len(split)),
            "points": self.head.points,
            "normaliser": normaliser,
        }

    def report(self, result: dict, title: str) -> str:
        head = (
            f"{title}: {result['examples']} examples of {result['points']} points, loss {result['loss']:.6f}; "
            f"NME and PCK normalised by the {result['normaliser']}"
        )
        return head + "\n  " + format_numbers(result, list(_NAMES), _NAMES)

    def show(self, trainer, predictions: np.ndarray, split) -> None:
        """<out>/predictions.png: the first --draw test images, true points green, predicted points red."""
        count = min(self.cfg.draw, len(split))
        if count:
            images = split.load(np.arange(count), trainer.data.shape)
            path = Path(self.cfg.out) / "predictions.png"
            draw(path, images, predictions[:count], split.targets[:count])
            trainer.env.log(f"predicted points of {count} test images: {path}")


def draw(path: Path, images: np.ndarray, out: np.ndarray, targets: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...runtime.loop import atomic_path

    n = (targets.shape[1] - 5) // 2
    columns = min(4, len(images))
    fig, axes = plt.subplots(
        -(-len(images) // columns), columns, figsize=(3 * columns, 3.2 * -(-len(images) // columns)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = images[i].astype(np.float64)
        image = image / max(image.max(), 1e-9)
        h, w = image.shape[:2]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        for row, colour, mark in ((targets[i], "lime", "o"), (out[i], "red", "x")):
            xy = np.asarray(row[: 2 * n], np.float64).reshape(n, 2) * [w, h] - 0.5
            ax.scatter(xy[:, 0], xy[:, 1], c=colour, marker=mark, s=30)
            for k, (x, y) in enumerate(xy, 1):
                ax.annotate(str(k), (x, y), color=colour, fontsize=7, xytext=(3, 3), textcoords="offset points")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
