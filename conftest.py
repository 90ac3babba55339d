"""Session-wide test setup: required services in CI, and photo storage in a temporary folder.

``CLAIMVISION_REQUIRE_SERVICES=1`` (set by .ci/run) makes a missing PostgreSQL or Redis a
failure of the whole run instead of a silent fall-back to the embedded default.
"""

import os
import socket
from urllib.parse import urlparse

import pytest


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 3):
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
