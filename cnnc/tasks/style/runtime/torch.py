"""Style transfer with PyTorch: the network's activations at named layers (forward hooks; the forward pass
stops after the deepest one), the costs on them, and one Adam step or J with its gradient for L-BFGS.

Activations are N x C x H x W here; the Gram matrix is A A^T of the C x (H W) matrix A, the same
G_kk' = sum_ij a_ijk a_ijk' as common.gram's (tested).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...runtime.config import ConfigError
from ...runtime.torch_lib import TAP_ACTIVATIONS as ACTIVATIONS
from ...runtime.torch_lib import EnoughLayers as _Enough
from .common import PREPROCESS
from .common import StyleHead as StyleHead  # train.py imports the head record from the task's runtime


class Features(nn.Module):
    """The activations of `layers` (spec name -> module path) for an image batch, as a dict by spec name."""

    def __init__(self, model: nn.Module, layers: dict[str, str], names: list[str], functional: dict | None = None):
        super().__init__()
        self.model, self.names, self.found = model, list(dict.fromkeys(names)), {}
        modules, functional = dict(model.named_modules()), functional or {}
        for name in self.names:
            if layers[name] in modules:
                modules[layers[name]].register_forward_hook(self._hook(name))
            elif name in functional and functional[name][0] in modules:
                source, chain = functional[name]  # F.relu(x) after a module: its output, then the activations
                modules[source].register_forward_hook(self._hook(name, chain))
            else:
                valid = [n for n, path in layers.items() if path in modules or n in functional]
                raise ConfigError(
                    f"layer `{name}` is computed by a function in the PyTorch model, after no module it can be read "
                    f"from; layers that can: {', '.join(valid)}"
                )

    def _hook(self, name: str, chain: tuple = ()):
        def keep(module, inputs, output) -> None:
            output = output.clone() if not chain else output  # the model may apply F.relu(inplace=True) next
            for op, alpha in chain:
                output = ACTIVATIONS[op](output, alpha)
            self.found[name] = output
            if len(self.found) == len(self.names):
                raise _Enough

        return keep

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.found = {}
        try:
            self.model(x)
        except _Enough:
            pass
        return self.found


def preprocess(image: torch.Tensor, how: str) -> torch.Tensor:
    """H x W x C pixels in [0,1] -> the 1 x C x H x W input the weights expect (--preprocess)."""
    mean, std, scale, bgr = PREPROCESS[how]
    x = image.permute(2, 0, 1).unsqueeze(0) * scale
    if x.shape[1] == 3:
        x = x.flip(1) if bgr else x
        mean, std = (torch.tensor(v, device=x.device).view(1, 3, 1, 1) for v in (mean, std))
        x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


def gram(a: torch.Tensor) -> torch.Tensor:
    """G_kk' = sum_ij a_ijk a_ijk' of a 1 x C x H x W activation: C x C."""
    flat = a.reshape(a.shape[1], -1)
    return flat @ flat.T


def content_cost(a_c: torch.Tensor, a_g: torch.Tensor) -> torch.Tensor:
    """1 / (4 n_H n_W n_C) * sum (a(C) - a(G))^2."""
    return ((a_c - a_g) ** 2).sum() / (4 * a_c.numel())


def layer_style_cost(g_s: torch.Tensor, a_g: torch.Tensor) -> torch.Tensor:
    """1 / (4 n_C^2 (n_H n_W)^2) * sum (G(S) - G(G))^2, from the style image's Gram matrix and a(G)."""
    n_c, n_hw = a_g.shape[1], a_g[0, 0].numel()
    return ((g_s - gram(a_g)) ** 2).sum() / (4 * n_c**2 * n_hw**2)


class Objective:
    """J(G) = alpha J_content(C, G) + beta J_style(S, G) for the fixed C and S, on the network's features."""

    def __init__(self, features: Features, content: np.ndarray, style: np.ndarray, layers, cfg, device):
        self.features, self.cfg, self.device = features, cfg, device
        self.content_layer, self.style_layers, self.weights = layers
        with torch.no_grad():
            self.a_c = features(self._input(content))[self.content_layer].detach()
            found = features(self._input(style))
            self.g_s = [gram(found[name]).detach() for name in self.style_layers]
        self.adam = None

    def _input(self, image) -> torch.Tensor:
        image = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.asarray(image, np.float32))
        return preprocess(image.to(self.device), self.cfg.preprocess)

    def parts(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(J_content, J_style, J) of G, differentiable."""
        found = self.features(self._input(image))
        j_content = content_cost(self.a_c, found[self.content_layer])
        j_style = sum(
            w * layer_style_cost(g, found[name])
            for w, g, name in zip(self.weights, self.g_s, self.style_layers, strict=True)
        )
        return j_content, j_style, self.cfg.alpha * j_content + self.cfg.beta * j_style

    def costs(self, image: np.ndarray) -> tuple[float, float, float]:
        with torch.no_grad():
            return tuple(float(p) for p in self.parts(image))

    def value_and_grad(self, image: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
        g = torch.from_numpy(image).to(self.device).requires_grad_(True)
        parts = self.parts(g)
        parts[2].backward()
        return tuple(float(p.detach()) for p in parts), g.grad.cpu().numpy()

    def adam_step(self, image: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
        """One Adam step on the pixels (clipped to [0,1] after it); the costs are G's before the step."""
        if self.adam is None:
            self.g = torch.from_numpy(image.copy()).to(self.device).requires_grad_(True)
            self.adam = torch.optim.Adam([self.g], lr=self.cfg.lr)
        self.adam.zero_grad(set_to_none=True)
        parts = self.parts(self.g)
        parts[2].backward()
        self.adam.step()
        with torch.no_grad():
            self.g.clamp_(0.0, 1.0)
        return tuple(float(p.detach()) for p in parts), self.g.detach().cpu().numpy()


def feature_network(build_model, layers: dict[str, str], names: list[str], cfg, env, functional=None) -> Features:
    """The spec's model in eval mode with its --weights (random if none: said), read at `names`."""
    from ...runtime import torch_lib as rt

    # channels-last: the convolutions' fast layout on CPU (oneDNN) and on tensor cores, ~2x here
    model = build_model().to(env.device, memory_format=torch.channels_last).eval()
    if cfg.weights:
        rt.load_matching(model, cfg.weights, env)
    for p in model.parameters():
        p.requires_grad_(False)
    return Features(model, layers, names, functional)


def setup(cfg):
    """The device (--device), threads and the seed of the random weights; no processes (one image)."""
    from ...runtime import torch_lib as rt

    device = torch.device(
        "cuda" if cfg.device == "auto" and torch.cuda.is_available() else "cpu" if cfg.device == "auto" else cfg.device
    )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    return rt.Env(device)
