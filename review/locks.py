"""Review locks: the one adjuster who may change a claim in review, and the guards every review
write runs under (the row lock on the claim, the status check, the renewed review lock), with the
adjuster's active time each write records.

Labels (review.labels) and the decision (review.services) take these guards inside their own
transaction, so a lock check and the write it guards cannot interleave with another adjuster's.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assessment.contests import require_senior_for_contest
from claims.models import Claim, Photo
from config.errors import ConflictError
from review.models import ActiveTime, ReviewLock

logger = logging.getLogger(__name__)

ERR_CLAIM_LOCKED = "{name} is reviewing this claim (until {until})."
ERR_LOCK_REQUIRED = "Open the claim to take it before changing it: you do not hold its lock."
ERR_NOT_IN_REVIEW = "This claim is not waiting for an adjuster (it is {status})."


def _lock_duration() -> timedelta:
    return timedelta(minutes=settings.CLAIMVISION_REVIEW_LOCK_MINUTES)


def _display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _locked_error(lock: ReviewLock) -> ConflictError:
    until = timezone.localtime(lock.expires_at).strftime("%H:%M")
    return ConflictError(
        ERR_CLAIM_LOCKED.format(name=_display_name(lock.adjuster), until=until),
        code="claim_locked",
        details={
            "adjuster": lock.adjuster.get_username(),
            "expires_at": lock.expires_at.isoformat(),
        },
    )


def claim_for_update(claim: Claim) -> Claim:
    return Claim.objects.select_for_update().get(pk=claim.pk)


def require_in_review(claim: Claim) -> None:
    if claim.status != Claim.Status.IN_REVIEW:
        raise ConflictError(
            ERR_NOT_IN_REVIEW.format(status=claim.get_status_display().lower()),
            code="claim_not_in_review",
            details={"status": claim.status},
        )


def require_lock(claim: Claim, adjuster, now: datetime) -> ReviewLock:
    """The caller's lock on ``claim`` (renewed), or 409.

    A lock of the caller's that lapsed but that nobody took over still counts: taking over
    replaces the row, so while it names the caller nobody else can have written in between.
    """
    lock = ReviewLock.objects.select_related("adjuster").filter(claim=claim).first()
    if lock is None or lock.adjuster_id != adjuster.pk:
        if lock is not None and lock.expires_at > now:
            raise _locked_error(lock)
        raise ConflictError(ERR_LOCK_REQUIRED, code="claim_locked")
    lock.expires_at = now + _lock_duration()
    lock.save(update_fields=["expires_at"])
    return lock


def record_active_time(claim: Claim, adjuster, active_ms: int, photo: Photo | None = None):
    if active_ms > 0:
        ActiveTime.objects.create(claim=claim, photo=photo, adjuster=adjuster, active_ms=active_ms)


def review_lock_take(*, claim: Claim, adjuster, active_ms: int = 0, now=None) -> ReviewLock:
    """Take or renew the lock on a claim in review; a live lock of someone else's is a 409,
    a lapsed one is taken over. A contested claim is taken by a senior adjuster only (403)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = claim_for_update(claim)
        require_in_review(locked)
        require_senior_for_contest(claim=locked, adjuster=adjuster)
        lock = ReviewLock.objects.select_related("adjuster").filter(claim=locked).first()
        if lock is not None and lock.adjuster_id != adjuster.pk and lock.expires_at > now:
            raise _locked_error(lock)
        if lock is None:
            lock = ReviewLock(claim=locked, taken_at=now)
        elif lock.adjuster_id != adjuster.pk:
            logger.info(
                "claim %s: %s takes over the lapsed lock of %s",
                locked.reference,
                adjuster.get_username(),
                lock.adjuster.get_username(),
            )
            lock.taken_at = now
        lock.adjuster = adjuster
        lock.expires_at = now + _lock_duration()
        lock.save()
        record_active_time(locked, adjuster, active_ms)
    return lock


def review_lock_release(*, claim: Claim, adjuster, now=None) -> None:
    """Give the claim back. Releasing a lock one does not hold is a no-op unless someone else
    holds it live (409: a screen must not believe it released another adjuster's lock)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Claim.objects.select_for_update().filter(pk=claim.pk).first()
        if locked is None:  # the claim is gone (deleted by staff): nothing left to release
            return
        lock = ReviewLock.objects.select_related("adjuster").filter(claim=locked).first()
        if lock is None:
            return
        if lock.adjuster_id != adjuster.pk:
            if lock.expires_at > now:
                raise _locked_error(lock)
            return
        lock.delete()
