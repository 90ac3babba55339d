"""Session-wide test setup: required services in CI, and photo storage in a temporary folder.

``CLAIMVISION_REQUIRE_SERVICES=1`` (set by .ci/run) makes a missing PostgreSQL or Redis a
failure of the whole run instead of a silent fall-back to the embedded default.
"""

import importlib
import os
import socket
from urllib.parse import urlparse

import pytest


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 3
        ):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CLAIMVISION_REQUIRE_SERVICES") != "1":
        return
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append("DATABASE_URL must point at PostgreSQL")
    elif not _reachable(database_url, 5432):
        problems.append(f"PostgreSQL is not reachable at {database_url}")
    if not redis_url.startswith("redis://"):
        problems.append("REDIS_URL must point at Redis")
    elif not _reachable(redis_url, 6379):
        problems.append(f"Redis is not reachable at {redis_url}")
    if problems:
        pytest.exit("Required services missing: " + "; ".join(problems), returncode=3)


@pytest.fixture(autouse=True, scope="session")
def _media_root(tmp_path_factory: pytest.TempPathFactory):
    """Photos written by tests (and by test workers) go to a throw-away folder."""
    from django.conf import settings

    previous = settings.MEDIA_ROOT
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    yield settings.MEDIA_ROOT
    settings.MEDIA_ROOT = previous


@pytest.fixture(autouse=True, scope="session")
def _embedded_broker(tmp_path_factory: pytest.TempPathFactory):
    """Without REDIS_URL, the embedded default's broker: a private redis-server for this run.

    Never the one of a `make run` in the same checkout (var/broker): tests purge queues. Test
    workers started as subprocesses find it through CLAIMVISION_BROKER_SOCKET.
    """
    if os.environ.get("REDIS_URL"):
        yield None
        return
    from django.conf import settings

    from config.broker import EmbeddedBroker
    from config.celery_app import app

    # A short folder name: a unix socket path must stay under 108 bytes.
    broker = EmbeddedBroker(tmp_path_factory.mktemp("broker")).start()
    previous = os.environ.get("CLAIMVISION_BROKER_SOCKET")
    os.environ["CLAIMVISION_BROKER_SOCKET"] = str(broker.socket)
    settings.CELERY_BROKER_URL = app.conf.broker_url = broker.url
    yield broker
    broker.stop()
    if previous is None:
        os.environ.pop("CLAIMVISION_BROKER_SOCKET", None)
    else:
        os.environ["CLAIMVISION_BROKER_SOCKET"] = previous


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttles, quotas and sign-in limits count in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _audit_trail_flushable(request: pytest.FixtureRequest):
    """Let transactional tests' flush empty the append-only audit table, and nothing else.

    The database refuses to delete audit records (assessment migration 0002). Tests that commit
    (real workers, browsers) end with a flush of every table; just before it, this fixture
    (set up after the database fixture, so torn down before it) opens the purge switch on
    PostgreSQL or empties the table behind dropped-and-recreated triggers on SQLite.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if not transactional:
        yield
        return
    request.getfixturevalue("transactional_db")
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("RESET claimvision.allow_audit_purge")
    yield
    triggers = importlib.import_module("assessment.migrations.0002_audit_append_only")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET claimvision.allow_audit_purge = 'on'")
        elif connection.vendor == "sqlite":
            for statement in triggers.SQLITE_DOWN:
                cursor.execute(statement)
            cursor.execute(f"DELETE FROM {triggers.TABLE}")
            for statement in triggers.SQLITE_UP:
                cursor.execute(statement)


@pytest.fixture(autouse=True)
def _no_random_audits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """No random audit unless a test asks for it (``real_audit_draws``): claim ids are random
    UUIDs, so the default policy's 5% audit share would send 1 in 20 claims that a test expects
    decided automatically to review. Worker processes (tests/integration) draw for real; their
    tests accept either outcome."""
    if "real_audit_draws" in request.fixturenames:
        return
    from assessment import policy

    monkeypatch.setattr(policy, "audit_draw", lambda **kwargs: 1.0)


@pytest.fixture
def real_audit_draws() -> None:
    """The real audit draw (``assessment.policy.audit_draw``) for this test."""
