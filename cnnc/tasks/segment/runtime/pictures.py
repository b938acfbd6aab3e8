"""What a person sees of a segmentation: index PNGs, colour overlays, image | true | predicted side by side.

Colours: the class colours of classes.txt where it gives them, else the PASCAL VOC palette (class 0
black, then the bits of the class index spread over the high bits of R, G and B), so neighbouring
classes get distinct colours.  Pixels without a label (the ignore index) are white.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .masks import image_paths, read_image
from .metrics import predicted_classes
from .tiles import predict_tiled

_IGNORED = (255, 255, 255)


def palette(count: int, colours=None) -> np.ndarray:
    """count x 3 uint8 colours, one per class."""
    if colours:
        return np.asarray(colours, dtype=np.uint8)
    out = np.zeros((count, 3), dtype=np.uint8)
    for k in range(count):
        c, r, g, b = k, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[k] = (r, g, b)
    return out


def coloured(mask: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8: each pixel its class's colour, white where there is no class (ignore index)."""
    known = (mask >= 0) & (mask < len(colours))
    rgb = np.empty((*mask.shape, 3), dtype=np.uint8)
    rgb[...] = _IGNORED
    rgb[known] = colours[mask[known].astype(np.int64)]
    return rgb


def write_masks(folder: Path, classes: np.ndarray, names: list[str]) -> Path:
    """One 8-bit index PNG per predicted mask (N x H x W class indices), named after its example."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for mask, name in zip(classes, names, strict=True):
        Image.fromarray(mask.astype(np.uint8), "L").save(folder / f"{name}.png")
    return folder


def _for_display(image: np.ndarray) -> np.ndarray:
    """An example scaled to [0, 1] for imshow; a volume shows its middle slice along the first axis."""
    while image.ndim > 3:
        image = image[image.shape[0] // 2]
    image = image.astype(np.float64)
    image = (image - image.min()) / max(image.max() - image.min(), 1e-9)
    return image[..., 0] if image.shape[-1] == 1 else image[..., :3]


def _middle(mask: np.ndarray) -> np.ndarray:
    while mask.ndim > 2:
        mask = mask[mask.shape[0] // 2]
    return mask


def side_by_side(path: Path, images, truth, predicted, names: list[str], colours=None, ignore: int = 255) -> Path:
    """A row per example: the image (the part the map labels), the true mask, the predicted mask; a colour
    legend of the classes below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from ...runtime.loop import atomic_path

    table = palette(len(names), colours)
    rows = len(images)
    legend_rows = -(-(len(names) + 1) // 6)
    legend_inches = 0.1 + 0.2 * legend_rows
    height = 2.5 * rows + legend_inches
    fig, axes = plt.subplots(rows, 3, figsize=(7.5, height), squeeze=False)
    for i in range(rows):
        shown = [_for_display(images[i]), coloured(_middle(truth[i]), table), coloured(_middle(predicted[i]), table)]
        for ax, picture, title in zip(axes[i], shown, ("image", "true", "predicted"), strict=True):
            ax.imshow(picture, cmap="gray", interpolation="nearest")
            ax.set_title(title if i == 0 else "", fontsize=9)
            ax.axis("off")
    legend = [Patch(facecolor=table[k] / 255, edgecolor="black", label=name) for k, name in enumerate(names)]
    legend.append(Patch(facecolor=np.array(_IGNORED) / 255, edgecolor="black", label=f"{ignore}: no label"))
    fig.legend(handles=legend, loc="lower center", ncol=min(6, len(legend)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))  # the legend's rows below the pictures
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def overlay(image: np.ndarray, mask: np.ndarray, colours: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image (H x W x C, uint8) with its mask's colours blended in (RGB uint8)."""
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    blended = (1 - alpha) * rgb.astype(np.float64) + alpha * coloured(mask, colours)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def predict_folder(folder: Path, out: Path, head, trainer, predict_tiles, colours, batch_size: int) -> Path:
    """Every image of `folder`, at its own size, labelled by overlap-tile: <out>/NAME.png (class indices)
    and <out>/NAME_overlay.png."""
    from PIL import Image

    table = palette(head.classes, colours)
    normalizer, channels = trainer.pipeline.normalizer, trainer.data.shape[-1]
    out.mkdir(parents=True, exist_ok=True)
    paths = image_paths(folder)
    for path in paths:
        raw = read_image(path, channels)
        x = normalizer.standardize(normalizer.scaled(raw[None]))[0]
        scores = predict_tiled(x, predict_tiles, head.input_size, head.output_size, batch_size)
        mask = predicted_classes(scores[None], head.activation)[0]
        Image.fromarray(mask.astype(np.uint8), "L").save(out / f"{path.stem}.png")
        Image.fromarray(overlay(raw, mask, table)).save(out / f"{path.stem}_overlay.png")
    trainer.env.log(f"predicted {len(paths)} images of {folder}: index PNGs and overlays in {out}")
    return out
