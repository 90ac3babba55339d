"""Celery tasks for claims: thin wrappers that load ids and call one service.

This module is also intake's one hand-over to the next stage (docs/architecture.md,
"Orchestration"): once a claim's photos are prepared, :func:`assessment_start_send` sends the
task named :data:`ASSESSMENT_START`. Named, not imported, so claims imports nothing of a later
stage; ``assessment/tasks.py`` defines that task and ``tests/test_layers.py`` checks the name is
registered. The sweeper re-sends ``claims.prepare_claim`` for a claim stuck in ``submitted`` or
``assessing``, and preparation is idempotent, so a lost hand-over is sent again.
"""

import logging

from celery import shared_task, signature
from django.db import DatabaseError, InterfaceError

from claims import services
from claims.models import Claim
from config.queue import send_on_commit

logger = logging.getLogger(__name__)

# Transient failures (database restarting, connection dropped) are retried with exponential
# backoff up to ~10 minutes in total; anything else is a bug and is logged, not looped.
TRANSIENT = (DatabaseError, InterfaceError, OSError)


@shared_task(
    name="claims.prepare_claim",
    bind=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=8,
)
def claim_prepare_task(self, claim_id: str) -> None:
    claim = services.claim_prepare(claim_id=claim_id)
    if claim is not None and claim.status == Claim.Status.ASSESSING:
        assessment_start_send(str(claim.pk))


# The first task of the assessment stage: it sends each prepared photo to the model.
ASSESSMENT_START = "assessment.start_claim"


def assessment_start_send(claim_id: str) -> None:
    """Hand a prepared claim to the assessment stage (after commit; a broker outage is logged
    and the sweeper sends the claim again)."""
    send_on_commit(signature(ASSESSMENT_START, args=(claim_id,)))


@shared_task(name="claims.sweep_stuck_claims", ignore_result=True)
def claims_sweep_stuck_task() -> None:
    services.claims_sweep_stuck()
