"""Generated 2-channel signals for examples/signals1d: four wave shapes to tell apart.

Each example is 128 samples x 2 channels.  Its class is the shape of the wave, the same in both channels:
sine, square, sawtooth or spikes (a narrow pulse per period), at a random frequency (2 to 8 cycles),
phase and amplitude (0.5 to 2) per channel, plus a random offset and Gaussian noise (std 0.1 of the unit
wave).  The data is generated, not measured.

    python examples/signals1d/make_data.py     # writes examples/signals1d/waves.npz
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LENGTH = 128
CLASSES = ("sine", "square", "sawtooth", "spikes")
HERE = Path(__file__).parent


def wave(kind: int, phase: np.ndarray) -> np.ndarray:
    """One period-1 wave of class `kind` at phases (cycles), values in -1..1."""
    frac = phase % 1.0
    spikes = 2 * np.exp(-(((frac - 0.5) / 0.06) ** 2)) - 1  # a narrow pulse per period on a low baseline
    return [np.sin(2 * np.pi * phase), np.where(frac < 0.5, 1.0, -1.0), 2 * frac - 1, spikes][kind]


def example(kind: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(LENGTH) / LENGTH
    channels = []
    for _ in range(2):
        phase = rng.uniform(2, 8) * t + rng.uniform(0, 1)
        signal = rng.uniform(0.5, 2) * (wave(kind, phase) + rng.normal(0, 0.1, LENGTH)) + rng.uniform(-0.5, 0.5)
        channels.append(signal)
    return np.stack(channels, axis=-1).astype(np.float32)


def make(per_class: int = 400, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), per_class)
    return {"x": np.stack([example(int(k), rng) for k in y]), "y": y, "class_names": np.array(CLASSES)}


def main(path: Path = HERE / "waves.npz") -> Path:
    np.savez_compressed(path, **make())
    return path


if __name__ == "__main__":
    print(main())
