"""Assessment's metrics and log ids: decisions counted by outcome once committed, the model's
time per photo, and a photo task's log lines carrying its claim."""

import logging

import pytest
from prometheus_client import REGISTRY

from assessment import services
from assessment.tasks import assess_photo_task
from assessment.tests.conftest import region
from config.log_context import LogContextFilter

pytestmark = pytest.mark.django_db


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _decisions() -> dict[str, float]:
    return {
        outcome: _value("claimvision_decisions_total", outcome=outcome)
        for outcome in ("auto_approved", "no_damage", "routed_to_review")
    }


def _assess_all(claim) -> None:
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)


def test_auto_decided_claim_counts_one_auto_approval_and_times_each_photo(
    segmenter, assessing_claim, django_capture_on_commit_callbacks
):
    segmenter.regions = [region("dent", 0.95, "minor")]
    before = _decisions()
    timed = _value("claimvision_model_inference_seconds_count", model_version="test-v1")

    with django_capture_on_commit_callbacks(execute=True):
        _assess_all(assessing_claim)

    assert _decisions() == {**before, "auto_approved": before["auto_approved"] + 1}
    assert _value("claimvision_model_inference_seconds_count", model_version="test-v1") == (
        timed + 2
    )


def test_unsure_claim_counts_one_routing_to_review(
    segmenter, assessing_claim, django_capture_on_commit_callbacks
):
    segmenter.photo_confidence = 0.4
    segmenter.regions = [region("glass_shatter", 0.5, "severe")]
    before = _decisions()

    with django_capture_on_commit_callbacks(execute=True):
        _assess_all(assessing_claim)

    assert _decisions() == {**before, "routed_to_review": before["routed_to_review"] + 1}


def test_decision_is_not_counted_before_its_transaction_commits(
    segmenter, assessing_claim, django_capture_on_commit_callbacks
):
    segmenter.regions = [region("dent", 0.95, "minor")]
    before = _decisions()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _assess_all(assessing_claim)

    assert _decisions() == before  # rolled back here: never committed, never counted
    assert callbacks


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(LogContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_photo_task_logs_carry_task_photo_and_claim_ids(segmenter, assessing_claim):
    segmenter.regions = [region("dent", 0.95, "minor")]
    photos = list(assessing_claim.photos.all())
    handler = _Records()
    services_logger = logging.getLogger("assessment.services")
    services_logger.addHandler(handler)
    try:
        services.photo_assess(photo_id=photos[0].pk)
        result = assess_photo_task.apply(args=(str(photos[1].pk),))  # decides the claim
    finally:
        services_logger.removeHandler(handler)

    decided = [r for r in handler.records if assessing_claim.reference in r.getMessage()]
    assert len(decided) == 1
    assert decided[0].task_id == result.id
    assert decided[0].photo_id == str(photos[1].pk)
    assert decided[0].claim_id == str(assessing_claim.pk)
    assert f"claim_id={assessing_claim.pk}" in decided[0].log_context
