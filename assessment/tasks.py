"""Celery tasks for assessment: thin, idempotent, with their own retry policy."""

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from assessment import services, shadow

# Database hiccups (restart, lock timeout, dropped connection) are retried with exponential
# backoff, at most ~10 minutes in all; the attempt counter bounds crashes separately.
TRANSIENT = (DatabaseError, InterfaceError)


@shared_task(
    name="assessment.assess_photo",
    autoretry_for=TRANSIENT,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=10,
    # Inference takes well under a second; 60 s soft / 90 s hard catch a hung decode while
    # staying far below the broker's visibility timeout (3600 s).
    soft_time_limit=60,
    time_limit=90,
)
def assess_photo_task(photo_id: str) -> None:
    services.photo_assess(photo_id=photo_id)


@shared_task(
    name="assessment.shadow_assess",
    autoretry_for=TRANSIENT,
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=3,
    # Same work as assess_photo; a shadow reading is optional, so fewer retries.
    soft_time_limit=60,
    time_limit=90,
)
def shadow_assess_task(photo_id: str, version: str) -> None:
    shadow.shadow_photo_assess(photo_id=photo_id, version=version)


@shared_task(
    name="assessment.start_claim",
    autoretry_for=TRANSIENT,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=10,
    # A few queries and one message per photo.
    soft_time_limit=30,
    time_limit=60,
)
def claim_assessment_start_task(claim_id: str) -> None:
    """The second link of intake's chain (``claims.tasks.claim_pipeline``): photos are
    prepared, so send each to the model."""
    services.claim_assessment_begin(claim_id=claim_id)
