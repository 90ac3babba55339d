"""The review API's live estimate (``POST .../estimate/``) and the decision's confirm-step rules
that go with it: the sidebar and the confirm dialog show what the decision will record."""

import pytest
from django.urls import reverse

from review.tests.factories import region_payload
from review.tests.test_apis import decision_url, detail_url, put_labels

pytestmark = pytest.mark.django_db


def estimate_url(claim_id) -> str:
    return reverse("api-review-estimate", kwargs={"claim_id": claim_id})


def _photos(claim):
    return list(claim.photos.order_by("created_at"))


def test_review_estimate_is_for_adjusters_only(
    customer_client, api_client_for, data_team_member, in_review_claim
):
    for client in (customer_client, api_client_for(data_team_member)):
        response = client.post(estimate_url(in_review_claim.pk), {"photos": []}, format="json")
        assert response.status_code == 403


def test_review_estimate_follows_unsaved_edits_and_matches_the_decision(
    adjuster_client, locked_claim
):
    # given: the dent on photo 1 made severe on screen, not saved yet
    first = _photos(locked_claim)[0]
    body = {
        "photos": [
            {
                "photo_id": str(first.pk),
                "regions": [
                    {"label": "dent", "severity": "severe"},
                    {"label": "scratch", "severity": "moderate"},
                ],
            }
        ]
    }
    model = adjuster_client.get(detail_url(locked_claim.pk)).json()["assessment"]

    # when
    response = adjuster_client.post(estimate_url(locked_claim.pk), body, format="json")

    # then: a different total than the model's, and a reason needed to approve it
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert preview["model"]["total"] == model["estimate_total"]
    assert preview["corrected"]["total"] != model["estimate_total"]
    assert {(line["damage_type"], line["severity"]) for line in preview["corrected"]["lines"]} >= {
        ("dent", "severe")
    }
    outcomes = {o["outcome"]: o for o in preview["outcomes"]}
    assert outcomes["approve_with_corrections"]["reason_required"] is True
    assert outcomes["approve_with_corrections"]["estimate_total"] == preview["corrected"]["total"]
    assert outcomes["approve"]["estimate_total"] == model["estimate_total"]

    # and: once saved and decided, the claim's estimate is the previewed one
    put_labels(
        adjuster_client,
        locked_claim,
        first,
        [region_payload("dent", "severe", 0), region_payload("scratch", "moderate", 1)],
    )
    decided = adjuster_client.post(
        decision_url(locked_claim.pk),
        {"outcome": "approve_with_corrections", "reason": "Deeper dent"},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert decided.json()["assessment"]["estimate_total"] == preview["corrected"]["total"]


def test_review_decision_with_changed_amount_and_no_reason_is_400(adjuster_client, locked_claim):
    first = _photos(locked_claim)[0]
    put_labels(adjuster_client, locked_claim, first, [region_payload("dent", "severe", 0)])

    response = adjuster_client.post(
        decision_url(locked_claim.pk), {"outcome": "approve_with_corrections"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reason_required"
    assert adjuster_client.get(detail_url(locked_claim.pk)).json()["status"] == "in_review"


@pytest.mark.parametrize(
    ("photo", "region", "code"),
    [
        ("other", {"label": "dent", "severity": "minor"}, "invalid_photo"),
        ("first", {"label": "alien_probe", "severity": "minor"}, "invalid_label"),
        ("first", {"label": "dent", "severity": "catastrophic"}, "invalid_severity"),
        ("first", {"label": "dent"}, "invalid"),
        ("first", {"label": "dent", "severity": "minor", "colour": "red"}, "unknown_field"),
    ],
)
def test_review_estimate_refuses_bad_input(adjuster_client, in_review_claim, photo, region, code):
    photo_id = (
        str(_photos(in_review_claim)[0].pk)
        if photo == "first"
        else "00000000-0000-4000-8000-000000000000"
    )
    body = {"photos": [{"photo_id": photo_id, "regions": [region]}]}

    response = adjuster_client.post(estimate_url(in_review_claim.pk), body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_review_detail_groups_reasons_and_labels_say_their_origin(adjuster_client, locked_claim):
    first = _photos(locked_claim)[0]
    put_labels(
        adjuster_client,
        locked_claim,
        first,
        [region_payload("dent", "minor", 0), region_payload("crack", "minor", None)],
    )

    body = adjuster_client.get(detail_url(locked_claim.pk)).json()

    labels = next(p for p in body["photos"] if p["id"] == str(first.pk))["labels"]
    assert [r["origin"] for r in labels["regions"]] == ["accepted", "added"]
    groups = body["reason_groups"]
    assert sum(g["count"] for g in groups) == len(body["decision"]["reasons"])
    assert len({g["code"] for g in groups}) == len(groups)
