"""Export a training checkpoint into a model folder the product can load.

``python -m ml.export --checkpoint var/runs/x/best.pt --out ml/models/damage-v2
--version damage-v2-2026.12.01`` writes ``model.onnx`` (opset 17, dynamic height/width),
``model.pt`` (state dict only, stored as float16 to halve the shipped size; loaded back to
float32, which changes logits by < 1e-2) and ``model.json`` (version, architecture, label map,
input size, post-processing parameters; calibration and metrics are added by ml.calibration
and the release steps).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from ml.labels import LabelMap, PartMap
from ml.model import OUTPUT_NAMES, build_model

logger = logging.getLogger(__name__)

OPSET = 17
ONNX_FILE = "model.onnx"
WEIGHTS_FILE = "model.pt"


def export_onnx(model: torch.nn.Module, path: Path, height: int = 352, width: int = 480) -> None:
    """Trace with the TorchScript exporter (``dynamo=False``: no onnxscript dependency)."""
    model.eval()
    dummy = torch.rand(1, 3, height, width) * 255
    with warnings.catch_warnings():  # the TorchScript exporter warns that it is deprecated
        warnings.simplefilter("ignore")
        _export(model, dummy, path)
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))


def _export(model: torch.nn.Module, dummy: torch.Tensor, path: Path) -> None:
    with torch.no_grad():
        n_out = len(model(dummy)) if isinstance(model(dummy), tuple) else 1
    names = list(OUTPUT_NAMES[:n_out])
    axes = {"image": {0: "batch", 2: "height", 3: "width"}}
    for name in names:
        axes[name] = (
            {0: "batch"} if name == "image_logit" else {0: "batch", 2: "height", 3: "width"}
        )
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        opset_version=OPSET,
        dynamo=False,
        input_names=["image"],
        output_names=names,
        dynamic_axes=axes,
    )


def export_model_dir(
    model: torch.nn.Module,
    out: Path,
    *,
    version: str,
    arch: str,
    label_map: LabelMap,
    input_long_side: int,
    extra: dict | None = None,
    fp16_weights: bool = True,
    part_map: PartMap | None = None,
) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    export_onnx(model, out / ONNX_FILE)
    state = {
        k: (v.half() if fp16_weights and v.is_floating_point() else v)
        for k, v in model.state_dict().items()
    }
    torch.save(state, out / WEIGHTS_FILE)
    # Post-processing runs on fp32 logits of the fp16-rounded weights in the torch path; the
    # ONNX graph keeps fp32 weights. Export from the rounded weights so both agree.
    if fp16_weights:
        model.load_state_dict({k: v.float() for k, v in state.items()})
        export_onnx(model, out / ONNX_FILE)
    meta = {
        "model_version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "arch": arch,
        "num_classes": label_map.num_classes,
        "label_map": label_map.to_dict(),
        "input_long_side": input_long_side,
        "input": "float32 NCHW RGB in [0, 255], sides multiples of 32; normalised in-graph",
        "onnx": ONNX_FILE,
        "onnx_opset": OPSET,
        "weights": WEIGHTS_FILE,
        "weights_dtype": "float16" if fp16_weights else "float32",
        "temperature": 1.0,
        "decision_threshold": 0.5,
        "min_region_share": 0.0005,
        "region_calibrator": None,
        "photo_calibrator": None,
    }
    if part_map is not None:
        meta["part_map"] = part_map.to_dict()
        meta["outputs"] = list(OUTPUT_NAMES)
        meta["image_platt"] = [1.0, 0.0]
        meta["image_gate"] = 0.0
    meta.update(extra or {})
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--version", required=True, help='e.g. "starter-2026.11.28"')
    parser.add_argument("--fp32-weights", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    cfg = ck["config"]
    lm = LabelMap.from_dict(ck["label_map"])
    pm = PartMap.from_dict(ck["part_map"]) if ck.get("part_map") else None
    model = build_model(
        lm.num_classes,
        cfg["arch"],
        cfg.get("bn_momentum", 0.1),
        num_parts=pm.num_classes if pm else 0,
    )
    model.load_state_dict(ck["model"])
    training = {"epoch": ck["epoch"], "config": cfg, "history": ck.get("history", [])}
    meta = export_model_dir(
        model,
        Path(args.out),
        version=args.version,
        arch=cfg["arch"],
        label_map=lm,
        input_long_side=cfg["input_long_side"],
        extra={"training": training},
        fp16_weights=not args.fp32_weights,
        part_map=pm,
    )
    sizes = {p.name: p.stat().st_size for p in Path(args.out).iterdir() if p.is_file()}
    logger.info("exported %s: %s", meta["model_version"], sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
