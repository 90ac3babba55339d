"""Bad input, each with its own test: precise status and error code, and nothing changed."""

import io
import os
import stat

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone
from PIL import Image

from claims import images, selectors, services, uploads
from claims.models import Claim, IdempotencyRecord, Photo
from claims.tests.factories import (
    ClaimFactory,
    PhotoFactory,
    gif_bytes,
    gps_exif,
    heic_header,
    html_bytes,
    jpeg_bytes,
    pdf_bytes,
    png_header_bytes,
    svg_bytes,
    two_tone_jpeg,
)
from claims.tests.helpers import (
    claim_url,
    claims_url,
    files_under,
    multipart_body,
    photo_image_url,
    photo_url,
    photos_url,
    submit_url,
    upload,
    upload_raw,
)
from config import serializers as input_rules

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    return response.json()["error"]


def assert_rejected_upload(response, status: int, code: str, snapshot_before, snapshot) -> None:
    assert response.status_code == status, response.content
    assert error_of(response)["code"] == code
    assert snapshot() == snapshot_before


# --- file content -----------------------------------------------------------------------


def test_bad_input_empty_file(claim, customer_client, snapshot):
    before = snapshot()

    response = upload(customer_client, claim.pk, b"")

    assert_rejected_upload(response, 422, "empty_file", before, snapshot)
    assert error_of(response)["message"] == images.ERR_EMPTY


def test_bad_input_pdf_named_jpg(claim, customer_client, snapshot):
    before = snapshot()

    response = upload(customer_client, claim.pk, pdf_bytes(), name="damage.jpg")

    assert_rejected_upload(response, 415, "unsupported_image_type", before, snapshot)
    assert error_of(response)["message"] == images.ERR_NOT_IMAGE.format(kind="a PDF document")


def test_bad_input_html_page_named_jpg(claim, customer_client, snapshot):
    before = snapshot()

    response = upload(customer_client, claim.pk, html_bytes(), name="damage.jpg")

    assert_rejected_upload(response, 415, "unsupported_image_type", before, snapshot)
    assert error_of(response)["message"] == images.ERR_NOT_IMAGE.format(kind="a web page")


def test_bad_input_svg(claim, customer_client, snapshot):
    before = snapshot()

    response = upload(
        customer_client, claim.pk, svg_bytes(), name="damage.svg", content_type="image/svg+xml"
    )

    assert_rejected_upload(response, 415, "unsupported_image_type", before, snapshot)
    assert error_of(response)["message"] == images.ERR_NOT_IMAGE.format(kind="an SVG or XML file")


def test_bad_input_gif(claim, customer_client, snapshot):
    before = snapshot()

    response = upload(
        customer_client, claim.pk, gif_bytes(), name="damage.gif", content_type="image/gif"
    )

    assert_rejected_upload(response, 415, "unsupported_image_type", before, snapshot)
    assert error_of(response)["message"] == images.ERR_NOT_IMAGE.format(kind="a GIF")


def test_bad_input_heic(claim, customer_client, snapshot):
    before = snapshot()

    response = upload(
        customer_client, claim.pk, heic_header(), name="IMG_0001.HEIC", content_type="image/heic"
    )

    assert_rejected_upload(response, 415, "unsupported_image_type", before, snapshot)
    assert "HEIC" in error_of(response)["message"]
    assert "Most compatible" in error_of(response)["message"]


def test_bad_input_truncated_jpeg(claim, customer_client, snapshot):
    content = jpeg_bytes(400, 300, seed=41)
    before = snapshot()

    response = upload(customer_client, claim.pk, content[: len(content) * 2 // 3])

    assert_rejected_upload(response, 422, "image_corrupt", before, snapshot)
    assert error_of(response)["message"] == images.ERR_CORRUPT


def test_bad_input_20000x20000_png(claim, customer_client, snapshot):
    content = png_header_bytes(20_000, 20_000)
    before = snapshot()

    response = upload(customer_client, claim.pk, content, name="huge.png", content_type="image/png")

    assert_rejected_upload(response, 422, "image_too_many_pixels", before, snapshot)
    assert error_of(response)["details"] == {
        "max_pixels": django_settings.CLAIMVISION_MAX_IMAGE_PIXELS
    }


def test_bad_input_jpeg_with_gps_exif(claim, customer_client, media_root):
    content = two_tone_jpeg(exif=gps_exif(orientation=6))

    response = upload(customer_client, claim.pk, content)

    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (80, 120)
    photo = Photo.objects.get()
    original_path = media_root / "originals" / photo.original.name
    working_path = media_root / "working" / photo.working.name
    # The original is kept exactly as received, readable by the server alone.
    assert original_path.read_bytes() == content
    assert stat.S_IMODE(os.stat(original_path).st_mode) == 0o600
    # The working copy is upright and has no EXIF (so no GPS, serial number or thumbnail).
    working_bytes = working_path.read_bytes()
    with Image.open(io.BytesIO(working_bytes)) as working:
        assert dict(working.getexif()) == {}
        assert "exif" not in working.info
        assert working.size == (80, 120)
        rgb = working.convert("RGB")
        assert rgb.getpixel((70, 60))[0] > 200  # the stored top (red) is now on the right
        assert rgb.getpixel((10, 60))[2] > 200  # the stored bottom (blue) on the left
    assert b"SN-0042-SECRET" not in working_bytes
    assert b"Exif\x00\x00" not in working_bytes


def test_stored_photos_and_their_claim_folders_are_owner_only(claim, customer_client, media_root):
    response = upload(customer_client, claim.pk, jpeg_bytes())

    assert response.status_code == 201
    photo = Photo.objects.get()
    for storage_dir, name in (("originals", photo.original.name), ("working", photo.working.name)):
        path = media_root / storage_dir / name
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700, path.parent  # the claim's


# --- file names -------------------------------------------------------------------------


def assert_nothing_outside(media_root, tmp_path) -> None:
    outside = {
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if p.is_file() and media_root not in p.parents
    }
    assert outside == set()


@pytest.mark.parametrize(
    ("raw_name", "display"),
    [
        (b"../../../../tmp/evil.jpg", "evil.jpg"),
        (b"..\\..\\evil.jpg", "evil.jpg"),
        (b"../", ""),
    ],
    ids=["dot-dot-slash", "backslashes", "only-dots"],
)
def test_bad_input_filename_with_path_traversal(
    claim, customer_client, media_root, tmp_path, raw_name, display
):
    response = upload_raw(customer_client, claim.pk, multipart_body(raw_name, jpeg_bytes()))

    if display:
        assert response.status_code == 201
        photo = Photo.objects.get()
        assert photo.original_name == response.json()["original_name"] == display
        assert files_under(media_root) == {
            f"originals/{claim.pk}/{photo.pk}.jpg",
            f"working/{claim.pk}/{photo.pk}.jpg",
        }
    else:  # no usable name at all: Django drops the part
        assert response.status_code == 400
        assert error_of(response)["code"] == "image_missing"
        assert files_under(media_root) == set()
    assert_nothing_outside(media_root, tmp_path)
    assert not (tmp_path / "evil.jpg").exists()


def test_bad_input_filename_with_nul(claim, customer_client, media_root, tmp_path):
    response = upload_raw(
        customer_client, claim.pk, multipart_body(b"bad\x00name.jpg\x00.php", jpeg_bytes())
    )

    assert response.status_code == 201
    photo = Photo.objects.get()
    assert "\x00" not in photo.original_name
    assert photo.original_name == "badname.jpg.php"
    assert photo.original.name == f"{claim.pk}/{photo.pk}.jpg"
    assert_nothing_outside(media_root, tmp_path)


def test_bad_input_filename_of_10000_characters(claim, customer_client, snapshot):
    """Django refuses a multipart part whose headers pass 1 KiB: a clean 400, nothing stored."""
    before = snapshot()

    response = upload_raw(
        customer_client, claim.pk, multipart_body(b"a" * 10_000 + b".jpg", jpeg_bytes())
    )

    assert_rejected_upload(response, 400, "malformed_request", before, snapshot)


def test_bad_input_filename_long_but_within_header_limit(claim, customer_client, media_root):
    response = upload_raw(
        customer_client, claim.pk, multipart_body(b"b" * 900 + b".jpg", jpeg_bytes())
    )

    assert response.status_code == 201
    photo = Photo.objects.get()
    assert len(photo.original_name) == 120
    assert photo.original_name.endswith("b.jpg")
    assert photo.original.name == f"{claim.pk}/{photo.pk}.jpg"


def test_bad_input_filename_of_10000_characters_reaching_the_service(claim, media_root, tmp_path):
    name = "../" * 10 + "c" * 10_000 + ".jpg"

    photo = services.photo_ingest(
        claim=claim, upload=SimpleUploadedFile(name, jpeg_bytes(), content_type="image/jpeg")
    )

    assert len(photo.original_name) <= 120
    assert "/" not in photo.original_name
    assert photo.original.name == f"{claim.pk}/{photo.pk}.jpg"
    assert_nothing_outside(media_root, tmp_path)


# --- claim rules ------------------------------------------------------------------------


def test_bad_input_thirteenth_photo(claim, customer_client, snapshot):
    PhotoFactory.create_batch(django_settings.CLAIMVISION_MAX_PHOTOS_PER_CLAIM, claim=claim)
    before = snapshot()

    response = upload(customer_client, claim.pk, jpeg_bytes())

    assert_rejected_upload(response, 409, "photo_limit_reached", before, snapshot)
    assert error_of(response)["message"] == services.ERR_PHOTO_LIMIT.format(limit=12)
    assert claim.photos.count() == 12


@pytest.mark.parametrize("field", ["status", "reference", "owner", "decision", "id"])
def test_bad_input_server_owned_field_in_body(customer_client, snapshot, field):
    body = {
        "policy_number": "POL-1234",
        "vehicle_make": "Kia",
        "vehicle_model": "Ceed",
        "vehicle_year": 2021,
        "incident_date": str(timezone.localdate()),
        field: "decided",
    }
    before = snapshot()

    response = customer_client.post(claims_url(), body, format="json")

    assert_rejected_upload(response, 400, "read_only_field", before, snapshot)
    assert error_of(response)["details"] == {"fields": [field]}
    assert error_of(response)["message"] == input_rules.ERR_SERVER_OWNED.format(fields=field)


def test_bad_input_submit_without_photos(claim, customer_client, snapshot, enqueued):
    before = snapshot()

    response = customer_client.post(submit_url(claim.pk))

    # a well-formed request the claim's state refuses: 409, like every such refusal
    assert_rejected_upload(response, 409, "no_photos", before, snapshot)
    assert error_of(response)["message"] == services.ERR_NO_PHOTOS
    assert enqueued == []


def test_bad_input_submit_twice(
    photo, customer_client, snapshot, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = customer_client.post(submit_url(photo.claim_id))
    before = snapshot()

    second = customer_client.post(submit_url(photo.claim_id))

    assert first.status_code == 202
    assert_rejected_upload(second, 409, "invalid_transition", before, snapshot)
    assert error_of(second)["details"] == {"from": "submitted", "to": "submitted"}
    assert enqueued == [str(photo.claim_id)]


def test_bad_input_photo_delete_after_submit(customer, customer_client, snapshot):
    photo = PhotoFactory(claim=ClaimFactory(owner=customer, submitted=True))
    before = snapshot()

    response = customer_client.delete(photo_url(photo.claim_id, photo.pk))

    assert_rejected_upload(response, 409, "claim_not_editable", before, snapshot)


# --- another customer's claim on every endpoint -------------------------------------------


def others_claim_requests(claim_id, photo_id) -> list[tuple[str, str, dict]]:
    image = SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")
    key = {"headers": {"Idempotency-Key": "intruder-1"}}
    return [
        ("get", claim_url(claim_id), {}),
        ("post", submit_url(claim_id), key),
        ("post", photos_url(claim_id), {"data": {"image": image}, "format": "multipart", **key}),
        ("get", photo_url(claim_id, photo_id), {}),
        ("delete", photo_url(claim_id, photo_id), {}),
        ("get", photo_image_url(claim_id, photo_id), {}),
    ]


@pytest.mark.parametrize(
    "index", range(6), ids=["detail", "submit", "upload", "photo", "delete", "image"]
)
def test_bad_input_another_customers_claim_on_every_endpoint(
    api_client_for, other_customer, snapshot, enqueued, index
):
    victim_photo = PhotoFactory()  # a draft claim with one photo: every action would succeed
    intruder = api_client_for(other_customer)
    method, url, kwargs = others_claim_requests(victim_photo.claim_id, victim_photo.pk)[index]
    before = snapshot()

    response = getattr(intruder, method)(url, **kwargs)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert error_of(response)["message"] in (
        selectors.ERR_CLAIM_NOT_FOUND,
        selectors.ERR_PHOTO_NOT_FOUND,
    )
    assert snapshot() == before
    assert IdempotencyRecord.objects.count() == 0
    assert enqueued == []


def test_bad_input_another_customers_photo_under_own_claim_id(claim, customer_client, snapshot):
    victim_photo = PhotoFactory()
    before = snapshot()

    for method in ("get", "delete"):
        response = getattr(customer_client, method)(photo_url(claim.pk, victim_photo.pk))
        assert response.status_code == 404
    response = customer_client.get(photo_image_url(claim.pk, victim_photo.pk))
    assert response.status_code == 404
    assert snapshot() == before


def test_bad_input_another_customers_claim_is_not_listed(customer_client):
    ClaimFactory.create_batch(3)

    response = customer_client.get(claims_url())

    assert response.json()["count"] == 0
    assert Claim.objects.count() == 3


# --- size caps: declared length, streamed body, and the stored file -----------------------

CAP = 1024 * 1024  # 1 MiB: small enough to build in memory, large enough to say "1 MB"


@pytest.fixture
def small_cap(settings):
    settings.CLAIMVISION_MAX_UPLOAD_BYTES = CAP
    return CAP


def test_bad_input_over_the_cap_by_content_length(
    claim, customer_client, snapshot, small_cap, monkeypatch
):
    content = b"\xff\xd8\xff" + bytes(uploads.body_limit())
    monkeypatch.setattr(
        uploads.CappedUploadHandler,
        "receive_data_chunk",
        lambda *args: pytest.fail("the body was streamed"),
    )
    before = snapshot()

    response = upload(customer_client, claim.pk, content)

    assert_rejected_upload(response, 413, "file_too_large", before, snapshot)
    assert error_of(response)["message"] == uploads.too_large_message()
    assert "1 MB" in error_of(response)["message"]


class Unreadable:
    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_request_size_limit_middleware_refuses_before_reading_the_body(small_cap):
    request = RequestFactory().post(
        "/api/v1/claims/x/photos/", data=b"", content_type="multipart/form-data; boundary=x"
    )
    request.META["CONTENT_TYPE"] = "multipart/form-data; boundary=x"
    request.META["CONTENT_LENGTH"] = str(uploads.body_limit() + 1)
    request._stream = Unreadable()
    middleware = uploads.RequestSizeLimitMiddleware(lambda r: pytest.fail("the view was called"))

    response = middleware(request)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert b'"file_too_large"' in response.content


def test_request_size_limit_middleware_lets_a_request_within_the_cap_through(small_cap):
    request = RequestFactory().post("/", data=b"x" * 10, content_type="application/octet-stream")

    response = uploads.RequestSizeLimitMiddleware(lambda r: "passed")(request)

    assert response == "passed"


def test_bad_input_over_the_cap_while_streaming(
    claim, customer_client, snapshot, small_cap, settings
):
    # Without the Content-Length check (a client that sent chunked or lied), the upload
    # handler stops the body as it crosses the cap.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "RequestSizeLimit" not in m]
    content = b"\xff\xd8\xff" + bytes(uploads.body_limit())
    before = snapshot()

    response = upload(customer_client, claim.pk, content)

    assert_rejected_upload(response, 413, "file_too_large", before, snapshot)
    assert error_of(response)["message"] == uploads.too_large_message()


def test_capped_upload_handler_counts_across_chunks(small_cap):
    handler = uploads.CappedUploadHandler()
    chunk = b"x" * (64 * 1024)
    for _ in range(uploads.body_limit() // len(chunk)):
        assert handler.receive_data_chunk(chunk, 0) == chunk

    with pytest.raises(uploads.RequestBodyTooLarge):
        handler.receive_data_chunk(chunk, 0)


def test_bad_input_over_the_cap_within_the_framing_slack(
    claim, customer_client, snapshot, small_cap
):
    content = b"\xff\xd8\xff" + bytes(CAP)
    before = snapshot()

    response = upload(customer_client, claim.pk, content)

    assert_rejected_upload(response, 413, "file_too_large", before, snapshot)
    assert error_of(response)["message"] == images.ERR_TOO_LARGE.format(limit_mb=1)


def test_upload_just_under_the_cap_is_accepted(claim, customer_client, settings):
    content = jpeg_bytes(seed=42)
    settings.CLAIMVISION_MAX_UPLOAD_BYTES = len(content)

    response = upload(customer_client, claim.pk, content)

    assert response.status_code == 201
