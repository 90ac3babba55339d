"""Tiny untrained models exported to a temporary folder, shared by the model-side tests."""

from __future__ import annotations

from pathlib import Path

import torch

from ml.export import export_model_dir
from ml.labels import DEFAULT_LABEL_MAP, LabelMap
from ml.model import build_model

TINY_ARCH = "lraspp_mobilenet_v3_small"
TINY_LONG_SIDE = 96


def tiny_model(
    seed: int = 0, all_background: bool = False, label_map: LabelMap = DEFAULT_LABEL_MAP
) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(label_map.num_classes, TINY_ARCH).eval()
    if all_background:
        head = model.net.classifier
        with torch.no_grad():
            for conv in (head.low_classifier, head.high_classifier):
                conv.weight.zero_()
                conv.bias.zero_()
                conv.bias[0] = 10.0
    return model


def export_tiny(
    out: Path,
    seed: int = 0,
    all_background: bool = False,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
    version: str = "tiny-test",
) -> Path:
    export_model_dir(
        tiny_model(seed, all_background, label_map),
        out,
        version=version,
        arch=TINY_ARCH,
        label_map=label_map,
        input_long_side=TINY_LONG_SIDE,
    )
    return out
