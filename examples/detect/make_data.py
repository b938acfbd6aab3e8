"""Write a small detection data set: scikit-learn's handwritten digits placed 1-4 per canvas.

Real pixels, exact boxes, no download: each canvas is 48x48 grayscale; each
digit (an 8x8 scan from scikit-learn's bundled set, values 0..16) is enlarged
bilinearly to a random size of 12..22 pixels and pasted at a random place
where it overlaps no other digit.  Its box is the extent of its ink (the
enlarged pixels above 1/8 of the digit's peak), so a digit drawn narrower than
its 8x8 cell gets a narrower box.

The digit scans are split 60/20/20 before any canvas is drawn, so the
validation and test canvases show scans the network never saw in training;
the .npz holds the splits as x_train/boxes_train, x_val/boxes_val,
x_test/boxes_test (boxes N x 4 x 5: class, cx, cy, w, h as fractions of the
canvas; class -1 pads), and class_names.  With --yolo DIR it also writes the
test split as a YOLO text folder (images/, labels/, classes.txt), the format
`train.py predict` and --data read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).with_name("digits_detect.npz")
CANVAS, MAX_DIGITS, SIZES = 48, 4, (12, 22)
COUNTS = {"train": 3000, "val": 300, "test": 500}


def _digit(scan: np.ndarray, size: int) -> np.ndarray:
    """An 8x8 scan (0..16) enlarged to size x size, in 0..255."""
    image = Image.fromarray((scan * (255 / 16)).astype(np.float32), "F")
    return np.clip(np.asarray(image.resize((size, size), Image.BILINEAR)), 0, 255)


def _place(rng, taken: list[tuple[int, int, int, int]], size: int) -> tuple[int, int] | None:
    for _ in range(50):
        top, left = (int(v) for v in rng.integers(0, CANVAS - size + 1, size=2))
        if all(top >= b or top + size <= t or left >= r or left + size <= lft for t, lft, b, r in taken):
            return top, left
    return None


def canvas(rng, scans: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One canvas (48 x 48 x 1, uint8) and its boxes (4 x 5)."""
    image = np.zeros((CANVAS, CANVAS), np.float32)
    boxes = np.zeros((MAX_DIGITS, 5), np.float32)
    boxes[:, 0] = -1
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(int(rng.integers(1, MAX_DIGITS + 1))):
        size = int(rng.integers(SIZES[0], SIZES[1] + 1))
        spot = _place(rng, taken, size)
        if spot is None:
            continue
        top, left = spot
        i = int(rng.integers(len(scans)))
        patch = _digit(scans[i], size)
        image[top : top + size, left : left + size] = patch
        taken.append((top, left, top + size, left + size))
        rows, cols = np.nonzero(patch > patch.max() / 8)
        y1, y2, x1, x2 = top + rows.min(), top + rows.max() + 1, left + cols.min(), left + cols.max() + 1
        boxes[len(taken) - 1] = [
            labels[i],
            (x1 + x2) / 2 / CANVAS,
            (y1 + y2) / 2 / CANVAS,
            (x2 - x1) / CANVAS,
            (y2 - y1) / CANVAS,
        ]
    return image.astype(np.uint8)[..., None], boxes


def make(seed: int = 0, counts: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    counts = counts or COUNTS
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    cuts = np.cumsum([0, 0.6, 0.2, 0.2]) * len(order)
    arrays: dict[str, np.ndarray] = {"class_names": np.array([str(d) for d in range(10)])}
    for k, name in enumerate(COUNTS):
        pool = order[int(cuts[k]) : int(cuts[k + 1])]
        made = [canvas(rng, digits.images[pool], digits.target[pool]) for _ in range(counts[name])]
        arrays[f"x_{name}"] = np.stack([m[0] for m in made])
        arrays[f"boxes_{name}"] = np.stack([m[1] for m in made])
    return arrays


def write_yolo(folder: Path, images: np.ndarray, boxes: np.ndarray, names) -> None:
    """A YOLO text folder: images/NNNN.png, labels/NNNN.txt (`class cx cy w h` a line), classes.txt."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    (folder / "classes.txt").write_text("\n".join(str(n) for n in names) + "\n")
    for i, (image, rows) in enumerate(zip(images, boxes, strict=True)):
        Image.fromarray(image[..., 0]).save(folder / "images" / f"{i:04d}.png")
        lines = [f"{int(r[0])} {r[1]:.6f} {r[2]:.6f} {r[3]:.6f} {r[4]:.6f}" for r in rows if r[0] >= 0]
        (folder / "labels" / f"{i:04d}.txt").write_text("".join(line + "\n" for line in lines))


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of canvases (tests: less)")
    parser.add_argument("--yolo", type=Path, help="also write the test split as a YOLO text folder here")
    args = parser.parse_args(argv)
    arrays = make(args.seed, {k: max(4, int(v * args.scale)) for k, v in COUNTS.items()})
    np.savez_compressed(args.out, **arrays)
    sizes = "/".join(str(len(arrays[f"x_{k}"])) for k in COUNTS)
    print(f"wrote {args.out}: {sizes} canvases (train/val/test) of {CANVAS}x{CANVAS}")
    if args.yolo:
        write_yolo(args.yolo, arrays["x_test"], arrays["boxes_test"], arrays["class_names"])
        print(f"wrote {args.yolo}: the test split as YOLO text labels")
    return args.out


if __name__ == "__main__":
    main()
