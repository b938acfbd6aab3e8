"""The example's two images, from packages installed with cnnc's `train` extra (no download):
content.png, scikit-learn's sample photo china.jpg (427 x 640), and style.png, scikit-image's brick
texture (512 x 512, grey, saved as RGB).  Each keeps its own size: train.py resizes both to the network's
input and says so.

    python make_images.py [--out .]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def make(out: Path) -> tuple[Path, Path]:
    from skimage import data
    from sklearn.datasets import load_sample_image

    out.mkdir(parents=True, exist_ok=True)
    content, style = out / "content.png", out / "style.png"
    Image.fromarray(load_sample_image("china.jpg")).save(content)
    brick = np.asarray(data.brick())
    Image.fromarray(np.stack([brick] * 3, axis=-1) if brick.ndim == 2 else brick).save(style)
    return content, style


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=".")
    for path in make(Path(parser.parse_args().out)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
