"""A real Celery worker process against the same broker and test database as the tests.

With DATABASE_URL/REDIS_URL set (CI) that is PostgreSQL and Redis; otherwise the embedded
default, SQLite and the filesystem broker. The worker gets the test database's name, so what the
test commits the worker sees, and the other way round.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT_S = 60  # a cold worker imports Django, DRF and (later) the model


def database_url_for(settings_dict: dict) -> str:
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    def __init__(self, env: dict, log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, concurrency: int = 1) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "claims,assessment,exports,labelling",
                "-c",
                str(concurrency),
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self.log_path.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def worker_env(django_db_setup, django_db_blocker, tmp_path) -> dict:
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    env["DATABASE_URL"] = database_url_for(connection.settings_dict)
    env["CLAIMVISION_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    from config.celery_app import app

    app.control.purge()  # nothing left over from an earlier test reaches this one
    workers: list[WorkerProcess] = []

    def start(concurrency: int = 1) -> WorkerProcess:
        worker = WorkerProcess(worker_env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        worker.start(concurrency)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str, worker=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    detail = f"\n--- worker log ---\n{worker.output()[-4000:]}" if worker else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's standalone S3 server on loopback for the whole run (tests/s3server.py).

    Skipped with the reason where it cannot start; with CLAIMVISION_REQUIRE_SERVICES=1 (CI)
    that is a failure instead.
    """
    from tests.s3server import S3Server, s3_required

    try:
        server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log").start()
    except (ImportError, OSError, RuntimeError) as exc:
        reason = f"no S3-compatible test server (moto[server]) could start: {exc}"
        if s3_required():
            pytest.fail(f"{reason} (required: CLAIMVISION_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    yield server
    server.stop()


class S3Bucket:
    def __init__(self, server, bucket: str) -> None:
        self.server, self.name = server, bucket
        self.client = server.client()

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture
def s3_storage(s3_server, settings, worker_env, tmp_path, monkeypatch) -> S3Bucket:
    """This test's process and its workers on a fresh private bucket of the S3 server.

    Workers get an empty media folder and model cache of their own: nothing on disk is shared
    with the test process, only the bucket (and the database and broker).
    """
    import uuid

    from config.storage import private_storages, s3_options
    from tests.s3server import REGION

    bucket = f"claimvision-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    env = s3_server.env(bucket=bucket)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    settings.CLAIMVISION_STORAGE = "s3"
    settings.STORAGES = {
        **private_storages(
            "s3",
            prefixes=settings.STORAGE_PREFIXES,
            s3_options=s3_options(bucket=bucket, endpoint_url=s3_server.endpoint, region=REGION),
        ),
        "staticfiles": settings.STORAGES["staticfiles"],
    }
    settings.CLAIMVISION_MODEL_CACHE_DIR = tmp_path / "test-host" / "model-cache"
    worker_env.update(env)
    worker_env["CLAIMVISION_MEDIA_ROOT"] = str(tmp_path / "worker-host" / "media")
    worker_env["CLAIMVISION_MODEL_CACHE_DIR"] = str(tmp_path / "worker-host" / "model-cache")
    return S3Bucket(s3_server, bucket)
