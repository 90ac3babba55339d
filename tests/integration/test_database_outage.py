"""PostgreSQL stopped and restarted under real processes: a gunicorn server during an upload, a
Celery worker while it writes an assessment. Each test runs on a private cluster of its own
(tests/integration/private_postgres.py), never the machine's PostgreSQL.

Measured timings are printed (``-s``) and recorded as junit properties.
"""

import os
import re
import threading
import time
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
import requests

from claims.tests.helpers import files_under
from config.errors import DATABASE_RETRY_AFTER_S, ERR_DATABASE_UNAVAILABLE, error_body
from tests.integration.conftest import WorkerProcess, wait_for
from tests.integration.private_postgres import (
    ServerProcess,
    manage,
    orm_on,
    private_cluster,
    reconnect,
)
from tests.integration.test_assessment_worker import DECIDED, _assert_exactly_one_of_everything
from tests.integration.test_assessment_worker import _photo as photo_file

pytestmark = pytest.mark.integration

PASSWORD = "a-Long-outage-passphrase-42"
# Long enough to stop the cluster while the server sleeps between storing a photo's files and
# writing its row (CLAIMVISION_UPLOAD_DELAY_S); each upload waits this long.
UPLOAD_DELAY_S = 3.0
# The worker sleeps this long before inference (CLAIMVISION_ASSESS_DELAY_S): the restart (well
# under a second for a fast stop plus start) ends inside it, so the result write that follows
# meets a connection the restart terminated.
ASSESS_DELAY_S = 4.0
DOWN_FOR_S = 1.0
EXPECTED_503 = error_body(
    "service_unavailable",
    ERR_DATABASE_UNAVAILABLE.format(wait=DATABASE_RETRY_AFTER_S),
    {"retry_after": DATABASE_RETRY_AFTER_S},
)

REGISTER_MODEL = """
from pathlib import Path
from assessment.model_versions import model_version_register
from ml.inference import DEFAULT_MODEL_DIR
model_dir = DEFAULT_MODEL_DIR
if not (model_dir / "model.json").exists():
    from ml.tests.model_fixtures import export_tiny
    model_dir = export_tiny(Path({tiny_dir!r}))
model_version_register(model_dir=model_dir, activate=True)
"""


def _private_broker_env() -> dict:
    """A Redis database of this test run's own, so no other run's worker takes its tasks (and no
    purge elsewhere loses them). Without REDIS_URL the embedded default's broker, already
    private to the run, is inherited as it is."""
    base = os.environ.get("REDIS_URL")
    if not base:
        return {}
    parsed = urlparse(base)
    return {"REDIS_URL": urlunparse(parsed._replace(path=f"/{8 + os.getpid() % 8}"))}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One private cluster for the module, with a migrated template database (with the model
    registered); every test gets a fresh copy of it."""
    with private_cluster() as cluster:
        cluster.execute("CREATE DATABASE cv_template")
        env = {
            **os.environ,
            "DATABASE_URL": cluster.url("cv_template"),
            "CLAIMVISION_MEDIA_ROOT": str(tmp_path_factory.mktemp("template-media")),
        }
        manage(env, "migrate", "--noinput")
        tiny_dir = tmp_path_factory.mktemp("tiny-model")
        manage(env, "shell", "-c", REGISTER_MODEL.format(tiny_dir=str(tiny_dir)))
        yield cluster


@pytest.fixture
def database(cluster) -> str:
    name = f"cv_{uuid.uuid4().hex[:12]}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE cv_template")
    return name


def _env(cluster, dbname: str, media, **extra: str) -> dict:
    env = dict(os.environ)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(
        DATABASE_URL=cluster.url(dbname),
        CLAIMVISION_MEDIA_ROOT=str(media),
        PYTHONUNBUFFERED="1",
        DJANGO_DEBUG="0",  # as deployed: Django's own 500 handling, not the debug page
        **_private_broker_env(),
        **extra,
    )
    return env


def _measured(record_property, name: str, value: float) -> None:
    record_property(name, round(value, 3))
    print(f"{name}: {value:.3f}")


def _customer(server: ServerProcess) -> tuple[dict, requests.Session]:
    """A customer's API token headers, and a browser session signed in through the page."""
    username = f"outage{uuid.uuid4().hex[:8]}"
    registered = requests.post(
        f"{server.base}/api/v1/auth/register/",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    token = {"Authorization": f"Token {registered.json()['token']}"}
    browser = requests.Session()
    form = browser.get(f"{server.base}/accounts/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    signed_in = browser.post(
        f"{server.base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{server.base}/accounts/login/"},
        timeout=30,
    )
    assert signed_in.status_code == 200 and signed_in.url.rstrip("/") == server.base, signed_in.url
    return token, browser


def _claim(server: ServerProcess, token: dict) -> str:
    created = requests.post(
        f"{server.base}/api/v1/claims/",
        json={
            "policy_number": "POL-778899",
            "vehicle_make": "Skoda",
            "vehicle_model": "Fabia",
            "vehicle_year": 2019,
            "incident_date": "2026-10-30",
        },
        headers=token,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _upload(server, token: dict, claim_id: str, content: bytes, key: str) -> requests.Response:
    return requests.post(
        f"{server.base}/api/v1/claims/{claim_id}/photos/",
        files={"image": ("dent.jpg", content, "image/jpeg")},
        headers={**token, "Idempotency-Key": key},
        timeout=60,
    )


def _count(cluster, dbname: str, sql: str) -> int:
    return cluster.execute(sql, dbname)[0][0]


def test_upload_while_postgres_stops_is_a_503_keeps_nothing_and_succeeds_when_retried(
    cluster, database, tmp_path, record_property
):
    # given a real server on the private cluster, holding open connections to it
    media = tmp_path / "media"
    server = ServerProcess(
        _env(cluster, database, media, CLAIMVISION_UPLOAD_DELAY_S=str(UPLOAD_DELAY_S)),
        tmp_path / "server.log",
    ).start()
    try:
        token, browser = _customer(server)
        claim_id = _claim(server, token)
        content = photo_file(7).getvalue()
        key = f"upload-{uuid.uuid4().hex}"

        # when the cluster stops (fast: sessions terminated) after the photo's files are stored
        # and before its row is written
        answer: dict = {}

        def send() -> None:
            started = time.monotonic()
            answer["response"] = _upload(server, token, claim_id, content, key)
            answer["seconds"] = time.monotonic() - started

        sender = threading.Thread(target=send)
        sender.start()
        wait_for(
            lambda: any(p.startswith("originals/") for p in files_under(media)),
            timeout=20,
            what="the original to be stored",
        )
        stopped_s = cluster.stop("fast")
        sender.join(60)
        response = answer["response"]

        # then the customer gets a clear 503 in the API's error shape, and nothing is kept
        assert response.status_code == 503, f"{response.status_code} {response.text[:500]}"
        assert response.json() == EXPECTED_503
        assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_S)
        assert files_under(media) == set()
        _measured(record_property, "upload_503_response_s", answer["seconds"])
        _measured(record_property, "cluster_stop_s", stopped_s)

        # and while it is down, a read (connection refused) and a page are 503s too
        read = requests.get(f"{server.base}/api/v1/claims/{claim_id}/", headers=token, timeout=30)
        assert read.status_code == 503 and read.json() == EXPECTED_503
        page = browser.get(f"{server.base}/", timeout=30)
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_S)
        assert "Back in a moment" in page.text

        # when the cluster is back: no orphan row either
        _measured(record_property, "cluster_start_s", cluster.start())
        assert _count(cluster, database, "SELECT count(*) FROM claims_photo") == 0
        assert _count(cluster, database, "SELECT count(*) FROM claims_idempotencyrecord") == 0

        # then the same upload, same Idempotency-Key, succeeds on the server's next request
        started = time.monotonic()
        retried = _upload(server, token, claim_id, content, key)
        _measured(record_property, "upload_retry_201_s", time.monotonic() - started)
        assert retried.status_code == 201, retried.text
        photo_id = retried.json()["id"]
        assert _count(cluster, database, "SELECT count(*) FROM claims_photo") == 1
        stored = files_under(media)
        assert len(stored) == 2 and all(photo_id in name for name in stored), stored
        shown = requests.get(f"{server.base}/api/v1/claims/{claim_id}/", headers=token, timeout=30)
        assert [p["id"] for p in shown.json()["photos"]] == [photo_id]
        assert browser.get(f"{server.base}/", timeout=30).status_code == 200
        assert server.proc.poll() is None, "the server process died"
    finally:
        server.stop()


def test_postgres_restart_while_the_result_is_written_retries_and_the_claim_is_whole(
    cluster, database, tmp_path, record_property, django_db_blocker
):
    from assessment.models import PhotoAssessment, PhotoAssessmentAttempt
    from claims.models import Claim

    # given a real server and a real worker on the private cluster, the worker slow before it
    # writes a photo's result
    media = tmp_path / "media"
    server = ServerProcess(_env(cluster, database, media), tmp_path / "server.log").start()
    worker = WorkerProcess(
        _env(cluster, database, media, CLAIMVISION_ASSESS_DELAY_S=str(ASSESS_DELAY_S)),
        tmp_path / "worker.log",
    )
    try:
        worker.start()
        token, _ = _customer(server)
        claim_id = _claim(server, token)
        assert _upload(server, token, claim_id, photo_file(3).getvalue(), "p1").status_code == 201
        submitted = requests.post(
            f"{server.base}/api/v1/claims/{claim_id}/submit/", headers=token, timeout=30
        )
        assert submitted.status_code == 202, submitted.text

        with django_db_blocker.unblock(), orm_on(cluster, database):

            def read(query):
                reconnect()  # the cluster may have been restarted since the last read
                return query()

            wait_for(
                lambda: read(
                    lambda: PhotoAssessmentAttempt.objects.filter(photo__claim_id=claim_id).exists()
                ),
                timeout=60,
                what="the assessment to start",
                worker=worker,
            )

            # when the cluster restarts while the task runs (every session terminated)
            restart_started = time.monotonic()
            cluster.stop("fast")
            time.sleep(DOWN_FOR_S)
            cluster.start()
            restarted_at = time.monotonic()
            _measured(record_property, "cluster_restart_s", restarted_at - restart_started)
            assert (
                read(lambda: PhotoAssessment.objects.filter(photo__claim_id=claim_id).count()) == 0
            )

            # then the write fails, the task retries, and the claim is decided exactly once
            wait_for(
                lambda: read(lambda: Claim.objects.get(pk=claim_id).status) in DECIDED,
                timeout=90,
                what="a decision after the restart",
                worker=worker,
            )
            _measured(record_property, "decision_after_restart_s", time.monotonic() - restarted_at)
            reconnect()
            _assert_exactly_one_of_everything(claim_id, 1)
            attempt = PhotoAssessmentAttempt.objects.get(photo__claim_id=claim_id)
            assert attempt.attempts == 2, "one write lost to the restart, one retry"
            assessment = PhotoAssessment.objects.get(photo__claim_id=claim_id)
            indexes = list(assessment.regions.values_list("index", flat=True))
            assert sorted(indexes) == list(range(len(indexes)))
        log = worker.output()
        assert "Retry in" in log, log[-3000:]
        assert re.search(r"retry: Retry in \d+s: (OperationalError|InterfaceError)", log), log[
            -3000:
        ]
    finally:
        worker.stop()
        server.stop()
