"""A customer contests, or asks about, any decision (POST /api/v1/claims/{id}/contest/): a
contest record, the claim back in review marked for a senior adjuster with the customer's words
first, an append-only audit record, and the contest's state in the customer API."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from assessment import contests
from assessment import services as assessment_services
from assessment.models import AuditRecord, Contest, Decision
from claims.models import Claim
from config.errors import ConflictError
from review import locks, queue_selectors, services

pytestmark = pytest.mark.django_db

TEXT = "The rear door was damaged too and is not in the estimate."


def _contest(client, claim, body=None):
    url = reverse("api-claim-contest", kwargs={"claim_id": claim.pk})
    return client.post(url, body if body is not None else {"reason": TEXT}, format="json")


@pytest.fixture
def decided_claim(locked_claim, adjuster) -> Claim:
    """Approved as assessed by ``adjuster``."""
    return services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve")


def test_contest_of_an_adjusters_decision_goes_to_a_senior_adjuster_and_is_audited(
    customer_client, decided_claim, adjuster, customer
):
    # when
    response = _contest(customer_client, decided_claim)

    # then: accepted, the claim is back in review and the customer sees the contest open
    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "in_review"
    assert data["contest"]["state"] == "open"
    assert data["contest"]["reason"] == TEXT
    assert data["contest"]["contested_outcome"] == "approved"
    assert data["can_contest"] is False
    contest = Contest.objects.get(claim=decided_claim)
    assert contest.customer == customer and contest.decision.outcome == "approved"
    # the queue's "why this claim is here" starts with the customer's words, senior marked
    row = next(
        r
        for r in queue_selectors.review_queue_list(user=adjuster).rows
        if r["id"] == decided_claim.pk
    )
    codes = [r["code"] for r in row["reasons"]]
    assert codes[:2] == ["customer_contested", "senior_review"]
    assert TEXT in row["reasons"][0]["message"]
    assert adjuster.get_username() in row["reasons"][0]["message"]
    senior = queue_selectors.review_queue_list(user=adjuster, reason="senior_review").rows
    assert [r["id"] for r in senior] == [decided_claim.pk]
    # the audit trail has the contest, who and what was contested
    record = AuditRecord.objects.filter(claim_id=decided_claim.pk).order_by("-id").first()
    assert record.kind == AuditRecord.Kind.CUSTOMER_CONTEST
    assert record.actor == customer.get_username()
    assert record.detail["previous_outcome"] == "approved"
    assert record.detail["previous_automatic"] is False
    assert record.detail["reason"] == TEXT


def test_customer_reads_their_contest_in_their_words_not_staff_ones(
    customer_client, decided_claim, adjuster
):
    _contest(customer_client, decided_claim)

    data = customer_client.get(
        reverse("api-claim-detail", kwargs={"claim_id": decided_claim.pk})
    ).json()

    messages = [r["message"] for r in data["decision"]["reasons"]]
    assert messages == ["You asked for a person to review the decision."]
    assert adjuster.get_username() not in str(data["decision"])


def test_second_contest_while_one_is_open_is_refused(customer_client, decided_claim):
    assert _contest(customer_client, decided_claim).status_code == 202

    response = _contest(customer_client, decided_claim)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "contest_open"
    assert Contest.objects.filter(claim=decided_claim).count() == 1
    assert (
        AuditRecord.objects.filter(
            claim_id=decided_claim.pk, kind=AuditRecord.Kind.CUSTOMER_CONTEST
        ).count()
        == 1
    )


def test_database_refuses_two_open_contests_on_one_claim(customer_client, decided_claim):
    _contest(customer_client, decided_claim)
    first = Contest.objects.get(claim=decided_claim)

    with pytest.raises(IntegrityError), transaction.atomic():
        Contest.objects.create(
            claim=decided_claim, decision=first.decision, customer=first.customer
        )


def test_claim_not_decided_cannot_be_contested(customer_client, in_review_claim):
    response = _contest(customer_client, in_review_claim)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_contestable"
    assert not Contest.objects.exists()


def test_only_the_owner_may_contest(api_client_for, other_customer, adjuster_client, decided_claim):
    # another customer: the claim does not exist for them
    assert _contest(api_client_for(other_customer), decided_claim).status_code == 404
    # staff: not a customer endpoint
    assert _contest(adjuster_client, decided_claim).status_code == 403
    decided_claim.refresh_from_db()
    assert decided_claim.status == Claim.Status.DECIDED
    assert not Contest.objects.exists()


def test_contest_reason_is_optional_and_bounded(customer_client, decided_claim):
    too_long = _contest(customer_client, decided_claim, {"reason": "x" * 1001})
    assert too_long.status_code == 400
    assert not Contest.objects.exists()

    response = _contest(customer_client, decided_claim, {})

    assert response.status_code == 202
    assert response.json()["contest"]["reason"] == ""


def test_the_next_decision_answers_the_contest_and_a_photo_request_does_not(
    customer_client, decided_claim, other_adjuster
):
    _contest(customer_client, decided_claim)
    locks.review_lock_take(claim=decided_claim, adjuster=other_adjuster)

    # a request for photos leaves the contest open
    services.review_decide(
        claim=decided_claim,
        adjuster=other_adjuster,
        action="request_photos",
        reason="Please add the rear door.",
    )
    assert Contest.objects.get(claim=decided_claim).state == Contest.State.OPEN

    # the decision after the new photos answers it
    Claim.objects.filter(pk=decided_claim.pk).update(status=Claim.Status.IN_REVIEW)
    decided_claim.refresh_from_db()
    locks.review_lock_take(claim=decided_claim, adjuster=other_adjuster)
    services.review_decide(claim=decided_claim, adjuster=other_adjuster, action="approve")

    contest = Contest.objects.get(claim=decided_claim)
    assert contest.state == Contest.State.ANSWERED
    assert contest.answer == Decision.objects.filter(claim=decided_claim).first()
    data = customer_client.get(
        reverse("api-claim-detail", kwargs={"claim_id": decided_claim.pk})
    ).json()
    assert data["contest"]["state"] == "answered"
    assert data["contest"]["answered_at"] is not None
    assert data["can_contest"] is True  # the new decision may be contested in turn


def test_contest_of_an_automatic_decision_is_marked_automatic(
    customer, segmenter, make_in_review_claim
):
    # given: an automatic approval (a confident model)
    claim = make_in_review_claim()
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.AUTO_DECIDED)
    Decision.objects.create(claim=claim, outcome="auto_approved", automatic=True, reasons=[])
    claim.refresh_from_db()

    # when
    contest = contests.claim_contest(claim=claim, user=customer, reason="")

    # then
    routed = Decision.objects.filter(claim=claim).first()
    assert routed.outcome == Decision.Outcome.ROUTED_TO_REVIEW
    assert routed.reasons[0]["message"].startswith("The customer contests the automatic")
    assert contest.decision.outcome == "auto_approved"
    record = AuditRecord.objects.filter(claim_id=claim.pk).order_by("-id").first()
    assert record.detail["previous_automatic"] is True


def test_the_adjuster_whose_decision_is_contested_cannot_decide_it_again(
    customer_client, decided_claim, adjuster
):
    # given: the customer contests what ``adjuster`` decided
    _contest(customer_client, decided_claim)
    locks.review_lock_take(claim=decided_claim, adjuster=adjuster)

    # when: the same adjuster tries to decide it again
    with pytest.raises(ConflictError) as refused:
        services.review_decide(claim=decided_claim, adjuster=adjuster, action="approve")

    # then: refused, nothing recorded, the contest still open
    assert refused.value.code == "contest_needs_another_adjuster"
    decided_claim.refresh_from_db()
    assert decided_claim.status == Claim.Status.IN_REVIEW
    assert Contest.objects.get(claim=decided_claim).state == Contest.State.OPEN
    assert Decision.objects.filter(claim=decided_claim).first().outcome == "routed_to_review"


def test_contest_stays_first_when_the_photos_asked_for_arrive(
    customer_client, decided_claim, other_adjuster, segmenter
):
    from claims import services as claims_services
    from claims.models import Photo
    from claims.tests.factories import PhotoFactory

    # given: a contested claim whose new adjuster asked for another photo
    _contest(customer_client, decided_claim)
    locks.review_lock_take(claim=decided_claim, adjuster=other_adjuster)
    services.review_decide(
        claim=decided_claim,
        adjuster=other_adjuster,
        action="request_photos",
        reason="Please add the rear door.",
    )

    # when: the customer adds it and the workers assess the claim again
    decided_claim.refresh_from_db()
    PhotoFactory(claim=decided_claim)
    claims_services.claim_submit(claim=decided_claim)
    claim = claims_services.claim_prepare(claim_id=decided_claim.pk)
    for photo in Photo.objects.filter(claim=claim):
        assessment_services.photo_assess(photo_id=photo.pk)

    # then: back in review, the contest still first and the claim still a senior's
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    routing = Decision.objects.filter(claim=claim).first()
    assert routing.outcome == "routed_to_review" and not routing.automatic
    codes = [r["code"] for r in routing.reasons]
    assert codes[:3] == ["customer_contested", "senior_review", "more_photos_received"]
    assert TEXT in routing.reasons[0]["message"]
    assert Contest.objects.get(claim=claim).state == Contest.State.OPEN
