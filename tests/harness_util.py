"""Small data sets and helpers for the training-harness tests: compile a spec with a task, run its script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# Learnable in a few steps: which of four bands (left, right, top, bottom) is bright.
SMALL = """network Small(num_classes: int = 4) {
  input x: 16x16x1
  x -> conv(8, 3, padding=same) as conv1 -> batchnorm as bn1 -> relu -> maxpool(2)
    -> conv(8, 3, padding=same) as conv2 -> relu -> maxpool(2)
    -> flatten -> dropout(0.2) -> dense(num_classes) as fc -> softmax -> output y
}
"""


def bands(n: int = 160, size: int = 16, classes: int = 4, seed: int = 0, noise: float = 0.3):
    """n examples size x size: class 0 a bright band on the left, 1 right, 2 top, 3 bottom, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(0.5, noise, (n, size, size)).astype(np.float32)
    w = max(2, size // 5)
    for i, c in enumerate(y):
        band = [np.s_[:, :w], np.s_[:, -w:], np.s_[:w, :], np.s_[-w:, :]][c]
        x[i][band] += 1.5
    return np.clip(x, 0, 3), y


def bands_npz(path: Path, **kwargs) -> Path:
    x, y = bands(**kwargs)
    np.savez(path, x=x, y=y, class_names=np.array(["left", "right", "top", "bottom"][: int(y.max()) + 1]))
    return path


def bands_folder(root: Path, per_class: int = 12, size: int = 20, classes: int = 3) -> Path:
    """PNG images in class subfolders (RGB, another size than the model's input)."""
    from PIL import Image

    x, y = bands(per_class * classes, size, classes, noise=0.2)
    for i, (image, label) in enumerate(zip(x, y)):
        folder = root / ["left", "right", "top", "bottom"][label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (np.clip(image / 2, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(folder / f"{i:03d}.png")
    return root


def compile_task(spec_text: str, target: str, folder: Path, task: str = "classify") -> Path:
    """`cnnc compile SPEC --target T --task classify -o folder`, in process."""
    from cnnc.cli import main

    spec = folder.parent / f"{folder.name}.cnn"
    spec.write_text(spec_text)
    status = main(["compile", str(spec), "--target", target, "--task", task, "-o", str(folder)])
    assert status == 0
    return folder


def run_script(folder: Path, *args: str, launcher: list[str] | None = None, timeout: int = 300):
    """Run a compiled folder's train.py; returns the completed process (stdout and stderr together)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the folder must run without cnnc
    command = (launcher or [sys.executable]) + ["train.py", "--progress", "epoch", *args]
    return subprocess.run(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def final_weights(run: Path, target: str) -> dict[str, np.ndarray]:
    """The model weights of a run's last checkpoint, by name."""
    if target == "torch":
        import torch

        blob = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
        return {k: v.numpy() for k, v in blob["model"].items()}
    return weights_file(run / "last.npz", target)


def weights_file(path: Path, target: str) -> dict[str, np.ndarray]:
    if target == "torch":
        import torch

        return {k: v.numpy() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
    import json

    with np.load(path) as blob:
        names = json.loads(str(blob["names"]))
        return {name: blob[f"model/{i}"] for i, name in enumerate(names)}


def example_module(example: str, module: str = "make_data"):
    """`examples/<example>/<module>.py`, loaded under a name of its own: every example has a make_data.py,
    and a plain `import make_data` would hand each test whichever example was imported first."""
    import importlib.util

    path = ROOT / "examples" / example / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"example_{example}_{module}", path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    return loaded
