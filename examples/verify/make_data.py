"""scikit-learn's handwritten digits as identities: train on 0-6, test one-shot on 7-9, never seen in training.

The pixels are real (sklearn.datasets.load_digits: 1797 images of 8x8, values 0..16, shipped inside
scikit-learn, no download).  Each digit is an identity, as each person is in a face data set:

- train: digits 0-6, all but a held-out share of their images;
- val: the held-out images of digits 0-6 (early stopping, the best weights, and tau are chosen here, so
  nothing about 7-9 is used before the test);
- test: every image of digits 7-9, identities the network has never seen (the material's one-shot setting).

    python examples/verify/make_data.py            # writes examples/verify/digits_identities.npz
    python examples/verify/make_data.py --folder   # also digits_identities/: a folder per identity (LFW layout)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).with_name("digits_identities.npz")
SEEN, VAL_SHARE = 7, 0.15  # digits 0..6 train; 15% of their images validate


def make(seed: int = 0) -> dict[str, np.ndarray]:
    digits = load_digits()
    x = np.round(digits.images / 16 * 255).astype(np.uint8)  # 8x8, 0..255
    y = digits.target.astype(np.int64)
    seen = np.random.default_rng(seed).permutation(np.flatnonzero(y < SEEN))
    n_val = int(round(len(seen) * VAL_SHARE))
    parts = {"train": np.sort(seen[n_val:]), "val": np.sort(seen[:n_val]), "test": np.flatnonzero(y >= SEEN)}
    arrays = {f"x_{name}": x[idx] for name, idx in parts.items()}
    arrays.update({f"identities_{name}": y[idx] for name, idx in parts.items()})
    arrays["identity_names"] = np.array([f"digit {d}" for d in range(10)])
    return arrays


def write_folder(arrays: dict[str, np.ndarray], root: Path) -> None:
    """Every image as root/<digit>/<index>.png: a folder per identity."""
    for name in ("train", "val", "test"):
        for i, (image, identity) in enumerate(zip(arrays[f"x_{name}"], arrays[f"identities_{name}"], strict=True)):
            folder = root / f"digit{int(identity)}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, "L").save(folder / f"{name}{i:04d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", action="store_true", help="also write a folder per identity")
    args = parser.parse_args()
    arrays = make()
    np.savez_compressed(OUT, **arrays)
    sizes = ", ".join(f"{n} {len(arrays[f'x_{n}'])}" for n in ("train", "val", "test"))
    print(f"wrote {OUT}: {sizes} images")
    if args.folder:
        write_folder(arrays, OUT.with_suffix(""))
        print(f"wrote {OUT.with_suffix('')}/: a folder per identity")


if __name__ == "__main__":
    main()
