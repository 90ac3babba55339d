"""A random audit is reviewed blind: the adjuster sees "Random audit", never what the model
would have decided; the customer sees the routine check, never that it is an audit."""

import json

import pytest
from django.urls import reverse

from assessment import configuration
from assessment import services as assessment_services
from assessment.models import Decision
from assessment.policy import REASON_MESSAGES, PolicyRules
from claims.models import Claim, Photo
from claims.tests.factories import ClaimFactory, PhotoFactory
from claims.tests.helpers import claim_url
from review.tests.factories import DENT_BOX

pytestmark = pytest.mark.django_db


@pytest.fixture
def audited_claim(segmenter, customer, real_audit_draws) -> Claim:
    """A confident claim every other rule decides automatically, under a policy that audits
    every automatic decision."""
    rules = {**PolicyRules().to_dict(), "audit_sample_share": 1.0}
    configuration.decision_policy_create(rules=rules, note="audit all", activate=True)
    segmenter.photo_confidence = 0.97
    segmenter.regions = [segmenter_region()]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    for photo in claim.photos.all():
        assessment_services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    stored = Decision.objects.get(claim=claim).reasons
    assert stored[0]["would_be"] == "auto_approved"  # kept for the back-test
    return claim


def segmenter_region():
    from assessment.tests.conftest import region

    return region("dent", 0.96, "minor", box=DENT_BOX)


def _hidden_words(body: str) -> list[str]:
    return [w for w in ("would_be", "auto_approved", "Approved automatically") if w in body]


def test_review_screen_shows_random_audit_without_would_be_decision(
    api_client_for, adjuster, audited_claim
):
    response = api_client_for(adjuster).get(
        reverse("api-review-claim", kwargs={"claim_id": audited_claim.pk})
    )

    assert response.status_code == 200
    body = response.json()
    assert body["reason_groups"] == [
        {
            "code": "random_audit",
            "title": "Random audit",
            "count": 1,
            "messages": [REASON_MESSAGES["random_audit"]],
            "detail": "",
        }
    ]
    assert body["decision"]["outcome"] == "routed_to_review"
    assert body["decision"]["automatic"] is False
    assert _hidden_words(json.dumps(body)) == []
    assert [h["outcome"] for h in body["history"]] == ["routed_to_review"]
    # nor the claim confidence that cleared the automatic path (it was computed and stored)
    assert audited_claim.assessment.claim_confidence is not None
    assert body["assessment"]["claim_confidence"] is None


def test_review_queue_shows_random_audit_without_would_be_decision(
    api_client_for, adjuster, audited_claim
):
    response = api_client_for(adjuster).get(reverse("api-review-queue"))

    assert response.status_code == 200
    body = response.json()
    row = next(r for r in body["results"] if r["id"] == str(audited_claim.pk))
    assert [g["title"] for g in row["reason_groups"]] == ["Random audit"]
    assert body["counts"]["by_reason"] == {"random_audit": 1}
    assert _hidden_words(json.dumps(body)) == []


def test_customer_is_not_told_the_claim_is_an_audit(customer_client, audited_claim):
    response = customer_client.get(claim_url(audited_claim.pk))

    assert response.status_code == 200
    body = json.dumps(response.json())
    assert response.json()["decision"]["reasons"] == [
        {
            "code": "routine_check",
            "message": "An adjuster checks some claims before they are decided.",
        }
    ]
    assert "audit" not in body.lower()
    assert "random" not in body.lower()
    assert _hidden_words(body) == []
