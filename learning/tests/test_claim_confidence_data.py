"""Claim-confidence records from reviewed claims (real assessment and review services), the
kept rule on real rows, and ``manage.py calibrate --claim-confidence``."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from assessment import configuration
from assessment.claim_confidence import calibrator_for_model
from assessment.models import AuditRecord, ClaimAssessment, Decision, DecisionPolicy, ModelVersion
from claims.tests.factories import AdjusterFactory, CustomerFactory
from learning import calibration, splits
from learning.calibration_data import claim_confidence_records_list
from learning.tests.calibration_factories import MODEL_VERSION, reviewed_claim_create
from learning.tests.test_calibration_data import (  # noqa: F401 - fixtures
    AS_PREDICTED,
    _review,
    adjuster,
    routed_claim,
)
from ml.labels import DEFAULT_LABEL_MAP

pytestmark = pytest.mark.django_db

# The routed claim's model regions, priced per region (no part head): a dent at 0.5 and a
# scratch at 0.6, each its own line item, so the prior is 0.5 * 0.6.
ROUTED_PRIOR = 0.5 * 0.6


def test_claim_confidence_records_list_from_reviewed_claims(routed_claim, adjuster):
    # given claims approved, approved after relabelling, corrected and denied
    approved = routed_claim()
    _review(approved, adjuster, "approve", labels=AS_PREDICTED)
    corrected = routed_claim()
    _review(
        corrected,
        adjuster,
        "approve_with_corrections",
        labels=AS_PREDICTED[:1],
        reason="The scratch was a reflection.",
    )
    denied = routed_claim()
    _review(denied, adjuster, "deny", reason="Old damage.")
    routed_claim()  # in review: no outcome yet

    # when
    data = claim_confidence_records_list()

    # then one record per reviewed claim, its prior as the decision recorded it
    by_claim = {r.claim_id: r for r in data.records}
    assert set(by_claim) == {approved.pk, corrected.pk, denied.pk}
    assert [r.prior for r in data.records] == pytest.approx([ROUTED_PRIOR] * 3)
    audit = AuditRecord.objects.filter(claim_id=approved.pk, kind="automated_decision").get()
    assert by_claim[approved.pk].prior == audit.scores["claim_confidence_prior"]
    # kept only where the outcome is approved and the final lines are the model's
    assert {c: r.kept for c, r in by_claim.items()} == {
        approved.pk: True,
        corrected.pk: False,
        denied.pk: False,
    }
    assert data.skipped == {}


def test_claim_confidence_kept_compares_the_final_line_items(routed_claim, adjuster):
    # given an approved claim whose final assessment's lines differ from the model's (hours)
    changed = routed_claim()
    _review(changed, adjuster, "approve")
    line = ClaimAssessment.objects.get(claim=changed).lines.first()
    line.labour_hours += 1
    line.save()
    # and one whose final assessment dropped a line
    dropped = routed_claim()
    _review(dropped, adjuster, "approve")
    ClaimAssessment.objects.get(claim=dropped).lines.last().delete()

    # when
    records = claim_confidence_records_list().records

    # then neither kept its line items
    assert {r.claim_id: r.kept for r in records} == {changed.pk: False, dropped.pk: False}


def test_claim_confidence_records_skip_decisions_without_a_prior_or_of_another_model(db):
    # given a review of a decision recorded before the claim confidence, and one under the model
    owner, adjuster = CustomerFactory(), AdjusterFactory()
    reviewed_claim_create(owner=owner, adjuster=adjuster, photo_confidence=0.9, outcome="approved")
    reviewed_claim_create(
        owner=owner,
        adjuster=adjuster,
        photo_confidence=0.9,
        outcome="approved",
        claim_confidence_prior=0.8,
    )

    # when
    data = claim_confidence_records_list(model_version=MODEL_VERSION)
    other = claim_confidence_records_list(model_version="another")

    # then
    assert [(r.prior, r.kept) for r in data.records] == [(0.8, True)]
    assert data.skipped == {"no_claim_confidence_recorded": 1}
    assert other.records == []
    assert other.skipped == {"other_model_version": 2}


@pytest.fixture
def history(db):
    """60 reviews (the threshold back-test's history: denied below photo 0.70), each with a
    claim-confidence prior equal to its photo confidence, under the active model."""
    ModelVersion.objects.create(
        version=MODEL_VERSION,
        path="/nonexistent",
        artifact_sha256="0" * 64,
        label_map=DEFAULT_LABEL_MAP.to_dict(),
        status=ModelVersion.Status.ACTIVE,
    )
    owner, adjuster = CustomerFactory(), AdjusterFactory()
    for confidence in np.linspace(0.5, 0.99, 60).round(4).tolist():
        outcome = Decision.Outcome.DENIED if confidence < 0.7 else Decision.Outcome.APPROVED
        reviewed_claim_create(
            owner=owner,
            adjuster=adjuster,
            photo_confidence=confidence,
            outcome=outcome,
            claim_confidence_prior=confidence,
        )


def _calibrate(*args) -> str:
    out = StringIO()
    call_command("calibrate", "--target-error", "0.1", "--min-claims", "30", *args, stdout=out)
    return out.getvalue()


def test_calibrate_claim_confidence_fits_on_train_and_reports_eval(history, tmp_path):
    # given the reviews split by claim
    records = claim_confidence_records_list().records
    n_eval = sum(splits.split_for_claim(r.claim_id) == splits.EVAL for r in records)

    # when
    output = _calibrate("--out", str(tmp_path), "--claim-confidence")

    # then the threshold back-test prints as before, then the claim-confidence section
    assert "proposal: calibrated on 60 reviewed claims" in output
    assert (
        f"Claim confidence (model {MODEL_VERSION}): 60 reviewed claims with a recorded prior "
        f"({60 - n_eval} train, {n_eval} eval)." in output
    )
    assert f"Fitted on {60 - n_eval} train reviews" in output
    summary = json.loads((tmp_path / "claim_confidence.json").read_text())
    assert summary["calibrator"]["model_version"] == MODEL_VERSION
    assert summary["calibrator"]["slope"] > 1  # kept rises faster than the prior
    assert summary["eval_reliability"]["n"] == n_eval
    assert f"wrote {tmp_path / 'claim_confidence.json'}" in output
    # and nothing is adopted without --adopt
    assert DecisionPolicy.objects.count() == 1


def test_calibrate_claim_confidence_adopt_stores_the_calibrator(history, tmp_path):
    # given
    active = configuration.decision_policy_active()

    # when
    output = _calibrate("--out", str(tmp_path), "--claim-confidence", "--adopt")

    # then the new version carries the thresholds and the fitted map for the active model
    created = DecisionPolicy.objects.get(version=active.version + 1)
    assert f"saved policy v{created.version} (inactive" in output
    entry = created.rules["claim_confidence_calibrator"]
    calibrator = calibrator_for_model(entry, model_version=MODEL_VERSION)
    assert calibrator is not None and calibrator.reviews == entry["reviews"]
    assert created.note.startswith(f"claim confidence fitted on {calibrator.reviews}; ")
    assert calibrator.apply(0.95) > calibrator.apply(0.6)
    assert created.rules["min_photo_confidence"] == 0.70


def test_calibrate_without_claim_confidence_keeps_the_base_calibrator(history, tmp_path):
    # given an active policy with a fitted map
    run = calibration.claim_confidence_run(min_reviews=30)
    base = configuration.decision_policy_create(
        rules={
            **configuration.decision_policy_active().rules,
            "claim_confidence_calibrator": calibration.claim_confidence_summary(run)["calibrator"],
        },
        activate=True,
    )

    # when thresholds alone are adopted
    output = _calibrate("--out", str(tmp_path), "--adopt")

    # then the map is copied, and the command prints no claim-confidence section
    created = DecisionPolicy.objects.get(version=base.version + 1)
    assert created.rules["claim_confidence_calibrator"] == base.rules["claim_confidence_calibrator"]
    assert "Claim confidence" not in output


def test_back_test_replays_the_claim_confidence_the_claim_finish_recorded(routed_claim, adjuster):
    # given a claim assessed by the real services and reviewed
    claim = routed_claim()
    _review(claim, adjuster, "approve")

    # when the back-test reads it
    (record,) = calibration.calibration_records_list().records

    # then its facts carry the claim confidence, so min_claim_confidence is swept on it
    assert record.facts.claim_confidence == pytest.approx(ROUTED_PRIOR)
    assert claim.assessment.claim_confidence == record.facts.claim_confidence
