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
    from assessment import learning

    learning.shadow_photo_assess(photo_id=photo_id, version=version)


@shared_task(
    name="assessment.retrain",
    # A run records its own failure (RetrainingRun.status) and is never retried: a retry would
    # repeat minutes of training for the same failure. The hard limit (55 min) stays below the
    # broker's visibility timeout (3600 s) so a slow run is not delivered twice;
    # CLAIMVISION_RETRAIN_STEPS keeps a run well inside it.
    soft_time_limit=3000,
    time_limit=3300,
)
def retrain_task(run_id: int, options: dict | None = None) -> None:
    from assessment import learning
    from assessment.models import RetrainingRun

    run = RetrainingRun.objects.filter(pk=run_id).first()
    if run is None or run.status != RetrainingRun.Status.QUEUED:
        return  # a re-delivery of a run that already started, ended or was cancelled
    config, force = learning.retrain_run_options(options)
    learning.retrain(run=run, trigger=run.trigger, config=config, force=force)


@shared_task(
    name="assessment.retrain_check",
    # Two counts and at most one insert: a few milliseconds.
    soft_time_limit=30,
    time_limit=60,
)
def retrain_check_task() -> None:
    from assessment import learning

    learning.retrain_check()


@shared_task(
    name="assessment.export_labels",
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=3,
    # An export streams every selected photo into a zip: minutes for tens of thousands of
    # photos. 55 min soft / 58 min hard stays below the broker's visibility timeout (3600 s),
    # so only a dead worker makes the broker hand the job out again. Runs on its own
    # ``exports`` queue so a large export never delays claim assessment.
    soft_time_limit=3300,
    time_limit=3480,
)
def export_labels_task(export_id: int) -> None:
    from assessment import exports

    exports.export_job_run(export_id=export_id)
