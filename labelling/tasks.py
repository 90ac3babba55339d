"""Celery tasks for labelling: thin, idempotent, with assessment's retry policy; the sweeper
sends items stuck in pre-labelling again (beat, ``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task

from assessment.tasks import TRANSIENT
from labelling import services


@shared_task(
    name="labelling.prelabel_item",
    autoretry_for=TRANSIENT,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=10,
    # Acknowledged after the work, so a worker killed mid-inference leaves the message for
    # another (the work is idempotent per item and model version).
    acks_late=True,
    # The same inference as assessment.assess_photo (well under a second): 60 s soft / 90 s
    # hard catch a hung decode, far below the broker's visibility timeout (3600 s).
    soft_time_limit=60,
    time_limit=90,
)
def prelabel_item_task(item_id: str) -> None:
    services.item_prelabel(item_id=item_id)


@shared_task(name="labelling.sweep_stuck_items", ignore_result=True)
def items_sweep_stuck_task() -> None:
    services.items_sweep_stuck()
