"""Review's metric: adjusters' decisions counted by outcome and contest once committed, and a
refused or rolled-back decision never counted."""

import pytest
from django.urls import reverse
from prometheus_client import REGISTRY

from config.errors import ApplicationError
from review import locks, services

pytestmark = pytest.mark.django_db

OUTCOMES = ("approved", "approved_with_corrections", "denied", "more_photos")


def _decisions() -> dict[tuple[str, str], float]:
    return {
        (outcome, contest): REGISTRY.get_sample_value(
            "claimvision_review_decisions_total", {"outcome": outcome, "contest": contest}
        )
        or 0.0
        for outcome in OUTCOMES
        for contest in ("true", "false")
    }


def _contest(client, claim) -> None:
    url = reverse("api-claim-contest", kwargs={"claim_id": claim.pk})
    response = client.post(url, {"reason": "The rear door is missing."}, format="json")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize(
    ("action", "reason", "outcome"),
    [
        ("approve", "", "approved"),
        ("deny", "Damage predates the policy.", "denied"),
        ("request_photos", "Please add the rear door.", "more_photos"),
    ],
)
def test_review_decide_counts_its_outcome_once_committed(
    locked_claim, adjuster, django_capture_on_commit_callbacks, action, reason, outcome
):
    before = _decisions()

    with django_capture_on_commit_callbacks(execute=True):
        services.review_decide(claim=locked_claim, adjuster=adjuster, action=action, reason=reason)

    assert _decisions() == {**before, (outcome, "false"): before[(outcome, "false")] + 1}


def test_review_decide_answering_a_contest_is_counted_as_such(
    customer_client, locked_claim, adjuster, senior_adjuster, django_capture_on_commit_callbacks
):
    # given an adjuster's approval that the customer contests
    decided = services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve")
    _contest(customer_client, decided)
    locks.review_lock_take(claim=decided, adjuster=senior_adjuster)
    before = _decisions()

    # when a senior adjuster decides it again
    with django_capture_on_commit_callbacks(execute=True):
        services.review_decide(
            claim=decided, adjuster=senior_adjuster, action="deny", reason="Checked again."
        )

    # then it counts as a denial that answered a contest
    assert _decisions() == {**before, ("denied", "true"): before[("denied", "true")] + 1}


def test_review_decide_refused_for_a_missing_reason_is_not_counted(
    locked_claim, adjuster, django_capture_on_commit_callbacks
):
    before = _decisions()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ApplicationError) as caught,
    ):
        services.review_decide(claim=locked_claim, adjuster=adjuster, action="deny")

    assert caught.value.code == "reason_required"
    assert _decisions() == before


def test_review_decide_is_not_counted_before_its_transaction_commits(
    locked_claim, adjuster, django_capture_on_commit_callbacks
):
    before = _decisions()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve")

    assert _decisions() == before  # rolled back here: never committed, never counted
    assert callbacks
