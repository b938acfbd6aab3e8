"""Generated 3D volumes for examples/volumes3d: four solids to tell apart.

Each example is 16 x 16 x 16 x 1 (depth x height x width x channels): a ball (radius 3 to 6), a box
(half-sides 3 to 5 each), a rod (radius 1.2 to 2, 10 to 14 long, along a random axis) or a hollow shell
(radius 4 to 7, 1.5 thick), at a random place inside the volume, in a random brightness (0.6 to 1) with
Gaussian noise (std 0.15).  The data is generated, not measured.

    python examples/volumes3d/make_data.py     # writes examples/volumes3d/solids.npz
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 16
CLASSES = ("ball", "box", "rod", "shell")
HERE = Path(__file__).parent
GRID = np.stack(np.meshgrid(*[np.arange(SIZE) + 0.5] * 3, indexing="ij"), axis=-1)  # voxel centres (z, y, x)


def solid(kind: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean D x H x W mask of one solid of class `kind`."""
    if kind == 0:
        r = rng.uniform(3, 6)
        return np.linalg.norm(GRID - rng.uniform(r, SIZE - r, 3), axis=-1) <= r
    if kind == 1:
        half = rng.uniform(3, 5, 3)
        return np.all(np.abs(GRID - rng.uniform(half, SIZE - half)) <= half, axis=-1)
    if kind == 2:
        axis, r, half = int(rng.integers(3)), rng.uniform(1.2, 2), rng.uniform(5, 7)
        extent = np.full(3, r)
        extent[axis] = half
        offset = GRID - rng.uniform(extent, SIZE - extent)
        across = np.linalg.norm(np.delete(offset, axis, axis=-1), axis=-1)
        return (across <= r) & (np.abs(offset[..., axis]) <= half)
    r = rng.uniform(4, 7)
    distance = np.linalg.norm(GRID - rng.uniform(r, SIZE - r, 3), axis=-1)
    return (distance <= r) & (distance >= r - 1.5)


def make(per_class: int = 250, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), per_class)
    volumes = [solid(int(k), rng) * rng.uniform(0.6, 1.0) + rng.normal(0, 0.15, (SIZE,) * 3) for k in y]
    return {"x": np.stack(volumes)[..., None].astype(np.float32), "y": y, "class_names": np.array(CLASSES)}


def main(path: Path = HERE / "solids.npz") -> Path:
    np.savez_compressed(path, **make())
    return path


if __name__ == "__main__":
    print(main())
