"""``Idempotency-Key``: a retried create or upload returns the first result, even in parallel."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from claims import idempotency
from claims.models import Claim, IdempotencyRecord, Photo
from claims.tests.factories import ClaimFactory, CustomerFactory, jpeg_bytes
from claims.tests.helpers import claims_url, files_under, upload

pytestmark = pytest.mark.django_db


def claim_body(**overrides) -> dict:
    return {
        "policy_number": "POL-777",
        "vehicle_make": "Skoda",
        "vehicle_model": "Octavia",
        "vehicle_year": 2020,
        "incident_date": str(timezone.localdate()),
        **overrides,
    }


def create(client, key: str | None, **overrides):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(claims_url(), claim_body(**overrides), format="json", headers=headers)


def test_idempotency_same_key_twice_creates_one_claim(customer_client):
    first = create(customer_client, "key-1")

    second = create(customer_client, "key-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Claim.objects.count() == 1


def test_idempotency_without_a_key_creates_each_time(customer_client):
    create(customer_client, None)
    create(customer_client, None)

    assert Claim.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 0


def test_idempotency_key_reused_with_a_different_body_is_refused(customer_client):
    create(customer_client, "key-2")

    response = create(customer_client, "key-2", vehicle_make="Seat")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert response.json()["error"]["message"] == idempotency.ERR_KEY_REUSED
    assert list(Claim.objects.values_list("vehicle_make", flat=True)) == ["Skoda"]


def test_idempotency_key_reused_on_another_endpoint_is_refused(customer, customer_client):
    create(customer_client, "key-3")
    claim = ClaimFactory(owner=customer)

    response = upload(customer_client, claim.pk, jpeg_bytes(), key="key-3")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Photo.objects.count() == 0


def test_idempotency_keys_belong_to_one_user(customer_client, api_client_for):
    other_client = api_client_for(CustomerFactory())

    create(customer_client, "shared-key")
    response = create(other_client, "shared-key")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Claim.objects.count() == 2


def test_idempotency_does_not_store_a_failed_request(customer_client):
    tomorrow = str(timezone.localdate() + timedelta(days=1))
    failed = create(customer_client, "key-4", incident_date=tomorrow)

    retried = create(customer_client, "key-4")

    assert failed.status_code == 400
    assert failed.json()["error"]["code"] == "incident_in_future"
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Claim.objects.count() == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\tkey", "ключ"])
def test_idempotency_rejects_an_invalid_key(customer_client, key):
    response = customer_client.post(
        claims_url(), claim_body(), format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    assert response.json()["error"]["message"] == idempotency.ERR_KEY_INVALID
    assert Claim.objects.count() == 0


def test_idempotency_same_key_twice_stores_one_photo(claim, customer_client, media_root):
    content = jpeg_bytes()
    first = upload(customer_client, claim.pk, content, key="photo-1")

    second = upload(customer_client, claim.pk, content, key="photo-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Photo.objects.count() == 1
    assert len(files_under(media_root)) == 2


def test_idempotency_same_key_with_another_photo_is_refused(claim, customer_client, media_root):
    upload(customer_client, claim.pk, jpeg_bytes(), key="photo-2")

    response = upload(customer_client, claim.pk, jpeg_bytes(), key="photo-2")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Photo.objects.count() == 1
    assert len(files_under(media_root)) == 2


# --- concurrency: separate connections, each request in its own thread -------------------

N_CONCURRENT = 6


def run_concurrently(request) -> list:
    """Run ``request(i)`` in ``N_CONCURRENT`` threads at once, each with its own connection."""
    barrier = threading.Barrier(N_CONCURRENT)
    results: list = [None] * N_CONCURRENT

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = request(i)
        except Exception as exc:  # reported by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_idempotency_concurrent_creates_with_one_key_make_one_claim(api_client_for):
    user = CustomerFactory()
    clients = [api_client_for(user) for _ in range(N_CONCURRENT)]

    results = run_concurrently(lambda i: create(clients[i], "race-1"))

    assert [getattr(r, "status_code", r) for r in results] == [201] * N_CONCURRENT
    assert Claim.objects.count() == 1
    assert {r.json()["id"] for r in results} == {str(Claim.objects.get().pk)}
    replayed = [r for r in results if r.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == N_CONCURRENT - 1


@pytest.mark.django_db(transaction=True)
def test_idempotency_concurrent_uploads_with_one_key_store_one_photo(api_client_for, media_root):
    claim = ClaimFactory()
    content = jpeg_bytes()
    clients = [api_client_for(claim.owner) for _ in range(N_CONCURRENT)]

    results = run_concurrently(lambda i: upload(clients[i], claim.pk, content, key="race-2"))

    assert [getattr(r, "status_code", r) for r in results] == [201] * N_CONCURRENT
    assert Photo.objects.count() == 1
    assert len(files_under(media_root)) == 2


@pytest.mark.django_db(transaction=True)
def test_photo_limit_holds_against_concurrent_uploads(api_client_for, settings, media_root):
    settings.CLAIMVISION_MAX_PHOTOS_PER_CLAIM = 2
    claim = ClaimFactory()
    clients = [api_client_for(claim.owner) for _ in range(N_CONCURRENT)]
    contents = [jpeg_bytes() for _ in range(N_CONCURRENT)]

    results = run_concurrently(lambda i: upload(clients[i], claim.pk, contents[i]))

    statuses = sorted(getattr(r, "status_code", r) for r in results)
    assert statuses == [201, 201] + [409] * (N_CONCURRENT - 2)
    assert Photo.objects.count() == 2
    assert len(files_under(media_root)) == 4
