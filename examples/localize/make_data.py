"""Real digits on generated canvases: scikit-learn's handwritten digits placed at random sizes and positions.

The pixels are real (sklearn.datasets.load_digits: 1797 images of 8x8, values 0..16, shipped inside
scikit-learn, no download); the canvases are generated: each digit is scaled (bilinear) to a random size
and pasted at a random place on an empty canvas, so its box is exact: the tight box around its ink.
Some canvases stay empty (no object: the "none" case of the material's pc = 0).

    python examples/localize/make_data.py            # writes examples/localize/digits_on_canvas.npz
    python examples/localize/make_data.py --folder   # also an image folder with labels.csv (the file format)

The .npz holds x (N x 40 x 40, uint8), y (the digit, -1 for an empty canvas), boxes (N x 4: bx, by, bh,
bw as fractions of the canvas: midpoint across, midpoint down, height, width) and class_names.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).with_name("digits_on_canvas.npz")
CANVAS = 32
SIZES = (14, 26)  # the pasted digit's side in pixels, drawn uniformly
EMPTY = 0.1  # share of empty canvases
NOISE = 12  # std of the background noise, in 0..255 units (so an empty canvas is not all zeros)


def place(digit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """One canvas with the digit at a random size and place, and its tight box (bx, by, bh, bw)."""
    side = int(rng.integers(SIZES[0], SIZES[1] + 1))
    patch = np.asarray(Image.fromarray((digit / 16 * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR))
    top, left = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
    canvas = np.zeros((CANVAS, CANVAS), np.float64)
    canvas[top:top + side, left:left + side] = patch
    rows, cols = np.flatnonzero(patch.max(axis=1) > 0), np.flatnonzero(patch.max(axis=0) > 0)
    y0, y1 = top + rows[0], top + rows[-1] + 1  # the ink's pixel rows [y0, y1) and columns [x0, x1)
    x0, x1 = left + cols[0], left + cols[-1] + 1
    box = ((x0 + x1) / 2 / CANVAS, (y0 + y1) / 2 / CANVAS, (y1 - y0) / CANVAS, (x1 - x0) / CANVAS)
    return canvas, box


def make(seed: int = 0) -> dict[str, np.ndarray]:
    digits = load_digits()
    rng = np.random.default_rng(seed)
    images, labels, boxes = [], [], []
    for digit, label in zip(digits.images, digits.target, strict=True):
        canvas, box = place(digit, rng)
        images.append(canvas)
        labels.append(int(label))
        boxes.append(box)
    for _ in range(int(round(len(digits.target) * EMPTY / (1 - EMPTY)))):
        images.append(np.zeros((CANVAS, CANVAS)))
        labels.append(-1)
        boxes.append((0.0, 0.0, 0.0, 0.0))
    x = np.stack(images) + rng.normal(0, NOISE, (len(images), CANVAS, CANVAS))
    return {"x": np.clip(x, 0, 255).astype(np.uint8), "y": np.asarray(labels, np.int64),
            "boxes": np.asarray(boxes, np.float32), "class_names": np.array([str(d) for d in range(10)])}


def write_folder(arrays: dict[str, np.ndarray], root: Path) -> Path:
    """The same data as PNG files with labels.csv (file, class or none, bx, by, bh, bw) and classes.txt."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(arrays["class_names"]) + "\n")
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "class", "bx", "by", "bh", "bw"])
        for i, (image, label, box) in enumerate(zip(arrays["x"], arrays["y"], arrays["boxes"], strict=True)):
            name = f"images/{i:04d}.png"
            Image.fromarray(image).save(root / name)
            writer.writerow([name, "none", "", "", "", ""] if label < 0 else
                            [name, str(label), *(f"{v:.6f}" for v in box)])
    return root


def main(out: Path = OUT, folder: bool = False) -> Path:
    arrays = make()
    np.savez_compressed(out, **arrays)
    print(f"wrote {out}: {len(arrays['y'])} canvases of {CANVAS}x{CANVAS}, {int((arrays['y'] < 0).sum())} empty")
    if folder:
        print(f"wrote {write_folder(arrays, out.with_suffix(''))}/labels.csv")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", action="store_true", help="also write an image folder with labels.csv")
    main(folder=parser.parse_args().folder)
