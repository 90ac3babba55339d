"""Fitting the claim confidence from review outcomes, and measuring it (no database)."""

import json
import re

import numpy as np
import pytest

from assessment.claim_confidence import ClaimConfidenceCalibrator, claim_confidence
from learning.claim_confidence import (
    ERROR_PRIOR_RANGE,
    MIN_REVIEWS,
    ClaimConfidenceRecord,
    claim_confidence_fit,
    claim_confidence_reliability,
    line_items_kept,
    log_loss,
    reliability_sentence,
)


def _records(n, truth, seed):
    """Priors spread over the prior's range, outcomes drawn with P(kept) = truth(prior)."""
    rng = np.random.default_rng(seed)
    priors = rng.uniform(0.05, 0.95, n)
    kept = rng.random(n) < truth(priors)
    return [
        ClaimConfidenceRecord(prior=float(p), kept=bool(k), claim_id=i)
        for i, (p, k) in enumerate(zip(priors, kept, strict=True))
    ]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _logit(p):
    return np.log(p / (1 - p))


def test_claim_confidence_fit_none_below_min_reviews():
    records = _records(MIN_REVIEWS - 1, lambda p: p, seed=0)
    assert claim_confidence_fit(records) is None
    assert claim_confidence_fit(records, min_reviews=len(records)) is not None


def test_claim_confidence_fit_recovers_known_platt_map():
    # given: outcomes drawn from sigmoid(2 logit(prior) - 1)
    records = _records(6000, lambda p: _sigmoid(2 * _logit(p) - 1), seed=1)
    # when
    calibrator = claim_confidence_fit(records)
    # then
    assert calibrator.slope == pytest.approx(2.0, abs=0.2)
    assert calibrator.intercept == pytest.approx(-1.0, abs=0.2)
    assert calibrator.reviews == 6000
    assert calibrator.kept == sum(r.kept for r in records)


def test_claim_confidence_fit_stays_near_identity_when_prior_is_calibrated():
    calibrator = claim_confidence_fit(_records(4000, lambda p: p, seed=2))
    assert calibrator.slope == pytest.approx(1.0, abs=0.15)
    assert calibrator.intercept == pytest.approx(0.0, abs=0.15)


def test_claim_confidence_fit_beats_prior_on_held_out_reviews():
    # given: the prior is over-confident, the truth is prior squared
    train = _records(1000, lambda p: p**2, seed=3)
    test = _records(2000, lambda p: p**2, seed=4)
    # when
    calibrator = claim_confidence_fit(train)
    report = claim_confidence_reliability(test, calibrator)
    # then: better in log loss and in calibration error, on reviews it was not fitted on
    assert report["n"] == 2000
    assert report["fitted"]["log_loss"] < report["prior"]["log_loss"]
    assert report["fitted"]["ece"] < report["prior"]["ece"] / 2
    assert report["prior"]["ece"] > 0.1
    assert report["fitted"]["ece"] < 0.05


def test_claim_confidence_fit_output_monotone_and_serialisable():
    calibrator = claim_confidence_fit(_records(500, lambda p: p**2, seed=5))
    grid = np.linspace(0, 1, 201)
    out = [calibrator.apply(float(p)) for p in grid]
    assert out == sorted(out)
    back = ClaimConfidenceCalibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert back == calibrator


def test_claim_confidence_fit_backwards_prior_becomes_constant_rate():
    # given: the higher the prior, the fewer claims kept
    records = _records(1000, lambda p: 1 - p, seed=6)
    # when
    calibrator = claim_confidence_fit(records)
    # then: no inversion; every prior maps to the (smoothed) share kept
    share = (calibrator.kept + 1) / (len(records) + 2)
    assert calibrator.slope == 0.0
    assert calibrator.apply(0.1) == pytest.approx(share)
    assert calibrator.apply(0.9) == pytest.approx(share)


def test_claim_confidence_fit_all_kept_stays_finite():
    records = [ClaimConfidenceRecord(prior=0.5 + i / 1000, kept=True) for i in range(MIN_REVIEWS)]
    calibrator = claim_confidence_fit(records)
    assert np.isfinite([calibrator.slope, calibrator.intercept]).all()
    assert 0.9 < calibrator.apply(0.6) < 1.0


def test_claim_confidence_record_refuses_prior_outside_unit():
    with pytest.raises(ValueError, match=re.escape(ERROR_PRIOR_RANGE)):
        ClaimConfidenceRecord(prior=1.5, kept=True)


def test_line_items_kept_same_lines_in_any_order():
    model = [("front_bumper", "refinish", 2.5), ("hood", "repair", 1.0)]
    final = [("hood", "repair", 1.0), ("front_bumper", "refinish", 2.50)]
    assert line_items_kept(model, final)


@pytest.mark.parametrize(
    "final",
    [
        [("front_bumper", "refinish", 2.5)],  # a line removed
        [("front_bumper", "refinish", 2.5), ("hood", "repair", 1.0), ("hood", "repair", 1.0)],
        [("front_bumper", "refinish", 2.5), ("hood", "replace", 1.0)],  # another operation
        [("front_bumper", "refinish", 2.5), ("trunk", "repair", 1.0)],  # another part
        [("front_bumper", "refinish", 2.5), ("hood", "repair", 1.5)],  # other hours
    ],
)
def test_line_items_kept_any_line_change_counts(final):
    model = [("front_bumper", "refinish", 2.5), ("hood", "repair", 1.0)]
    assert not line_items_kept(model, final)


def test_log_loss_known_value():
    assert log_loss([0.8, 0.8], [True, False]) == pytest.approx(-(np.log(0.8) + np.log(0.2)) / 2)


def test_claim_confidence_reliability_prior_only_without_calibrator():
    records = _records(300, lambda p: p, seed=7)
    report = claim_confidence_reliability(records, None)
    assert "fitted" not in report
    assert sum(row["count"] for row in report["prior"]["bins"]) == 300
    assert report["kept"] == sum(r.kept for r in records)


def test_reliability_sentence_reads_the_bin_of_the_value():
    # given: 10 claims shown 0.9 of which 9 kept, 4 shown 0.35 of which 1 kept
    records = [ClaimConfidenceRecord(prior=0.9, kept=i < 9) for i in range(10)]
    records += [ClaimConfidenceRecord(prior=0.35, kept=i < 1) for i in range(4)]
    table = claim_confidence_reliability(records, None)["prior"]
    # then
    assert reliability_sentence(table, 0.93) == (
        "Of 10 reviewed claims shown 0.90-1.00 (mean 0.90), 9 (90%) kept their line items "
        "unchanged."
    )
    assert reliability_sentence(table, 0.32).startswith("Of 4 reviewed claims shown 0.30-0.40")
    assert reliability_sentence(table, 0.6) is None


def test_fitted_confidence_meaning_matches_measured_share():
    # given: a calibrator fitted on over-confident priors
    calibrator = claim_confidence_fit(_records(3000, lambda p: p**2, seed=8))
    held_out = _records(3000, lambda p: p**2, seed=9)
    # when: claims shown about 0.5 by the fitted map
    shown = [(claim_confidence(r.prior, calibrator).value, r.kept) for r in held_out]
    near = [kept for value, kept in shown if 0.45 <= value < 0.55]
    # then: about half of them kept their lines
    assert len(near) > 100
    assert np.mean(near) == pytest.approx(0.5, abs=0.08)
