"""Unit visualisation, framework-neutral: the images, the top patches of each unit, the pictures.

For a unit (a channel k of a layer with a feature map), its response to an image is its activation map
a[:, :, k]; the patches shown are those of the `top` images whose strongest response is highest, one per
image (Zeiler and Fergus's "top 9"), each cut around the position (i, j) of that strongest response:
the unit's receptive field in the input, rows start + i * jump .. start + i * jump + field - 1 (and the
same for columns), with the field, jump and start from cnnc's receptive-field pass (FIELDS in
visualize.py).  Where the field reaches into the padding, the patch is filled with zeros.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import DataError, decode_image, image_files
from ...runtime.loop import atomic_path, write_text

RANDOM_WEIGHTS = (
    "WARNING: no --weights: the network has RANDOM weights; the patches show what random filters respond "
    "to, not what a trained network learnt. Give the weights of a training run (run/best...)."
)
MAX_UNITS = 64


@dataclass(frozen=True)
class VisualizeHead:
    """What cnnc found in the spec: the input and its size, and the layer shown by default."""

    input: str
    size: tuple[int, int, int]  # H, W, C
    layer: str
    units: tuple[int, ...]


def resolve(head: VisualizeHead, layers: dict, fields: dict, cfg) -> tuple[str, list[int]]:
    """The run's layer and units (--layer, --units override HEAD's), checked against the spec's layers."""
    layer = cfg.layer or head.layer
    if layer not in layers:
        close = difflib.get_close_matches(layer, list(layers), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "layers: " + ", ".join(layers)
        raise ConfigError(f"the network has no layer `{layer}` with a feature map; {hint}")
    channels = fields[layer][3]
    units = list(cfg.units) or (list(head.units) if layer == head.layer else list(range(min(channels, MAX_UNITS))))
    wrong = [u for u in units if not 0 <= u < channels]
    if wrong:
        raise ConfigError(f"layer `{layer}` has units 0..{channels - 1}; no unit {wrong[0]}")
    return layer, units


def read_images(path: str | None, size: tuple[int, int, int], log=print) -> np.ndarray:
    """N x H x W x C floats in [0,1] (uint8 / 255, other values / their peak if above 1): a folder of image
    files (decoded at the model's size) or a .npz's `x`."""
    if not path:
        raise ConfigError("give the images to search: --images FOLDER or --images FILE.npz")
    source = Path(path)
    if source.suffix == ".npz":
        try:
            with np.load(source, allow_pickle=False) as blob:
                x = blob["x"]
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]} (a .npz with an array `x`)") from None
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[-1] != size[2]:
            raise DataError(f"{path}: x has {x.shape[-1]} channels per image, the network takes {size[2]}")
        if tuple(x.shape[1:3]) != tuple(size[:2]):
            log(
                f"images: {x.shape[1]}x{x.shape[2]} in {path}, resized to {size[0]}x{size[1]} (bilinear, as the "
                "harness does)"
            )
            x = _resized(x, size)
    elif source.is_dir():
        files = image_files(source)
        if not files:
            raise DataError(f"no image files in {path}")
        x = np.stack([decode_image(str(f), size) for f in files])
    else:
        raise DataError(f"cannot read {path}: neither a folder of images nor a .npz file")
    peak = 255.0 if x.dtype == np.uint8 else max(float(np.abs(x).max()) if x.size else 1.0, 1.0)
    x = x.astype(np.float32) / np.float32(peak)
    log(f"images: {len(x)} from {path}, {'x'.join(map(str, size))}")
    return x


def network_input(images: np.ndarray, normalize: str, log=print) -> np.ndarray:
    """What the network reads: the images in [0,1] (scale, none), or standardized per channel over them."""
    if normalize != "standardize":
        return images
    flat = images.reshape(-1, images.shape[-1]).astype(np.float64)
    mean, std = flat.mean(axis=0), np.maximum(flat.std(axis=0), 1e-6)
    log(f"standardized with these images' mean {np.round(mean, 4).tolist()} and std {np.round(std, 4).tolist()}")
    return ((images - mean) / std).astype(np.float32)


def _resized(x: np.ndarray, size: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image

    out = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c]).astype(np.float32)).resize(
                (size[1], size[0]), Image.BILINEAR
            )
        )
        for image in x
        for c in range(size[2])
    ]
    out = np.stack(out).reshape(len(x), size[2], size[0], size[1]).transpose(0, 2, 3, 1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else out.astype(np.float32)


def patch(image: np.ndarray, i: int, j: int, geometry) -> np.ndarray:
    """The receptive field of the unit at (i, j) in `image` (H x W x C), zeros where it leaves the image."""
    field, jump, start = geometry[:3]
    top, left = start[0] + i * jump[0], start[1] + j * jump[1]
    out = np.zeros((field[0], field[1], image.shape[2]), image.dtype)
    rows = slice(max(top, 0), min(top + field[0], image.shape[0]))
    cols = slice(max(left, 0), min(left + field[1], image.shape[1]))
    out[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = image[rows, cols]
    return out


def top_patches(activations: np.ndarray, images: np.ndarray, units: list[int], geometry, top: int) -> dict:
    """Per unit: the `top` (image, i, j, activation) with the highest strongest responses, and their patches."""
    n, h, w, _ = activations.shape
    found = {}
    for unit in units:
        maps = activations[..., unit].reshape(n, -1)
        best = maps.argmax(axis=1)  # each image's strongest response
        order = np.argsort(-maps[np.arange(n), best], kind="stable")[:top]
        places = [(int(k), int(best[k] // w), int(best[k] % w), float(maps[k, best[k]])) for k in order]
        found[unit] = {
            "places": places,
            "patches": np.stack([patch(images[k], i, j, geometry) for k, i, j, _ in places]),
        }
    return found


def grid(patches: np.ndarray, zoom: int) -> np.ndarray:
    """Up to nine patches in a 3 x 3 grid (more: rows of 3), each zoomed, 1-pixel white lines between."""
    k, ph, pw, c = patches.shape
    cols, rows = 3, -(-k // 3)
    ph, pw = ph * zoom, pw * zoom
    out = np.ones(((ph + 1) * rows + 1, (pw + 1) * cols + 1, c), np.float32)
    for n, p in enumerate(patches):
        r, q = divmod(n, cols)
        p = np.kron(p, np.ones((zoom, zoom, 1), np.float32))
        lo, hi = p.min(), p.max()
        out[1 + r * (ph + 1) : 1 + r * (ph + 1) + ph, 1 + q * (pw + 1) : 1 + q * (pw + 1) + pw] = (p - lo) / max(
            hi - lo, 1e-12
        )
    return out


def save(found: dict, layer: str, geometry, cfg, log=print) -> None:
    """unit_NNN.png (the grid of each unit), patches.npz (every patch 1:1) and top.json (where they are)."""
    from PIL import Image

    out = Path(cfg.out)
    for unit, entry in found.items():
        pixels = np.clip(np.rint(grid(entry["patches"], cfg.zoom) * 255), 0, 255).astype(np.uint8)
        with atomic_path(out / f"unit_{unit:03d}.png") as tmp:
            Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(tmp, format="PNG")
    with atomic_path(out / "patches.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **{f"unit_{u}": e["patches"] for u, e in found.items()})
    field, jump, start = geometry[:3]
    summary = {
        "layer": layer,
        "receptive_field": list(field),
        "jump": list(jump),
        "start": list(start),
        "units": {
            str(u): [dict(zip(("image", "row", "col", "activation"), p, strict=True)) for p in e["places"]]
            for u, e in found.items()
        },
    }
    write_text(out / "top.json", json.dumps(summary, indent=1) + "\n")
    log(
        f"layer {layer}: receptive field {'x'.join(map(str, field))} (jump {'x'.join(map(str, jump))}); "
        f"wrote {len(found)} grids of {cfg.top} patches to {out}/unit_NNN.png, patches.npz, top.json"
    )
