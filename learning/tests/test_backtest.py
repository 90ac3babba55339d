"""The threshold back-test as pure functions: synthetic histories whose right answer is known."""

import math

import numpy as np
import pytest

from assessment.policy import ClaimFacts, PhotoFacts, PolicyRules, RegionFacts
from learning import backtest
from learning.backtest import ClaimRecord, calibrate

# A coarser grid than the product's keeps these tests fast; 0.70 is on it.
GRID = tuple(round(0.5 + 0.02 * i, 2) for i in range(25))  # 0.50 .. 0.98


def _record(photo_conf, *, changed, region_conf=0.95, label="dent", severity="minor", **kw):
    regions = [RegionFacts(label, region_conf, severity)]
    photo = PhotoFacts(photo="1", confidence=photo_conf, regions=regions, **kw)
    return ClaimRecord(
        claim=f"c{photo_conf}", facts=ClaimFacts([photo], estimate_total=300.0), changed=changed
    )


def _errors_below(threshold: float, n: int = 400) -> list[ClaimRecord]:
    """Photo confidences spread over [0.4, 0.99]; the adjuster changed exactly those below
    ``threshold``."""
    return [_record(round(c, 4), changed=c < threshold) for c in np.linspace(0.4, 0.99, n).tolist()]


def test_error_upper_bound_is_the_clopper_pearson_tail():
    for errors, n in [(1, 10), (3, 200), (10, 300), (50, 1000)]:
        # given the bound, seeing at most `errors` is exactly the 5% tail
        upper = backtest.error_upper_bound(errors, n, 0.95)
        tail = sum(math.comb(n, i) * upper**i * (1 - upper) ** (n - i) for i in range(errors + 1))
        assert tail == pytest.approx(0.05, abs=1e-6)
    assert backtest.error_upper_bound(1, 10) == pytest.approx(0.3942, abs=1e-4)  # textbook
    # no errors: the rule of three; 149 clean decisions certify 2%, 148 do not
    assert backtest.error_upper_bound(0, 149) < 0.02 < backtest.error_upper_bound(0, 148)
    assert backtest.error_upper_bound(0, 0) == 1.0
    assert backtest.error_upper_bound(5, 5) == 1.0


def test_calibrate_errors_only_below_070_chooses_070():
    # given
    records = _errors_below(0.7)
    # when
    cal = calibrate(
        PolicyRules(), records, target_error=0.02, min_claims=100, photo_grid=GRID, region_grid=GRID
    )
    # then
    assert cal.chosen is not None
    assert cal.chosen.photo_threshold == 0.70
    assert cal.chosen.n_auto == sum(r.facts.photos[0].confidence >= 0.7 for r in records)
    assert cal.chosen.n_auto_changed == 0
    assert cal.rules.min_photo_confidence == 0.70
    assert cal.chosen.error_upper <= 0.02


def test_calibrate_respects_target_and_maximises_automation():
    # given noisy history: 25% of claims below 0.75 changed, 0.5% above
    rng = np.random.default_rng(7)
    conf = rng.uniform(0.4, 1.0, 2000)
    changed = rng.random(2000) < np.where(conf < 0.75, 0.25, 0.005)
    region_conf = rng.uniform(0.6, 1.0, 2000)
    records = [
        _record(float(c), changed=bool(k), region_conf=float(r))
        for c, k, r in zip(conf, changed, region_conf, strict=True)
    ]
    # when
    cal = calibrate(PolicyRules(), records, target_error=0.02, photo_grid=GRID, region_grid=GRID)
    # then the target holds with confidence, and nothing meeting it automates more
    chosen = cal.chosen
    assert chosen.error_upper <= 0.02
    assert chosen.error_rate <= 0.02
    assert 0.74 <= chosen.photo_threshold <= 0.80
    assert not any(p.n_auto > chosen.n_auto and p.error_upper <= 0.02 for p in cal.points)
    # and decide() itself agrees with the sweep on the chosen rules
    replayed = backtest.replay(cal.rules, records)
    assert (replayed.n_auto, replayed.n_auto_changed) == (chosen.n_auto, chosen.n_auto_changed)


def test_sweep_matches_decide_on_every_rule():
    """The fast sweep must equal decide() replayed, whatever else routes a claim."""
    rng = np.random.default_rng(3)
    labels = ["dent", "scratch", "crack", "tire_flat"]
    records = []
    for i in range(300):
        photos = []
        for n in range(int(rng.integers(1, 3))):
            regions = [
                RegionFacts(
                    str(rng.choice(labels)),
                    float(rng.uniform(0.5, 1.0)),
                    str(rng.choice(["minor", "moderate", "severe"], p=[0.6, 0.3, 0.1])),
                    priced=bool(rng.random() > 0.05),
                )
                for _ in range(int(rng.integers(0, 3)))
            ]
            photos.append(
                PhotoFacts(
                    photo=str(n + 1),
                    confidence=None if rng.random() < 0.03 else float(rng.uniform(0.5, 1.0)),
                    regions=regions,
                    quality_warnings=["too_dark"] if rng.random() < 0.05 else [],
                    duplicate=bool(rng.random() < 0.03),
                )
            )
        facts = ClaimFacts(photos, estimate_total=float(rng.uniform(0, 3000)))
        records.append(ClaimRecord(claim=str(i), facts=facts, changed=bool(rng.random() < 0.2)))
    base = PolicyRules(no_damage="auto_close")
    grid = (0.5, 0.63, 0.7, 0.75, 0.86, 0.97)

    points = backtest.sweep(base, records, photo_grid=grid, region_grid=grid)

    assert len(points) == len(grid) ** 2
    for point in points:
        rules = backtest.rules_with_thresholds(base, point.photo_threshold, point.region_threshold)
        replayed = backtest.replay(rules, records)
        assert (point.n_auto, point.n_auto_changed) == (replayed.n_auto, replayed.n_auto_changed)
    assert max(p.n_auto for p in points) > 0  # the check is not vacuous


def test_calibrate_keeps_the_other_rules():
    # given a base policy that sends estimates over 500 to a person
    base = PolicyRules(max_auto_estimate=500.0, always_human_types=["dent"])
    records = [_record(0.95, changed=False, label="scratch", region_conf=0.9)] * 150
    records += [_record(0.95, changed=True, label="dent")] * 50  # always a person
    # when
    cal = calibrate(base, records, min_claims=100, photo_grid=GRID, region_grid=GRID)
    # then
    assert cal.n_never_auto == 50
    assert cal.chosen.n_auto == 150
    assert cal.rules.max_auto_estimate == 500.0
    assert cal.rules.always_human_types == ["dent"]
    assert cal.rules.min_region_confidence_by_type == base.min_region_confidence_by_type


def test_calibrate_too_few_claims_refuses():
    records = _errors_below(0.7, n=40)
    with pytest.raises(backtest.CalibrationError) as exc:
        calibrate(PolicyRules(), records, min_claims=200)
    assert str(exc.value) == backtest.ERR_TOO_FEW_CLAIMS.format(n=40, minimum=200)


def test_calibrate_unreachable_target_chooses_nothing_and_says_why():
    # given 120 claims with no errors: 1 - 0.05**(1/120) = 2.5% > 2%, too few to certify 2%
    records = [_record(0.95, changed=False)] * 120
    # when
    cal = calibrate(PolicyRules(), records, min_claims=100, photo_grid=GRID, region_grid=GRID)
    # then
    assert cal.chosen is None and cal.rules is None
    with pytest.raises(backtest.CalibrationError) as exc:
        backtest.require_chosen(cal)
    assert str(exc.value).startswith("No thresholds meet 2.0% error at 95% confidence on 120")


def test_calibrate_rejects_a_target_outside_the_unit_interval():
    with pytest.raises(backtest.CalibrationError) as exc:
        calibrate(PolicyRules(), _errors_below(0.7), target_error=2)
    assert str(exc.value) == backtest.ERR_BAD_TARGET.format(target=2)


def test_claim_record_from_dict_builds_policy_facts():
    record = ClaimRecord.from_dict(
        {
            "claim": "CLM-1",
            "changed": True,
            "estimate_total": 420.5,
            "photos": [
                {"confidence": 0.8, "regions": [{"label": "dent", "confidence": 0.9}]},
                {"confidence": None, "error": "timeout"},
            ],
        }
    )
    assert record.changed is True
    assert record.facts.estimate_total == 420.5
    assert record.facts.photos[0].regions[0] == RegionFacts("dent", 0.9, "minor", True)
    assert record.facts.photos[1].confidence is None
    assert record.facts.photos[1].photo == "2"


def test_summary_fits_a_policy_note():
    # given the widest numbers a summary can hold
    point = backtest.CurvePoint(0.99, 0.99, 9_999_999, 9_999_999, 999_999, 0.0199)
    cal = backtest.Calibration(
        base_rules=PolicyRules(),
        target_error=0.0125,
        confidence=0.995,
        points=[point],
        chosen=point,
        n_changed=999_999,
        n_never_auto=0,
    )
    # then
    assert len(cal.summary()) <= 200
    assert "photo>=0.99 region>=0.99" in cal.summary()
