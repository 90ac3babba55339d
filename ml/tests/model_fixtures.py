"""Tiny untrained models exported to a temporary folder, shared by the model-side tests."""

from __future__ import annotations

from pathlib import Path

import torch

from ml.export import export_model_dir
from ml.labels import DEFAULT_LABEL_MAP
from ml.model import build_model

TINY_ARCH = "lraspp_mobilenet_v3_small"
TINY_LONG_SIDE = 96


def tiny_model(seed: int = 0, all_background: bool = False) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(DEFAULT_LABEL_MAP.num_classes, TINY_ARCH).eval()
    if all_background:
        head = model.net.classifier
        with torch.no_grad():
            for conv in (head.low_classifier, head.high_classifier):
                conv.weight.zero_()
                conv.bias.zero_()
                conv.bias[0] = 10.0
    return model


def export_tiny(out: Path, seed: int = 0, all_background: bool = False) -> Path:
    export_model_dir(
        tiny_model(seed, all_background),
        out,
        version="tiny-test",
        arch=TINY_ARCH,
        label_map=DEFAULT_LABEL_MAP,
        input_long_side=TINY_LONG_SIDE,
    )
    return out
