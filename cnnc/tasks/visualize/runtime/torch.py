"""Unit visualisation with PyTorch: a layer's activations for a batch of images (a forward hook on the
layer's module; the forward pass stops there), as N x H x W x C numpy."""

from __future__ import annotations

import numpy as np
import torch

from ...runtime.config import ConfigError
from .common import VisualizeHead as VisualizeHead  # visualize.py imports the head record from here


class _Enough(Exception):
    pass


def feature_network(build_model, layers: dict[str, str], layer: str, cfg, env):
    """(model, the layer's module) in eval mode with --weights (random if none: said)."""
    from ...runtime import torch_lib as rt

    model = build_model().to(env.device).eval()
    if cfg.weights:
        model.load_state_dict(rt.read_weights(cfg.weights, env.device))
    modules = dict(model.named_modules())
    if layers[layer] not in modules:
        can = ", ".join(n for n, path in layers.items() if path in modules)
        raise ConfigError(
            f"layer `{layer}` is a function in the PyTorch model, not a module, so it cannot be "
            f"read; layers that can: {can}"
        )
    return model, modules[layers[layer]]


@torch.inference_mode()
def activations(net, images: np.ndarray, batch_size: int, env) -> np.ndarray:
    model, module = net
    kept = []

    def keep(mod, inputs, output):
        kept.append(output.float().permute(0, 2, 3, 1).cpu().numpy())
        raise _Enough

    hook = module.register_forward_hook(keep)
    try:
        for lo in range(0, len(images), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images[lo : lo + batch_size].transpose(0, 3, 1, 2)))
            try:
                model(x.to(env.device))
            except _Enough:
                pass
    finally:
        hook.remove()
    return np.concatenate(kept)


def setup(cfg):
    from ...runtime import torch_lib as rt

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    return rt.Env(device)
