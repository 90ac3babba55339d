"""The claim confidence at the claim's finish: computed from the part record, mapped by the
policy's fitted calibrator (or the prior), stored, audited and routed on."""

import math

import pytest

from assessment import configuration, services
from assessment.claim_confidence import (
    FITTED,
    PRIOR,
    ClaimConfidenceCalibrator,
    calibrator_entry,
)
from assessment.models import AuditRecord, ClaimAssessment, Decision
from assessment.policy import PolicyRules
from assessment.tests.conftest import region
from ml.labels import PRODUCT_LABEL_MAP

# A dent on the rear door on both photos: the part's prior is its best evidence, c * s.
DENT = {"confidence": 0.97, "part_share": 0.9}
PRIOR_DENT = 0.97 * 0.9


def _dent():
    return region(
        "dent",
        DENT["confidence"],
        "moderate",
        label_map=PRODUCT_LABEL_MAP,
        part="rear_door",
        part_share=DENT["part_share"],
    )


def _assess(claim):
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    return ClaimAssessment.objects.get(claim=claim)


def _policy(**rules):
    return configuration.decision_policy_create(
        rules={**PolicyRules().to_dict(), "audit_sample_share": 0.0, **rules}, activate=True
    )


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


def test_claim_finish_stores_the_prior_without_a_calibrator(product_segmenter, assessing_claim):
    # given no fitted calibrator in the active policy
    product_segmenter.regions = [_dent()]

    # when the claim is assessed
    record = _assess(assessing_claim)

    # then the claim shows the prior, marked as one, on the assessment and in the audit record
    assert record.claim_confidence_source == PRIOR
    assert record.claim_confidence == pytest.approx(PRIOR_DENT, abs=1e-6)
    assert record.claim_confidence_prior == pytest.approx(PRIOR_DENT, abs=1e-6)
    audit = AuditRecord.objects.get(claim_id=assessing_claim.pk, kind="automated_decision")
    assert audit.scores["claim_confidence"] == pytest.approx(PRIOR_DENT, abs=1e-6)
    assert audit.scores["claim_confidence_prior"] == pytest.approx(PRIOR_DENT, abs=1e-6)
    assert audit.scores["claim_confidence_source"] == PRIOR
    assert audit.scores["line_items"] == [
        [line.part, line.operation, f"{line.labour_hours:.2f}"] for line in record.lines.all()
    ]
    assert [item[:2] for item in audit.scores["line_items"]] == [
        ["rear_door", "repair"],
        ["rear_door", "r_and_i"],
        ["rear_door", "refinish"],
        ["rear_door", "blend"],
    ]


def test_claim_finish_applies_the_policy_calibrator_fitted_on_this_model(
    product_segmenter, assessing_claim
):
    # given a calibrator fitted on the active model's priors (slope 1, intercept 1)
    calibrator = ClaimConfidenceCalibrator(slope=1.0, intercept=1.0, reviews=300, kept=250)
    _policy(claim_confidence_calibrator=calibrator_entry(calibrator, model_version="test-v2"))
    product_segmenter.regions = [_dent()]

    # when the claim is assessed
    record = _assess(assessing_claim)

    # then the fitted number is stored next to its prior
    expected = _sigmoid(math.log(PRIOR_DENT / (1 - PRIOR_DENT)) + 1.0)
    assert record.claim_confidence_source == FITTED
    assert record.claim_confidence == pytest.approx(expected, abs=1e-6)
    assert record.claim_confidence_prior == pytest.approx(PRIOR_DENT, abs=1e-6)
    audit = AuditRecord.objects.get(claim_id=assessing_claim.pk, kind="automated_decision")
    assert audit.scores["claim_confidence"] == pytest.approx(expected, abs=1e-6)
    assert audit.thresholds["claim_confidence_calibrator"]["model_version"] == "test-v2"


def test_claim_finish_ignores_a_calibrator_fitted_on_another_model(
    product_segmenter, assessing_claim
):
    # given a calibrator fitted on another model's priors
    calibrator = ClaimConfidenceCalibrator(slope=1.0, intercept=3.0, reviews=300, kept=290)
    _policy(claim_confidence_calibrator=calibrator_entry(calibrator, model_version="old-v1"))
    product_segmenter.regions = [_dent()]

    # when the claim is assessed
    record = _assess(assessing_claim)

    # then the claim shows the prior
    assert record.claim_confidence_source == PRIOR
    assert record.claim_confidence == pytest.approx(PRIOR_DENT, abs=1e-6)


@pytest.mark.parametrize(
    ("threshold", "status", "codes"),
    [(0.9, "in_review", ["low_claim_confidence"]), (0.8, "auto_decided", [])],
)
def test_policy_routes_on_the_claim_confidence(
    product_segmenter, assessing_claim, threshold, status, codes
):
    # given a policy that sends claims below the threshold to a person (prior 0.873)
    _policy(min_claim_confidence=threshold)
    product_segmenter.regions = [_dent()]

    # when the claim is assessed
    _assess(assessing_claim)

    # then it is routed on the claim confidence, and only on it
    assert assessing_claim.status == status
    reasons = Decision.objects.get(claim=assessing_claim).reasons
    assert [r["code"] for r in reasons] == codes
    if codes:
        assert reasons[0]["value"] == pytest.approx(PRIOR_DENT, abs=1e-6)
        assert reasons[0]["threshold"] == threshold


def test_no_damage_claim_confidence_is_the_lowest_photo_confidence(segmenter, assessing_claim):
    # given photos without damage at photo confidence 0.95
    segmenter.regions = []

    # when the claim is assessed
    record = _assess(assessing_claim)

    # then the prior is the least sure photo's confidence
    assert record.claim_confidence_source == PRIOR
    assert record.claim_confidence == pytest.approx(record.min_photo_confidence, abs=1e-6)


def test_policy_rejects_a_malformed_calibrator():
    with pytest.raises(ValueError, match="claim_confidence_calibrator"):
        PolicyRules.from_dict({"claim_confidence_calibrator": {"kind": "something else"}})
    with pytest.raises(ValueError, match="model version"):
        entry = ClaimConfidenceCalibrator(slope=1.0, intercept=0.0, reviews=1, kept=1).to_dict()
        PolicyRules.from_dict({"claim_confidence_calibrator": entry})
