"""Unit visualisation with PyTorch: a layer's activations for a batch of images (a forward hook on the
layer's module; the forward pass stops there), as N x H x W x C numpy."""

from __future__ import annotations

import numpy as np
import torch

from ...runtime.config import ConfigError
from ...runtime.torch_lib import TAP_ACTIVATIONS as ACTIVATIONS
from ...runtime.torch_lib import EnoughLayers as _Enough
from .common import VisualizeHead as VisualizeHead  # visualize.py imports the head record from here


def feature_network(build_model, layers: dict[str, str], layer: str, cfg, env, functional: dict | None = None):
    """(model, the module to read, the activations to apply to its output) in eval mode with --weights (random
    if none: said).  An activation the model applies as a function is read after the module before it."""
    from ...runtime import torch_lib as rt

    model = build_model().to(env.device).eval()
    if cfg.weights:
        model.load_state_dict(rt.read_weights(cfg.weights, env.device))
    modules, functional = dict(model.named_modules()), functional or {}
    if layers[layer] in modules:
        return model, modules[layers[layer]], ()
    if layer in functional and functional[layer][0] in modules:
        return model, modules[functional[layer][0]], functional[layer][1]
    can = ", ".join(n for n, path in layers.items() if path in modules or n in functional)
    raise ConfigError(
        f"layer `{layer}` is computed by a function in the PyTorch model, after no module it can be "
        f"read from; layers that can: {can}"
    )


@torch.inference_mode()
def activations(net, images: np.ndarray, batch_size: int, env) -> np.ndarray:
    model, module, chain = net
    kept = []

    def keep(mod, inputs, output):
        for op, alpha in chain:
            output = ACTIVATIONS[op](output, alpha)
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
