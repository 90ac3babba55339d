"""Metric definitions: confusion-matrix IoU, damage pixels, regions, AUROC, ECE, risk."""

from __future__ import annotations

import numpy as np
import pytest

from ml.evaluate import (
    SegMetrics,
    auroc,
    coverage_risk,
    evaluate_predictions,
    match_regions,
    reliability,
    write_report,
)
from ml.labels import IGNORE_INDEX, UNTYPED_DAMAGE


def test_segmetrics_iou_from_confusion_matrix():
    # given: 4 pixels, classes 0..2
    target = np.array([0, 1, 1, 2])
    pred = np.array([0, 1, 2, 2])
    m = SegMetrics(3)
    # when
    m.update(pred, target)
    s = m.summary(["background", "a", "b"])
    # then: class 1 IoU 1/2, class 2 IoU 1/2, background 1
    assert s["per_class_iou"] == {"background": 1.0, "a": 0.5, "b": 0.5}
    assert s["mean_type_iou"] == 0.5
    assert s["damage_iou"] == 1.0  # type confusion is still damage-vs-background correct


def test_segmetrics_untyped_damage_scored_binary_only_and_void_ignored():
    target = np.array([0, UNTYPED_DAMAGE, UNTYPED_DAMAGE, IGNORE_INDEX, 0])
    pred = np.array([1, 2, 0, 1, 0])
    m = SegMetrics(3)
    m.update(pred, target)
    s = m.summary(["background", "a", "b"])
    assert (m.tp, m.fp, m.fn, m.tn) == (1, 1, 1, 1)
    assert s["damage_precision"] == 0.5 and s["damage_recall"] == 0.5
    assert s["damage_iou"] == pytest.approx(1 / 3)
    assert np.asarray(s["confusion_matrix"]).sum() == 2  # only typed pixels


def test_match_regions_uses_iou_threshold():
    gt = np.zeros((10, 10), bool)
    gt[0:4, 0:4] = True  # 16 px
    half = np.zeros((10, 10), bool)
    half[0:4, 0:2] = True  # IoU 0.5
    small = np.zeros((10, 10), bool)
    small[0:2, 0:2] = True  # IoU 0.25
    assert match_regions([half], [gt], 0.5) == ([True], [True])
    assert match_regions([small], [gt], 0.5) == ([False], [False])
    assert match_regions([small, half], [gt], 0.25) == ([False, True], [True])


def test_auroc_known_values():
    assert auroc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.5], [1, 0]) == 0.5
    assert auroc([0.3, 0.4], [1, 1]) is None


def test_reliability_ece_known_value():
    # 10 predictions at 0.9 of which 6 are right: ECE = |0.9 - 0.6| = 0.3
    rel = reliability([0.9] * 10, [1] * 6 + [0] * 4)
    assert rel["ece"] == pytest.approx(0.3)
    assert reliability([1.0, 0.0], [1, 0])["ece"] == pytest.approx(0.0)


def test_coverage_risk_sorted_by_confidence():
    curve = coverage_risk([0.9, 0.1, 0.5], [True, False, True])
    assert curve["coverage"] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert curve["risk"] == pytest.approx([0.0, 0.0, 1 / 3])


def test_evaluate_predictions_perfect_prediction_and_report_files(tmp_path):
    # given: one typed region predicted exactly, one empty photo predicted empty
    target = np.zeros((20, 20), np.uint8)
    target[5:10, 5:10] = 2
    empty = np.zeros((20, 20), np.uint8)
    records = [
        {
            "target": target,
            "pred_class": target.copy(),
            "regions": [(target == 2, 2, 0.8)],
            "photo_confidence": 0.7,
            "max_damage_prob": 0.95,
        },
        {
            "target": empty,
            "pred_class": empty.copy(),
            "regions": [],
            "photo_confidence": 0.9,
            "max_damage_prob": 0.1,
        },
    ]
    # when
    rep = evaluate_predictions(records, 3, ["background", "a", "b"])
    write_report(rep, tmp_path, "x")
    # then
    assert rep["pixel"]["damage_iou"] == 1.0
    assert rep["regions"]["iou_0.5"] == {"precision": 1.0, "recall": 1.0, "n_pred": 1, "n_gt": 1}
    assert rep["image_auroc"] == 1.0
    assert rep["photo_accept_rate"] == 1.0
    assert rep["photo_calibration"]["ece"] == pytest.approx(0.2)  # conf 0.7/0.9 vs all accepted
    assert {p.name for p in tmp_path.iterdir()} == {
        "x.json",
        "x_reliability_regions.png",
        "x_reliability_photo.png",
        "x_coverage_risk.png",
    }


def test_evaluate_predictions_wrong_type_is_not_a_region_match():
    target = np.zeros((20, 20), np.uint8)
    target[5:10, 5:10] = 2
    records = [
        {
            "target": target,
            "pred_class": target.copy(),
            "regions": [(target == 2, 1, 0.8)],
            "photo_confidence": 0.5,
            "max_damage_prob": 0.9,
        }
    ]
    rep = evaluate_predictions(records, 3, ["background", "a", "b"])
    assert rep["regions"]["iou_0.5"]["precision"] == 0.0
    assert rep["photo_accept_rate"] == 0.0
