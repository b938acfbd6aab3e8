"""scikit-learn's bundled digits on a canvas, labelled per pixel: a segmentation data set with no download.

Each 8x8 digit (values 0..16) is enlarged 3x (24x24, bilinear) and placed at a random place on a 32x32
canvas with a little noise.  A pixel's label is the digit's class + 1 where the digit's ink is (the
enlarged value above 4 of 16), 0 (background) elsewhere: 11 classes.  Writes digits_canvas.npz
(`x` N x 32 x 32 uint8, `masks` N x 32 x 32, `class_names`), or with --folder DIR the images/ + masks/
layout of the common segmentation data sets (PNG images, index PNG masks, classes.txt with colours).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).with_name("digits_canvas.npz")
CANVAS, SCALE, INK = 32, 3, 4.0
CLASS_NAMES = ["background", *(f"digit {d}" for d in range(10))]


def make(count: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 32 x 32 uint8) and masks (N x 32 x 32 class indices)."""
    digits = load_digits()
    rng = np.random.default_rng(seed)
    images, targets = digits.images[:count], digits.target[:count]
    size = 8 * SCALE
    x = np.zeros((len(images), CANVAS, CANVAS), np.float32)
    masks = np.zeros((len(images), CANVAS, CANVAS), np.uint8)
    for i, (digit, label) in enumerate(zip(images, targets)):
        big = np.asarray(Image.fromarray(digit.astype(np.float32), "F").resize((size, size), Image.BILINEAR))
        r, c = rng.integers(0, CANVAS - size + 1, size=2)
        x[i, r : r + size, c : c + size] = big
        masks[i, r : r + size, c : c + size] = np.where(big > INK, label + 1, 0)
    x = np.clip(x * 15 + rng.normal(0, 8, size=x.shape), 0, 255)
    return x.astype(np.uint8), masks


def write_folder(root: Path, x: np.ndarray, masks: np.ndarray) -> Path:
    """images/NNNN.png, masks/NNNN.png (8-bit index PNGs) and classes.txt with the VOC palette's colours."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    for i, (image, mask) in enumerate(zip(x, masks)):
        Image.fromarray(image, "L").save(root / "images" / f"{i:04d}.png")
        Image.fromarray(mask, "L").save(root / "masks" / f"{i:04d}.png")
    (root / "classes.txt").write_text("".join(f"{name.replace(' ', '_')}\n" for name in CLASS_NAMES))
    return root


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="only the first COUNT digits (default: all 1797)")
    parser.add_argument("--folder", type=Path, default=None, help="write images/ + masks/ here instead of a .npz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    x, masks = make(args.count)
    if args.folder:
        path = write_folder(args.folder, x, masks)
    else:
        np.savez_compressed(args.out, x=x, masks=masks, class_names=np.array(CLASS_NAMES))
        path = args.out
    print(f"wrote {path}: {len(x)} images of {CANVAS}x{CANVAS}, 11 classes")
    return path


if __name__ == "__main__":
    main()
