"""Claims and their photos. Lifecycle rules live in ``claims.services``, not here."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.storage import AliasStorage


def originals_storage():
    """Private storage of uploads exactly as received; never served to anyone."""
    return AliasStorage("originals")


def working_storage():
    """Metadata-free working copies, streamed only through permission-checked views."""
    return AliasStorage("working")


class Claim(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        ASSESSING = "assessing", _("Being assessed")
        AUTO_DECIDED = "auto_decided", _("Decided automatically")
        IN_REVIEW = "in_review", _("With an adjuster")
        DECIDED = "decided", _("Decided")
        # An adjuster asked for more photos: the customer may add photos and submit again.
        MORE_PHOTOS_REQUESTED = "more_photos_requested", _("More photos requested")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=20, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims"
    )
    policy_number = models.CharField(max_length=40)
    vehicle_make = models.CharField(max_length=60)
    vehicle_model = models.CharField(max_length=60)
    vehicle_year = models.PositiveSmallIntegerField()
    incident_date = models.DateField()
    description = models.TextField(max_length=5000, blank=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When processing was last handed to the queue; the sweeper re-sends claims stuck past it.
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "enqueued_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "draft",
                        "submitted",
                        "assessing",
                        "auto_decided",
                        "in_review",
                        "decided",
                        "more_photos_requested",
                    ]
                ),
                name="claim_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(vehicle_year__gte=1900) & Q(vehicle_year__lte=2100),
                name="claim_vehicle_year_range",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False),
                name="claim_submitted_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class Photo(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PREPARED = "prepared", "Prepared"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="photos")
    # Stored under generated names; the client's file name is kept, sanitised, for display only.
    original = models.FileField(storage=originals_storage, max_length=200)
    working = models.FileField(storage=working_storage, max_length=200, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    image_format = models.CharField(max_length=10)  # JPEG, PNG, WEBP: decided from content
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()  # after EXIF orientation
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    # The same bytes already sit in another customer's claim: a fraud signal for routing.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quality_warnings = models.JSONField(default=list, blank=True)
    quality_metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    prepared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(image_format__in=["JPEG", "PNG", "WEBP"]), name="photo_format_allowed"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "prepared", "failed"]),
                name="photo_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}/{self.id}"

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of_id is not None


class IdempotencyRecord(models.Model):
    """The first response to a request carrying an ``Idempotency-Key``, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=200)  # method and path the key was first used on
    fingerprint = models.CharField(max_length=64)  # sha256 of the request's content
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class ApiToken(models.Model):
    """An API token, kept as its SHA-256 only: a copy of the database holds no usable token.

    Tokens are 256-bit random strings, so one fast hash is enough (a slow password hash would
    protect guessable secrets, which these are not). Each has an expiry by role and is shown
    once, when issued (claims.services.api_token_issue).
    """

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)  # tells tokens apart in the admin
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class AccountPreference(models.Model):
    """What a person chose for their own account, kept across devices and sign-ins.

    ``language`` is one of ``settings.LANGUAGES`` or empty (follow the browser); a signed-in
    customer's choice wins over the browser's Accept-Language (claims.i18n).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="preference",
    )
    language = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language or '-'}"
