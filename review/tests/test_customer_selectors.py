"""What the customer API shows of a claim's damage record: only what a confident model or an
adjuster stands behind (review.customer_selectors), through GET /api/v1/claims/{id}/."""

import pytest
from django.urls import reverse

from assessment.models import ClaimAssessment
from review import labels as review_labels
from review import services
from review.tests.factories import region_payload

pytestmark = pytest.mark.django_db


def _claim_json(client, claim) -> dict:
    response = client.get(reverse("api-claim-detail", kwargs={"claim_id": claim.pk}))
    assert response.status_code == 200
    return response.json()


def _regions(photo_json) -> list[tuple]:
    assessment = photo_json["assessment"]
    return [(r["label"], r["severity"], r["confidence"]) for r in assessment["regions"]]


def test_claim_in_review_shows_no_model_regions_and_no_estimate(customer_client, in_review_claim):
    # given: the model found regions and priced them, but was not sure (routed to review)
    record = ClaimAssessment.objects.get(claim=in_review_claim)
    assert record.lines.exists() and record.region_count == 4

    # when
    data = _claim_json(customer_client, in_review_claim)

    # then: neither the guesses nor the estimate nobody stands behind reach the customer
    assert data["status"] == "in_review"
    assert data["assessment"] is None
    assert [p["assessment"] for p in data["photos"]] == [None, None]
    assert data["can_contest"] is False


def test_photo_endpoint_in_review_shows_no_model_regions(customer_client, in_review_claim):
    photo = in_review_claim.photos.first()
    url = reverse("api-photo-detail", kwargs={"claim_id": in_review_claim.pk, "photo_id": photo.pk})

    response = customer_client.get(url)

    assert response.status_code == 200
    assert response.json()["assessment"] is None


def test_decided_with_corrections_shows_the_adjusters_regions_and_estimate(
    customer_client, locked_claim, first_photo, adjuster
):
    # given: on photo 1 the adjuster deletes the scratch and makes the dent severe
    review_labels.photo_labels_save(
        claim=locked_claim,
        photo=first_photo,
        adjuster=adjuster,
        base_version=0,
        regions=[region_payload("dent", "severe", 0)],
    )
    services.review_decide(
        claim=locked_claim,
        adjuster=adjuster,
        action="approve_with_corrections",
        reason="The scratch is old; the dent needs a new panel.",
    )

    # when
    data = _claim_json(customer_client, locked_claim)

    # then: photo 1 shows the adjuster's one region, photo 2 the model's two it kept
    first, second = data["photos"]
    assert first["id"] == str(first_photo.pk)
    assert _regions(first) == [("dent", "severe", None)]
    assert first["assessment"]["source"] == "adjuster"
    assert len(first["assessment"]["regions"][0]["polygon"]) >= 3
    assert [(label, severity) for label, severity, _ in _regions(second)] == [
        ("dent", "minor"),
        ("scratch", "moderate"),
    ]
    assert second["assessment"]["source"] == "model"
    # and the estimate is the decision's, its lines on exactly the regions drawn
    record = ClaimAssessment.objects.get(claim=locked_claim)
    assert data["assessment"]["source"] == "adjuster"
    assert data["assessment"]["estimate_total"] == f"{record.estimate_total:.2f}"
    drawn = {
        (p["id"], r["index"], r["label"], r["severity"])
        for p in data["photos"]
        for r in p["assessment"]["regions"]
    }
    lines = {
        (line["photo_id"], line["region_index"], line["damage_type"], line["severity"])
        for line in data["assessment"]["lines"]
    }
    assert lines and lines <= drawn
    assert {(p, i) for p, i, *_ in drawn} == {(p, i) for p, i, *_ in lines}


def test_decided_as_assessed_shows_the_model_record_the_adjuster_accepted(
    customer_client, locked_claim, adjuster
):
    services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve")

    data = _claim_json(customer_client, locked_claim)

    record = ClaimAssessment.objects.get(claim=locked_claim)
    assert data["assessment"]["source"] == "model"
    assert data["assessment"]["estimate_total"] == f"{record.estimate_total:.2f}"
    assert [len(p["assessment"]["regions"]) for p in data["photos"]] == [2, 2]
    assert data["can_contest"] is True


def test_denied_claim_shows_no_estimate(customer_client, locked_claim, adjuster):
    services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="deny", reason="Damage predates the policy."
    )

    data = _claim_json(customer_client, locked_claim)

    assert data["status"] == "decided"
    assert data["decision"]["outcome"] == "denied"
    assert data["assessment"] is None
    assert [p["assessment"] for p in data["photos"]] == [None, None]
