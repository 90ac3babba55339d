"""Metrics and log ids from a real Celery worker: its pool process writes task, model and
decision metrics into the shared multiprocess folder, a scrape in another process reads them,
its log lines carry the claim, and a stopped worker leaves no task counted as running."""

import pytest

from assessment.models import Decision
from claims.models import Claim
from config import metrics
from tests.integration.conftest import wait_for
from tests.integration.test_assessment_worker import (  # noqa: F401 - the fixture
    DECIDED,
    _client,
    _submitted_claim,
    active_model,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_metrics_reach_a_scrape_through_the_multiprocess_folder(
    active_model, start_worker, worker_env, tmp_path, monkeypatch
):
    # given a worker writing its metrics into a multiprocess folder, as make run and gunicorn do
    folder = tmp_path / "prometheus"
    worker_env[metrics.MULTIPROC_ENV] = str(folder)
    worker = start_worker()

    # when a claim with two photos is decided by it
    claim_id = _submitted_claim(_client(), 2)
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision",
        worker=worker,
    )
    outcome = Decision.objects.get(claim_id=claim_id).outcome
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))
    registry = metrics.scrape_registry()

    # then the scrape (another process) sees what the worker's pool process counted
    def value(name, **labels):
        return registry.get_sample_value(name, labels) or 0

    assert value("claimvision_decisions_total", outcome=outcome) == 1
    assert value("claimvision_task_duration_seconds_count", task="assessment.assess_photo") == 2
    assert value("claimvision_task_duration_seconds_count", task="claims.prepare_claim") == 1
    assert value("claimvision_task_failures_total", task="assessment.assess_photo") == 0
    version = active_model.version
    assert value("claimvision_model_inference_seconds_count", model_version=version) == 2
    # and the worker's log lines of that claim's tasks carry its id
    assert f"claim_id={claim_id}" in worker.output()

    # and a worker that stopped leaves no task counted as running
    worker.stop()
    assert list(folder.glob("gauge_livesum_*.db")) == []
    after = metrics.scrape_registry()
    assert after.get_sample_value("claimvision_decisions_total", {"outcome": outcome}) == 1
