"""Writes for claims: registration, the claim lifecycle, photo intake and preparation.

The hand-over to the assessment stage is in ``claims.tasks`` (docs/architecture.md).
"""

import hashlib
import logging
import os
import re
import secrets
import time
import unicodedata
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims import images
from claims.models import AccountPreference, ApiToken, Claim, Photo
from claims.roles import Role, session_hours
from config.errors import ApplicationError, ConflictError, NotFoundError
from config.queue import send_on_commit
from config.transactions import atomic_or_undo, on_rollback

logger = logging.getLogger(__name__)

ERR_USERNAME_TAKEN = _("That username is taken. Choose another one.")
ERR_USERNAME_FORM = _("Use 3 to 150 letters, digits and @ . + - _ only.")
ERR_USERNAME_CONFUSABLE = _(
    "Use only the Latin letters a-z in a username: letters from other alphabets, or styled "
    "letters, can look the same as someone else's name."
)
USERNAME_HELP = _("3 to 150 letters a-z, digits and @ . + - _")
ERR_WEAK_PASSWORD = _("Choose a stronger password.")
ERR_TRANSITION = _("A claim that is {current} cannot become {target}.")
ERR_NOT_DRAFT = _("Photos can only be changed while the claim is a draft (this one is {status}).")
ERR_PHOTO_ALREADY_ASSESSED = _(
    "This photo was already assessed and stays with the claim; only new photos can be removed."
)
ERR_PHOTO_LIMIT = _("A claim holds at most {limit} photos. Remove one before adding another.")
ERR_NO_PHOTOS = _("Add at least one photo of the damage before submitting.")
ERR_NO_NEW_PHOTOS = _("Add at least one new photo before sending the claim back to us.")
ERR_FUTURE_INCIDENT = _("The incident date cannot be in the future.")
ERR_PHOTO_FILES_MISSING = _("This photo's file is missing from storage; it must be uploaded again.")
ERR_LANGUAGE_UNKNOWN = _("That language is not offered.")


class PhotoFileMissingError(NotFoundError):
    """Neither the working copy nor the original of a photo is in storage."""


S = Claim.Status
# The lifecycle. Later stages (assessment, review) add their moves here, not elsewhere.
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.SUBMITTED},
    S.SUBMITTED: {S.ASSESSING},
    S.ASSESSING: {S.AUTO_DECIDED, S.IN_REVIEW},
    S.AUTO_DECIDED: {S.IN_REVIEW},  # the customer contests an automatic decision
    S.IN_REVIEW: {S.DECIDED, S.MORE_PHOTOS_REQUESTED},
    S.MORE_PHOTOS_REQUESTED: {S.SUBMITTED},  # the customer added photos and submitted again
    S.DECIDED: {S.IN_REVIEW},  # the customer contests a person's decision (senior review)
}

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


_USERNAME = re.compile(r"[A-Za-z0-9.@+_-]{3,150}")


def username_normalise(username: str) -> str:
    """The username as stored: NFKC (full-width and styled letters become plain ones), without
    surrounding spaces, and ASCII only.

    Letters of other alphabets are refused rather than kept: Cyrillic a (U+0430) and Greek
    omicron (U+03BF) look exactly like Latin "a" and "o", so a name spelt with them could pass
    for "admin" in the review queue and the audit trail. Uniqueness is case-insensitive on top
    of this (``user_register``).
    """
    name = unicodedata.normalize("NFKC", username).strip()
    if not name.isascii():
        raise ApplicationError(ERR_USERNAME_CONFUSABLE, code="username_confusable")
    if not _USERNAME.fullmatch(name):
        raise ApplicationError(ERR_USERNAME_FORM, code="username_invalid")
    return name


def user_register(*, username: str, email: str, password: str):
    """Create a customer account. Staff roles are never self-assigned.

    The password is used exactly as typed (no trimming), as every sign-in uses it.
    """
    User = get_user_model()
    username = username_normalise(username)
    try:
        validate_password(password, user=User(username=username, email=email))
    except DjangoValidationError as exc:
        raise ApplicationError(
            ERR_WEAK_PASSWORD, code="weak_password", details={"password": exc.messages}
        ) from None
    # "Erin" and "erin" are one name to the people who read it; the unique index on
    # lower(username) (migration 0004) settles a race between two registrations.
    if User.objects.filter(username__iexact=username).exists():
        raise ConflictError(ERR_USERNAME_TAKEN, code="username_taken")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            customers, _ = Group.objects.get_or_create(name=Role.CUSTOMER.value)
            user.groups.add(customers)
    except IntegrityError:
        raise ConflictError(ERR_USERNAME_TAKEN, code="username_taken") from None
    return user


def user_language_set(*, user, language: str) -> AccountPreference:
    """Save the language ``user`` chose (one of settings.LANGUAGES, or "" to follow the
    browser); it wins over the browser's on every later request, on any device."""
    if language and language not in dict(settings.LANGUAGES):
        raise ApplicationError(ERR_LANGUAGE_UNKNOWN, code="language_unknown")
    preference, _ = AccountPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference


def api_token_issue(*, user) -> str:
    """A new API token for ``user``, returned once; only its hash is stored.

    Each sign-in gets its own token, expiring after the role's session length
    (claims.roles.session_hours); past ``CLAIMVISION_API_TOKENS_PER_USER`` live tokens the
    oldest are revoked, and expired ones are deleted on the way.
    """
    key = secrets.token_hex(32)
    now = timezone.now()
    with transaction.atomic():
        ApiToken.objects.filter(user=user, expires_at__lte=now).delete()
        ApiToken.objects.create(
            user=user,
            key_hash=api_token_hash(key),
            prefix=key[:8],
            expires_at=now + timedelta(hours=session_hours(user)),
        )
        keep = settings.CLAIMVISION_API_TOKENS_PER_USER
        stale = ApiToken.objects.filter(user=user).order_by("-created_at", "-id")[keep:]
        ApiToken.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    return key


def api_token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_reference() -> str:
    body = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"CLM-{timezone.now():%Y}-{body}"


def claim_create(
    *,
    owner,
    policy_number: str,
    vehicle_make: str,
    vehicle_model: str,
    vehicle_year: int,
    incident_date: date,
    description: str = "",
) -> Claim:
    if incident_date > timezone.localdate():
        raise ApplicationError(ERR_FUTURE_INCIDENT, code="incident_in_future")
    # 32^6 = 10^9 references a year: a clash is rare, five in a row absurd.
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Claim.objects.create(
                    owner=owner,
                    reference=_new_reference(),
                    policy_number=policy_number.strip(),
                    vehicle_make=vehicle_make.strip(),
                    vehicle_model=vehicle_model.strip(),
                    vehicle_year=vehicle_year,
                    incident_date=incident_date,
                    description=description.strip(),
                )
        except IntegrityError as exc:
            if "reference" not in str(exc):
                raise  # another constraint failed: not a clash of references
            logger.warning("claim reference collision, retrying")
    raise RuntimeError("could not allocate a unique claim reference")


def claim_transition(*, claim: Claim, to: str, **fields) -> Claim:
    """Move a claim along its lifecycle, atomically against concurrent movers.

    The update is a compare-and-set on the current status, so two workers (or a worker and a
    customer) racing on one claim cannot both move it.
    """
    current = claim.status
    if to not in TRANSITIONS.get(current, set()):
        raise ConflictError(
            ERR_TRANSITION.format(current=current, target=to),
            code="invalid_transition",
            details={"from": current, "to": to},
        )
    updated = Claim.objects.filter(pk=claim.pk, status=current).update(
        status=to, updated_at=timezone.now(), **fields
    )
    if not updated:
        claim.refresh_from_db()
        raise ConflictError(
            ERR_TRANSITION.format(current=claim.status, target=to),
            code="invalid_transition",
            details={"from": claim.status, "to": to},
        )
    claim.refresh_from_db()
    return claim


# Photos may be added while a claim is a draft, and again when an adjuster asked for more.
PHOTO_EDITABLE_STATUSES = {S.DRAFT, S.MORE_PHOTOS_REQUESTED}


def _require_draft(claim: Claim) -> None:
    if claim.status not in PHOTO_EDITABLE_STATUSES:
        raise ConflictError(ERR_NOT_DRAFT.format(status=claim.status), code="claim_not_editable")


def safe_display_name(name: str | None) -> str:
    """The client's file name, reduced to something safe to show: no path, no control chars."""
    if not name:
        return ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".")
    if len(name) > 120:
        stem, ext = os.path.splitext(name)
        name = stem[: 120 - len(ext[:10])] + ext[:10]
    return name


def photo_ingest(*, claim: Claim, upload: UploadedFile) -> Photo:
    """Validate, store and register one photo. A 201 means the file is stored and committed."""
    _require_draft(claim)
    info, working_bytes, grey = images.ingest(
        upload,
        max_bytes=settings.CLAIMVISION_MAX_UPLOAD_BYTES,
        max_pixels=settings.CLAIMVISION_MAX_IMAGE_PIXELS,
        max_side=settings.CLAIMVISION_WORKING_MAX_SIDE,
    )
    quality = images.quality_check(grey, width=info.width, height=info.height)

    photo_id = uuid.uuid4()
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[info.format]
    # Nothing half-written survives a failed upload: the files go unless the row commits, also
    # when the database dies at COMMIT of an enclosing transaction (claims.idempotency).
    with atomic_or_undo():
        # Lock the claim row: the photo cap and the draft check hold against parallel uploads.
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        _require_draft(locked)
        limit = settings.CLAIMVISION_MAX_PHOTOS_PER_CLAIM
        if locked.photos.count() >= limit:
            raise ConflictError(ERR_PHOTO_LIMIT.format(limit=limit), code="photo_limit_reached")
        duplicate = (
            Photo.objects.filter(sha256=info.sha256)
            .exclude(claim__owner_id=claim.owner_id)
            .order_by("created_at")
            .first()
        )
        photo = Photo(
            id=photo_id,
            claim=locked,
            original_name=safe_display_name(upload.name),
            image_format=info.format,
            size_bytes=info.size_bytes,
            width=info.width,
            height=info.height,
            sha256=info.sha256,
            duplicate_of=duplicate,
            quality_warnings=quality.warnings,
            quality_metrics=quality.metrics,
        )
        upload.seek(0)
        for field, name, content in (
            (photo.original, f"{claim.pk}/{photo_id}.{extension}", upload),
            (photo.working, f"{claim.pk}/{photo_id}.jpg", ContentFile(working_bytes)),
        ):
            field.save(name, content, save=False)
            on_rollback(lambda storage=field.storage, name=field.name: storage.delete(name))
        if settings.CLAIMVISION_UPLOAD_DELAY_S:  # fault injection for the reliability tests
            time.sleep(settings.CLAIMVISION_UPLOAD_DELAY_S)
        photo.save()
        Claim.objects.filter(pk=claim.pk).update(updated_at=timezone.now())
    if duplicate is not None:
        logger.info("photo %s duplicates photo %s of another customer", photo.id, duplicate.id)
    return photo


def photo_delete(*, photo: Photo) -> None:
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=photo.claim_id)
        _require_draft(claim)
        if claim.status != S.DRAFT and photo.status != Photo.Status.RECEIVED:
            # Photos already assessed are evidence behind the earlier assessment and decision.
            raise ConflictError(ERR_PHOTO_ALREADY_ASSESSED, code="photo_not_removable")
        names = [(f.storage, f.name) for f in (photo.original, photo.working) if f]
        photo.delete()
        transaction.on_commit(lambda: [storage.delete(name) for storage, name in names])


def claim_submit(*, claim: Claim) -> Claim:
    """Hand a draft claim to the workers. The task is sent only once the commit succeeded.

    A claim for which an adjuster asked more photos is submitted again the same way once the
    customer added at least one (new photos are those not yet prepared); it keeps its first
    submission time.
    """
    from claims.tasks import claim_prepare_task

    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        if locked.status == Claim.Status.DRAFT and not locked.photos.exists():
            raise ConflictError(ERR_NO_PHOTOS, code="no_photos")
        if (
            locked.status == S.MORE_PHOTOS_REQUESTED
            and not locked.photos.filter(status=Photo.Status.RECEIVED).exists()
        ):
            raise ConflictError(ERR_NO_NEW_PHOTOS, code="no_new_photos")
        now = timezone.now()
        claim = claim_transition(
            claim=locked, to=S.SUBMITTED, submitted_at=locked.submitted_at or now, enqueued_at=now
        )
        send_on_commit(claim_prepare_task, str(claim.pk))
    return claim


def claim_prepare(*, claim_id: uuid.UUID | str) -> Claim | None:
    """Make every photo of a submitted claim ready for assessment, then mark it assessing.

    The task that calls this hands an ``assessing`` claim to the next stage
    (``claims.tasks.claim_prepare_task``); intake itself knows nothing of the model.

    Idempotent: photos already prepared are skipped, and a claim already past ``submitted``
    is left as it is, so a re-delivered task does no harm.
    """
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None:
        logger.warning("claim %s vanished before preparation", claim_id)
        return None
    for photo in claim.photos.exclude(status=Photo.Status.PREPARED):
        photo_prepare(photo=photo)
    if claim.status == S.SUBMITTED:
        try:
            claim = claim_transition(claim=claim, to=S.ASSESSING, enqueued_at=timezone.now())
        except ConflictError:
            claim.refresh_from_db()  # another delivery of this task got there first
    return claim


def photo_working_ensure(*, photo: Photo) -> bool:
    """Rebuild a lost working copy (and its quality check) from the original; True if rebuilt.

    Every reader of working copies calls this first (image views, exports, preparation), so a
    copy lost to a disk clean-up or a failed restore costs one re-encode, not an error. Raises
    ``PhotoFileMissingError`` when the original is gone too; its message names no path.
    """
    if photo.working and photo.working.storage.exists(photo.working.name):
        return False
    if not photo.original or not photo.original.storage.exists(photo.original.name):
        logger.error("photo %s: working copy and original are both missing", photo.pk)
        raise PhotoFileMissingError(ERR_PHOTO_FILES_MISSING, code="photo_file_missing")
    with photo.original.open("rb") as original:
        working_bytes, grey = images.working_copy(
            original, max_side=settings.CLAIMVISION_WORKING_MAX_SIDE
        )
    photo.working.save(f"{photo.claim_id}/{photo.id}.jpg", ContentFile(working_bytes), False)
    quality = images.quality_check(grey, width=photo.width, height=photo.height)
    photo.quality_warnings, photo.quality_metrics = quality.warnings, quality.metrics
    Photo.objects.filter(pk=photo.pk).update(
        working=photo.working.name,
        quality_warnings=photo.quality_warnings,
        quality_metrics=photo.quality_metrics,
    )
    logger.warning("photo %s: rebuilt its missing working copy from the original", photo.pk)
    return True


def photo_prepare(*, photo: Photo) -> Photo:
    """Re-create whatever is missing: the working copy, the quality check, the hash."""
    photo_working_ensure(photo=photo)
    photo.status = Photo.Status.PREPARED
    photo.prepared_at = timezone.now()
    photo.save(
        update_fields=["working", "quality_warnings", "quality_metrics", "status", "prepared_at"]
    )
    return photo


def claims_sweep_stuck(*, now=None) -> list[str]:
    """Re-send claims whose processing has not moved for too long (lost message, dead broker,
    worker killed with its message unacknowledged). Re-sending is safe: every step is
    idempotent per photo and model version."""
    from claims.tasks import claim_prepare_task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CLAIMVISION_STUCK_AFTER_SECONDS)
    stuck = list(
        Claim.objects.filter(status__in=[S.SUBMITTED, S.ASSESSING], enqueued_at__lt=cutoff)
        .order_by("enqueued_at")
        .values_list("pk", flat=True)[:500]
    )
    resent = []
    for pk in stuck:
        if Claim.objects.filter(
            pk=pk, status__in=[S.SUBMITTED, S.ASSESSING], enqueued_at__lt=cutoff
        ).update(enqueued_at=now):
            claim_prepare_task.delay(str(pk))
            resent.append(str(pk))
    if resent:
        logger.warning("re-enqueued %d stuck claims", len(resent))
    return resent
