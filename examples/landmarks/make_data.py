"""Generated kites for examples/landmarks: four vertices are the landmarks, exact by construction.

Each 32x32 grey image holds one kite (a quadrilateral: a long nose, two wings, a short tail) at a random
place, size (16 to 28 pixels long) and angle (up to 30 degrees either way from pointing up), in a random
grey on a noisy background of another grey, drawn at 4x and averaged down so its edges are anti-aliased.
The points, as fractions of the image (x across, y down): 1 the nose, 2 the left wing, 3 the right wing,
4 the tail; a mirror swaps the wings, so the data says flip_pairs = [[2, 3]].

    python examples/landmarks/make_data.py            # writes examples/landmarks/kites.npz
    python examples/landmarks/make_data.py --folder   # also kites/ (PNGs, labels.csv, flip_pairs.txt)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE, SUPER = 32, 4
HERE = Path(__file__).parent


def kite(rng: np.random.Generator) -> np.ndarray:
    """The four vertices (x, y) in pixels of the image: nose, left wing, right wing, tail."""
    length = rng.uniform(16, 28)
    width = length * rng.uniform(0.45, 0.75)
    cross = rng.uniform(0.3, 0.45)  # where the wings cross the axis, as a fraction from the nose
    shape = np.array([[0, 0], [-width / 2, cross * length], [width / 2, cross * length], [0, length]])
    shape -= shape.mean(axis=0)
    angle = np.radians(rng.uniform(-30, 30))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = shape @ rotation.T
    low, high = -points.min(axis=0) + 1, SIZE - 1 - points.max(axis=0)
    return points + rng.uniform(low, high)


def render(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    background, ink = rng.uniform(0.0, 0.35), rng.uniform(0.6, 1.0)
    big = Image.new("F", (SIZE * SUPER, SIZE * SUPER), float(background))
    ImageDraw.Draw(big).polygon([tuple(p * SUPER) for p in points[[0, 1, 3, 2]]], fill=float(ink))
    image = np.asarray(big, dtype=np.float64).reshape(SIZE, SUPER, SIZE, SUPER).mean(axis=(1, 3))
    image += rng.normal(0, 0.05, image.shape)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def make(count: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = np.stack([kite(rng) for _ in range(count)])
    images = np.stack([render(p, rng) for p in points])
    return {"x": images[..., None], "points": (points / SIZE).astype(np.float32), "flip_pairs": np.array([[2, 3]])}


def write_folder(arrays: dict[str, np.ndarray], root: Path) -> Path:
    """The same data as PNG files with labels.csv and flip_pairs.txt."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    n = arrays["points"].shape[1]
    with (root / "labels.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["file", *(f"l{i}{a}" for i in range(1, n + 1) for a in "xy")])
        for i, (image, points) in enumerate(zip(arrays["x"], arrays["points"], strict=True)):
            Image.fromarray(image[..., 0]).save(root / "images" / f"{i:04d}.png")
            out.writerow([f"images/{i:04d}.png", *(f"{v:.6f}" for v in points.reshape(-1))])
    (root / "flip_pairs.txt").write_text("\n".join(f"{a} {b}" for a, b in arrays["flip_pairs"]) + "\n")
    return root


def main(path: Path = HERE / "kites.npz", folder: bool = False) -> Path:
    arrays = make()
    np.savez_compressed(path, **arrays)
    if folder:
        write_folder(arrays, path.with_suffix(""))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", action="store_true", help="also write the PNGs with labels.csv")
    print(main(folder=parser.parse_args().folder))
