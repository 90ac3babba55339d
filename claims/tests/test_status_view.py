"""The status page's timeline and the claim it hands to its script."""

import json

import pytest
from django.urls import reverse

from claims.models import Claim
from claims.tests.factories import ClaimFactory, CustomerFactory
from claims.views import timeline_steps

pytestmark = pytest.mark.django_db


def _labels_and_current(steps):
    current = [s["label"] for s in steps if s["state"] == "current"]
    return [s["label"] for s in steps], current[0]


@pytest.mark.parametrize(
    ("status", "after_auto", "labels", "current"),
    [
        ("submitted", False, ["Draft", "Submitted", "Being assessed", "Decided"], "Submitted"),
        ("assessing", False, ["Draft", "Submitted", "Being assessed", "Decided"], "Being assessed"),
        (
            "auto_decided",
            False,
            ["Draft", "Submitted", "Being assessed", "Decided automatically"],
            "Decided automatically",
        ),
        (
            "in_review",
            False,
            ["Draft", "Submitted", "Being assessed", "With an adjuster", "Decided"],
            "With an adjuster",
        ),
        (
            "in_review",
            True,
            [
                "Draft",
                "Submitted",
                "Being assessed",
                "Decided automatically",
                "With an adjuster",
                "Decided",
            ],
            "With an adjuster",
        ),
        (
            "more_photos_requested",
            False,
            [
                "Draft",
                "Submitted",
                "Being assessed",
                "With an adjuster",
                "More photos needed",
                "Decided",
            ],
            "More photos needed",
        ),
        (
            "decided",
            False,
            ["Draft", "Submitted", "Being assessed", "With an adjuster", "Decided"],
            "Decided",
        ),
        (
            "some_future_status",
            False,
            ["Draft", "Submitted", "Being assessed", "Decided"],
            "Being assessed",
        ),
    ],
)
def test_timeline_follows_the_decision_path(status, after_auto, labels, current):
    steps = timeline_steps(status, after_auto=after_auto)
    assert _labels_and_current(steps) == (labels, current)
    index = labels.index(current)
    assert all(s["state"] == "done" for s in steps[:index])
    assert all(s["state"] == "todo" for s in steps[index + 1 :])


def test_status_page_embeds_the_claim_and_remembers_a_contested_automatic_decision(client):
    from assessment.models import Decision

    owner = CustomerFactory()
    claim = ClaimFactory(owner=owner, submitted=True, status=Claim.Status.IN_REVIEW)
    Decision.objects.create(claim=claim, outcome="auto_approved", automatic=True, reasons=[])
    Decision.objects.create(
        claim=claim,
        outcome="routed_to_review",
        automatic=False,
        reasons=[{"code": "customer_contested", "message": "asked"}],
    )
    client.force_login(owner)

    response = client.get(reverse("claim-status", kwargs={"claim_id": claim.pk}))

    assert response.status_code == 200
    labels = [s["label"] for s in response.context["steps"]]
    assert labels[3:] == ["Decided automatically", "With an adjuster", "Decided"]
    assert response.context["timelines"]["after_auto"] is True
    html = response.content.decode()
    data = json.loads(
        html.split('id="claim-json" type="application/json">')[1].split("</script>")[0]
    )
    assert data["id"] == str(claim.pk)
    assert data["decision"]["outcome"] == "routed_to_review"
    assert 'data-contest-api="/api/v1/claims/' in html
