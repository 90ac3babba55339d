"""The photo endpoints: upload, read, the working-copy image and delete, with their rejections."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from claims import apis, images
from claims.models import Photo
from claims.tests.factories import (
    ClaimFactory,
    PhotoFactory,
    encode,
    gps_exif,
    jpeg_bytes,
    png_bytes,
    two_tone_jpeg,
    webp_bytes,
)
from claims.tests.helpers import (
    assert_photo_keys,
    claim_url,
    files_under,
    photo_image_url,
    photo_url,
    photos_url,
    upload,
)

pytestmark = pytest.mark.django_db

UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


# --- POST /claims/{id}/photos/ ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fmt", "extension"),
    [
        (jpeg_bytes(120, 90, seed=31), "JPEG", "jpg"),
        (png_bytes(120, 90, seed=32), "PNG", "png"),
        (webp_bytes(120, 90, seed=33), "WEBP", "webp"),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_photo_upload_api_stores_an_accepted_format(
    claim, customer_client, media_root, content, fmt, extension
):
    response = upload(customer_client, claim.pk, content, name=f"side.{extension}")

    assert response.status_code == 201
    body = response.json()
    assert_photo_keys(body)
    photo = Photo.objects.get()
    assert body["id"] == str(photo.pk)
    assert (body["format"], body["width"], body["height"]) == (fmt, 120, 90)
    assert body["size_bytes"] == len(content)
    assert body["original_name"] == f"side.{extension}"
    assert body["status"] == "received"
    assert body["image_url"] == photo_image_url(claim.pk, photo.pk)
    assert files_under(media_root) == {
        f"originals/{claim.pk}/{photo.pk}.{extension}",
        f"working/{claim.pk}/{photo.pk}.jpg",
    }
    assert (media_root / "originals" / photo.original.name).read_bytes() == content


def test_photo_upload_api_requires_the_image_field(claim, customer_client, snapshot):
    before = snapshot()

    response = customer_client.post(photos_url(claim.pk), {"photo": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "image_missing",
        "message": apis.ERR_NO_IMAGE,
        "details": {},
    }
    assert snapshot() == before


def test_photo_upload_api_takes_one_photo_per_request(claim, customer_client, snapshot):
    before = snapshot()
    files = [
        SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(), content_type="image/jpeg") for i in (1, 2)
    ]

    response = customer_client.post(photos_url(claim.pk), {"image": files}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_files"
    assert response.json()["error"]["message"] == apis.ERR_ONE_IMAGE
    assert snapshot() == before


def test_photo_upload_api_rejects_a_json_body(claim, customer_client, snapshot):
    before = snapshot()

    response = customer_client.post(photos_url(claim.pk), {"image": "abc"}, format="json")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert snapshot() == before


def test_photo_upload_api_refuses_a_submitted_claim(customer, customer_client, snapshot):
    claim = ClaimFactory(owner=customer, submitted=True)
    before = snapshot()

    response = upload(customer_client, claim.pk, jpeg_bytes())

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "claim_not_editable"
    assert snapshot() == before


def test_photo_upload_api_answers_404_for_an_unknown_claim(customer_client, snapshot):
    before = snapshot()

    response = upload(customer_client, UNKNOWN_ID, jpeg_bytes())

    assert response.status_code == 404
    assert snapshot() == before


# --- duplicates and quality warnings -----------------------------------------------------


def test_photo_upload_api_flags_a_duplicate_without_telling_the_customer(
    claim, customer_client, api_client_for, other_customer
):
    content = jpeg_bytes(seed=34)
    first = upload(customer_client, claim.pk, content)
    other_claim = ClaimFactory(owner=other_customer)
    other_client = api_client_for(other_customer)

    second = upload(other_client, other_claim.pk, content)

    assert first.status_code == second.status_code == 201
    duplicate = Photo.objects.get(pk=second.json()["id"])
    assert duplicate.duplicate_of_id is not None
    assert str(duplicate.duplicate_of_id) == first.json()["id"]
    detail = other_client.get(claim_url(other_claim.pk)).json()["photos"][0]
    for output in (second.json(), detail):
        assert_photo_keys(output)
        assert not any("duplicate" in key for key in output)


def gradient(width: int, height: int) -> np.ndarray:
    row = np.linspace(60, 190, width).astype(np.uint8)
    return np.repeat(np.tile(row, (height, 1))[:, :, None], 3, axis=2)


def noise(width: int, height: int, low: int, high: int) -> np.ndarray:
    rng = np.random.default_rng(low * 1000 + high)
    return rng.integers(low, high, size=(height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("pixels", "expected"),
    [
        (noise(700, 660, 60, 200), []),
        (
            noise(300, 200, 60, 200),
            [("too_small", images.WARN_TOO_SMALL.format(width=300, height=200))],
        ),
        (noise(700, 660, 0, 25), [("too_dark", images.WARN_TOO_DARK)]),
        (noise(700, 660, 235, 256), [("too_bright", images.WARN_TOO_BRIGHT)]),
        (gradient(700, 660), [("too_blurry", images.WARN_TOO_BLURRY)]),
    ],
    ids=["good", "tiny", "dark", "bright", "blurry"],
)
def test_photo_upload_api_warns_about_quality_and_keeps_the_photo(
    claim, customer_client, pixels, expected
):
    content = encode(Image.fromarray(pixels), "JPEG", quality=92)

    response = upload(customer_client, claim.pk, content)

    assert response.status_code == 201
    warnings = [(w["code"], w["message"]) for w in response.json()["quality_warnings"]]
    assert warnings == expected
    assert Photo.objects.get().quality_warnings == response.json()["quality_warnings"]


# --- GET /claims/{id}/photos/{id}/ and its image ------------------------------------------


def test_photo_detail_api_returns_the_photo(photo, customer_client):
    response = customer_client.get(photo_url(photo.claim_id, photo.pk))

    assert response.status_code == 200
    assert_photo_keys(response.json())
    assert response.json()["id"] == str(photo.pk)


def test_photo_detail_api_answers_404_for_an_unknown_photo(claim, customer_client):
    response = customer_client.get(photo_url(claim.pk, UNKNOWN_ID))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_photo_image_api_streams_the_metadata_free_working_copy(claim, customer_client, media_root):
    original = two_tone_jpeg(exif=gps_exif(orientation=6))
    photo_id = upload(customer_client, claim.pk, original).json()["id"]

    response = customer_client.get(photo_image_url(claim.pk, photo_id))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert response["X-Content-Type-Options"] == "nosniff"
    served = b"".join(response.streaming_content)
    assert served == (media_root / "working" / f"{claim.pk}/{photo_id}.jpg").read_bytes()
    assert served != original
    with Image.open(io.BytesIO(served)) as img:
        assert img.size == (80, 120)
        assert dict(img.getexif()) == {}


def test_photo_image_api_rebuilds_a_lost_working_copy_and_leaves_the_photo_new(
    claim, customer_client, media_root
):
    photo_id = upload(customer_client, claim.pk, two_tone_jpeg()).json()["id"]
    working = media_root / "working" / f"{claim.pk}/{photo_id}.jpg"
    working.unlink()

    response = customer_client.get(photo_image_url(claim.pk, photo_id))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == working.read_bytes()
    # still a new photo: only the file was rebuilt, the claim's intake is not touched
    assert Photo.objects.get(pk=photo_id).status == Photo.Status.RECEIVED


def test_photo_image_api_answers_404_for_an_unknown_photo(claim, customer_client):
    response = customer_client.get(photo_image_url(claim.pk, UNKNOWN_ID))

    assert response.status_code == 404


# --- DELETE /claims/{id}/photos/{id}/ ---------------------------------------------------


def test_photo_delete_api_removes_the_photo_and_its_files(
    photo, customer_client, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.delete(photo_url(photo.claim_id, photo.pk))

    assert response.status_code == 204
    assert not Photo.objects.exists()
    assert files_under(media_root) == set()


def test_photo_delete_api_refuses_after_submit(customer, customer_client, snapshot):
    claim = ClaimFactory(owner=customer, submitted=True)
    photo = PhotoFactory(claim=claim)
    before = snapshot()

    response = customer_client.delete(photo_url(claim.pk, photo.pk))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "claim_not_editable"
    assert snapshot() == before


def test_photo_delete_api_answers_404_for_a_photo_of_another_claim(
    photo, customer_client, snapshot
):
    sibling = ClaimFactory(owner=photo.claim.owner)
    before = snapshot()

    response = customer_client.delete(photo_url(sibling.pk, photo.pk))

    assert response.status_code == 404
    assert snapshot() == before


def test_photo_upload_api_handles_a_photo_streamed_to_a_temporary_file(
    claim, customer_client, media_root, settings
):
    # Over FILE_UPLOAD_MAX_MEMORY_SIZE, Django spools the upload to disk instead of memory.
    content = encode(Image.fromarray(noise(1400, 1100, 0, 256)), "JPEG", quality=100)
    assert len(content) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    first = upload(customer_client, claim.pk, content, key="big-1")
    replay = upload(customer_client, claim.pk, content, key="big-1")

    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    photo = Photo.objects.get()
    assert (photo.width, photo.height, photo.size_bytes) == (1400, 1100, len(content))
    assert (media_root / "originals" / photo.original.name).read_bytes() == content
