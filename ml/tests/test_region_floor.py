"""The calibrated region-confidence floor (ml.inference.region_floor, Segmenter)."""

import numpy as np

from ml.inference import DEFAULT_MIN_REGION_CONFIDENCE, Region, region_floor


def _region(confidence: float, rows: slice) -> Region:
    mask = np.zeros((10, 10), dtype=bool)
    mask[rows, :] = True
    return Region(
        label="dent",
        label_id=1,
        confidence=confidence,
        severity="minor",
        mask=mask,
        polygon=[],
        bbox=[0, rows.start, 10, rows.stop - rows.start],
        area_share=float(mask.mean()),
    )


def test_regions_below_the_floor_are_dropped_with_their_pixels():
    keep, drop = _region(0.4, slice(0, 3)), _region(0.01, slice(5, 8))
    class_map = np.zeros((10, 10), dtype=np.uint8)
    class_map[keep.mask] = 1
    class_map[drop.mask] = 1
    regions, out = region_floor([keep, drop], class_map, DEFAULT_MIN_REGION_CONFIDENCE)
    assert regions == [keep]
    assert out[keep.mask].all() and not out[drop.mask].any()
    assert class_map[drop.mask].all()  # the caller's map is not changed


def test_nothing_changes_when_every_region_clears_the_floor():
    regions = [_region(0.05, slice(0, 3))]
    class_map = np.ones((10, 10), dtype=np.uint8)
    kept, out = region_floor(regions, class_map, 0.05)
    assert kept is regions and out is class_map


def _calibrated(model_dir, intercept: float, floor: float | None = None) -> None:
    """Give a model a region calibrator that says ``sigmoid(intercept)`` for every region."""
    import json

    meta_path = model_dir / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["region_calibrator"] = {
        "features": ["mean_damage_prob"],
        "mean": [0.0],
        "std": [1.0],
        "coef": [0.0],
        "intercept": intercept,
    }
    if floor is not None:
        meta["min_region_confidence"] = floor
    meta_path.write_text(json.dumps(meta))


def test_a_calibrated_model_reports_no_region_below_the_floor(tmp_path):
    from ml.inference import Segmenter
    from ml.tests.model_fixtures import export_tiny

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    plain = export_tiny(tmp_path / "plain")
    # an uncalibrated model's confidence is its mean damage probability: never floored
    found = Segmenter.load(plain).predict_array(photo)
    assert found.regions, "the tiny model finds regions in noise"
    low = export_tiny(tmp_path / "low")
    _calibrated(low, intercept=-5.0)  # every region 0.7 %: under the default floor
    assert Segmenter.load(low).predict_array(photo).regions == []
    lowered = export_tiny(tmp_path / "lowered")
    _calibrated(lowered, intercept=-5.0, floor=0.001)  # a model's own floor wins
    assert len(Segmenter.load(lowered).predict_array(photo).regions) == len(found.regions)
