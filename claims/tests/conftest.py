"""Fixtures for the claims tests: thin wrappers around the factories, a private media root."""

from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from claims import services, tasks
from claims.models import Claim, IdempotencyRecord, Photo
from claims.tests.factories import (
    AdjusterFactory,
    ClaimFactory,
    CustomerFactory,
    DataTeamFactory,
    PhotoFactory,
)
from claims.tests.helpers import files_under


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings) -> Path:
    """Every test stores photos under its own folder (the storages read MEDIA_ROOT per access)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    # Hashing with PBKDF2 costs ~100 ms a user on these machines; tests don't need its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # the anonymous throttle counts in the cache
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[str]:
    """Claim ids sent to the queue; no test talks to a broker."""
    sent: list[str] = []
    monkeypatch.setattr(tasks.claim_prepare_task, "delay", lambda claim_id: sent.append(claim_id))
    return sent


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def other_customer(db):
    return CustomerFactory()


@pytest.fixture
def adjuster(db):
    return AdjusterFactory()


@pytest.fixture
def data_team_member(db):
    return DataTeamFactory()


@pytest.fixture
def claim(customer):
    return ClaimFactory(owner=customer)


@pytest.fixture
def photo(claim):
    return PhotoFactory(claim=claim)


@pytest.fixture
def api_client_for(db) -> Callable[..., APIClient]:
    """An API client that sends ``Authorization: Token ...`` for ``user``."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {services.api_token_issue(user=user)}")
        return client

    return make


@pytest.fixture
def customer_client(api_client_for, customer) -> APIClient:
    return api_client_for(customer)


@pytest.fixture
def snapshot(media_root) -> Callable[[], dict]:
    """What a rejected request must leave untouched: rows, their states and the stored files."""

    def take() -> dict:
        return {
            "claims": sorted(Claim.objects.values_list("id", "status", "updated_at")),
            "photos": sorted(Photo.objects.values_list("id", "claim_id")),
            "idempotency": IdempotencyRecord.objects.count(),
            "files": files_under(media_root),
        }

    return take
