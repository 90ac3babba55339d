"""The claims endpoints: create, list, detail and submit, with each of their rejections."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from claims.models import Claim, IdempotencyRecord
from claims.tests.factories import ClaimFactory, PhotoFactory
from claims.tests.helpers import (
    CLAIM_KEYS,
    HIDDEN_CLAIM_KEYS,
    assert_photo_keys,
    claim_url,
    claims_url,
    photo_image_url,
    submit_url,
)

pytestmark = pytest.mark.django_db


def claim_body(**overrides) -> dict:
    return {
        "policy_number": "POL-2024/0042",
        "vehicle_make": "Volkswagen",
        "vehicle_model": "Golf",
        "vehicle_year": 2017,
        "incident_date": str(timezone.localdate() - timedelta(days=3)),
        "description": "Scratched along the passenger side.",
        **overrides,
    }


# --- POST /claims/ ----------------------------------------------------------------------


def test_claim_create_api_returns_201_with_the_new_draft(customer, customer_client):
    response = customer_client.post(claims_url(), claim_body(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) >= CLAIM_KEYS and not HIDDEN_CLAIM_KEYS & set(body)
    claim = Claim.objects.get()
    assert body["id"] == str(claim.pk)
    assert body["reference"] == claim.reference
    assert (body["status"], body["status_display"]) == ("draft", "Draft")
    assert body["vehicle"] == {"make": "Volkswagen", "model": "Golf", "year": 2017}
    assert body["photos"] == []
    assert body["submitted_at"] is None
    assert claim.owner == customer


def test_claim_create_api_accepts_a_form_body(customer_client):
    response = customer_client.post(claims_url(), claim_body())

    assert response.status_code == 201
    assert Claim.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("policy_number", "x"),
        ("policy_number", "POL<script>"),
        ("vehicle_make", ""),
        ("vehicle_year", 1800),
        ("vehicle_year", timezone.localdate().year + 2),
        ("incident_date", "yesterday"),
        ("description", "x" * 5001),
    ],
)
def test_claim_create_api_rejects_an_invalid_field(customer_client, field, value):
    response = customer_client.post(claims_url(), claim_body(**{field: value}), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]["fields"]) == [field]
    assert Claim.objects.count() == 0


def test_claim_create_api_rejects_missing_fields(customer_client):
    response = customer_client.post(claims_url(), {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fields"]) == {
        "policy_number",
        "vehicle_make",
        "vehicle_model",
        "vehicle_year",
        "incident_date",
    }


def test_claim_create_api_rejects_a_future_incident(customer_client):
    tomorrow = str(timezone.localdate() + timedelta(days=1))

    response = customer_client.post(claims_url(), claim_body(incident_date=tomorrow), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "incident_in_future"
    assert Claim.objects.count() == 0


@pytest.mark.parametrize("payload", ["[1, 2]", '"a claim"', "42", "null"])
def test_claim_create_api_rejects_a_body_that_is_not_an_object(customer_client, payload):
    response = customer_client.generic(
        "POST", claims_url(), payload, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert Claim.objects.count() == 0


def test_claim_create_api_rejects_malformed_json(customer_client):
    response = customer_client.generic(
        "POST", claims_url(), "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert Claim.objects.count() == 0


# --- GET /claims/ -----------------------------------------------------------------------


def test_claim_list_api_returns_only_the_callers_claims(customer, other_customer, customer_client):
    mine = ClaimFactory(owner=customer)
    PhotoFactory(claim=mine)
    ClaimFactory(owner=other_customer)

    response = customer_client.get(claims_url())

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [str(mine.pk)]
    assert len(body["results"][0]["photos"]) == 1


def test_claim_list_api_is_paginated(customer, customer_client):
    ClaimFactory.create_batch(21, owner=customer)

    first = customer_client.get(claims_url()).json()
    second = customer_client.get(claims_url(), {"page": 2}).json()

    assert (first["count"], len(first["results"]), second["count"]) == (21, 20, 21)
    assert first["next"].endswith("?page=2")
    assert len(second["results"]) == 1 and second["next"] is None
    ids = {c["id"] for c in first["results"]} | {c["id"] for c in second["results"]}
    assert len(ids) == 21


def test_claim_list_api_answers_404_for_a_page_past_the_end(customer_client):
    response = customer_client.get(claims_url(), {"page": 3})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("page", ["", " 1", "+1", "1_0", "1.0", "last", "\u0661"])
def test_claim_list_api_answers_404_for_what_is_not_a_page_number(claim, customer_client, page):
    # DRF alone reads "" as page 1 and hands the rest to int(); the schema says "an integer"
    response = customer_client.get(claims_url(), {"page": page})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_claim_list_api_reads_a_page_number(claim, customer_client):
    response = customer_client.get(claims_url(), {"page": "1"})

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [str(claim.pk)]


# --- GET /claims/{id}/ ------------------------------------------------------------------


def test_claim_detail_api_returns_the_claim_with_its_photos(claim, customer_client):
    photo = PhotoFactory(claim=claim, quality_warnings=[{"code": "too_dark", "message": "Dark."}])

    response = customer_client.get(claim_url(claim.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(claim.pk)
    [photo_out] = body["photos"]
    assert_photo_keys(photo_out)
    assert photo_out["id"] == str(photo.pk)
    assert photo_out["quality_warnings"] == [{"code": "too_dark", "message": "Dark."}]
    assert photo_out["image_url"] == photo_image_url(claim.pk, photo.pk)


@pytest.mark.parametrize("claim_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_claim_detail_api_answers_json_404_for_unknown_ids(customer_client, claim_id):
    response = customer_client.get(claim_url(claim_id))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_claim_detail_api_cannot_be_changed_directly(claim, customer_client, snapshot, method):
    before = snapshot()

    response = getattr(customer_client, method)(claim_url(claim.pk), {"status": "decided"})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert snapshot() == before


# --- POST /claims/{id}/submit/ ----------------------------------------------------------


def test_claim_submit_api_returns_202_and_enqueues_after_commit(
    photo, customer_client, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(submit_url(photo.claim_id))

    assert response.status_code == 202
    assert response.json()["status"] == "submitted"
    assert response.json()["submitted_at"] is not None
    assert Claim.objects.get(pk=photo.claim_id).status == Claim.Status.SUBMITTED
    assert enqueued == [str(photo.claim_id)]


def test_claim_submit_api_with_the_broker_down_is_accepted_and_left_to_the_sweeper(
    photo, customer_client, monkeypatch, settings, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from claims import services, tasks

    def broker_down(claim_id):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(tasks.claim_prepare_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(submit_url(photo.claim_id))

    # the claim was committed: the customer is told so, not given a 500
    assert response.status_code == 202
    assert Claim.objects.get(pk=photo.claim_id).status == Claim.Status.SUBMITTED
    assert "broker unavailable: claims.prepare_claim" in caplog.text
    # and the sweeper sends it once the broker is back
    sent = []
    monkeypatch.setattr(tasks.claim_prepare_task, "delay", sent.append)
    settings.CLAIMVISION_STUCK_AFTER_SECONDS = 0
    assert services.claims_sweep_stuck() == [str(photo.claim_id)]
    assert sent == [str(photo.claim_id)]


def test_claim_submit_api_ignores_an_idempotency_key_it_does_not_need(photo, customer_client):
    response = customer_client.post(submit_url(photo.claim_id), headers={"Idempotency-Key": "k"})

    assert response.status_code == 202
    assert IdempotencyRecord.objects.count() == 0


def test_claim_submit_api_answers_404_for_an_unknown_claim(customer_client, enqueued):
    response = customer_client.post(submit_url("00000000-0000-0000-0000-000000000000"))

    assert response.status_code == 404
    assert enqueued == []


def test_claim_submit_api_rejects_get(claim):
    client = APIClient()
    client.force_authenticate(claim.owner)

    response = client.get(submit_url(claim.pk))

    assert response.status_code == 405
