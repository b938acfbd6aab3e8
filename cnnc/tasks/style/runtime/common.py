"""Style transfer, framework-neutral: the costs as numpy (the reference both frameworks are tested
against), the images, and the optimisation loop with everything a person sees (progress, pictures, the
strip of content, style and result, the costs' curve, result.json).

The costs (the material's, with its normalisation), for activations a of shape n_H x n_W x n_C:

    J_content(C, G) = 1 / (4 n_H n_W n_C) * sum (a(C) - a(G))^2             at one layer
    G_kk' = sum_ij a_ijk a_ijk'                                             the Gram matrix, n_C x n_C
    J_style^l(S, G) = 1 / (4 n_C^2 (n_H n_W)^2) * sum (G(S) - G(G))^2       at layer l
    J_style(S, G) = sum_l lambda_l J_style^l(S, G)
    J(G) = alpha J_content(C, G) + beta J_style(S, G)

The generated image G is optimised directly, as pixels in [0,1] (H x W x C); the network sees it after
the preprocessing its weights were trained with (PREPROCESS below).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import DataError
from ...runtime.loop import atomic_path, write_text

# (mean, std, scale, bgr) of each --preprocess: x' = (scale * x[channels] - mean) / std, x in [0,1]
PREPROCESS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 1.0, False),  # torchvision's weights
    "caffe": ((103.939, 116.779, 123.68), (1.0, 1.0, 1.0), 255.0, True),  # Keras VGG: BGR, mean pixel, 0..255
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 1.0, False),
}
RANDOM_WEIGHTS = (
    "WARNING: no --weights: the feature network has RANDOM weights, not a trained network's. The costs still "
    "fall, but the picture is not a style transfer; give a torchvision vgg19 state dict or the Keras VGG19 "
    "weights (cnnc train --weights FILE) for one."
)


@dataclass(frozen=True)
class StyleHead:
    """What cnnc found in the spec: the input and its size, and the layers the costs read (their names as
    the spec gives them; LAYERS in train.py maps each to the framework's name)."""

    input: str
    size: tuple[int, int, int]  # H, W, C
    content_layer: str
    style_layers: tuple[str, ...]
    style_weights: tuple[float, ...]


# ---------------------------------------------------------------- the costs (numpy reference)


def gram(a: np.ndarray) -> np.ndarray:
    """G_kk' = sum_ij a_ijk a_ijk' of one n_H x n_W x n_C activation."""
    flat = a.reshape(-1, a.shape[-1]).astype(np.float64)
    return flat.T @ flat


def content_cost(a_c: np.ndarray, a_g: np.ndarray) -> float:
    return float(((a_c.astype(np.float64) - a_g) ** 2).sum() / (4 * a_c.size))


def layer_style_cost(a_s: np.ndarray, a_g: np.ndarray) -> float:
    n_c, n_hw = a_s.shape[-1], a_s.size // a_s.shape[-1]
    return float(((gram(a_s) - gram(a_g)) ** 2).sum() / (4 * n_c**2 * n_hw**2))


def costs(content: tuple, style: list[tuple], weights, alpha: float, beta: float) -> tuple[float, float, float]:
    """(J_content, J_style, J) from (a(C), a(G)) at the content layer and (a(S), a(G)) per style layer."""
    j_content = content_cost(*content)
    j_style = sum(w * layer_style_cost(*pair) for w, pair in zip(weights, style, strict=True))
    return j_content, j_style, alpha * j_content + beta * j_style


# ---------------------------------------------------------------- layers and options


def resolve(head: StyleHead, layers: dict[str, str], cfg) -> tuple[str, tuple[str, ...], tuple[float, ...]]:
    """The run's content layer, style layers and lambdas (--content-layer ... override HEAD's), checked."""
    content = cfg.content_layer or head.content_layer
    style = tuple(cfg.style_layers) or head.style_layers
    for name in (content, *style):
        if name not in layers:
            close = difflib.get_close_matches(name, list(layers), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "layers: " + ", ".join(layers)
            raise ConfigError(f"the network has no layer `{name}` with a feature map; {hint}")
    weights = tuple(cfg.style_weights) or (head.style_weights if style == head.style_layers else ())
    if not weights:
        weights = tuple(1.0 / len(style) for _ in style)
    if len(weights) != len(style):
        raise ConfigError(f"--style-weights gives {len(weights)} lambdas for {len(style)} style layers")
    return content, style, weights


def describe(cfg, layers: tuple) -> str:
    content, style, weights = layers
    lambdas = ", ".join(f"{name} ({w:g})" for name, w in zip(style, weights, strict=True))
    return (
        f"preprocess: {cfg.preprocess}; J = {cfg.alpha:g} J_content at {content} + {cfg.beta:g} J_style at "
        f"{lambdas}; G from {cfg.init_image}, {cfg.optimizer}, {cfg.steps} steps"
    )


# ---------------------------------------------------------------- images


def read_image(path: str | None, size: tuple[int, int, int], what: str, log=print) -> np.ndarray:
    """An image file as H x W x C floats in [0,1] at the network's size (resized, and said, if not)."""
    from PIL import Image

    if not path:
        raise ConfigError(f"give the {what} image: --{what} FILE")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if size[2] == 1 else "RGB")
            if image.size != (size[1], size[0]):
                log(
                    f"{what} image {path}: {image.size[1]}x{image.size[0]}, resized to {size[0]}x{size[1]} "
                    "(the network's input)"
                )
                image = image.resize((size[1], size[0]), Image.BICUBIC)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise DataError(f"cannot read the {what} image {path}: no such file") from None
    except Exception as exc:  # PIL raises many types for a bad file; each is the user's file
        raise DataError(f"cannot read the {what} image {path}: {str(exc).splitlines()[0]}") from None
    return array.reshape(size)


def first_image(content: np.ndarray, cfg) -> np.ndarray:
    """G at step 0, as --init-image says (noise drawn from --seed)."""
    noise = np.random.default_rng(cfg.seed).uniform(0.0, 1.0, content.shape).astype(np.float32)
    if cfg.init_image == "noise":
        return noise
    if cfg.init_image == "content":
        return content.copy()
    return (cfg.noise_ratio * noise + (1 - cfg.noise_ratio) * content).astype(np.float32)


def save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(tmp, format="PNG")


def save_strip(path: Path, content: np.ndarray, style: np.ndarray, result: np.ndarray) -> None:
    """content | style | result side by side, titled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    for ax, image, title in zip(axes, (content, style, result), ("content C", "style S", "result G"), strict=True):
        ax.imshow(np.clip(image.squeeze(), 0, 1), cmap="gray" if image.shape[-1] == 1 else None)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_costs(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [row["step"] for row in history]
    for name in ("total", "content", "style"):
        ax.plot(steps, [max(row[name], 1e-30) for row in history], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cost (alpha J_content, beta J_style, J)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------- the optimisation and what it writes


class Run:
    """The bookkeeping of one optimisation: the costs' history, progress lines, pictures, the state to resume."""

    def __init__(self, cfg, content: np.ndarray, style: np.ndarray, log=print):
        self.cfg, self.content, self.style, self.log = cfg, content, style, log
        self.out = Path(cfg.out)
        self.history: list[dict] = []
        self.start_time = time.perf_counter()
        self.seconds_before = 0.0

    def resume(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """(G, the next step): from <out>/last.npz with --resume, else as given."""
        path = self.out / "last.npz"
        if not self.cfg.resume or not path.exists():
            return image, 0
        with np.load(path, allow_pickle=False) as blob:
            image, step = blob["image"], int(blob["step"])
            self.history = [row for row in json.loads(str(blob["history"])) if row["step"] < step]  # step: again
            self.seconds_before = float(blob["seconds"])
        self.log(f"resumed at step {step} from {path} (Adam's moments start afresh)")
        return image, step

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.start_time

    def record(self, step: int, parts: tuple[float, float, float], image: np.ndarray) -> None:
        """Step `step`'s costs (of G before that step's update); a line and a picture when due."""
        j_content, j_style, total = parts
        cfg = self.cfg
        row = {
            "step": step,
            "content": cfg.alpha * j_content,
            "style": cfg.beta * j_style,
            "total": total,
            "seconds": round(self.seconds(), 2),
        }
        if not all(math.isfinite(row[k]) for k in ("content", "style", "total")):
            raise ConfigError(f"the cost is not finite at step {step} ({row}): lower --lr")
        self.history.append(row)
        if step % cfg.log_every == 0 or step == cfg.steps:
            self.log(
                f"step {step:5d}/{cfg.steps}  alpha*J_content {row['content']:.4g}  "
                f"beta*J_style {row['style']:.4g}  J {total:.4g}  ({row['seconds']:.1f} s)"
            )
        if step and step % cfg.image_every == 0 and step < cfg.steps:
            save_png(self.out / f"step_{step:04d}.png", image)
            self.checkpoint(step, image)

    def checkpoint(self, step: int, image: np.ndarray) -> None:
        with atomic_path(self.out / "last.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, image=image, step=step, history=json.dumps(self.history), seconds=self.seconds())

    def finish(self, image: np.ndarray, weights: str) -> dict:
        """result.png, strip.png, costs.csv, costs.png and result.json; the summary line."""
        save_png(self.out / "result.png", image)
        save_strip(self.out / "strip.png", self.content, self.style, image)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, ["step", "content", "style", "total", "seconds"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.history)
        write_text(self.out / "costs.csv", buffer.getvalue())
        plot_costs(self.out / "costs.png", self.history)
        first, last = self.history[0]["total"], self.history[-1]["total"]
        result = {
            "first_cost": first,
            "final_cost": last,
            "ratio": first / max(last, 1e-30),
            "steps": self.history[-1]["step"],
            "seconds": round(self.seconds(), 1),
            "optimizer": self.cfg.optimizer,
            "preprocess": self.cfg.preprocess,
            "weights": weights,
        }
        write_text(self.out / "result.json", json.dumps(result, indent=2) + "\n")
        self.checkpoint(self.history[-1]["step"], image)
        self.log(
            f"J fell from {first:.4g} to {last:.4g} ({result['ratio']:.1f}x) in {result['seconds']} s; "
            f"wrote {self.out / 'result.png'}, {self.out / 'strip.png'} (content | style | result), "
            f"costs.csv, costs.png, result.json"
        )
        return result


def optimise(objective, image: np.ndarray, run: Run, start: int = 0) -> np.ndarray:
    """Minimise J over the pixels of G from step `start` to --steps; `objective` is the framework's (torch.py,
    keras.py): costs(G) and adam(G) -> G (one step, pixels clipped to [0,1]) or value_and_grad(G)."""
    cfg = run.cfg
    if cfg.optimizer == "lbfgs":
        return _lbfgs(objective, image, run, start)
    for step in range(start, cfg.steps):
        parts, image = objective.adam_step(image)
        run.record(step, parts, image)
    run.record(cfg.steps, objective.costs(image), image)
    return image


def _lbfgs(objective, image: np.ndarray, run: Run, start: int) -> np.ndarray:
    """scipy's L-BFGS-B on the pixels, bounded to [0,1], one recorded step per iteration.  Its tolerances are
    off (0): J's scale depends on the weights (1e-3 with random ones), so it runs --steps iterations unless the
    line search itself gives up (then it says so)."""
    try:
        from scipy.optimize import Bounds, minimize
    except ImportError:
        raise ConfigError("--optimizer lbfgs needs scipy (pip install scipy); or use --optimizer adam") from None
    shape, seen = image.shape, {}

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        parts, grad = objective.value_and_grad(flat.reshape(shape).astype(np.float32))
        seen["parts"] = parts
        return parts[2], grad.reshape(-1).astype(np.float64)

    run.record(start, objective.costs(image), image)
    step = [start]

    def callback(xk: np.ndarray) -> None:  # after each iteration: the costs of its last evaluation, at xk
        step[0] += 1
        run.record(step[0], seen["parts"], xk.reshape(shape).astype(np.float32))

    found = minimize(
        fun,
        image.reshape(-1).astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        bounds=Bounds(0.0, 1.0),
        callback=callback,
        options={"maxiter": max(run.cfg.steps - start, 1), "maxcor": 20, "ftol": 0.0, "gtol": 0.0},
    )
    image = found.x.reshape(shape).astype(np.float32)
    if step[0] < run.cfg.steps:
        last = run.history[-1]
        run.log(f"L-BFGS stopped after step {step[0]}: {found.message}; J {last['total']:.4g}")
    return image
