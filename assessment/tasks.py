"""Celery tasks for assessment: thin, idempotent, with their own retry policy."""

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from assessment import services

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
