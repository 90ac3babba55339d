"""Prometheus metrics (config.metrics, config.metrics_views): the endpoint's access rules, what
it exposes, Celery's task hooks, and multiprocess mode summing several processes' files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from claims.tests.factories import PASSWORD, AdjusterFactory, ClaimFactory, UserFactory
from config import metrics
from config.celery_app import app

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "scrape-token-for-tests"

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings) -> str:
    settings.CLAIMVISION_METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def single_process(monkeypatch):
    """This process's own values, whatever the environment running the tests says."""
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# ----------------------------------------------------------------------------- access


def test_metrics_without_credentials_is_401_with_a_bearer_challenge(token):
    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"claimvision_" not in response.content


def test_metrics_with_a_wrong_token_is_403(token):
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")

    assert response.status_code == 403
    assert b"claimvision_" not in response.content


def test_metrics_token_is_refused_when_none_is_configured(settings):
    settings.CLAIMVISION_METRICS_TOKEN = ""

    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 403


def test_metrics_are_refused_to_a_signed_in_adjuster(token):
    client = Client()
    client.login(username=AdjusterFactory().username, password=PASSWORD)

    assert client.get("/metrics").status_code == 403


def test_metrics_are_served_to_staff(token):
    client = Client()
    client.login(username=UserFactory(is_staff=True).username, password=PASSWORD)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"claimvision_claims" in response.content


def test_metrics_with_the_token_expose_every_metric(token, single_process):
    # given one claim in review and one task run in this process
    ClaimFactory(submitted=True, status="in_review")
    metrics.decision_count(outcome="auto_approved")
    metrics.review_decision_count(outcome="denied", contest=True)

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in (
        "claimvision_task_duration_seconds",
        "claimvision_task_failures_total",
        "claimvision_task_retries_total",
        "claimvision_tasks_running",
        "claimvision_decisions_total",
        "claimvision_review_decisions_total",
        "claimvision_model_inference_seconds",
        "claimvision_queue_depth",
        "claimvision_broker_up",
        "claimvision_claims",
    ):
        assert f"# TYPE {name} " in text, name
    assert 'claimvision_claims{status="in_review"} 1.0' in text
    assert 'claimvision_review_decisions_total{contest="true",outcome="denied"}' in text
    assert "claimvision_broker_up 1.0" in text  # the test run's broker
    for queue in ("assessment", "claims", "exports", "shadow", "training"):
        assert f'claimvision_queue_depth{{queue="{queue}"}}' in text


# ----------------------------------------------------------------------------- queue depth


def test_queue_depth_counts_waiting_messages_of_every_priority(settings):
    client = metrics.broker_client(settings.CELERY_BROKER_URL)
    queue = "metrics-test-queue"
    client.delete(queue, f"{queue}\x06\x163")
    client.lpush(queue, "a", "b")
    client.lpush(f"{queue}\x06\x163", "c")
    try:
        collected = {
            family.name: family for family in metrics.BrokerQueueCollector(queues=[queue]).collect()
        }
    finally:
        client.delete(queue, f"{queue}\x06\x163")

    assert [s.value for s in collected["claimvision_broker_up"].samples] == [1]
    assert [(s.labels, s.value) for s in collected["claimvision_queue_depth"].samples] == [
        ({"queue": queue}, 3)
    ]


def test_queue_depth_reports_a_broker_that_is_down_without_failing(tmp_path):
    collector = metrics.BrokerQueueCollector(
        url=f"redis+socket://{tmp_path / 'absent.sock'}", queues=["claims"]
    )

    families = {family.name: family for family in collector.collect()}

    assert [s.value for s in families["claimvision_broker_up"].samples] == [0]
    assert "claimvision_queue_depth" not in families


# ----------------------------------------------------------------------------- Celery hooks


@app.task(name="tests.metrics.fails")
def _failing_task(claim_id: str) -> None:
    raise RuntimeError("boom")


_flaky_calls: list[int] = []


@app.task(name="tests.metrics.flaky", bind=True, max_retries=2)
def _flaky_task(self) -> str:
    _flaky_calls.append(1)
    if len(_flaky_calls) == 1:
        raise self.retry(countdown=0)
    return "done"


def test_task_failure_is_counted_and_timed():
    failures = _value("claimvision_task_failures_total", task="tests.metrics.fails")
    runs = _value("claimvision_task_duration_seconds_count", task="tests.metrics.fails")

    result = _failing_task.apply(args=("c-1",))

    assert result.failed()
    assert _value("claimvision_task_failures_total", task="tests.metrics.fails") == failures + 1
    assert _value("claimvision_task_duration_seconds_count", task="tests.metrics.fails") == (
        runs + 1
    )
    assert _value("claimvision_tasks_running", task="tests.metrics.fails") == 0


def test_task_retry_is_counted():
    _flaky_calls.clear()
    retries = _value("claimvision_task_retries_total", task="tests.metrics.flaky")
    failures = _value("claimvision_task_failures_total", task="tests.metrics.flaky")

    _flaky_task.apply()

    assert len(_flaky_calls) == 2
    assert _value("claimvision_task_retries_total", task="tests.metrics.flaky") == retries + 1
    assert _value("claimvision_task_failures_total", task="tests.metrics.flaky") == failures


# ----------------------------------------------------------------------------- multiprocess

_WRITER = """
import os
from config import metrics
metrics.decision_count(outcome="auto_approved")
for _ in range(int(os.environ["DECISIONS"]) - 1):
    metrics.decision_count(outcome="auto_approved")
metrics.TASKS_RUNNING.labels(task="assessment.assess_photo").inc()  # never decremented: a crash
with metrics.inference_timer(model_version="v1"):
    pass
print(os.getpid())
"""


def _write_in_subprocess(folder: Path, decisions: int) -> int:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(folder), "DECISIONS": str(decisions)}
    done = subprocess.run(
        [sys.executable, "-c", _WRITER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def test_multiprocess_mode_sums_every_process_and_drops_dead_live_gauges(tmp_path, monkeypatch):
    # given two processes (two gunicorn or pool workers) that wrote to one folder
    folder = tmp_path / "prometheus"
    first = _write_in_subprocess(folder, decisions=2)
    second = _write_in_subprocess(folder, decisions=3)
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))

    # when one scrape reads the folder
    registry = metrics.scrape_registry()

    # then counters and histograms are summed over both, and so is the live gauge
    decided = registry.get_sample_value("claimvision_decisions_total", {"outcome": "auto_approved"})
    assert decided == 5
    timed = registry.get_sample_value(
        "claimvision_model_inference_seconds_count", {"model_version": "v1"}
    )
    assert timed == 2
    running = {"task": "assessment.assess_photo"}
    assert registry.get_sample_value("claimvision_tasks_running", running) == 2

    # and once the first process is marked dead, its running task is no longer counted
    metrics.process_dead(first)
    after = metrics.scrape_registry()
    assert after.get_sample_value("claimvision_tasks_running", running) == 1
    assert after.get_sample_value("claimvision_decisions_total", {"outcome": "auto_approved"}) == 5
    assert second != first


def test_metrics_endpoint_reads_the_multiprocess_folder(tmp_path, monkeypatch, token):
    folder = tmp_path / "prometheus"
    _write_in_subprocess(folder, decisions=4)
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert 'claimvision_decisions_total{outcome="auto_approved"} 4.0' in response.content.decode()


def test_gunicorn_config_empties_the_folder_and_marks_exited_workers_dead(tmp_path, monkeypatch):
    import runpy

    folder = tmp_path / "prometheus"
    pid = _write_in_subprocess(folder, decisions=1)
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))
    hooks = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))

    hooks["child_exit"](None, type("Worker", (), {"pid": pid})())
    assert not list(folder.glob(f"gauge_live*_{pid}.db"))
    assert list(folder.glob(f"counter_{pid}.db"))

    hooks["on_starting"](None)
    assert list(folder.glob("*.db")) == []


# ----------------------------------------------------------------------------- worker hosts


def _call(app, **environ) -> tuple[str, bytes]:
    from wsgiref.util import setup_testing_defaults

    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, headers: status.append(s)))
    return status[0], body


def test_exporter_serves_the_workers_folder_to_the_token_only(tmp_path, monkeypatch):
    from config.metrics_exporter import exporter_app

    folder = tmp_path / "prometheus"
    _write_in_subprocess(folder, decisions=3)
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))
    app = exporter_app(TOKEN)

    anonymous = _call(app, PATH_INFO="/metrics")
    wrong = _call(app, PATH_INFO="/metrics", HTTP_AUTHORIZATION="Bearer nope")
    allowed = _call(app, PATH_INFO="/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert anonymous[0].startswith("401") and b"claimvision_" not in anonymous[1]
    assert wrong[0].startswith("401")
    assert allowed[0].startswith("200")
    assert b'claimvision_decisions_total{outcome="auto_approved"} 3.0' in allowed[1]


def test_exporter_refuses_to_start_without_a_token_or_a_folder(monkeypatch, tmp_path, capsys):
    from config.metrics_exporter import ERR_NO_FOLDER, ERR_SCRAPE_AUTH_UNSET, main

    monkeypatch.delenv("CLAIMVISION_METRICS_TOKEN", raising=False)
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    assert main([]) == 2
    assert ERR_SCRAPE_AUTH_UNSET in capsys.readouterr().err

    monkeypatch.setenv("CLAIMVISION_METRICS_TOKEN", TOKEN)
    monkeypatch.delenv(metrics.MULTIPROC_ENV)
    assert main([]) == 2
    assert ERR_NO_FOLDER in capsys.readouterr().err
