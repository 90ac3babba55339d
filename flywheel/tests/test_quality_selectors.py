"""The quality dashboard's figures against a hand-built week of claims (flywheel.quality_selectors).

Two model versions: in week 1, v1 decides 3 claims automatically and sends 2 to review (one a
random audit); in week 2, v2 sends 2 to review (one a random audit). The four reviews, their
ledgers, active time and estimates are written out below; every expected figure is worked out
by hand from them in the test that checks it.
"""

from datetime import UTC, date, datetime

import pytest

from assessment.models import Decision
from claims.models import Claim
from claims.tests.factories import AdjusterFactory, ClaimFactory, CustomerFactory, PhotoFactory
from flywheel import quality_selectors as qs
from flywheel.tests.quality_factories import (
    WEEK_1,
    WEEK_2,
    at,
    auto_decided_claim_create,
    entry,
    hours,
    labels_save,
    model_version_create,
    policy_decision_create,
    review_finish,
)
from learning.backtest import error_upper_bound

pytestmark = pytest.mark.django_db

ROUTED = Decision.Outcome.ROUTED_TO_REVIEW
APPROVED = Decision.Outcome.APPROVED
CORRECTED = Decision.Outcome.APPROVED_WITH_CORRECTIONS


def _reviewed(owner, adjuster, v, *, when, wait_h, audited, prior, auto_total):
    claim = ClaimFactory(owner=owner, submitted=True, status=Claim.Status.IN_REVIEW)
    photo = PhotoFactory(claim=claim)
    policy_decision_create(
        claim=claim,
        version=v,
        when=when,
        outcome=ROUTED,
        audited=audited,
        photo=photo,
        estimate_total=auto_total,
        claim_confidence=prior,
    )
    return claim, photo, when + hours(wait_h)


@pytest.fixture
def scenario():
    owner, adjuster = CustomerFactory(), AdjusterFactory()
    v1, v2 = model_version_create("qd-v1"), model_version_create("qd-v2")
    for n in range(3):
        auto_decided_claim_create(owner=owner, version=v1, when=WEEK_1 + hours(n))

    # A (v1): routed, corrected. Region 0 accepted, 1 reshaped and re-typed, 2 deleted, one drawn.
    a, photo, done = _reviewed(
        owner, adjuster, v1, when=WEEK_1, wait_h=10, audited=False, prior=0.35, auto_total="400"
    )
    labels_save(  # an earlier save: history, not the current labels
        claim=a,
        photo=photo,
        version=v1,
        adjuster=adjuster,
        when=WEEK_1 + hours(1),
        entries=[entry("deleted", 0, from_label="dent", from_part="front_bumper")],
        final_regions=2,
        labels_version=1,
    )
    labels_save(
        claim=a,
        photo=photo,
        version=v1,
        adjuster=adjuster,
        when=WEEK_1 + hours(2),
        entries=[
            entry("accepted", 0, iou=1.0, from_label="dent", from_part="front_bumper"),
            entry("reshaped", 1, iou=0.6, from_label="scratch", from_part="hood"),
            entry(
                "relabelled", 1, iou=0.6, from_label="scratch", to_label="dent", from_part="hood"
            ),
            entry("deleted", 2, from_label="dent", from_part="door"),
            entry("added", None, to_label="crack", to_part="door"),
        ],
        final_regions=3,
        labels_version=2,
    )
    review_finish(
        claim=a,
        version=v1,
        adjuster=adjuster,
        when=done,
        outcome=CORRECTED,
        reviewed_total="500",
        active_ms=120_000,
    )

    # B (v1): random audit, approved unchanged, waited past the 24 h SLA.
    b, photo, done = _reviewed(
        owner, adjuster, v1, when=WEEK_1 + hours(3), wait_h=30, audited=True, prior=0.85,
        auto_total="300",
    )  # fmt: skip
    labels_save(
        claim=b,
        photo=photo,
        version=v1,
        adjuster=adjuster,
        when=WEEK_1 + hours(4),
        entries=[entry("accepted", 0, iou=0.9, from_label="scratch", from_part="hood")],
        final_regions=1,
    )
    review_finish(
        claim=b,
        version=v1,
        adjuster=adjuster,
        when=done,
        outcome=APPROVED,
        reviewed_total="300",
        active_ms=30_000,
    )

    # C (v2): random audit; the model's region deleted and one drawn: replaced.
    c, photo, done = _reviewed(
        owner, adjuster, v2, when=WEEK_2, wait_h=2, audited=True, prior=0.55, auto_total="1000"
    )
    labels_save(
        claim=c,
        photo=photo,
        version=v2,
        adjuster=adjuster,
        when=WEEK_2 + hours(1),
        entries=[
            entry("deleted", 0, from_label="dent", from_part="door"),
            entry("added", None, to_label="dent", to_part="door"),
        ],
        final_regions=1,
    )
    review_finish(
        claim=c,
        version=v2,
        adjuster=adjuster,
        when=done,
        outcome=CORRECTED,
        reviewed_total="800",
        active_ms=200_000,
    )

    # D (v2): routed, denied without labels or measured time.
    d, _, done = _reviewed(
        owner, adjuster, v2, when=WEEK_2 + hours(1), wait_h=4, audited=False, prior=0.95,
        auto_total="250",
    )  # fmt: skip
    review_finish(
        claim=d,
        version=v2,
        adjuster=adjuster,
        when=done,
        outcome=Decision.Outcome.DENIED,
        reviewed_total=None,
    )
    return {"v1": v1, "v2": v2, "adjuster": adjuster, "owner": owner}


def _summary(filters: qs.QualityFilter | None = None, curves: bool = False) -> dict:
    items = qs.quality_items(filters=filters or qs.QualityFilter())
    return qs.quality_summary(items, curves=curves)


def test_quality_summary_rates_of_automatic_and_reviewed_decisions(scenario):
    s = _summary()
    # 7 policy decisions: 3 automatic (v1), 4 routed, of which 2 random audits
    assert (s["decided"], s["auto_decided"], s["random_audits"]) == (7, 3, 2)
    assert s["auto_rate"] == pytest.approx(3 / 7)
    assert s["review_rate"] == pytest.approx(4 / 7)


def test_quality_summary_overrides_on_current_labels_by_type_and_part(scenario):
    s = _summary()
    # model regions: A0 kept, A1 changed, A2 deleted, B0 kept, C0 deleted; drawn: A, C
    assert (s["model_regions"], s["overridden_regions"], s["added_regions"]) == (5, 3, 2)
    assert s["override_rate"] == pytest.approx(3 / 5)
    by_type = {
        r["name"]: (r["regions"], r["overridden"], r["added"]) for r in s["override_by_type"]
    }
    assert by_type == {"dent": (3, 2, 1), "scratch": (2, 1, 0), "crack": (0, 0, 1)}
    by_part = {r["name"]: (r["regions"], r["overridden"]) for r in s["override_by_part"]}
    assert by_part == {"front_bumper": (1, 0), "hood": (2, 1), "door": (2, 2)}
    # kept model regions: A0 1.0, A1 0.6, B0 0.9
    assert s["agreement_iou"] == pytest.approx((1.0 + 0.6 + 0.9) / 3)
    assert s["agreement_regions"] == 3


def test_quality_summary_audit_error_with_its_bound(scenario):
    audit = _summary()["audit"]
    # B (audited, kept) and C (audited, corrected)
    assert (audit["n"], audit["changed"]) == (2, 1)
    assert audit["rate"] == pytest.approx(0.5)
    assert audit["bound"] == pytest.approx(error_upper_bound(1, 2, 0.95))
    assert audit["bound"] > 0.9  # one error in two audits bounds almost nothing


def test_quality_summary_waiting_time_against_the_sla(scenario, settings):
    settings.CLAIMVISION_REVIEW_SLA_HOURS = 24
    wait = _summary()["wait"]
    # waits 10, 30, 2, 4 h
    assert wait["n"] == 4
    assert wait["median_h"] == pytest.approx(7.0)
    assert wait["p90_h"] == pytest.approx(30.0)
    assert (wait["over_sla"], wait["over_sla_share"]) == (1, 0.25)


def test_quality_summary_estimate_accuracy_of_approved_claims(scenario):
    estimate = _summary()["estimate"]
    # A 400 vs 500: 20%; B 300 vs 300: 0%; C 1000 vs 800: 25%; D denied: not priced
    assert estimate["n"] == 3
    assert estimate["median_ape"] == pytest.approx(0.2)
    assert estimate["within_10"] == pytest.approx(1 / 3)


def test_quality_summary_active_time_by_what_the_model_got(scenario):
    active = _summary()["active"]
    assert active["accepted"] == {"claims": 2, "timed": 1, "median_s": 30.0}  # B, D
    assert active["corrected"] == {"claims": 1, "timed": 1, "median_s": 120.0}  # A
    assert active["replaced"] == {"claims": 1, "timed": 1, "median_s": 200.0}  # C


def test_quality_summary_time_saved_from_the_effort_model(scenario):
    effort = _summary()["effort"]
    # DEFAULT_EFFORT, current labels only; each claim pays one decision (5.1 s) both ways.
    # A: look 1.35 + accept 1 + reshape 3.3 + re-type 1.6 + delete 2.3 + draw 6; 3 drawn
    # B: 1.35 + 1; 1 drawn.  C: 1.35 + 2.3 + 6; 1 drawn.  D: no photo labelled.
    assisted = (1.35 + 1 + 3.3 + 1.6 + 2.3 + 6) + (1.35 + 1) + (1.35 + 2.3 + 6) + 4 * 5.1
    scratch = (1.35 + 18) + (1.35 + 6) + (1.35 + 6) + 4 * 5.1
    assert effort["claims"] == 4
    assert effort["assisted_s"] == pytest.approx(assisted)
    assert effort["scratch_s"] == pytest.approx(scratch)
    assert effort["saved"] == pytest.approx(1 - assisted / scratch)
    assert effort["measured_median_s"] == pytest.approx(120.0)  # 30, 120, 200


def test_quality_summary_reliability_from_reviewed_claims(scenario):
    reliability = _summary(curves=True)["reliability"]
    # priors 0.35 (A, corrected), 0.85 (B, approved unchanged: kept), 0.55 (C), 0.95 (D, denied)
    assert (reliability["n"], reliability["kept"]) == (4, 1)
    bins = {row["bin"]: (row["count"], row["accuracy"]) for row in reliability["bins"]}
    assert bins == {3: (1, 0.0), 5: (1, 0.0), 8: (1, 1.0), 9: (1, 0.0)}


def test_quality_summary_coverage_risk_sweep(scenario):
    points = {p["threshold"]: p for p in _summary(curves=True)["coverage_risk"]}
    assert all(p["n_claims"] == 4 for p in points.values())
    # all four replay as automatic under the default policy; changed: A, C and D (denied).
    # Claim confidences 0.35 (A), 0.55 (C), 0.85 (B), 0.95 (D): each threshold lets fewer by.
    auto = {
        t: (points[t]["n_auto"], points[t]["n_auto_changed"]) for t in (0.0, 0.5, 0.6, 0.9, 0.96)
    }
    assert auto == {0.0: (4, 3), 0.5: (3, 2), 0.6: (2, 1), 0.9: (1, 1), 0.96: (0, 0)}
    assert points[0.6]["automation_rate"] == pytest.approx(0.5)
    assert points[0.6]["error_upper"] == pytest.approx(error_upper_bound(1, 2, 0.95), abs=1e-6)


def test_quality_filter_model_version_keeps_its_items_only(scenario):
    s = _summary(qs.QualityFilter(model_version="qd-v2"))
    assert (s["decided"], s["auto_decided"], s["reviewed"]) == (2, 0, 2)
    assert (s["model_regions"], s["added_regions"]) == (1, 1)
    assert (s["audit"]["n"], s["audit"]["changed"]) == (1, 1)


def test_quality_filter_dates_are_inclusive_days(scenario):
    week_2 = qs.QualityFilter(date_from=date(2026, 11, 9), date_to=date(2026, 11, 9))
    s = _summary(week_2)
    assert (s["decided"], s["reviewed"], s["model_regions"]) == (2, 2, 1)
    week_1 = qs.QualityFilter(date_to=date(2026, 11, 8))
    s = _summary(week_1)
    # B was decided on Tuesday of week 1 (30 h after its routing); all of it is in week 1
    assert (s["decided"], s["reviewed"], s["model_regions"]) == (5, 2, 4)


def test_quality_dashboard_groups_by_version_and_week(scenario):
    dashboard = qs.quality_dashboard_get(filters=qs.QualityFilter(), user=scenario["adjuster"])
    versions = {v: s["auto_rate"] for v, s in dashboard.by_version}
    assert versions == {"qd-v1": pytest.approx(0.6), "qd-v2": 0.0}
    weeks = {w: s["decided"] for w, s in dashboard.by_week}
    assert weeks == {date(2026, 11, 2): 5, date(2026, 11, 9): 2}


def test_quality_queue_now_counts_claims_past_the_sla(scenario, settings):
    settings.CLAIMVISION_REVIEW_SLA_HOURS = 24
    claim = ClaimFactory(owner=scenario["owner"], submitted=True, status=Claim.Status.IN_REVIEW)
    now = datetime.now(UTC)
    policy_decision_create(
        claim=claim, version=scenario["v1"], when=now - hours(30), outcome=ROUTED
    )
    queue = qs.queue_now(user=scenario["adjuster"])
    assert (queue["depth"], queue["over_sla"]) == (1, 1)
    assert queue["oldest_wait_h"] == pytest.approx(30, abs=0.1)
    assert qs.queue_now(user=scenario["adjuster"], model_version="qd-v2")["depth"] == 0


def test_quality_summary_of_nothing_is_empty_not_an_error(db):
    s = _summary()
    assert (s["decided"], s["auto_rate"], s["override_rate"], s["agreement_iou"]) == (
        0,
        None,
        None,
        None,
    )
    assert s["audit"]["rate"] is None and s["audit"]["bound"] is None
    assert s["wait"]["median_h"] is None and s["estimate"]["median_ape"] is None
    assert s["effort"]["saved"] is None


def test_quality_percentile_is_a_value_that_occurred():
    assert qs.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert qs.percentile([5], 0.9) == 5
    assert qs.percentile([], 0.9) is None


def test_quality_week_start_is_monday_utc():
    assert qs.week_start(datetime(2026, 11, 8, 23, 30, tzinfo=UTC)) == date(2026, 11, 2)
    assert qs.week_start(datetime(2026, 11, 9, 0, 0, tzinfo=UTC)) == date(2026, 11, 9)


def test_quality_csv_rows_one_block_per_week_and_version(scenario):
    rows = list(qs.quality_csv_rows(filters=qs.QualityFilter()))
    keys = {(r[0], r[1]) for r in rows}
    assert keys == {
        ("2026-11-02", "qd-v1"),
        ("2026-11-09", "qd-v2"),
        ("all", "qd-v1"),
        ("all", "qd-v2"),
        ("all", "all"),
    }
    auto = {(r[0], r[1]): r[4] for r in rows if r[2] == "auto_rate"}
    assert auto[("2026-11-02", "qd-v1")] == pytest.approx(0.6)
    assert auto[("all", "all")] == pytest.approx(3 / 7)
    dent = [r for r in rows if r[:4] == ("all", "all", "override_rate_by_type", "dent")]
    assert dent == [
        ("all", "all", "override_rate_by_type", "dent", pytest.approx(2 / 3), 3, "Dent")
    ]


def test_quality_at_patches_creation_time(db):
    # the fixtures' clock: rows saved inside at() carry that moment
    with at(WEEK_1):
        claim = ClaimFactory(submitted=True)
    assert claim.created_at == WEEK_1
