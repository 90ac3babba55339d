"""The claim confidence with its meaning: in the review API's claim detail for adjusters,
never in what a customer reads."""

import json

import pytest
from django.urls import reverse

from assessment import configuration, services
from assessment.claim_confidence import ClaimConfidenceCalibrator, calibrator_entry
from assessment.models import ClaimAssessment
from assessment.policy import PolicyRules
from assessment.tests.conftest import (  # noqa: F401 - shared fixtures
    assessing_claim,
    product_model_version,
    product_segmenter,
    region,
)
from claims.tests.factories import AdjusterFactory
from ml.labels import PRODUCT_LABEL_MAP

pytestmark = pytest.mark.django_db

PRIOR = 0.97 * 0.9


def _assessed(segmenter, claim, *, confidence=0.97):
    segmenter.regions = [
        region(
            "dent",
            confidence,
            "moderate",
            label_map=PRODUCT_LABEL_MAP,
            part="rear_door",
            part_share=0.9,
        )
    ]
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    return claim


def _review_detail(api_client_for, claim) -> dict:
    response = api_client_for(AdjusterFactory()).get(
        reverse("api-review-claim", kwargs={"claim_id": claim.pk})
    )
    assert response.status_code == 200
    return response.json()


def test_review_detail_shows_the_prior_with_its_meaning(
    product_segmenter, assessing_claim, api_client_for
):
    # given a claim routed to review (a threshold above its prior)
    configuration.decision_policy_create(
        rules={**PolicyRules().to_dict(), "audit_sample_share": 0.0, "min_claim_confidence": 0.9},
        activate=True,
    )
    claim = _assessed(product_segmenter, assessing_claim)
    assert claim.status == "in_review"

    # when an adjuster opens it
    shown = _review_detail(api_client_for, claim)["assessment"]["claim_confidence"]

    # then the number, its source and what it means
    assert shown["source"] == "prior"
    assert shown["value"] == pytest.approx(PRIOR, abs=1e-6)
    assert shown["prior"] == pytest.approx(PRIOR, abs=1e-6)
    assert shown["meaning"] == (
        f"{PRIOR:.2f}: a prior from the model's region and part confidences, not yet measured "
        "against adjusters' reviews; read it as a ranking, not a promise."
    )


def test_review_detail_shows_a_fitted_confidence_with_its_reviews(
    product_segmenter, assessing_claim, api_client_for
):
    # given a fitted map for the active model, and a threshold the fitted number is below
    calibrator = ClaimConfidenceCalibrator(slope=1.0, intercept=-1.0, reviews=412, kept=300)
    configuration.decision_policy_create(
        rules={
            **PolicyRules().to_dict(),
            "audit_sample_share": 0.0,
            "min_claim_confidence": 0.9,
            "claim_confidence_calibrator": calibrator_entry(calibrator, model_version="test-v2"),
        },
        activate=True,
    )
    claim = _assessed(product_segmenter, assessing_claim)

    # when
    shown = _review_detail(api_client_for, claim)["assessment"]["claim_confidence"]

    # then
    assert shown["source"] == "fitted"
    assert shown["reviews"] == 412
    assert shown["value"] < shown["prior"]
    assert shown["meaning"].endswith("(fitted on 412 reviews).")
    assert ClaimAssessment.objects.get(claim=claim).claim_confidence == shown["value"]


def test_customer_never_reads_the_claim_confidence(
    product_segmenter, assessing_claim, api_client_for
):
    # given a claim decided automatically (its assessment is shown to the customer)
    claim = _assessed(product_segmenter, assessing_claim)
    assert claim.status == "auto_decided"

    # when the customer reads it
    response = api_client_for(claim.owner).get(
        reverse("api-claim-detail", kwargs={"claim_id": claim.pk})
    )

    # then the assessment is there, the claim confidence and its meaning are not
    assert response.status_code == 200
    body = response.json()
    assert body["assessment"] is not None
    text = json.dumps(body)
    assert "claim_confidence" not in text
    assert "line items" not in text


def test_admin_shows_the_claim_confidence_in_words(product_segmenter, assessing_claim, client):
    # given an assessed claim and a staff user
    from django.contrib.auth import get_user_model

    claim = _assessed(product_segmenter, assessing_claim)
    record = ClaimAssessment.objects.get(claim=claim)
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))

    # when staff open the claim assessment in the admin
    response = client.get(reverse("admin:assessment_claimassessment_change", args=[record.pk]))

    # then the number is there with its meaning
    assert response.status_code == 200
    assert "a prior from the model&#x27;s region and part confidences" in response.content.decode()
