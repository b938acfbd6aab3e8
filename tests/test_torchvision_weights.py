"""torchvision's state dicts load into the generated models as they are, and give the same outputs.

The library's torchvision-flavoured specs name their layers as torchvision does (README,
Names), so `load_state_dict(torchvision_model.state_dict(), strict=True)` works with no
mapping.  Random weights (`weights=None`: nothing is downloaded); batch-norm statistics are
randomised too, so a wrong eps or a swapped buffer shows in the outputs.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch_helpers import ROOT, load

from cnnc.backends.torch import generate
from cnnc.compiler import analyze

SPECS = ROOT / "specs"

# (spec, overrides, torchvision builder (or builder and its options), input size HxW the check runs at)
CASES = [
    ("resnet18", {}, "resnet18", 64),
    ("resnet34", {}, "resnet34", 64),
    ("resnet50", {}, "resnet50", 64),
    ("resnext50_32x4d", {}, "resnext50_32x4d", 64),
    pytest.param("resnet101", {}, "resnet101", 64, marks=pytest.mark.slow),
    pytest.param("resnet152", {}, "resnet152", 64, marks=pytest.mark.slow),
    pytest.param("vgg16", {}, "vgg16", 32, marks=pytest.mark.slow),
    pytest.param("vgg19", {}, "vgg19", 32, marks=pytest.mark.slow),
    ("alexnet", {}, "alexnet", 64),
    ("googlenet", {}, ("googlenet", {"init_weights": False}), 64),
    ("googlenet", {"aux_logits": False}, ("googlenet", {"aux_logits": False, "init_weights": False}), 64),
    ("squeezenet", {}, "squeezenet1_0", 64),
    ("squeezenet", {"version": 1.1}, "squeezenet1_1", 64),
    ("densenet121", {}, "densenet121", 64),
    pytest.param("densenet169", {}, "densenet169", 64, marks=pytest.mark.slow),
    pytest.param("densenet201", {}, "densenet201", 64, marks=pytest.mark.slow),
    ("torchvision_mobilenet_v2", {}, "mobilenet_v2", 64),
    # Inception v3's smallest input is 75x75; its auxiliary head needs 299x299 (17x17 at Mixed_6e).
    ("torchvision_inception_v3", {"aux_logits": False}, ("inception_v3", {"aux_logits": False, "init_weights": False}),
     75),
    pytest.param("torchvision_inception_v3", {}, ("inception_v3", {"init_weights": False}), 299,
                 marks=pytest.mark.slow),
    ("efficientnet", {}, "efficientnet_b0", 64),
    ("mobilenet_v3", {}, "mobilenet_v3_large", 64),
    ("mobilenet_v3", {"variant": "small"}, "mobilenet_v3_small", 64),
    *(
        pytest.param("efficientnet", {"variant": v}, f"efficientnet_b{v}", 64, marks=pytest.mark.slow)
        for v in range(1, 8)
    ),
]


def _randomise_statistics(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)


def _generated(spec: str, overrides: dict, size: int) -> torch.nn.Module:
    """The generated model of a library spec, at input size x size (smaller than ImageNet's: faster)."""
    analysis = analyze(SPECS / f"{spec}.cnn", overrides=overrides or None, input_shapes={None: (size, size, 3)})
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    return load(generate(analysis, None)["model.py"]).build_model()


# Auxiliary heads torchvision runs only in training, and the module whose output each reads:
# the specs make them extra outputs, computed in eval too.
AUXILIARY_INPUTS = {"AuxLogits": "Mixed_6e", "aux1": "inception4a", "aux2": "inception4d"}


def _reference_outputs(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The eval output, then each auxiliary head's on the features it reads."""
    heads = [(h, src) for h, src in AUXILIARY_INPUTS.items() if getattr(model, h, None) is not None]
    features = {}
    hooks = [
        getattr(model, src).register_forward_hook(lambda _m, _i, out, src=src: features.__setitem__(src, out))
        for _, src in heads
    ]
    outputs = [model(x)]
    for hook in hooks:
        hook.remove()
    return outputs + [getattr(model, h)(features[src]) for h, src in heads]


@pytest.mark.parametrize("spec, overrides, reference, size", CASES)
def test_torchvision_state_dict_loads_strictly_and_outputs_match(spec, overrides, reference, size):
    builder, options = reference if isinstance(reference, tuple) else (reference, {})
    torch.manual_seed(0)
    expected_model = getattr(torchvision.models, builder)(weights=None, **options).eval()
    _randomise_statistics(expected_model)
    model = _generated(spec, overrides, size)
    model.load_state_dict(expected_model.state_dict(), strict=True)
    model.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = _reference_outputs(expected_model, x), model(x)
    got = list(got) if isinstance(got, tuple) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape == (2, 1000)
        assert (g - e).abs().max().item() < 1e-5


@pytest.mark.parametrize("variant, width", [("large", 0.75), ("small", 0.5)])
def test_mobilenet_v3_width_is_torchvisions_width_mult(variant, width):
    """`--set width=w` rounds every width as torchvision's width_mult does (_make_divisible to 8)."""
    torch.manual_seed(0)
    expected_model = getattr(torchvision.models, f"mobilenet_v3_{variant}")(weights=None, width_mult=width).eval()
    _randomise_statistics(expected_model)
    model = _generated("mobilenet_v3", {"variant": variant, "width": width}, 64)
    model.load_state_dict(expected_model.state_dict(), strict=True)
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (model(x) - expected_model(x)).abs().max().item() < 1e-5
