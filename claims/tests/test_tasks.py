"""Tasks and the services they call: preparation is idempotent, the sweeper re-sends."""

from datetime import timedelta

import pytest
from django.utils import timezone

from claims import services, tasks
from claims.models import Claim, Photo
from claims.tests.factories import ClaimFactory, PhotoFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_assessment(monkeypatch):
    """Stop at the hand-off to assessment: the model and its tasks are tested in assessment/."""
    handed_over = []
    monkeypatch.setattr(tasks, "assessment_start_send", handed_over.append)
    return handed_over


def submitted_claim_with_unprepared_photo(media_root):
    claim = ClaimFactory(submitted=True)
    photo = PhotoFactory(claim=claim)
    # As if the working copy was lost (or never written) before the worker ran.
    (media_root / "working" / photo.working.name).unlink()
    return claim, photo


def test_claim_prepare_task_prepares_photos_and_moves_to_assessing(media_root, no_assessment):
    claim, photo = submitted_claim_with_unprepared_photo(media_root)

    tasks.claim_prepare_task(str(claim.pk))

    claim.refresh_from_db()
    photo.refresh_from_db()
    assert claim.status == Claim.Status.ASSESSING
    assert no_assessment == [str(claim.pk)]  # handed to the assessment stage once
    assert photo.status == Photo.Status.PREPARED
    assert photo.prepared_at is not None
    assert (media_root / "working" / photo.working.name).is_file()
    assert [w["code"] for w in photo.quality_warnings] == ["too_small"]


def test_claim_prepare_is_idempotent(media_root):
    claim, photo = submitted_claim_with_unprepared_photo(media_root)
    services.claim_prepare(claim_id=claim.pk)
    photo.refresh_from_db()
    first_prepared_at = photo.prepared_at
    first_working = (media_root / "working" / photo.working.name).read_bytes()

    again = services.claim_prepare(claim_id=claim.pk)

    photo.refresh_from_db()
    assert again.status == Claim.Status.ASSESSING
    assert photo.prepared_at == first_prepared_at
    assert (media_root / "working" / photo.working.name).read_bytes() == first_working
    assert Photo.objects.count() == 1


def test_claim_prepare_leaves_a_claim_past_submitted_alone(media_root):
    claim = ClaimFactory(submitted=True)
    PhotoFactory(claim=claim)
    services.claim_transition(claim=claim, to=Claim.Status.ASSESSING)
    services.claim_transition(claim=claim, to=Claim.Status.IN_REVIEW)

    result = services.claim_prepare(claim_id=claim.pk)

    assert result.status == Claim.Status.IN_REVIEW


def test_claim_prepare_returns_none_for_a_vanished_claim():
    assert services.claim_prepare(claim_id="6b1f1b55-0000-4000-8000-000000000000") is None


def test_photo_prepare_keeps_an_existing_working_copy(photo, media_root):
    working = media_root / "working" / photo.working.name
    before = working.read_bytes()

    services.photo_prepare(photo=photo)

    photo.refresh_from_db()
    assert photo.status == Photo.Status.PREPARED
    assert working.read_bytes() == before


def test_claims_sweep_stuck_re_enqueues_only_stuck_claims(settings, enqueued):
    settings.CLAIMVISION_STUCK_AFTER_SECONDS = 300
    now = timezone.now()
    long_ago = now - timedelta(minutes=10)
    stuck = ClaimFactory(submitted=True, enqueued_at=long_ago)
    ClaimFactory(submitted=True, enqueued_at=now - timedelta(minutes=1))  # still in time
    ClaimFactory()  # draft
    with_adjuster = ClaimFactory(submitted=True, enqueued_at=long_ago)
    Claim.objects.filter(pk=with_adjuster.pk).update(status=Claim.Status.IN_REVIEW)

    resent = services.claims_sweep_stuck(now=now)

    assert resent == [str(stuck.pk)]
    assert enqueued == [str(stuck.pk)]
    stuck.refresh_from_db()
    assert stuck.enqueued_at == now


def test_claims_sweep_stuck_does_not_resend_a_claim_it_just_resent(enqueued):
    now = timezone.now()
    stuck = ClaimFactory(submitted=True, enqueued_at=now - timedelta(hours=1))
    services.claims_sweep_stuck(now=now)

    resent = services.claims_sweep_stuck(now=now + timedelta(seconds=30))

    assert resent == []
    assert enqueued == [str(stuck.pk)]


def test_claims_sweep_stuck_task_calls_the_sweeper(enqueued):
    stuck = ClaimFactory(submitted=True, enqueued_at=timezone.now() - timedelta(hours=1))

    tasks.claims_sweep_stuck_task()

    assert enqueued == [str(stuck.pk)]


def test_claim_prepare_task_retries_transient_errors_only():
    assert tasks.claim_prepare_task.autoretry_for == tasks.TRANSIENT
    assert tasks.claim_prepare_task.max_retries == 8


def test_claim_prepare_task_hands_over_only_an_assessing_claim(media_root, no_assessment):
    # given a claim an adjuster already has (a late re-delivery of its preparation task)
    claim = ClaimFactory(submitted=True)
    PhotoFactory(claim=claim)
    services.claim_transition(claim=claim, to=Claim.Status.ASSESSING)
    services.claim_transition(claim=claim, to=Claim.Status.IN_REVIEW)

    tasks.claim_prepare_task(str(claim.pk))
    tasks.claim_prepare_task("6b1f1b55-0000-4000-8000-000000000000")  # and a vanished one

    assert no_assessment == []


def test_the_hand_over_names_the_assessment_stages_registered_task():
    from config.celery_app import app

    app.loader.import_default_modules()
    assert tasks.ASSESSMENT_START in app.tasks
    assert app.tasks[tasks.ASSESSMENT_START].__module__ == "assessment.tasks"
