"""Celery tasks for claims: thin wrappers that load ids and call one service."""

import logging

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from claims import services

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
    services.claim_prepare(claim_id=claim_id)


@shared_task(name="claims.sweep_stuck_claims", ignore_result=True)
def claims_sweep_stuck_task() -> None:
    services.claims_sweep_stuck()
