"""Generated ResNet-50 vs a hand-written torchvision-style ResNet-50: forward time on CPU.

    python bench/torch_resnet50.py [--rounds 15] [--threads N] [--batch 8] [--channels-last]

Both models get the same weights (copied tensor by tensor, which also checks
that the two are the same network: the outputs must agree), run in
`torch.inference_mode()` with the same thread count, and are timed in
interleaved rounds (A B, B A, ...) so that drift in machine load hits both
alike.  Prints the median of each and the ratio generated / reference; the
acceptance bar is a ratio of at most 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Used when the spec library's resnet50.cnn is not there: the same network, from the stdlib block.
RESNET50_SPEC = """
network ResNet50(num_classes: int = 1000) {
  input x: 224x224x3
  h = x -> conv(64, 7, stride=2, padding=3, bias=false) -> batchnorm -> relu -> maxpool(3, stride=2, padding=1)
  for (filters, blocks, stride) in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)] {
    h = h -> residual_bottleneck(filters, stride=stride)
    repeat blocks - 1 { h = h -> residual_bottleneck(filters) }
  }
  h -> global_avgpool -> dense(num_classes) -> output y
}
"""


# --- the hand-written reference, as torchvision.models.resnet writes it -----------------


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        width = planes
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet50Reference(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 3)
        self.layer2 = self._make_layer(128, 4, stride=2)
        self.layer3 = self._make_layer(256, 6, stride=2)
        self.layer4 = self._make_layer(512, 3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- the generated model ----------------------------------------------------------------------


def generated_resnet50() -> tuple[nn.Module, str]:
    from cnnc.backends.torch import generate
    from cnnc.compiler import analyze

    library = ROOT / "specs" / "resnet50.cnn"
    if library.exists():
        analysis, origin = analyze(library), str(library.relative_to(ROOT))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "resnet50.cnn"
            path.write_text(RESNET50_SPEC)
            analysis, origin = analyze(path), "the built-in ResNet-50 spec"
    if not analysis.ok:
        raise SystemExit(f"{origin} does not check: {analysis.diagnostics}")
    module = types.ModuleType("generated_resnet50")
    exec(compile(generate(analysis, None)["model.py"], "model.py", "exec"), module.__dict__)
    return module.build_model(), origin


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """By name: the generated model's state-dict keys are torchvision's (README, Names)."""
    target.load_state_dict(source.state_dict(), strict=True)


def time_once(model: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is steadier on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    model(x)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    generated, origin = generated_resnet50()
    reference = ResNet50Reference()
    copy_weights(generated, reference)
    generated.eval()
    reference.eval()
    x = torch.randn(args.batch, 3, 224, 224)
    if args.channels_last:
        generated, reference = (m.to(memory_format=torch.channels_last) for m in (generated, reference))
        x = x.contiguous(memory_format=torch.channels_last)
    models = {"generated": generated, "reference": reference}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    with torch.inference_mode():
        difference = (generated(x) - reference(x)).abs().max().item()
        for _ in range(args.warmup):
            for model in models.values():
                model(x)
        for r in range(args.rounds):
            order = list(models) if r % 2 == 0 else list(reversed(models))
            for name in order:
                times[name].append(time_once(models[name], x))
    print(f"ResNet-50 forward, batch {args.batch}, 224x224, CPU, {args.threads} threads, "
          f"{'channels_last, ' if args.channels_last else ''}torch {torch.__version__}, {args.rounds} rounds")
    print(f"generated from {origin}: max |generated - reference| = {difference:.2e}")
    for index, what in enumerate(("wall", "CPU")):
        gen, ref = ([t[index] for t in times[n]] for n in ("generated", "reference"))
        ratio = statistics.median(gen) / statistics.median(ref)
        verdict = "ok" if ratio <= 1.05 else "OVER 1.05"
        print(f"{what:>4}: generated median {statistics.median(gen) * 1000:8.1f} ms (min {min(gen) * 1000:.1f}), "
              f"reference median {statistics.median(ref) * 1000:8.1f} ms (min {min(ref) * 1000:.1f}), "
              f"ratio {ratio:.3f} ({verdict}), ratio of minima {min(gen) / min(ref):.3f}")


if __name__ == "__main__":
    main()
