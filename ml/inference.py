"""Production inference: photo bytes -> damage regions with calibrated confidence.

``Segmenter.load(model_dir).predict(image_bytes).to_dict()`` is the contract the Django apps
rely on (see docs/model-card.md). ONNX Runtime is the production backend; ``backend="torch"``
runs the same weights in torch eager as the reference. The photo is decoded at reduced scale
(libjpeg DCT scaling via ``IMREAD_REDUCED_COLOR_{2,4,8}``: decoding a 12 MP JPEG in full costs
more than the network), EXIF orientation is applied to the small array, and no pickled code is
ever loaded (ONNX protobuf, JSON, ``torch.load(weights_only=True)``).

Kept as one module: decoding, the backends, region extraction and calibration are the
steps of one contract (``Segmenter.predict``), which stays readable in one place.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ml.calibration import (
    LogisticCalibrator,
    photo_features,
    region_features,
    uncalibrated_photo_confidence,
)
from ml.labels import LabelMap, severity_for

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "damage-v2"
MODEL_JSON = "model.json"
DEFAULT_THREADS = 2

ERR_DECODE = "could not decode the image (expected a JPEG, PNG or WebP file)"
ERR_EMPTY = "image bytes are empty"
ERR_TOO_LARGE = "image has too many pixels"
ERR_BACKEND = "backend must be 'onnx' or 'torch'"

# Decompression-bomb guard: 50 MP is above every phone camera's default mode.
MAX_PIXELS = 50_000_000
_REDUCED_FLAGS = {
    8: cv2.IMREAD_REDUCED_COLOR_8,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    1: cv2.IMREAD_COLOR,
}
EXIF_ORIENTATION = 0x0112


STRIDE = 32  # network input sides are multiples of this (MobileNetV3 output stride x2)


def network_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(H, W) for the network: long side ``long_side``, both multiples of STRIDE.

    Rounding the short side to a multiple of 32 distorts the aspect ratio by at most a few
    percent, which is cheaper than padding and keeps the mask aligned with the whole photo.
    """
    scale = long_side / max(height, width)
    h = max(STRIDE, round(height * scale / STRIDE) * STRIDE)
    w = max(STRIDE, round(width * scale / STRIDE) * STRIDE)
    return h, w


class ImageDecodeError(ValueError):
    """The bytes are not a decodable JPEG/PNG/WebP image (or exceed the pixel cap)."""


# --------------------------------------------------------------------------- decoding


@dataclass
class Decoded:
    rgb: np.ndarray  # oriented, reduced, uint8 H x W x 3
    width: int  # oriented original size
    height: int


def probe(data: bytes) -> tuple[str, int, int, int]:
    """(format, width, height, EXIF orientation) from the header only: Pillow opens lazily."""
    if not data:
        raise ImageDecodeError(ERR_EMPTY)
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format or "", im.size
            try:
                orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
            except Exception:
                orientation = 1
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ImageDecodeError(ERR_DECODE) from exc
    if w * h > MAX_PIXELS:
        raise ImageDecodeError(ERR_TOO_LARGE)
    return fmt, w, h, orientation if 1 <= orientation <= 8 else 1


def reduction_factor(width: int, height: int, target_long_side: int) -> int:
    """Largest libjpeg scale 1/8, 1/4, 1/2 whose output long side still reaches the target."""
    long_side = max(width, height)
    for f in (8, 4, 2):
        if -(-long_side // f) >= target_long_side:
            return f
    return 1


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) the way ``PIL.ImageOps.exif_transpose`` does."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.transpose(1, 0, 2)
    elif orientation == 6:
        a = np.rot90(a, k=-1)
    elif orientation == 7:
        a = a[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        a = np.rot90(a, k=1)
    return np.ascontiguousarray(a)


def decode_image(data: bytes, target_long_side: int) -> Decoded:
    """Decode just above ``target_long_side`` and orient; raises :class:`ImageDecodeError`."""
    fmt, w, h, orientation = probe(data)
    factor = reduction_factor(w, h, target_long_side) if fmt == "JPEG" else 1
    flags = _REDUCED_FLAGS[factor] | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if bgr is None:
        bgr = _decode_with_pillow(data)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb = apply_orientation(rgb, orientation)
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return Decoded(rgb=rgb, width=w, height=h)


def _decode_with_pillow(data: bytes) -> np.ndarray:
    """Fallback for formats this OpenCV build lacks; orientation is still applied by the caller."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))[:, :, ::-1]
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageDecodeError(ERR_DECODE) from exc


# --------------------------------------------------------------------------- backends


class OnnxBackend:
    def __init__(self, path: Path, threads: int, spinning: bool = False) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Spinning threads wait for work by busy-looping: 4-7% faster alone, but they burn the
        # cores a web server or another worker on the same machine needs, and the photo decode
        # that follows in the same process (bench/inference.py measured the product path at
        # 1.73x its floor with spinning, the decode twice as slow as alone). Off by default, as
        # in the workers (CLAIMVISION_INFERENCE_SPINNING).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """Every output of the graph, in ``ml.model.OUTPUT_NAMES`` order."""
        return self.session.run(None, {self.input_name: x})


class TorchBackend:
    """Reference path. Note ``torch.set_num_threads`` is process-wide."""

    def __init__(self, path: Path, meta: dict, threads: int) -> None:
        import torch

        from ml.model import build_model_from_meta

        torch.set_num_threads(threads)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model_from_meta(meta)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        self.model = model.eval()
        self.torch = torch

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        with self.torch.inference_mode():
            out = self.model(self.torch.from_numpy(x))
        return [t.numpy() for t in out] if isinstance(out, tuple) else [out.numpy()]


# --------------------------------------------------------------------------- results


@dataclass
class Region:
    label: str
    label_id: int
    confidence: float
    severity: str
    mask: np.ndarray  # bool, mask resolution
    polygon: list[list[float]]
    bbox: list[int]
    area_share: float
    features: dict[str, float] = field(default_factory=dict)
    # The car part the region sits on (ml.labels.PartMap name; None when no named part covers
    # at least PART_MIN_SHARE of it) and that part's share of the region's pixels. Absent
    # (has_part False) for models without a part head.
    part: str | None = None
    part_share: float = 0.0
    has_part: bool = False

    def to_dict(self) -> dict[str, Any]:
        from ml.coco import mask_to_rle

        out = {
            "label": self.label,
            "label_id": self.label_id,
            "confidence": self.confidence,
            "severity": self.severity,
            "mask_rle": mask_to_rle(self.mask),
            "polygon": self.polygon,
            "bbox": self.bbox,
            "area_share": self.area_share,
        }
        if self.has_part:
            out["part"] = self.part
            out["part_share"] = self.part_share
        return out


@dataclass
class Prediction:
    model_version: str
    image_width: int
    image_height: int
    mask_width: int
    mask_height: int
    photo_confidence: float
    regions: list[Region]
    timings_ms: dict[str, float]
    class_map: np.ndarray  # uint8 per-pixel decision (0 background), mask resolution
    damage_prob: np.ndarray  # float32 P(damage) per pixel, mask resolution
    # P(the photo shows damage): the calibrated photo-level head where the model has one, else
    # the largest pixel P(damage). Photos below the model's ``image_gate`` get no region.
    damage_score: float = 0.0
    part_logits: np.ndarray | None = None  # (P, H, W) part logits (multi-head models)

    @property
    def part_map(self) -> np.ndarray | None:
        """Most likely part per pixel (uint8), computed on demand (evaluation, galleries)."""
        if self.part_logits is None:
            return None
        return self.part_logits.argmax(axis=0).astype(np.uint8)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "image_width": self.image_width,
            "image_height": self.image_height,
            "mask_width": self.mask_width,
            "mask_height": self.mask_height,
            "photo_confidence": self.photo_confidence,
            "damage_score": self.damage_score,
            "regions": [r.to_dict() for r in self.regions],
            "timings_ms": self.timings_ms,
        }


# --------------------------------------------------------------------------- post-processing


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax over axis 0 of (C, H, W) logits, in float32 (one new array, in-place after)."""
    z = np.array(logits, dtype=np.float32, order="C", copy=True)
    if temperature != 1.0:
        z *= np.float32(1.0 / temperature)
    z -= z.max(axis=0, keepdims=True)
    flat = z.reshape(z.shape[0], -1)
    cv2.exp(flat, flat)  # SIMD exp: 3-4x numpy's on these sizes; in place on z's memory
    z /= z.sum(axis=0, keepdims=True)
    return z


def largest_polygon(mask: np.ndarray) -> list[list[float]]:
    """Outer contour of the largest blob as [[x, y], ...] (simplified by 1 px)."""
    from ml.coco import mask_to_polygons

    polys = mask_to_polygons(mask, tolerance=1.0)
    if not polys:
        return []
    best = max(polys, key=lambda p: cv2.contourArea(np.asarray(p, np.float32).reshape(-1, 2)))
    return [[best[i], best[i + 1]] for i in range(0, len(best), 2)]


def extract_regions(
    probs: np.ndarray, label_map: LabelMap, meta: dict, region_cal: LogisticCalibrator | None
) -> tuple[list[Region], np.ndarray, np.ndarray]:
    """Damage components of P(damage) > threshold, typed by their summed class probabilities.

    One region per connected damage blob (not per pixel type): type evidence is pooled over
    the blob, which is steadier than per-pixel argmax for a model trained on few typed photos.
    """
    h, w = probs.shape[1:]
    damage_prob = 1.0 - probs[0]
    decided = damage_prob > meta.get("decision_threshold", 0.5)
    min_area = max(4, int(meta.get("min_region_share", 0.0005) * h * w))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(decided.astype(np.uint8), connectivity=8)
    class_map = np.zeros((h, w), dtype=np.uint8)
    regions = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < min_area:
            continue
        sub = lab[y : y + bh, x : x + bw] == i
        type_scores = probs[1:, y : y + bh, x : x + bw][:, sub].sum(axis=1)
        cls = int(np.argmax(type_scores)) + 1
        mask = np.zeros((h, w), dtype=bool)
        mask[y : y + bh, x : x + bw] = sub
        class_map[mask] = cls
        area_share = area / (h * w)
        feats = region_features(damage_prob[y : y + bh, x : x + bw][sub], type_scores, area_share)
        conf = region_cal.predict_one(feats) if region_cal else feats["mean_damage_prob"]
        name = label_map.by_id(cls).name
        bbox_norm = (x / w, y / h, (x + bw) / w, (y + bh) / h)
        regions.append(
            Region(
                label=name,
                label_id=cls,
                confidence=float(np.clip(conf, 0.0, 1.0)),
                severity=severity_for(label_map, name, area_share, bbox_norm),
                mask=mask,
                polygon=largest_polygon(mask),
                bbox=[x, y, bw, bh],
                area_share=float(area_share),
                features=feats,
            )
        )
    regions.sort(key=lambda r: -r.area_share)
    return regions, class_map, damage_prob


# Calibrated region confidence below which a region is not reported (model.json
# ``min_region_confidence`` overrides it). At 0.05 a region is a false positive 19 times in 20:
# in the flywheel simulation's first round 1,026 of the 1,123 regions the adjuster deleted were
# below it, and each cost a look and a delete, which made pre-labels slower than drawing from
# scratch (docs/learning-loop.md, "Flywheel"). Only a calibrated confidence is floored: an
# uncalibrated one is the region's mean damage probability, above the decision threshold.
DEFAULT_MIN_REGION_CONFIDENCE = 0.05


def region_floor(
    regions: list[Region], class_map: np.ndarray, floor: float
) -> tuple[list[Region], np.ndarray]:
    """``regions`` at or above ``floor``, and the class map without the pixels of the rest."""
    kept = [r for r in regions if r.confidence >= floor]
    if len(kept) == len(regions):
        return regions, class_map
    class_map = class_map.copy()
    for r in regions:
        if r.confidence < floor:
            class_map[r.mask] = 0
    return kept, class_map


PART_MIN_SHARE = 0.25  # a region whose best named part covers less of it gets part None
PART_STRIDE = 2  # part shares are estimated on every other pixel in each direction


def assign_parts(regions: list[Region], part_logits: np.ndarray, names: tuple[str, ...]) -> None:
    """Give each region the named part (index >= 1) with the largest mean probability on it.

    ``part_share`` is the share of the region's pixels whose most likely part is that part;
    below PART_MIN_SHARE (a fender, roof or sill, which no part data labels, or no car at all)
    the part is None. Only the regions' pixels are read: a full-image softmax or argmax over
    13 channels costs more than the rest of post-processing (17 ms a photo at 384x384).
    """
    for r in regions:
        r.has_part = True
        x, y, w, h = r.bbox
        # every other pixel of the region's box: a 4x cheaper estimate of the same shares
        sub = r.mask[y : y + h : PART_STRIDE, x : x + w : PART_STRIDE]
        if not sub.any():
            continue
        z = part_logits[:, y : y + h : PART_STRIDE, x : x + w : PART_STRIDE][:, sub]
        mean = softmax(z[:, :, None])[1:, :, 0].mean(axis=1)
        j = int(np.argmax(mean)) + 1
        share = float((z.argmax(axis=0) == j).mean())
        r.part_share = round(share, 4)
        r.part = names[j] if share >= PART_MIN_SHARE else None


def sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


# --------------------------------------------------------------------------- the segmenter


class Segmenter:
    """Loaded model + metadata. Thread-safe for ``predict`` with the ONNX backend."""

    def __init__(self, model_dir: Path, meta: dict, backend, backend_name: str) -> None:
        self.model_dir = model_dir
        self.meta = meta
        self.backend = backend
        self.backend_name = backend_name
        self.model_version: str = meta["model_version"]
        self.label_map = LabelMap.from_dict(meta["label_map"])
        self.input_long_side: int = int(meta["input_long_side"])
        self.temperature: float = float(meta.get("temperature", 1.0))
        rc, pc = meta.get("region_calibrator"), meta.get("photo_calibrator")
        self.region_calibrator = LogisticCalibrator.from_dict(rc) if rc else None
        self.min_region_confidence = float(
            meta.get("min_region_confidence", DEFAULT_MIN_REGION_CONFIDENCE)
        )
        self.photo_calibrator = LogisticCalibrator.from_dict(pc) if pc else None
        pm = meta.get("part_map")
        self.part_names: tuple[str, ...] | None = tuple(pm["names"]) if pm else None
        # Platt scaling of the photo-level head (ml.calibration), and the gate below which a
        # photo is called intact and gets no region; absent = identity / no gate.
        self.image_platt: tuple[float, float] = tuple(meta.get("image_platt") or (1.0, 0.0))
        self.image_gate: float = float(meta.get("image_gate") or 0.0)

    @classmethod
    def load(
        cls,
        model_dir: str | Path = DEFAULT_MODEL_DIR,
        backend: str = "onnx",
        threads: int = DEFAULT_THREADS,
        spinning: bool = False,
    ) -> Segmenter:
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / MODEL_JSON).read_text(encoding="utf-8"))
        if backend == "onnx":
            impl = OnnxBackend(model_dir / meta["onnx"], threads, spinning)
        elif backend == "torch":
            impl = TorchBackend(model_dir / meta["weights"], meta, threads)
        else:
            raise ValueError(ERR_BACKEND)
        return cls(model_dir, meta, impl, backend)

    def predict(self, image_bytes: bytes) -> Prediction:
        t0 = time.perf_counter()
        decoded = decode_image(image_bytes, self.input_long_side)
        t1 = time.perf_counter()
        return self._predict_rgb(decoded.rgb, decoded.width, decoded.height, t0, t1)

    def predict_array(self, rgb: np.ndarray) -> Prediction:
        """Same as :meth:`predict` for an already decoded, oriented uint8 RGB array."""
        t = time.perf_counter()
        return self._predict_rgb(rgb, rgb.shape[1], rgb.shape[0], t, t)

    def outputs(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Raw outputs for one RGB array: (C, H, W) damage logits, then (P, H, W) part logits
        and the photo logit (a float) for multi-head models."""
        h, w = network_size(rgb.shape[0], rgb.shape[1], self.input_long_side)
        x = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self.backend(x)
        return [out[0][0], *(o[0] for o in out[1:])]

    def logits(self, rgb: np.ndarray) -> np.ndarray:
        """Raw (C, H, W) damage logits at the network size (used by calibration)."""
        return self.outputs(rgb)[0]

    def image_score(self, image_logit: float) -> float:
        a, b = self.image_platt
        return sigmoid(a * float(image_logit) + b)

    def _predict_rgb(self, rgb, width: int, height: int, t0: float, t1: float) -> Prediction:
        out = self.outputs(rgb)
        logits = out[0]
        t2 = time.perf_counter()
        probs = softmax(logits, self.temperature)
        regions, class_map, damage_prob = extract_regions(
            probs, self.label_map, self.meta, self.region_calibrator
        )
        part_logits = None
        if len(out) == 3:
            damage_score = self.image_score(out[2])
            if damage_score < self.image_gate:  # the photo-level head says: intact car
                regions, class_map = [], np.zeros_like(class_map)
            if self.part_names is not None:
                part_logits = out[1]
                assign_parts(regions, part_logits, self.part_names)
        else:
            damage_score = float(damage_prob.max())
        feats = photo_features(regions, damage_prob, damage_score)
        if self.photo_calibrator:
            photo_conf = self.photo_calibrator.predict_one(feats)
        else:
            photo_conf = uncalibrated_photo_confidence(feats)
        if self.region_calibrator is not None:
            # After the photo's confidence, whose calibrator saw every region.
            regions, class_map = region_floor(regions, class_map, self.min_region_confidence)
        t3 = time.perf_counter()
        mh, mw = class_map.shape
        return Prediction(
            model_version=self.model_version,
            image_width=int(width),
            image_height=int(height),
            mask_width=int(mw),
            mask_height=int(mh),
            photo_confidence=float(np.clip(photo_conf, 0.0, 1.0)),
            regions=regions,
            timings_ms={
                "decode": (t1 - t0) * 1e3,
                "model": (t2 - t1) * 1e3,
                "post": (t3 - t2) * 1e3,
                "total": (t3 - t0) * 1e3,
            },
            class_map=class_map,
            damage_prob=damage_prob,
            damage_score=float(damage_score),
            part_logits=part_logits,
        )
