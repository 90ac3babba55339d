"""Assessment with real workers: decisions, a killed worker, two workers, a locked database,
a broker restarted, crashed or down at submit. Every test ends by checking there is exactly
one of everything."""

import io
import os
import sqlite3
import subprocess
import threading
import time

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from PIL import Image
from rest_framework.test import APIClient

from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Decision,
    PhotoAssessment,
    PhotoAssessmentAttempt,
)
from claims.models import Claim
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DECIDED = {Claim.Status.AUTO_DECIDED, Claim.Status.IN_REVIEW}


@pytest.fixture
def active_model(tmp_path_factory):
    """The bundled model (ml.inference.DEFAULT_MODEL_DIR, whichever it is) when it is there,
    else a tiny exported one: the pipeline is the same either way."""
    from assessment.model_versions import model_version_register
    from ml.inference import DEFAULT_MODEL_DIR

    if (DEFAULT_MODEL_DIR / "model.json").exists():
        return model_version_register(model_dir=DEFAULT_MODEL_DIR, activate=True)
    from ml.tests.model_fixtures import export_tiny

    return model_version_register(
        model_dir=export_tiny(tmp_path_factory.mktemp("tiny-model")), activate=True
    )


def _photo(seed: int) -> io.BytesIO:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:900, 0:1200]
    base = 120 + 50 * np.sin(x / 90.0 + seed) * np.cos(y / 70.0)
    pixels = np.stack([base, base * 0.8, base * 0.6], -1) + rng.normal(0, 12, (900, 1200, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
    out.seek(0)
    out.name = f"photo-{seed}.jpg"
    return out


def _client(name: str = "erin") -> APIClient:
    user = get_user_model().objects.create_user(name, password="not-used-pass-123")
    user.groups.add(Group.objects.get_or_create(name="customer")[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def _submitted_claim(client: APIClient, photos: int, *, submit: bool = True) -> str:
    response = client.post(
        "/api/v1/claims/",
        {
            "policy_number": "POL-445566",
            "vehicle_make": "Fiat",
            "vehicle_model": "Panda",
            "vehicle_year": 2018,
            "incident_date": "2026-10-30",
        },
        format="json",
    )
    claim_id = response.json()["id"]
    for seed in range(photos):
        upload = client.post(
            f"/api/v1/claims/{claim_id}/photos/", {"image": _photo(seed)}, format="multipart"
        )
        assert upload.status_code == 201, upload.content
    if submit:
        assert client.post(f"/api/v1/claims/{claim_id}/submit/").status_code == 202
    return claim_id


def _assert_exactly_one_of_everything(claim_id: str, photos: int) -> None:
    claim = Claim.objects.get(pk=claim_id)
    assert claim.status in DECIDED
    assert PhotoAssessment.objects.filter(photo__claim=claim).count() == photos
    assert ClaimAssessment.objects.filter(claim=claim).count() == 1
    assert Decision.objects.filter(claim=claim).count() == 1
    assert AuditRecord.objects.filter(claim_id=claim.pk).count() == 1


def test_real_worker_assesses_photos_and_decides_the_claim(active_model, start_worker):
    worker = start_worker()
    client = _client()
    claim_id = _submitted_claim(client, 3)

    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision",
        worker=worker,
    )

    _assert_exactly_one_of_everything(claim_id, 3)
    stored = PhotoAssessment.objects.filter(photo__claim_id=claim_id)
    assert set(stored.values_list("model_version__version", flat=True)) == {active_model.version}
    assert ClaimAssessment.objects.get(claim_id=claim_id).currency == "EUR"
    decided = Decision.objects.get(claim_id=claim_id)
    assert decided.model_version.version == active_model.version
    body = client.get(f"/api/v1/claims/{claim_id}/").json()
    assert "model_version" not in body["decision"]  # internal: staff read it
    assert body["decision"]["automatic"] is (body["status"] == "auto_decided")
    if body["status"] == "auto_decided":  # the model's record is the claim's
        assert body["assessment"]["currency"] == "EUR"
    else:  # in review: customers see nothing the model alone stands behind
        assert body["assessment"] is None


def test_worker_killed_mid_inference_reruns_task_and_stores_one_assessment(
    active_model, start_worker, worker_env
):
    # given a worker that is slow inside the task (fault injection) and a submitted claim
    worker_env["CLAIMVISION_ASSESS_DELAY_S"] = "4"
    worker = start_worker()
    claim_id = _submitted_claim(_client(), 1)
    wait_for(
        lambda: PhotoAssessmentAttempt.objects.filter(photo__claim_id=claim_id).exists(),
        timeout=60,
        what="the assessment to start",
        worker=worker,
    )

    # when its pool process is killed with SIGKILL in the middle of the task
    children = subprocess.run(
        ["pgrep", "-P", str(worker.proc.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert children, "the worker has no pool process to kill"
    for pid in children:
        os.kill(int(pid), 9)

    # then the task is delivered again and exactly one assessment exists
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision after the kill",
        worker=worker,
    )
    _assert_exactly_one_of_everything(claim_id, 1)
    attempt = PhotoAssessmentAttempt.objects.get(photo__claim_id=claim_id)
    assert attempt.attempts == 2
    assert "WorkerLostError" in worker.output() or "exited" in worker.output()


def test_two_workers_on_one_claim_make_one_claim_assessment_and_one_decision(
    active_model, start_worker
):
    workers = [start_worker(), start_worker()]
    claim_id = _submitted_claim(_client(), 6)

    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=180,
        what="a decision",
        worker=workers[0],
    )

    _assert_exactly_one_of_everything(claim_id, 6)
    busy = [w for w in workers if "assessment.assess_photo" in w.output()]
    assert len(busy) == 2, "both workers should have taken photos of the claim"


def _hold_write_lock(seconds: float, started: threading.Event) -> None:
    """Make the database refuse writes for a while, as an overloaded or restarting one does."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        db = sqlite3.connect(settings_dict["NAME"], timeout=30, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        started.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()
        return
    import psycopg

    with (
        psycopg.connect(
            host=settings_dict["HOST"] or "127.0.0.1",
            port=settings_dict["PORT"] or 5432,
            user=settings_dict["USER"] or "postgres",
            dbname=settings_dict["NAME"],
            password=settings_dict.get("PASSWORD") or None,
        ) as db,
        db.transaction(),
    ):
        db.execute("LOCK TABLE assessment_photoassessment IN ACCESS EXCLUSIVE MODE")
        started.set()
        time.sleep(seconds)


def test_database_unavailable_while_result_is_written_retries_without_partial_rows(
    active_model, start_worker, worker_env
):
    # given a worker whose database calls give up fast, and a slow task
    worker_env["CLAIMVISION_ASSESS_DELAY_S"] = "2"
    worker_env["SQLITE_BUSY_TIMEOUT"] = "1"
    worker_env["DATABASE_LOCK_TIMEOUT_MS"] = "1000"
    worker = start_worker()
    claim_id = _submitted_claim(_client(), 1)
    wait_for(
        lambda: PhotoAssessmentAttempt.objects.filter(photo__claim_id=claim_id).exists(),
        timeout=60,
        what="the assessment to start",
        worker=worker,
    )

    # when the database refuses writes while the result is being written
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(6.0, started))
    holder.start()
    started.wait(10)
    time.sleep(3)
    assert PhotoAssessment.objects.filter(photo__claim_id=claim_id).count() == 0
    holder.join()

    # then the task retried and the result is whole
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision after the outage",
        worker=worker,
    )
    _assert_exactly_one_of_everything(claim_id, 1)
    assert "Retry in" in worker.output()
    assessment = PhotoAssessment.objects.get(photo__claim_id=claim_id)
    assert assessment.regions.count() == len({r.index for r in assessment.regions.all()})


def _every_claim_decided_once(claim_ids: list[str], worker) -> None:
    wait_for(
        lambda: (
            set(Claim.objects.filter(pk__in=claim_ids).values_list("status", flat=True)) <= DECIDED
        ),
        timeout=180,
        what="every claim to be decided",
        worker=worker,
    )
    for claim_id in claim_ids:
        _assert_exactly_one_of_everything(claim_id, 1)


@pytest.fixture
def private_broker(worker_env, tmp_path_factory):
    """A Redis server of this test's own (the embedded default's, config.broker), for the test
    process and its workers alike, so restarting or crashing it disturbs nothing else."""
    from django.conf import settings
    from kombu import pools

    from config.broker import EmbeddedBroker
    from config.celery_app import app

    brokers = []

    def use(url: str) -> None:
        pools.reset()  # kombu's connection pools are global, keyed by URL: start afresh
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.broker_url = url

    def start(*, persistent: bool):
        broker = EmbeddedBroker(tmp_path_factory.mktemp("rb"), persistent=persistent).start()
        brokers.append(broker)
        worker_env.pop("REDIS_URL", None)
        worker_env["CLAIMVISION_BROKER_SOCKET"] = str(broker.socket)
        use(broker.url)
        return broker

    previous = app.conf.broker_url
    yield start
    use(previous)
    settings.CELERY_BROKER_URL = previous
    for broker in brokers:
        broker.stop()


def test_broker_restart_keeps_the_queued_tasks_and_every_claim_is_decided(
    active_model, start_worker, private_broker
):
    # given the embedded default's broker (append-only file) with three claims' tasks waiting
    broker = private_broker(persistent=True)
    client = _client()
    claim_ids = [_submitted_claim(client, 1) for _ in range(3)]
    time.sleep(1.5)  # the append-only file is flushed every second

    # when it is restarted before any worker took them
    broker.restart()
    worker = start_worker()

    # then the tasks were still there: every claim is decided without the sweeper
    _every_claim_decided_once(claim_ids, worker)


def test_broker_crash_that_loses_the_queue_is_recovered_by_the_sweeper(
    active_model, start_worker, private_broker, settings
):
    # given a broker without persistence (as a Redis service may be) and three claims queued
    broker = private_broker(persistent=False)
    client = _client()
    claim_ids = [_submitted_claim(client, 1) for _ in range(3)]

    # when it crashes and comes back empty
    broker.kill()
    broker.start()
    worker = start_worker()

    # then the sweeper re-sends the stuck claims and all of them are decided
    from claims.services import claims_sweep_stuck

    settings.CLAIMVISION_STUCK_AFTER_SECONDS = 0
    assert sorted(claims_sweep_stuck()) == sorted(claim_ids)
    _every_claim_decided_once(claim_ids, worker)


def test_broker_down_at_submit_the_claim_is_accepted_and_decided_once_it_is_back(
    active_model, start_worker, private_broker, settings
):
    # given a broker that is down when the customer submits
    broker = private_broker(persistent=True)
    client = _client()
    claim_id = _submitted_claim(client, 1, submit=False)
    broker.kill()

    response = client.post(f"/api/v1/claims/{claim_id}/submit/")
    assert response.status_code == 202, response.content

    # then nothing was sent; once the broker is back, the sweeper sends the claim and it is
    # decided
    broker.start()
    import redis

    assert redis.Redis(unix_socket_path=str(broker.socket)).llen("claims") == 0
    worker = start_worker()
    from claims.services import claims_sweep_stuck

    settings.CLAIMVISION_STUCK_AFTER_SECONDS = 0
    assert claims_sweep_stuck() == [claim_id]
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision",
        worker=worker,
    )
    _assert_exactly_one_of_everything(claim_id, 1)
