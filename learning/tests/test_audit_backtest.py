"""The back-test with random audits (the automatic path's unbiased error) and the
claim-confidence sweep (issue 13)."""

import json
import random
from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import call_command

from assessment import audit, configuration, policy, services
from assessment.models import AuditRecord, Decision
from assessment.policy import ClaimFacts, PhotoFacts, PolicyRules, RegionFacts
from assessment.tests.conftest import region
from claims.models import Claim, Photo
from claims.tests.factories import AdjusterFactory, ClaimFactory, CustomerFactory, PhotoFactory
from learning import backtest
from learning.backtest import ClaimRecord
from learning.calibration_data import calibration_records_list
from review import locks as review_locks
from review import services as review_services
from review.tests.factories import DENT_BOX


def _record(*, changed, audited=False, photo_conf=0.95, claim_confidence=None, version=1):
    photo = PhotoFacts(
        photo="1", confidence=photo_conf, regions=[RegionFacts("dent", 0.9, "minor")]
    )
    facts = ClaimFacts([photo], estimate_total=300.0, claim_confidence=claim_confidence)
    return ClaimRecord(
        claim="c", facts=facts, changed=changed, audited=audited, detail={"policy_version": version}
    )


# ----------------------------------------------------------------------------- pure functions


def test_audit_error_estimate_counts_only_audited_claims():
    # given 200 audited claims (3 changed) among many routed ones the adjuster mostly changed
    records = [
        _record(changed=i < 3, audited=True, version=1 if i < 150 else 2) for i in range(200)
    ] + [_record(changed=True, photo_conf=0.5) for _ in range(100)]

    estimate = backtest.audit_error_estimate(records, 0.95)

    assert (estimate.n_audited, estimate.n_changed) == (200, 3)
    assert estimate.error_rate == pytest.approx(0.015)
    assert estimate.error_upper == backtest.error_upper_bound(3, 200, 0.95)
    assert 0.015 < estimate.error_upper < 0.04
    assert estimate.by_policy_version == {
        "1": {"n_audited": 150, "n_changed": 3},
        "2": {"n_audited": 50, "n_changed": 0},
    }


def test_audit_error_estimate_without_audits_knows_nothing():
    estimate = backtest.audit_error_estimate([_record(changed=False)])
    assert (estimate.n_audited, estimate.error_upper) == (0, 1.0)
    assert estimate.summary() == "no random audits reviewed yet"


def test_calibrate_reports_audit_estimate_apart_from_the_sweep():
    records = [_record(changed=False, photo_conf=0.6 + 0.001 * i) for i in range(150)] + [
        _record(changed=i == 0, audited=True) for i in range(60)
    ]

    cal = backtest.calibrate(PolicyRules(), records, target_error=0.05, min_claims=100)

    assert (cal.audit.n_audited, cal.audit.n_changed) == (60, 1)
    assert cal.chosen is not None and cal.chosen.n_auto > 60  # the sweep counts every record


def test_sweep_claim_confidence_matches_decide_replayed():
    # given records with and without a claim confidence, some routed by other rules
    rng = random.Random(13)
    records = [
        _record(
            changed=rng.random() < 0.3,
            photo_conf=rng.choice([0.5, 0.9, 0.97]),
            claim_confidence=None if rng.random() < 0.2 else round(rng.random(), 3),
        )
        for _ in range(300)
    ]
    base = PolicyRules()

    points = backtest.sweep_claim_confidence(base, records)

    assert [p.threshold for p in points] == list(backtest.CLAIM_CONFIDENCE_GRID)
    for point in points[::7]:
        rules = replace(base, min_claim_confidence=point.threshold)
        auto = [r for r in records if policy.decide(rules, r.facts).automatic]
        assert (point.n_auto, point.n_auto_changed) == (len(auto), sum(r.changed for r in auto))
    assert points[0].n_auto > points[-1].n_auto


def test_sweep_claim_confidence_is_empty_without_the_fact():
    assert backtest.sweep_claim_confidence(PolicyRules(), [_record(changed=False)]) == []


def test_claim_record_from_dict_reads_audit_and_claim_confidence():
    record = ClaimRecord.from_dict(
        {
            "claim": "x",
            "changed": True,
            "audited": True,
            "claim_confidence": 0.4,
            "estimate_total": 100,
            "photos": [{"confidence": 0.9, "regions": []}],
        }
    )
    assert (record.audited, record.facts.claim_confidence) == (True, 0.4)


# --------------------------------------------------------------------------- from the database


@pytest.mark.django_db
def test_reviewed_random_audit_becomes_an_audited_record(segmenter, customer, real_audit_draws):
    # given a confident claim sent to review by a random audit, corrected by the adjuster
    rules = {**PolicyRules().to_dict(), "audit_sample_share": 1.0}
    active = configuration.decision_policy_create(rules=rules, note="audit all", activate=True)
    segmenter.regions = [region("dent", 0.96, "minor", box=DENT_BOX)]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    adjuster = AdjusterFactory()
    review_locks.review_lock_take(claim=claim, adjuster=adjuster)
    review_services.review_decide(claim=claim, adjuster=adjuster, action="deny", reason="no")

    # when the back-test reads the reviews
    (record,) = calibration_records_list().records

    # then it is an audit, changed, whose facts the policy decides automatically
    assert record.audited is True
    assert record.changed is True
    assert record.detail["would_be"] == "auto_approved"
    assert record.detail["policy_version"] == active.version
    assert policy.decide(PolicyRules.from_dict(active.rules), record.facts).automatic is True


def _reviewed(owner, adjuster, *, changed: bool, audited: bool, claim_confidence=None):
    claim = ClaimFactory(owner=owner, submitted=True, status=Claim.Status.DECIDED)
    photo = PhotoFactory(claim=claim)
    if audited:
        reasons = [
            {"code": "random_audit", "message": "m", "value": 0.01, "threshold": 0.05}
            | {"would_be": "auto_approved"}
        ]
    else:
        reasons = [{"code": "estimate_over_limit", "message": "m"}]
    scores = {
        "photos": {
            str(photo.pk): {
                "photo_confidence": 0.97,
                "regions": [{"label": "dent", "confidence": 0.95, "severity": "minor"}],
            }
        },
        "estimate_total": "300.00" if audited else "2500.00",
        "currency": "EUR",
    }
    if claim_confidence is not None:
        scores["claim_confidence"] = claim_confidence
    audit.audit_record(
        claim=claim,
        kind=AuditRecord.Kind.AUTOMATED_DECISION,
        actor=None,
        inputs={"photos": {str(photo.pk): photo.sha256}},
        model_version="test-v1",
        policy_version=1,
        scores=scores,
        rules_fired=reasons,
        outcome=Decision.Outcome.ROUTED_TO_REVIEW,
    )
    Decision.objects.create(
        claim=claim, outcome=Decision.Outcome.ROUTED_TO_REVIEW, automatic=False, reasons=reasons
    )
    outcome = Decision.Outcome.DENIED if changed else Decision.Outcome.APPROVED
    Decision.objects.create(claim=claim, outcome=outcome, automatic=False, decided_by=adjuster)


@pytest.mark.django_db
def test_calibrate_command_prints_and_writes_the_audit_estimate(tmp_path):
    # given 40 audited claims (2 changed) and 20 routed for their estimate, all changed
    configuration.decision_policy_active()
    owner, adjuster = CustomerFactory(), AdjusterFactory()
    for i in range(40):
        _reviewed(owner, adjuster, changed=i < 2, audited=True, claim_confidence=0.5 + i / 100)
    for _ in range(20):
        _reviewed(owner, adjuster, changed=True, audited=False)
    out = StringIO()

    # when
    call_command(
        "calibrate",
        "--target-error",
        "0.2",
        "--min-claims",
        "50",
        "--out",
        str(tmp_path),
        stdout=out,
    )

    # then
    bound = backtest.error_upper_bound(2, 40)
    output = out.getvalue()
    assert (
        "Random audits (unbiased, the automatic path as decided): 2 of 40 changed by the "
        f"adjuster, error 5.0%, 95% upper bound {bound:.1%} (by policy version: v1 2/40)."
    ) in output
    assert "along min_claim_confidence" in output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["random_audits"]["n_audited"] == 40
    assert summary["random_audits"]["n_changed"] == 2
    assert summary["random_audits"]["error_upper"] == round(bound, 6)
    curve = {p["threshold"]: p for p in summary["claim_confidence_curve"]}
    assert curve[0.0]["n_auto"] == 40  # the estimate rule routes the other 20 anyway
    assert curve[0.52]["n_auto"] == 38  # the two lowest claim confidences are routed
    assert curve[0.52]["n_auto_changed"] == 0
