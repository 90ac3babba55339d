"""Intake end to end with a real worker: API upload, submit, queue after commit, preparation."""

import io
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from claims.models import Claim, Photo
from claims.services import claims_sweep_stuck
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Preparation ends in ``assessing``; with the model wired in, a claim may already have moved on.
PAST_PREPARATION = {
    Claim.Status.ASSESSING,
    Claim.Status.AUTO_DECIDED,
    Claim.Status.IN_REVIEW,
}


def _photo_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(900, 1200, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _customer_client() -> APIClient:
    user = get_user_model().objects.create_user("carol", password="not-used-pass-123")
    user.groups.add(Group.objects.get_or_create(name="customer")[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def _draft_claim_with_photos(client: APIClient, count: int) -> str:
    response = client.post(
        "/api/v1/claims/",
        {
            "policy_number": "POL-778899",
            "vehicle_make": "Skoda",
            "vehicle_model": "Octavia",
            "vehicle_year": 2021,
            "incident_date": "2026-11-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    claim_id = response.json()["id"]
    for seed in range(count):
        upload = io.BytesIO(_photo_bytes(seed))
        upload.name = f"side-{seed}.jpg"
        response = client.post(
            f"/api/v1/claims/{claim_id}/photos/", {"image": upload}, format="multipart"
        )
        assert response.status_code == 201, response.content
    return claim_id


def test_submit_real_worker_prepares_photos_and_claim_moves_to_assessing(start_worker):
    # given a running worker and a draft claim with two photos
    worker = start_worker()
    client = _customer_client()
    claim_id = _draft_claim_with_photos(client, 2)

    # when the customer submits
    response = client.post(f"/api/v1/claims/{claim_id}/submit/")

    # then the API answers at once and the worker finishes the preparation
    assert response.status_code == 202
    assert response.json()["status"] == "submitted"
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in PAST_PREPARATION,
        timeout=60,
        what="the claim to reach assessing",
        worker=worker,
    )
    photos = Photo.objects.filter(claim_id=claim_id)
    assert {p.status for p in photos} == {Photo.Status.PREPARED}
    assert all(p.prepared_at is not None for p in photos)
    assert "claims.prepare_claim" in worker.output()


def test_sweeper_resends_claim_whose_message_was_lost(start_worker):
    # given a submitted claim whose queue message never arrived (no on_commit send here)
    client = _customer_client()
    claim_id = _draft_claim_with_photos(client, 1)
    long_ago = timezone.now() - timedelta(hours=1)
    Claim.objects.filter(pk=claim_id).update(
        status=Claim.Status.SUBMITTED, submitted_at=long_ago, enqueued_at=long_ago
    )
    worker = start_worker()

    # when the sweeper runs
    resent = claims_sweep_stuck()

    # then the claim is re-sent and a real worker prepares it
    assert resent == [claim_id]
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in PAST_PREPARATION,
        timeout=60,
        what="the swept claim to reach assessing",
        worker=worker,
    )
