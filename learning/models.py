"""What the learning stage records: retraining runs and label exports.

Both tables were created by the assessment app (its migrations 0004 and 0005) and moved here
with their rows (learning migration 0001, docs/architecture.md); their names are the ones
Django gives this app.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from assessment.models import ModelVersion


class RetrainingRun(models.Model):
    """One retraining attempt: what started it, how far it is, and the candidate it made."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        COUNT = "count", "Enough new reviewed photos"
        SCHEDULE = "schedule", "Schedule"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=300, blank=True)
    # Reviewed photos (PhotoLabels rows) that existed when the run was queued: the count
    # trigger fires on photos reviewed since the last run.
    reviewed_count = models.PositiveIntegerField(default=0)
    parent = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    candidate = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    promoted = models.BooleanField(default=False)
    log_tail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1),
                name="retraining_progress_unit_interval",
            )
        ]

    def __str__(self) -> str:
        return f"retraining {self.pk} ({self.status})"


class ExportJob(models.Model):
    """A data team's label export: its query, its status, and the zip a worker wrote.

    ``filters`` is the normalised query (``learning.exports.ExportQuery``); the same query
    over the same data gives the same bytes (``sha256``). The file sits in private storage and
    is only streamed to the user who asked for it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    formats = models.JSONField()  # e.g. ["coco", "voc"]
    coco_polygons = models.BooleanField(default=False)  # also write lossy polygon COCO
    filters = models.JSONField(default=dict)
    # Incremental: only photos whose labels changed after this export was requested.
    since_export = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    counts = models.JSONField(default=dict, blank=True)
    file = models.CharField(max_length=200, blank=True)  # name in the default (private) storage
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="export_job_user_recent_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed"]),
                name="export_job_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | ~Q(file=""),
                name="export_job_succeeded_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"
