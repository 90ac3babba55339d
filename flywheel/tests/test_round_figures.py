"""A simulation round's figures from hand-built per-claim outcomes (flywheel.simulation)."""

import pytest

from flywheel.effort import EffortModel
from flywheel.simulation import round_figures


def _claim(
    *,
    auto=False,
    audit=False,
    kept=True,
    assisted=None,
    scratch=None,
    photos=2,
    truth=1,
    reasons=(),
):
    return {
        "auto": auto,
        "audit": audit,
        "kept": kept,
        "assisted_s": assisted,
        "scratch_s": scratch,
        "photos": photos,
        "truth_regions": truth,
        "reasons": list(reasons),
    }


def test_a_round_counts_automation_its_error_and_the_adjusters_time():
    m = EffortModel()
    claims = [
        _claim(auto=True, kept=True),
        _claim(auto=True, kept=False),  # an automatic decision the ground truth contradicts
        _claim(audit=True, kept=True, assisted=30.0, scratch=60.0, reasons=["random_audit"]),
        _claim(assisted=90.0, scratch=60.0, reasons=["low_photo_confidence", "unknown_part"]),
    ]
    f = round_figures(claims, m)
    assert (f["claims"], f["auto"], f["reviewed"], f["audited"]) == (4, 2, 2, 1)
    assert f["auto_rate"] == 0.5
    assert f["auto_error"] == 0.5
    assert 0.5 < f["auto_error_bound"] <= 1.0
    assert f["kept_share"] == 0.75
    # 120 s of review over 4 claims
    assert f["minutes_per_claim"] == pytest.approx(120 / 60 / 4, abs=1e-3)
    assert f["minutes_per_reviewed_claim"] == pytest.approx(1.0)
    # reviewed: 120 s against 120 s from scratch
    assert f["time_saved"] == pytest.approx(0.0)
    # with the automatic claims drawn from scratch too: 2 photos, 1 region, 1 decision each
    scratch_auto = 2 * (2 * m.photo_s + m.draw_s + m.decide_s)
    assert f["time_saved_with_automation"] == pytest.approx(
        1 - 120 / (120 + scratch_auto), abs=1e-4
    )
    assert f["routing_reasons"] == {
        "random_audit": 1,
        "low_photo_confidence": 1,
        "unknown_part": 1,
    }


def test_no_automatic_decision_has_no_error_and_the_widest_bound():
    f = round_figures([_claim(assisted=10.0, scratch=20.0)])
    assert f["auto_error"] is None
    assert f["auto_error_bound"] == 1.0
    assert f["time_saved"] == pytest.approx(0.5)


def test_the_bound_needs_149_clean_automatic_decisions_to_reach_two_percent():
    f = round_figures([_claim(auto=True) for _ in range(149)])
    assert f["auto_error"] == 0.0 and f["auto_error_bound"] <= 0.02
    f = round_figures([_claim(auto=True) for _ in range(100)])
    assert f["auto_error_bound"] > 0.02
