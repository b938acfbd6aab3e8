"""What a person sees of detection: the mAP table, precision-recall curves, images with their boxes drawn."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

TRUE_COLOUR, FOUND_COLOUR = (0, 200, 0), (230, 30, 30)


def _number(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def map_table(result: dict, names: list[str]) -> str:
    """One row per class (objects, detections, AP@0.5 VOC, COCO AP@[.5:.95]) and the means."""
    width = max([5, *(len(n) for n in names)])
    lines = [f"  {'class':<{width}}  objects  detections  AP@0.5  AP@[.5:.95]"]
    for row in result["per_class"]:
        name = names[row["class"]] if row["class"] < len(names) else str(row["class"])
        lines.append(
            f"  {name:<{width}}  {row['objects']:>7}  {row['detections']:>10}  {_number(row['ap50']):>6}  "
            f"{_number(row['coco_ap']):>11}"
        )
    lines.append(
        f"  {'mean':<{width}}  {'':>7}  {'':>10}  {_number(result['map50']):>6}  {_number(result['coco_map']):>11}"
    )
    return "\n".join(lines)


def plot_pr_curves(path: Path, curves: list, names: list[str], atomic) -> None:
    """One precision-recall curve per class with ground truth (VOC, IoU >= 0.5), AP in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .evaluate import voc_ap

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for c, curve in enumerate(curves):
        if curve is None or not len(curve[0]):
            continue
        recall, precision = curve
        ax.plot(
            np.concatenate([[0.0], recall]),
            np.concatenate([[precision[0]], precision]),
            label=f"{names[c]} (AP {voc_ap(recall, precision):.3f})",
        )
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01), title="precision-recall, IoU >= 0.5")
    ax.grid(alpha=0.3)
    if ax.lines:  # no detections of any class: an empty plot, no legend
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    with atomic(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def drawn(image: np.ndarray, found, names: list[str], truth=None, scale: int = 0):
    """A PIL image of one H x W x C example in [0, 1]-ish units with its boxes: found ones red with class and
    score, true ones (if given) green.  Boxes are corners as fractions of the image.  Small images are
    enlarged (nearest) so labels are legible."""
    from PIL import Image, ImageDraw

    pixels = np.asarray(image, dtype=np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    pixels = (pixels - low) / max(high - low, 1e-9) * 255
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3]
    picture = Image.fromarray(pixels.astype(np.uint8)).convert("RGB")
    scale = scale or max(1, 256 // max(picture.size))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    pen = ImageDraw.Draw(picture)
    size = np.array([picture.width, picture.height] * 2, dtype=np.float64)
    if truth is not None:
        for box in np.asarray(truth, dtype=np.float64).reshape(-1, 4):
            pen.rectangle(list(box * size), outline=TRUE_COLOUR, width=1)
    for box, cls, score in zip(found.boxes, found.classes, found.scores, strict=True):
        corners = list(np.asarray(box) * size)
        pen.rectangle(corners, outline=FOUND_COLOUR, width=2)
        pen.text((corners[0] + 2, max(corners[1] - 11, 0)), f"{names[int(cls)]} {score:.2f}", fill=FOUND_COLOUR)
    return picture
