"""Outputs smaller than the input: the centre crop of the target, and overlap-tile prediction.

The U-Net paper's network uses unpadded ("valid") convolutions, so a 572x572 tile gives a 388x388 map
that covers the tile's centre: the target of a training tile is the centre crop of its mask (offset
(572 - 388) // 2 = 92 per side), and a whole image is predicted tile by tile (Ronneberger et al. 2015,
figure 2, "overlap-tile strategy"): tiles step by the output's size, each sees a margin of context
around the part it labels, and the margin beyond the image's border is the image mirrored.  So every
pixel of the input gets a label, whatever the image's size.  A same-padded network (output as large as
its input) needs neither: its margin is 0 and the tiles simply partition the (mirror-padded) image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def crop_offsets(size: Sequence[int], inner: Sequence[int]) -> list[int]:
    """Where the centre crop of `inner` starts along each axis of `size` (the crop op's dh // 2)."""
    if any(i > s for i, s in zip(inner, size, strict=True)):
        raise ValueError(f"cannot crop {tuple(size)} to the larger {tuple(inner)}")
    return [(s - i) // 2 for s, i in zip(size, inner, strict=True)]


def centre_crop(array: np.ndarray, inner: Sequence[int], first_axis: int = 1) -> np.ndarray:
    """The centre `inner` of the spatial axes starting at `first_axis` (1: after the batch axis)."""
    size = array.shape[first_axis : first_axis + len(inner)]
    starts = crop_offsets(size, inner)
    window = tuple(slice(s, s + n) for s, n in zip(starts, inner, strict=True))
    return array[(slice(None),) * first_axis + window]


def tile_layout(size: Sequence[int], tile_in: Sequence[int], tile_out: Sequence[int]):
    """(tiles per axis, padding before and after per axis) of the overlap-tile strategy for an image of
    `size` and a network taking `tile_in` and giving `tile_out` (spatial sizes)."""
    counts, pads = [], []
    for n, i, o in zip(size, tile_in, tile_out, strict=True):
        margin = (i - o) // 2
        count = -(-n // o)  # ceil: the last tile may reach past the image
        counts.append(count)
        pads.append((margin, i - o - margin + count * o - n))
    return counts, pads


def predict_tiled(
    image: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    tile_in: Sequence[int],
    tile_out: Sequence[int],
    batch_size: int = 8,
) -> np.ndarray:
    """The network's output for every pixel of `image` (S... x C, channels-last): S... x K.

    `predict` maps a batch of tiles (B x tile_in x C) to the network's output (B x tile_out x K).  The
    image is mirror-padded (numpy's `reflect`, repeated where the margin is wider than the image) so
    every tile is full; tile t along an axis reads padded[t * o : t * o + i] and labels image pixels
    [t * o, t * o + o)."""
    counts, pads = tile_layout(image.shape[:-1], tile_in, tile_out)
    padded = np.pad(image, [*pads, (0, 0)], mode="reflect" if min(image.shape[:-1]) > 1 else "edge")
    origins = [tuple(t * o for t, o in zip(index, tile_out, strict=True)) for index in np.ndindex(*counts)]
    pieces = []
    for start in range(0, len(origins), batch_size):
        chunk = origins[start : start + batch_size]
        tiles = np.stack([padded[tuple(slice(c, c + i) for c, i in zip(at, tile_in, strict=True))] for at in chunk])
        pieces.append(np.asarray(predict(tiles)))
    out = np.concatenate(pieces)
    if tuple(out.shape[1:-1]) != tuple(tile_out):
        raise ValueError(f"the network gave {out.shape[1:-1]} per tile, expected {tuple(tile_out)}")
    whole = np.zeros([t * o for t, o in zip(counts, tile_out, strict=True)] + [out.shape[-1]], dtype=out.dtype)
    for at, piece in zip(origins, out, strict=True):
        whole[tuple(slice(c, c + o) for c, o in zip(at, tile_out, strict=True))] = piece
    return whole[tuple(slice(0, n) for n in image.shape[:-1])]
