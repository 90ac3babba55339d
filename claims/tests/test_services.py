"""Unit tests for the claims services: accounts, the claim lifecycle and photo intake."""

import contextlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from claims import images, services
from claims.models import Claim, Photo
from claims.roles import Role, user_roles
from claims.tests.factories import (
    PASSWORD,
    ClaimFactory,
    CustomerFactory,
    PhotoFactory,
    gps_exif,
    jpeg_bytes,
    two_tone_jpeg,
)
from claims.tests.helpers import files_under
from config.errors import ApplicationError, ConflictError, UnsupportedMediaTypeError

pytestmark = pytest.mark.django_db


def as_upload(content: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


# --- user_register ----------------------------------------------------------------------


def test_user_register_creates_a_customer_only():
    user = services.user_register(username="alice", email="alice@example.com", password=PASSWORD)

    assert user_roles(user) == [Role.CUSTOMER.value]
    assert not user.is_staff and not user.is_superuser
    assert user.check_password(PASSWORD)


def test_user_register_rejects_a_weak_password():
    with pytest.raises(ApplicationError) as exc:
        services.user_register(username="bob", email="bob@example.com", password="123")

    assert exc.value.code == "weak_password"
    assert exc.value.message == services.ERR_WEAK_PASSWORD
    assert exc.value.details["password"]


def test_user_register_rejects_a_taken_username():
    CustomerFactory(username="carol")

    with pytest.raises(ConflictError) as exc:
        services.user_register(username="carol", email="c2@example.com", password=PASSWORD)

    assert exc.value.code == "username_taken"
    assert exc.value.message == services.ERR_USERNAME_TAKEN


def test_user_register_creates_the_customer_group_when_missing():
    Group.objects.filter(name=Role.CUSTOMER.value).delete()

    user = services.user_register(username="dave", email="dave@example.com", password=PASSWORD)

    assert list(user.groups.values_list("name", flat=True)) == [Role.CUSTOMER.value]


# --- claim_create -----------------------------------------------------------------------


def test_claim_create_starts_a_draft_with_a_readable_reference(customer):
    claim = services.claim_create(
        owner=customer,
        policy_number="  POL-1234 ",
        vehicle_make=" Ford ",
        vehicle_model="Focus",
        vehicle_year=2018,
        incident_date=timezone.localdate(),
        description=" Door scraped. ",
    )

    assert claim.status == Claim.Status.DRAFT
    assert claim.owner == customer
    assert claim.reference.startswith(f"CLM-{timezone.now():%Y}-")
    body = claim.reference.rsplit("-", 1)[1]
    assert len(body) == 6 and not set(body) & set("01IO")
    assert (claim.policy_number, claim.vehicle_make, claim.description) == (
        "POL-1234",
        "Ford",
        "Door scraped.",
    )


def test_claim_create_rejects_a_future_incident(customer):
    with pytest.raises(ApplicationError) as exc:
        services.claim_create(
            owner=customer,
            policy_number="POL-1",
            vehicle_make="Ford",
            vehicle_model="Focus",
            vehicle_year=2018,
            incident_date=timezone.localdate() + timedelta(days=1),
        )

    assert exc.value.code == "incident_in_future"
    assert exc.value.message == services.ERR_FUTURE_INCIDENT
    assert Claim.objects.count() == 0


def test_claim_create_retries_a_reference_collision(customer, monkeypatch):
    taken = ClaimFactory(reference="CLM-2025-AAAAAA").reference
    refs = iter([taken, "CLM-2025-BBBBBB"])
    monkeypatch.setattr(services, "_new_reference", lambda: next(refs))

    claim = services.claim_create(
        owner=customer,
        policy_number="POL-1",
        vehicle_make="Ford",
        vehicle_model="Focus",
        vehicle_year=2018,
        incident_date=timezone.localdate(),
    )

    assert claim.reference == "CLM-2025-BBBBBB"


# --- claim_transition -------------------------------------------------------------------


def test_claim_transition_moves_along_the_lifecycle(claim):
    now = timezone.now()

    moved = services.claim_transition(claim=claim, to=Claim.Status.SUBMITTED, submitted_at=now)

    assert moved.status == Claim.Status.SUBMITTED
    assert Claim.objects.get(pk=claim.pk).submitted_at == now


def test_claim_transition_rejects_an_illegal_move(claim):
    with pytest.raises(ConflictError) as exc:
        services.claim_transition(claim=claim, to=Claim.Status.DECIDED)

    assert exc.value.code == "invalid_transition"
    assert exc.value.message == services.ERR_TRANSITION.format(current="draft", target="decided")
    assert exc.value.details == {"from": "draft", "to": "decided"}
    assert Claim.objects.get(pk=claim.pk).status == Claim.Status.DRAFT


def test_claim_transition_loses_a_race_against_a_concurrent_mover():
    claim = ClaimFactory(submitted=True)
    stale = Claim.objects.get(pk=claim.pk)
    services.claim_transition(claim=claim, to=Claim.Status.ASSESSING)

    with pytest.raises(ConflictError) as exc:
        services.claim_transition(claim=stale, to=Claim.Status.ASSESSING)

    assert exc.value.code == "invalid_transition"
    assert exc.value.details == {"from": "assessing", "to": "assessing"}


# --- safe_display_name ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bumper.jpg", "bumper.jpg"),
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\evil.jpg", "evil.jpg"),
        ("bad\x00name\x1f.jpg", "badname.jpg"),
        (".hidden.jpg", "hidden.jpg"),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_display_name_strips_paths_and_control_characters(name, expected):
    assert services.safe_display_name(name) == expected


def test_safe_display_name_shortens_a_long_name_keeping_the_extension():
    name = services.safe_display_name("a" * 10_000 + ".jpg")

    assert len(name) == 120
    assert name.endswith("a.jpg")


# --- photo_ingest -----------------------------------------------------------------------


def test_photo_ingest_stores_original_and_working_copy(claim, media_root):
    content = jpeg_bytes(200, 100, seed=21)

    photo = services.photo_ingest(claim=claim, upload=as_upload(content, "door.jpg"))

    photo.refresh_from_db()
    assert photo.claim == claim
    assert (photo.image_format, photo.width, photo.height) == ("JPEG", 200, 100)
    assert photo.size_bytes == len(content)
    assert photo.original_name == "door.jpg"
    assert photo.original.name == f"{claim.pk}/{photo.pk}.jpg"
    assert photo.working.name == f"{claim.pk}/{photo.pk}.jpg"
    assert files_under(media_root) == {
        f"originals/{claim.pk}/{photo.pk}.jpg",
        f"working/{claim.pk}/{photo.pk}.jpg",
    }
    with photo.original.open("rb") as original:
        assert original.read() == content
    assert photo.duplicate_of is None
    assert [w["code"] for w in photo.quality_warnings] == ["too_small"]
    assert photo.quality_metrics["short_side"] == 100


def test_photo_ingest_keeps_the_original_and_strips_the_working_copy(claim):
    content = two_tone_jpeg(exif=gps_exif(orientation=6))

    photo = services.photo_ingest(claim=claim, upload=as_upload(content))

    assert (photo.width, photo.height) == (80, 120)
    with photo.original.open("rb") as original:
        assert original.read() == content
    with photo.working.open("rb") as f, Image.open(f) as working:
        assert working.size == (80, 120)
        assert dict(working.getexif()) == {}
        assert "exif" not in working.info


def test_photo_ingest_flags_the_same_bytes_in_another_customers_claim(claim):
    content = jpeg_bytes(seed=22)
    first = services.photo_ingest(claim=claim, upload=as_upload(content))
    other_claim = ClaimFactory()

    second = services.photo_ingest(claim=other_claim, upload=as_upload(content))

    assert second.duplicate_of == first
    assert second.is_duplicate and not first.is_duplicate


def test_photo_ingest_does_not_flag_the_same_customer_reusing_a_photo(claim):
    content = jpeg_bytes(seed=23)
    services.photo_ingest(claim=claim, upload=as_upload(content))
    same_owner_claim = ClaimFactory(owner=claim.owner)

    again = services.photo_ingest(claim=same_owner_claim, upload=as_upload(content))

    assert again.duplicate_of is None


def test_photo_ingest_refuses_a_photo_over_the_limit(claim, settings, media_root):
    settings.CLAIMVISION_MAX_PHOTOS_PER_CLAIM = 2
    PhotoFactory.create_batch(2, claim=claim)
    before = files_under(media_root)

    with pytest.raises(ConflictError) as exc:
        services.photo_ingest(claim=claim, upload=as_upload(jpeg_bytes()))

    assert exc.value.code == "photo_limit_reached"
    assert exc.value.message == services.ERR_PHOTO_LIMIT.format(limit=2)
    assert claim.photos.count() == 2
    assert files_under(media_root) == before


def test_photo_ingest_refuses_a_submitted_claim(media_root):
    claim = ClaimFactory(submitted=True)

    with pytest.raises(ConflictError) as exc:
        services.photo_ingest(claim=claim, upload=as_upload(jpeg_bytes()))

    assert exc.value.code == "claim_not_editable"
    assert exc.value.message == services.ERR_NOT_DRAFT.format(status="submitted")
    assert files_under(media_root) == set()


def test_photo_ingest_refuses_an_invalid_file_before_storing_it(claim, media_root):
    with pytest.raises(UnsupportedMediaTypeError):
        services.photo_ingest(claim=claim, upload=as_upload(b"GIF89a" + bytes(40)))

    assert Photo.objects.count() == 0
    assert files_under(media_root) == set()


def test_photo_ingest_removes_stored_files_when_the_row_fails(claim, media_root, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Photo, "save", fail)

    with pytest.raises(RuntimeError):
        services.photo_ingest(claim=claim, upload=as_upload(jpeg_bytes()))

    assert files_under(media_root) == set()


# --- photo_delete -----------------------------------------------------------------------


def test_photo_delete_removes_the_row_and_its_files_after_commit(
    photo, media_root, django_capture_on_commit_callbacks
):
    assert len(files_under(media_root)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        services.photo_delete(photo=photo)

    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert files_under(media_root) == set()


def test_photo_delete_refuses_once_the_claim_is_submitted(media_root):
    photo = PhotoFactory(claim=ClaimFactory(submitted=True))

    with pytest.raises(ConflictError) as exc:
        services.photo_delete(photo=photo)

    assert exc.value.code == "claim_not_editable"
    assert Photo.objects.filter(pk=photo.pk).exists()
    assert len(files_under(media_root)) == 2


# --- claim_submit -----------------------------------------------------------------------


def test_claim_submit_enqueues_only_after_commit(
    photo, enqueued, django_capture_on_commit_callbacks
):
    claim = photo.claim

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submitted = services.claim_submit(claim=claim)
        assert enqueued == []

    assert submitted.status == Claim.Status.SUBMITTED
    assert submitted.submitted_at is not None and submitted.enqueued_at is not None
    assert len(callbacks) == 1
    callbacks[0]()
    assert enqueued == [str(claim.pk)]


def test_claim_submit_sends_nothing_when_the_transaction_rolls_back(
    photo, enqueued, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        services.claim_submit(claim=photo.claim)
        raise RuntimeError("rolled back")

    assert callbacks == []
    assert enqueued == []
    assert Claim.objects.get(pk=photo.claim_id).status == Claim.Status.DRAFT


def test_claim_submit_refuses_a_claim_without_photos(claim, enqueued):
    with pytest.raises(ApplicationError) as exc:
        services.claim_submit(claim=claim)

    assert exc.value.code == "no_photos"
    assert exc.value.message == services.ERR_NO_PHOTOS
    assert Claim.objects.get(pk=claim.pk).status == Claim.Status.DRAFT


def test_claim_submit_refuses_a_second_submit(photo, django_capture_on_commit_callbacks, enqueued):
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_submit(claim=photo.claim)

    with pytest.raises(ConflictError) as exc:
        services.claim_submit(claim=photo.claim)

    assert exc.value.code == "invalid_transition"
    assert exc.value.details == {"from": "submitted", "to": "submitted"}
    assert enqueued == [str(photo.claim_id)]


def test_quality_warnings_are_stored_for_assessment(claim):
    dark = Image.new("RGB", (800, 700), (5, 5, 5))
    photo = services.photo_ingest(claim=claim, upload=as_upload(_encode_jpeg(dark)))

    assert [w["code"] for w in photo.quality_warnings] == ["too_blurry", "too_dark"]
    assert photo.quality_warnings[1]["message"] == images.WARN_TOO_DARK


def _encode_jpeg(img: Image.Image) -> bytes:
    import io

    out = io.BytesIO()
    img.save(out, "JPEG")
    return out.getvalue()
