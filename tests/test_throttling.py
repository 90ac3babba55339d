"""Throttles and quotas: the client's address as we can trust it, and per-user quotas on the
costly writes (claims, uploads, exports), answered with 429 and ``Retry-After``."""

import ipaddress
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from assessment.tests.conftest import model_version  # noqa: F401 - a registered model
from claims import services as claims_services
from claims.tests.factories import ClaimFactory, CustomerFactory, DataTeamFactory, jpeg_bytes
from config.errors import ERR_THROTTLED
from config.network import client_address
from config.throttling import AnonRateThrottle, UserQuotaThrottle

pytestmark = pytest.mark.django_db


def trust(settings, *networks: str) -> None:
    settings.CLAIMVISION_TRUSTED_PROXIES = [ipaddress.ip_network(n) for n in networks]


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


# --- the client's address ---------------------------------------------------------------


def test_client_address_ignores_x_forwarded_for_by_default(settings):
    trust(settings)

    address = client_address(request_from("203.0.113.9", forwarded="198.51.100.1"))

    assert address == "203.0.113.9"


def test_client_address_ignores_x_forwarded_for_from_an_untrusted_peer(settings):
    trust(settings, "10.0.0.0/8")

    address = client_address(request_from("203.0.113.9", forwarded="198.51.100.1"))

    assert address == "203.0.113.9"


def test_client_address_reads_the_hop_our_proxy_appended(settings):
    trust(settings, "10.0.0.0/8")

    # the client wrote "1.1.1.1" itself; our proxy appended the address it saw
    address = client_address(request_from("10.0.0.5", forwarded="1.1.1.1, 198.51.100.7"))

    assert address == "198.51.100.7"


def test_client_address_skips_every_trusted_proxy_from_the_right(settings):
    trust(settings, "10.0.0.0/8", "192.0.2.10/32")

    address = client_address(
        request_from("10.0.0.5", forwarded="1.1.1.1, 198.51.100.7, 192.0.2.10")
    )

    assert address == "198.51.100.7"


def test_client_address_stops_at_garbage_left_of_our_proxies(settings):
    trust(settings, "10.0.0.0/8")

    address = client_address(request_from("10.0.0.5", forwarded="not-an-ip, 10.0.0.7"))

    assert address == "10.0.0.7"


def register_body(n: int) -> str:
    return json.dumps({"username": f"u{n}", "email": "bad", "password": "x"})


def test_anonymous_throttle_cannot_be_dodged_with_x_forwarded_for(settings, monkeypatch):
    trust(settings)
    monkeypatch.setitem(AnonRateThrottle.THROTTLE_RATES, "anon", "3/minute")
    client = APIClient()
    statuses = [
        client.generic(
            "POST",
            reverse("api-register"),
            register_body(n),
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(5)
    ]

    assert statuses == [400, 400, 400, 429, 429]


def test_anonymous_throttle_counts_clients_behind_a_trusted_proxy_apart(settings, monkeypatch):
    trust(settings, "127.0.0.1/32")  # the test client's REMOTE_ADDR
    monkeypatch.setitem(AnonRateThrottle.THROTTLE_RATES, "anon", "3/minute")
    client = APIClient()
    statuses = [
        client.generic(
            "POST",
            reverse("api-register"),
            register_body(n),
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(5)
    ]

    assert statuses == [400] * 5


# --- per-user quotas --------------------------------------------------------------------


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {claims_services.api_token_issue(user=user)}")
    return client


def claim_body() -> dict:
    return {
        "policy_number": "POL-1234",
        "vehicle_make": "Kia",
        "vehicle_model": "Ceed",
        "vehicle_year": 2021,
        "incident_date": str(timezone.localdate()),
    }


def assert_quota_reached(response) -> None:
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled"
    wait = int(response["Retry-After"])
    assert 0 < wait <= 3600
    assert error["message"] == ERR_THROTTLED.format(wait=wait)
    assert error["details"] == {"retry_after": wait}


def test_claim_quota_refuses_the_claim_past_it(monkeypatch):
    monkeypatch.setitem(UserQuotaThrottle.THROTTLE_RATES, "claims", "3/hour")
    client = token_client(CustomerFactory())

    statuses = [
        client.post(reverse("api-claims"), claim_body(), format="json").status_code
        for _ in range(3)
    ]
    refused = client.post(reverse("api-claims"), claim_body(), format="json")

    assert statuses == [201, 201, 201]
    assert_quota_reached(refused)
    # reading is never counted
    assert client.get(reverse("api-claims")).status_code == 200


def test_claim_quota_is_per_user(monkeypatch):
    monkeypatch.setitem(UserQuotaThrottle.THROTTLE_RATES, "claims", "1/hour")
    first, second = token_client(CustomerFactory()), token_client(CustomerFactory())

    assert first.post(reverse("api-claims"), claim_body(), format="json").status_code == 201
    assert first.post(reverse("api-claims"), claim_body(), format="json").status_code == 429
    assert second.post(reverse("api-claims"), claim_body(), format="json").status_code == 201


def test_upload_quota_refuses_the_upload_past_it(monkeypatch):
    monkeypatch.setitem(UserQuotaThrottle.THROTTLE_RATES, "uploads", "2/hour")
    customer = CustomerFactory()
    claim = ClaimFactory(owner=customer)
    client = token_client(customer)
    url = reverse("api-photo-upload", kwargs={"claim_id": claim.pk})

    def send():
        image = SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")
        return client.post(url, {"image": image}, format="multipart")

    assert [send().status_code for _ in range(2)] == [201, 201]
    assert_quota_reached(send())
    assert claim.photos.count() == 2


def test_export_quota_refuses_the_export_past_it(monkeypatch, model_version):
    monkeypatch.setitem(UserQuotaThrottle.THROTTLE_RATES, "exports", "1/hour")
    client = token_client(DataTeamFactory())

    first = client.post(reverse("api-exports"), {}, format="json")
    second = client.post(reverse("api-exports"), {}, format="json")

    assert first.status_code == 202
    assert_quota_reached(second)
