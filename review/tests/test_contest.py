"""A customer contests, or asks about, any decision (POST /api/v1/claims/{id}/contest/): a
contest record, the claim back in review marked for a senior adjuster with the customer's words
first, an append-only audit record, and the contest's state in the customer API."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from assessment import contests
from assessment import services as assessment_services
from assessment.models import AuditRecord, Contest, Decision
from claims.models import Claim
from config.errors import ConflictError, ForbiddenError
from review import locks, queue_selectors, services
from review.models import ReviewLock

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
    customer_client, decided_claim, adjuster, senior_adjuster, customer
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
        for r in queue_selectors.review_queue_list(user=senior_adjuster).rows
        if r["id"] == decided_claim.pk
    )
    codes = [r["code"] for r in row["reasons"]]
    assert codes[:2] == ["customer_contested", "senior_review"]
    assert row["reasons"][0]["message"] == (
        f"The customer contests {adjuster.get_username()}'s decision (approved)."
        f" The customer wrote: \u201c{TEXT}\u201d"
    )
    assert row["senior_review"] is True
    senior = queue_selectors.review_queue_list(user=senior_adjuster, senior_review=True)
    assert [r["id"] for r in senior.rows] == [decided_claim.pk]
    # it is the senior adjusters' queue: other adjusters do not get it, only its count
    others = queue_selectors.review_queue_list(user=adjuster)
    assert decided_claim.pk not in [r["id"] for r in others.rows]
    assert others.counts["senior_review"] == 1 and senior.counts["senior_review"] == 1
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
    customer_client, decided_claim, senior_adjuster
):
    _contest(customer_client, decided_claim)
    locks.review_lock_take(claim=decided_claim, adjuster=senior_adjuster)

    # a request for photos leaves the contest open
    services.review_decide(
        claim=decided_claim,
        adjuster=senior_adjuster,
        action="request_photos",
        reason="Please add the rear door.",
    )
    assert Contest.objects.get(claim=decided_claim).state == Contest.State.OPEN

    # the decision after the new photos answers it
    Claim.objects.filter(pk=decided_claim.pk).update(status=Claim.Status.IN_REVIEW)
    decided_claim.refresh_from_db()
    locks.review_lock_take(claim=decided_claim, adjuster=senior_adjuster)
    services.review_decide(claim=decided_claim, adjuster=senior_adjuster, action="approve")

    contest = Contest.objects.get(claim=decided_claim)
    assert contest.state == Contest.State.ANSWERED
    assert contest.answer == Decision.objects.filter(claim=decided_claim).first()
    # the senior's decision is audited as the answer to this contest
    record = AuditRecord.objects.filter(
        claim_id=decided_claim.pk, kind=AuditRecord.Kind.HUMAN_DECISION
    ).order_by("-id")[0]
    assert record.actor == senior_adjuster.get_username()
    assert record.detail["contest"] == contest.pk
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


def test_a_senior_whose_own_decision_is_contested_cannot_decide_it_again(
    customer_client, in_review_claim, senior_adjuster
):
    # given: the customer contests what ``senior_adjuster`` decided
    locks.review_lock_take(claim=in_review_claim, adjuster=senior_adjuster)
    services.review_decide(claim=in_review_claim, adjuster=senior_adjuster, action="approve")
    _contest(customer_client, in_review_claim)
    locks.review_lock_take(claim=in_review_claim, adjuster=senior_adjuster)

    # when: the same adjuster tries to decide it again
    with pytest.raises(ConflictError) as refused:
        services.review_decide(claim=in_review_claim, adjuster=senior_adjuster, action="approve")

    # then: refused, nothing recorded, the contest still open
    assert refused.value.code == "contest_needs_another_adjuster"
    in_review_claim.refresh_from_db()
    assert in_review_claim.status == Claim.Status.IN_REVIEW
    assert Contest.objects.get(claim=in_review_claim).state == Contest.State.OPEN
    assert Decision.objects.filter(claim=in_review_claim).first().outcome == "routed_to_review"


def test_only_a_senior_adjuster_may_take_a_contested_claim(
    customer_client, decided_claim, adjuster_client, other_adjuster_client, senior_client
):
    _contest(customer_client, decided_claim)
    url = reverse("api-review-lock", kwargs={"claim_id": decided_claim.pk})

    # the first decider and any other plain adjuster: 403 with the reason, no lock
    for client in (adjuster_client, other_adjuster_client):
        refused = client.post(url, {}, format="json")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "senior_adjuster_required"
    assert not ReviewLock.objects.filter(claim=decided_claim).exists()

    # a senior adjuster takes it
    taken = senior_client.post(url, {}, format="json")
    assert taken.status_code == 200 and taken.json()["mine"] is True


def test_a_plain_adjusters_decision_on_a_contested_claim_is_refused_even_holding_a_lock(
    customer_client, decided_claim, other_adjuster
):
    # given: a lock row a plain adjuster holds (as an old screen might have), contest open
    _contest(customer_client, decided_claim)
    ReviewLock.objects.create(
        claim=decided_claim,
        adjuster=other_adjuster,
        taken_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=10),
    )

    # when
    with pytest.raises(ForbiddenError) as refused:
        services.review_decide(
            claim=decided_claim, adjuster=other_adjuster, action="deny", reason="Not covered."
        )

    # then: nothing recorded, the contest still open, still the senior queue's
    assert refused.value.code == "senior_adjuster_required"
    decided_claim.refresh_from_db()
    assert decided_claim.status == Claim.Status.IN_REVIEW
    assert Contest.objects.get(claim=decided_claim).state == Contest.State.OPEN
    assert not AuditRecord.objects.filter(
        claim_id=decided_claim.pk,
        kind=AuditRecord.Kind.HUMAN_DECISION,
        actor=other_adjuster.get_username(),
    ).exists()


def test_senior_queue_in_the_api(
    customer_client, decided_claim, make_in_review_claim, senior_client, adjuster_client
):
    # given: a contested claim, and another in review for the first time
    _contest(customer_client, decided_claim)
    fresh = make_in_review_claim()
    url = reverse("api-review-queue")

    # when
    senior_all = senior_client.get(url).json()
    senior_only = senior_client.get(url, {"senior_review": "1"}).json()
    plain = adjuster_client.get(url).json()

    # then: seniors see both and can keep only the contested one; others see the fresh one
    assert {r["id"] for r in senior_all["results"]} == {str(decided_claim.pk), str(fresh.pk)}
    assert [r["id"] for r in senior_only["results"]] == [str(decided_claim.pk)]
    assert senior_only["results"][0]["senior_review"] is True
    assert [r["id"] for r in plain["results"]] == [str(fresh.pk)]
    assert plain["results"][0]["senior_review"] is False
    assert plain["counts"] | {"by_reason": None} == {
        "total": 1,
        "mine": 0,
        "locked_by_others": 0,
        "by_reason": None,
        "senior_review": 1,
    }


def test_contest_stays_first_when_the_photos_asked_for_arrive(
    customer_client, decided_claim, senior_adjuster, segmenter
):
    from claims import services as claims_services
    from claims.models import Photo
    from claims.tests.factories import PhotoFactory

    # given: a contested claim whose new adjuster asked for another photo
    _contest(customer_client, decided_claim)
    locks.review_lock_take(claim=decided_claim, adjuster=senior_adjuster)
    services.review_decide(
        claim=decided_claim,
        adjuster=senior_adjuster,
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
