"""Calibration: temperature recovery, calibrated logistic confidence, acceptance outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.calibration import (
    LogisticCalibrator,
    fit_temperature,
    gt_regions,
    photo_accepted,
    region_outcomes,
)
from ml.evaluate import reliability
from ml.labels import UNTYPED_DAMAGE


def test_fit_temperature_recovers_overconfidence_factor():
    # given: labels drawn from softmax(z), logits reported as 3 * z (overconfident)
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, size=(20000, 4))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    # when
    t = fit_temperature(3 * z, y, 4)
    # then
    assert t == pytest.approx(3.0, rel=0.08)


def test_fit_temperature_uses_partial_labels_for_untyped_damage():
    # untyped pixels: damage probability is what matters, not the type split
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.0, size=(20000, 3))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    is_damage = rng.random(20000) < (1 - p[:, 0])
    y = np.where(is_damage, UNTYPED_DAMAGE, 0)
    assert fit_temperature(2 * z, y, 3) == pytest.approx(2.0, rel=0.1)


def test_logistic_calibrator_is_calibrated_on_fresh_data():
    # given: outcomes with a known probability sigmoid(2x - 1)
    rng = np.random.default_rng(0)

    def sample(n):
        x = rng.normal(0, 1, n)
        y = rng.random(n) < 1 / (1 + np.exp(-(2 * x - 1)))
        return [{"x": float(v)} for v in x], y

    rows, y = sample(4000)
    cal = LogisticCalibrator.fit(rows, y, ["x"], l2=0.1)
    # when: evaluated on a fresh sample
    test_rows, test_y = sample(4000)
    ece = reliability(cal.predict(test_rows), test_y)["ece"]
    # then
    assert ece < 0.03
    assert cal.coef[0] / cal.std[0] == pytest.approx(2.0, rel=0.15)
    assert LogisticCalibrator.from_dict(cal.to_dict()).predict_one({"x": 0.5}) == pytest.approx(
        cal.predict_one({"x": 0.5})
    )


def test_logistic_calibrator_single_class_gives_smoothed_base_rate():
    cal = LogisticCalibrator.fit([{"x": float(i)} for i in range(10)], [False] * 10, ["x"])
    p = cal.predict([{"x": 0.0}, {"x": 9.0}])
    assert np.all(p < 0.15) and np.all(np.isfinite(p))
    assert math.isfinite(cal.intercept)


def test_gt_regions_drop_specks_and_keep_types():
    t = np.zeros((100, 100), np.uint8)
    t[10:30, 10:30] = 3
    t[50:70, 50:70] = UNTYPED_DAMAGE
    t[90, 90] = 2  # 1 px < MIN_REGION_SHARE * 10000 = 5 px
    regions = gt_regions(t, 7)
    assert [(int(m.sum()), c) for m, c in regions] == [(400, 3), (400, None)]


def test_photo_accepted_requires_every_region_matched_both_ways():
    t = np.zeros((50, 50), np.uint8)
    t[10:20, 10:20] = UNTYPED_DAMAGE
    hit = t == UNTYPED_DAMAGE
    extra = np.zeros_like(hit)
    extra[30:40, 30:40] = True
    assert photo_accepted([(hit, 2, 0.9)], t, 7)  # untyped GT accepts any type
    assert not photo_accepted([(hit, 2, 0.9), (extra, 1, 0.9)], t, 7)
    assert not photo_accepted([], t, 7)
    assert photo_accepted([], np.zeros_like(t), 7)
    assert region_outcomes([(extra, 1, 0.5)], t, 7) == ([False], [False])


class _FakeSegmenter:
    """Logits straight from the image's red channel: P(damage) = red / 255."""

    def __init__(self):
        from ml.labels import DEFAULT_LABEL_MAP

        self.label_map = DEFAULT_LABEL_MAP
        self.temperature = 1.0

    def logits(self, rgb):
        p = np.clip(rgb[..., 0].astype(float) / 255, 1e-4, 1 - 1e-4)
        out = np.full((7, *p.shape), -30.0)
        out[0], out[1] = np.log(1 - p), np.log(p)
        return out


def test_fit_decision_threshold_picks_best_iou_threshold():
    from ml.calibration import fit_decision_threshold
    from ml.datasets import SegItem

    # given: damage pixels at P=0.8, background at P=0.65 -> only 0.7 separates them
    target = np.zeros((20, 20), np.uint8)
    target[5:10, 5:10] = UNTYPED_DAMAGE
    image = np.zeros((20, 20, 3), np.uint8)
    image[..., 0] = np.where(target > 0, 204, 166)
    # when
    threshold, table = fit_decision_threshold(
        _FakeSegmenter(), [SegItem(image, target, "real", "x")]
    )
    # then
    assert threshold == 0.7
    assert table["0.7"]["real"] == 1.0
    assert table["0.5"]["real"] < 0.2


def test_logistic_calibrator_separable_data_stays_finite_and_bounded():
    # given: perfectly separable outcomes (e.g. every intact photo is accepted)
    rows = [{"x": float(i)} for i in range(20)]
    y = [i >= 10 for i in range(20)]
    # when
    cal = LogisticCalibrator.fit(rows, y, ["x"], l2=1.0)
    # then: L2 keeps the fit finite; probabilities still order correctly
    assert abs(cal.intercept) < 10 and all(abs(c) < 20 for c in cal.coef)
    p = cal.predict(rows)
    assert p[0] < 0.1 and p[-1] > 0.9
