"""Celery tasks of the learning stage: thin wrappers that load ids and call one service.

Task names were ``assessment.*`` before the learning app existed (issue 12). Messages already
queued under an old name still run: each old name is registered as a deprecated alias of the
new task, with the same limits, and logs a warning. Remove the aliases once no deployment can
hold a message older than the move (the broker keeps none longer than a day: the beat check
and retries re-send everything newer).
"""

import logging

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from learning import exports, runs
from learning.models import RetrainingRun

logger = logging.getLogger(__name__)

TRANSIENT = (DatabaseError, InterfaceError)

# A run records its own failure (RetrainingRun.status) and is never retried: a retry would
# repeat minutes of training for the same failure. The hard limit (55 min) stays below the
# broker's visibility timeout (3600 s) so a slow run is not delivered twice;
# CLAIMVISION_RETRAIN_STEPS keeps a run well inside it.
RETRAIN_LIMITS = {"soft_time_limit": 3000, "time_limit": 3300}
# Two counts and at most one insert: a few milliseconds.
RETRAIN_CHECK_LIMITS = {"soft_time_limit": 30, "time_limit": 60}
# An export streams every selected photo into a zip: minutes for tens of thousands of photos.
# 55 min soft / 58 min hard stays below the broker's visibility timeout (3600 s), so only a
# dead worker makes the broker hand the job out again. Runs on its own ``exports`` queue so a
# large export never delays claim assessment.
EXPORT_OPTIONS = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 3,
    "soft_time_limit": 3300,
    "time_limit": 3480,
}


def _retrain(run_id: int, options: dict | None = None) -> None:
    run = RetrainingRun.objects.filter(pk=run_id).first()
    if run is None or run.status != RetrainingRun.Status.QUEUED:
        return  # a re-delivery of a run that already started, ended or was cancelled
    config, force = runs.retrain_run_options(options)
    runs.retrain(run=run, trigger=run.trigger, config=config, force=force)


@shared_task(name="learning.retrain", **RETRAIN_LIMITS)
def retrain_task(run_id: int, options: dict | None = None) -> None:
    _retrain(run_id, options)


@shared_task(name="learning.retrain_check", **RETRAIN_CHECK_LIMITS)
def retrain_check_task() -> None:
    runs.retrain_check()


@shared_task(name="learning.export_labels", **EXPORT_OPTIONS)
def export_labels_task(export_id: int) -> None:
    exports.export_job_run(export_id=export_id)


# --------------------------------------------------------------------------- deprecated names


def _deprecated(old: str, new: str) -> None:
    logger.warning("task %s is deprecated: it runs as %s (queued before the move)", old, new)


@shared_task(name="assessment.retrain", **RETRAIN_LIMITS)
def retrain_task_deprecated(run_id: int, options: dict | None = None) -> None:
    _deprecated("assessment.retrain", retrain_task.name)
    _retrain(run_id, options)


@shared_task(name="assessment.retrain_check", **RETRAIN_CHECK_LIMITS)
def retrain_check_task_deprecated() -> None:
    _deprecated("assessment.retrain_check", retrain_check_task.name)
    runs.retrain_check()


@shared_task(name="assessment.export_labels", **EXPORT_OPTIONS)
def export_labels_task_deprecated(export_id: int) -> None:
    _deprecated("assessment.export_labels", export_labels_task.name)
    exports.export_job_run(export_id=export_id)
