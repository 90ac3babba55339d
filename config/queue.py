"""Sending Celery tasks from services: after the commit, and never failing committed work.

A task is sent only once the transaction that made its input committed (a worker must find the
rows). If the broker is down at that moment, Celery's publish retries
(``CELERY_TASK_PUBLISH_RETRY_POLICY``) run out in about a second, the failure is logged and the
request still succeeds: its data is committed, and the periodic sweeper re-sends any claim whose
processing has not moved (claims.services.claims_sweep_stuck). A customer never gets a 500 for a
claim that was in fact submitted.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def send_on_commit(task, *args) -> None:
    """``task.delay(*args)`` once the current transaction commits. ``task`` is a task or a
    signature (a task named by a later stage, ``claims.tasks.assessment_start_send``)."""

    def send() -> None:
        try:
            task.delay(*args)
        except (BrokerUnavailable, OSError):
            logger.exception(
                "broker unavailable: %s%r not sent; the sweeper will send it", task.name, args
            )

    transaction.on_commit(send)
