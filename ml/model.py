"""Segmentation network builders: CPU-fast MobileNetV3 heads, normalisation baked in.

The network takes a float NCHW tensor of RGB values in [0, 255] and returns logits at the
input resolution, so the ONNX graph, the torch reference and training share one convention.

Architecture choice (``python -m ml.model --bench``, 2 threads, 512x512, 7 classes; the ONNX
Runtime figures are in docs/model-card.md):

=============================  ======  =======  ===========================
arch                           params  GFLOP    shipped (ONNX fp32 + fp16 pt)
=============================  ======  =======  ===========================
lraspp_mobilenet_v3_small      1.08 M   1.25    ~6.5 MB
lraspp_mobilenet_v3_large      3.22 M   3.93    ~19 MB
deeplabv3_mobilenet_v3_large   11.0 M  19.6     ~63 MB
=============================  ======  =======  ===========================

A training step (batch 8, 320x320 crops) took 0.25 s for the small LR-ASPP and 0.85 s for
the large one, so in the same 30 CPU-minutes the small model sees 3.4x more crops; with 51 real
photos the model is data-limited, not capacity-limited, and the small one fits "a few MB".
Hence ``DEFAULT_ARCH`` = LR-ASPP on MobileNetV3-Small; the others stay selectable.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large, mobilenet_v3_small
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
from torchvision.models.segmentation.lraspp import LRASPP

logger = logging.getLogger(__name__)

ARCHITECTURES = (
    "lraspp_mobilenet_v3_large",
    "lraspp_mobilenet_v3_small",
    "deeplabv3_mobilenet_v3_large",
)
DEFAULT_ARCH = "lraspp_mobilenet_v3_small"

# ImageNet statistics: conventional, and harmless for from-scratch training.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's MobileNetV3 uses BatchNorm momentum 0.01 (a TF port detail). With the few
# thousand steps we can afford on a CPU the running statistics lag the weights badly and
# eval-mode output collapses to background (DESIGN.md). 0.1 is PyTorch's default.
DEFAULT_BN_MOMENTUM = 0.1

UNKNOWN_ARCH_ERROR = "unknown architecture {arch!r}; expected one of {choices}"


class SegmentationNet(nn.Module):
    """Wrap a torchvision segmentation model: [0,255] RGB in, logits at input size out."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("inv_std", 1.0 / std, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * self.inv_std
        return self.net(x)["out"]


def _strided_positions(features: nn.Sequential) -> list[int]:
    return (
        [0]
        + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
        + [len(features) - 1]
    )


def _lraspp(backbone: nn.Module, num_classes: int) -> LRASPP:
    features = backbone.features
    stages = _strided_positions(features)
    low_pos, high_pos = stages[-4], stages[-1]
    getter = IntermediateLayerGetter(
        features, return_layers={str(low_pos): "low", str(high_pos): "high"}
    )
    return LRASPP(
        getter,
        features[low_pos].out_channels,
        features[high_pos].out_channels,
        num_classes,
    )


def _deeplabv3(backbone: nn.Module, num_classes: int) -> DeepLabV3:
    features = backbone.features
    out_pos = _strided_positions(features)[-1]
    getter = IntermediateLayerGetter(features, return_layers={str(out_pos): "out"})
    return DeepLabV3(getter, DeepLabHead(features[out_pos].out_channels, num_classes), None)


def set_bn_momentum(model: nn.Module, momentum: float) -> int:
    """Set momentum on every BatchNorm layer; returns how many were changed."""
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
            n += 1
    return n


def build_model(
    num_classes: int,
    arch: str = DEFAULT_ARCH,
    bn_momentum: float = DEFAULT_BN_MOMENTUM,
) -> SegmentationNet:
    """Build an untrained network (no weights are ever downloaded)."""
    if arch not in ARCHITECTURES:
        raise ValueError(UNKNOWN_ARCH_ERROR.format(arch=arch, choices=ARCHITECTURES))
    if arch.endswith("small"):
        backbone = mobilenet_v3_small(weights=None, dilated=True)
    else:
        backbone = mobilenet_v3_large(weights=None, dilated=True)
    net = (
        _lraspp(backbone, num_classes)
        if arch.startswith("lraspp")
        else _deeplabv3(backbone, num_classes)
    )
    model = SegmentationNet(net)
    set_bn_momentum(model, bn_momentum)
    return model


@torch.no_grad()
def reestimate_bn(model: nn.Module, batches: Sequence[torch.Tensor] | object) -> None:
    """Recompute BatchNorm running statistics as a cumulative average over ``batches``.

    Cheap insurance against the eval-collapse pitfall: run after training on a few train batches.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    was_training = model.training
    model.train()
    for x in batches:
        model(x)
    for m, mom in zip(bns, saved, strict=True):
        m.momentum = mom
    model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, height: int, width: int) -> int:
    """Forward FLOPs (2 per multiply-add) counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, height, width))
    return int(counter.get_total_flops())


def _bench_one(arch: str, size: int, iters: int) -> dict:
    model = build_model(7, arch).eval()
    x = torch.rand(1, 3, size, size) * 255
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "arch": arch,
        "params": count_parameters(model),
        "gflops": count_flops(model, size, size) / 1e9,
        "torch_ms": times[len(times) // 2],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench", action="store_true", help="time each architecture (torch)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    for arch in ARCHITECTURES:
        logger.info("%s", _bench_one(arch, args.size, args.iters))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
