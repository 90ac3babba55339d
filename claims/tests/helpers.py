"""Helpers for the claims API tests: URLs, uploads and a hand-made multipart body."""

import uuid
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

BOUNDARY = "----claimvision-test-boundary"

# What the customer API shows at least (later stages add assessment fields) ...
CLAIM_KEYS = {
    "id",
    "reference",
    "status",
    "status_display",
    "policy_number",
    "vehicle",
    "incident_date",
    "description",
    "photos",
    "created_at",
    "updated_at",
    "submitted_at",
}
PHOTO_KEYS = {
    "id",
    "original_name",
    "format",
    "width",
    "height",
    "size_bytes",
    "sha256",
    "status",
    "quality_warnings",
    "image_url",
    "created_at",
}
# ... and what it never shows: fraud signals, internals, storage names.
HIDDEN_CLAIM_KEYS = {"owner", "owner_id", "enqueued_at"}
HIDDEN_PHOTO_KEYS = {
    "duplicate_of",
    "duplicate_of_id",
    "is_duplicate",
    "quality_metrics",
    "original",
    "working",
    "failure_reason",
}


def files_under(root: Path) -> set[str]:
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def claims_url() -> str:
    return reverse("api-claims")


def claim_url(claim_id: uuid.UUID | str) -> str:
    return reverse("api-claim-detail", kwargs={"claim_id": claim_id})


def submit_url(claim_id) -> str:
    return reverse("api-claim-submit", kwargs={"claim_id": claim_id})


def photos_url(claim_id) -> str:
    return reverse("api-photo-upload", kwargs={"claim_id": claim_id})


def photo_url(claim_id, photo_id) -> str:
    return reverse("api-photo-detail", kwargs={"claim_id": claim_id, "photo_id": photo_id})


def photo_image_url(claim_id, photo_id) -> str:
    return reverse("api-photo-image", kwargs={"claim_id": claim_id, "photo_id": photo_id})


def upload(
    client: APIClient,
    claim_id,
    content: bytes,
    *,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    key: str | None = None,
):
    """POST one photo in the multipart field ``image`` the way a browser does."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        photos_url(claim_id),
        {"image": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
        headers=headers,
    )


def multipart_body(
    filename: bytes, content: bytes, *, content_type: bytes = b"image/jpeg"
) -> bytes:
    """A multipart body with the file name exactly as given (the test client would clean it)."""
    return (
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="image"; filename="' + filename + b'"\r\n'
        b"Content-Type: " + content_type + b"\r\n\r\n" + content + b"\r\n"
        b"--" + BOUNDARY.encode() + b"--\r\n"
    )


def upload_raw(client: APIClient, claim_id, body: bytes):
    return client.generic(
        "POST",
        photos_url(claim_id),
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def customer_endpoints(claim_id, photo_id) -> list[tuple[str, str]]:
    """Every customer endpoint as (method, url), for checks that must hold on all of them."""
    return [
        ("get", claims_url()),
        ("post", claims_url()),
        ("get", claim_url(claim_id)),
        ("post", submit_url(claim_id)),
        ("post", photos_url(claim_id)),
        ("get", photo_url(claim_id, photo_id)),
        ("delete", photo_url(claim_id, photo_id)),
        ("get", photo_image_url(claim_id, photo_id)),
    ]


def assert_photo_keys(output: dict) -> None:
    assert set(output) >= PHOTO_KEYS
    assert not HIDDEN_PHOTO_KEYS & set(output)
