"""The inference contract: decoding, orientation, regions, and ONNX == torch."""

from __future__ import annotations

import io
import json
import re

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from ml.coco import rle_to_mask
from ml.inference import (
    DEFAULT_MODEL_DIR,
    ERR_DECODE,
    ERR_EMPTY,
    ImageDecodeError,
    Segmenter,
    apply_orientation,
    decode_image,
    reduction_factor,
)
from ml.labels import DEFAULT_PART_MAP, PRODUCT_LABEL_MAP, LabelMap
from ml.tests.model_fixtures import export_tiny

# ONNX Runtime vs torch eager on the same (fp16-rounded) weights: kernels differ only in
# summation order, so logits agree to ~1e-4; decisions flip only for pixels at P=0.5.
MIN_PIXEL_AGREEMENT = 0.995
CONFIDENCE_TOLERANCE = 0.02


def _jpeg(rgb: np.ndarray, orientation: int = 1, quality: int = 90) -> bytes:
    im = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def _pattern(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (x * 255 // max(1, w - 1)).astype(np.uint8)
    img[..., 1] = (y * 255 // max(1, h - 1)).astype(np.uint8)
    img[: h // 4, : w // 4, 2] = 255  # marks the top-left corner
    return img


def _scene(seed: int, size: int = 256) -> np.ndarray:
    from ml.synth import render_scene, scene_rng

    scene = render_scene(scene_rng(seed, 0), size)
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(scene.jpeg, np.uint8), 1), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow_exif_transpose(orientation):
    # given
    rgb = _pattern(12, 20)
    data = _jpeg(rgb, orientation, quality=100)
    # when
    ours = apply_orientation(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), orientation)
    # then
    ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert ours.shape == ref.shape
    assert np.array_equal(ours, ref)


def test_decode_image_reports_oriented_original_size_and_reduces():
    # given: a 2000x1200 landscape photo tagged "rotate 90 CW" (orientation 6)
    data = _jpeg(_pattern(1200, 2000), orientation=6)
    # when
    decoded = decode_image(data, target_long_side=480)
    # then: 1/4 scale (500 >= 480 > 250) and portrait after orientation
    assert (decoded.width, decoded.height) == (1200, 2000)
    assert decoded.rgb.shape == (500, 300, 3)
    # the blue top-left marker moved to the top-right corner
    assert decoded.rgb[5, -5, 2] > 200 and decoded.rgb[-5, 5, 2] < 60


def test_reduction_factor_keeps_long_side_at_or_above_target():
    assert reduction_factor(4000, 3000, 480) == 8
    assert reduction_factor(4000, 3000, 512) == 4
    assert reduction_factor(900, 600, 480) == 1
    assert reduction_factor(1024, 1024, 480) == 2


_FULL = _jpeg(_pattern(200, 300))
_TRUNCATED = _FULL[: len(_FULL) // 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", ERR_EMPTY), (b"not an image at all", ERR_DECODE), (_TRUNCATED, ERR_DECODE)],
    ids=["empty", "garbage", "truncated-jpeg"],
)
def test_predict_invalid_bytes_raise_image_decode_error(tiny_dir, data, message):
    seg = Segmenter.load(tiny_dir)
    with pytest.raises(ImageDecodeError, match=re.escape(message)):
        seg.predict(data)


def test_predict_to_dict_follows_contract(tiny_dir):
    # given
    seg = Segmenter.load(tiny_dir)
    data = _jpeg(_scene(1), orientation=1)
    # when
    out = seg.predict(data).to_dict()
    json.dumps(out)
    # then
    assert out["model_version"] == "tiny-test"
    assert (out["image_width"], out["image_height"]) == (256, 256)
    assert (out["mask_width"], out["mask_height"]) == (96, 96)
    assert 0.0 <= out["photo_confidence"] <= 1.0
    assert set(out["timings_ms"]) == {"decode", "model", "post", "total"}
    for r in out["regions"]:
        mask = rle_to_mask(r["mask_rle"])
        assert r["mask_rle"]["size"] == [96, 96]
        assert mask.sum() == pytest.approx(r["area_share"] * 96 * 96)
        assert seg.label_map.by_id(r["label_id"]).name == r["label"]
        assert r["severity"] in ("minor", "moderate", "severe")
        assert 0.0 <= r["confidence"] <= 1.0
        x, y, w, h = r["bbox"]
        ys, xs = np.nonzero(mask)
        assert (x, y, w, h) == (
            xs.min(),
            ys.min(),
            xs.max() - xs.min() + 1,
            ys.max() - ys.min() + 1,
        )


def test_predict_all_background_model_returns_no_regions(tmp_path):
    seg = Segmenter.load(export_tiny(tmp_path, all_background=True))
    out = seg.predict(_jpeg(_scene(2))).to_dict()
    assert out["regions"] == []
    assert 0.0 <= out["photo_confidence"] <= 1.0


def test_bundled_model_metadata_and_size():
    seg = Segmenter.load(DEFAULT_MODEL_DIR)
    assert seg.model_version.startswith("damage-v2-")
    assert seg.meta["arch"] == "mh_mobilenet_v2"
    assert isinstance(seg.label_map, LabelMap)
    assert seg.label_map.to_dict() == PRODUCT_LABEL_MAP.to_dict()
    assert seg.part_names == DEFAULT_PART_MAP.names
    assert seg.temperature > 0
    assert seg.photo_calibrator is not None and seg.region_calibrator is not None
    assert 0.0 < seg.image_gate <= 0.5 and seg.image_platt[0] > 0  # fitted on validation
    assert "test" in seg.meta["metrics"]  # evaluated on the held-out split, and recorded
    total = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir() if p.is_file())
    assert total < 25 * 2**20


@pytest.mark.parametrize("model_dir", ["tiny", "bundled"])
def test_onnx_and_torch_backends_agree(tiny_dir, model_dir):
    # given: the same weights in both backends and a few scenes
    path = tiny_dir if model_dir == "tiny" else DEFAULT_MODEL_DIR
    onnx_seg = Segmenter.load(path, backend="onnx")
    torch_seg = Segmenter.load(path, backend="torch")
    for seed in (3, 4, 5):
        data = _jpeg(_scene(seed, 320))
        # when
        a, b = onnx_seg.predict(data), torch_seg.predict(data)
        # then
        assert (a.class_map == b.class_map).mean() >= MIN_PIXEL_AGREEMENT
        assert abs(a.photo_confidence - b.photo_confidence) <= CONFIDENCE_TOLERANCE
        assert np.abs(a.damage_prob - b.damage_prob).max() <= 1e-3
        assert len(a.regions) == len(b.regions)
        for ra, rb in zip(a.regions, b.regions, strict=True):
            assert ra.label_id == rb.label_id
            assert abs(ra.confidence - rb.confidence) <= CONFIDENCE_TOLERANCE


def test_predict_decision_threshold_from_model_json_controls_regions(tmp_path):
    # given: the same tiny model, once with threshold 0 (everything damage), once 1 (nothing)
    export_tiny(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    data = _jpeg(_scene(6))
    results = {}
    for threshold in (0.0, 1.0):
        meta["decision_threshold"] = threshold
        (tmp_path / "model.json").write_text(json.dumps(meta))
        # when
        results[threshold] = Segmenter.load(tmp_path).predict(data)
    # then
    assert sum(r.area_share for r in results[0.0].regions) == pytest.approx(1.0)
    assert results[1.0].regions == []
