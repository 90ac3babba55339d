"""Adjuster review: locks, corrected labels, the override ledger, time on task and notes.

The corrected labels are the product's most valuable data (they train the next model), so they
are stored losslessly: one row per region with its COCO RLE mask on the photo assessment's mask
grid. Rules (who may save, what is valid, how the ledger is computed) live in
``review.services``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

SEVERITIES = ["minor", "moderate", "severe"]
LEDGER_ACTIONS = [
    "accepted",
    "reshaped",
    "relabelled",
    "severity_changed",
    "part_changed",
    "deleted",
    "added",
]
# How a corrected region came to be: the model's region accepted unchanged by a person, a model
# region a person changed (shape, type or severity), or one a person drew.
REGION_ORIGINS = ["accepted", "edited", "added"]


class ReviewLock(models.Model):
    """Who is reviewing a claim, until when. One row per claim; taking over replaces it."""

    claim = models.OneToOneField(
        "claims.Claim", on_delete=models.CASCADE, primary_key=True, related_name="review_lock"
    )
    adjuster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_locks"
    )
    taken_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("taken_at")), name="review_lock_expires_later"
            )
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} by {self.adjuster_id} until {self.expires_at:%H:%M}"


class PhotoLabels(models.Model):
    """The current corrected label of one photo; ``version`` guards against lost updates."""

    photo = models.OneToOneField(
        "claims.Photo", on_delete=models.CASCADE, related_name="review_labels"
    )
    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="+")
    # The prediction these labels correct (its mask grid is the labels' grid).
    photo_assessment = models.ForeignKey(
        "assessment.PhotoAssessment", on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField()
    adjuster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )  # who saved the current version
    active_ms = models.PositiveBigIntegerField(default=0)  # active time on the photo, all saves
    created_at = models.DateTimeField(auto_now_add=True)
    saved_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "photo labels"
        constraints = [
            models.CheckConstraint(
                condition=Q(version__gte=1), name="photo_labels_version_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} v{self.version}"


class LabelRegion(models.Model):
    """One corrected region: a full-resolution (mask grid) COCO RLE, its type and severity."""

    labels = models.ForeignKey(PhotoLabels, on_delete=models.CASCADE, related_name="regions")
    index = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=60)  # a name from the model version's label map
    label_id = models.PositiveSmallIntegerField()
    severity = models.CharField(max_length=10)
    # The predicted region this one started from; null = added by the adjuster.
    source_index = models.PositiveSmallIntegerField(null=True, blank=True)
    mask_rle = models.JSONField()  # {"size": [h, w], "counts": str}, re-encoded by pycocotools
    area = models.PositiveIntegerField()  # pixels on the mask grid
    bbox = models.JSONField()  # [x, y, w, h] in mask pixels
    # Set by the server from the comparison with the prediction (the ledger's rule), never by
    # the client: an accepted region is the model's guess a person let through, not a drawing,
    # and exports keep the two apart.
    origin = models.CharField(max_length=10, default="edited")
    # The car part the adjuster put the region on (a part map name, ml.labels); blank: the part
    # of the model region it started from (``source_index``), or no part for a drawn region.
    part = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["labels", "index"], name="label_region_index_unique"),
            models.CheckConstraint(
                condition=Q(severity__in=SEVERITIES), name="label_region_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(origin__in=REGION_ORIGINS), name="label_region_origin_valid"
            ),
            # Only a region that came from a prediction can have been accepted unchanged.
            models.CheckConstraint(
                condition=~Q(origin="accepted") | Q(source_index__isnull=False),
                name="label_region_accepted_has_source",
            ),
            models.CheckConstraint(condition=Q(area__gt=0), name="label_region_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.severity}) #{self.index}"


class OverrideLedgerEntry(models.Model):
    """What an adjuster did to one region against the model's prediction, at one save.

    Every save appends the full comparison for its photo (tagged with ``labels_version``), so
    the entries of the photo's current version are its current ledger and older versions stay
    as history. A region can have several entries in one save (reshaped and relabelled).
    """

    class Action(models.TextChoices):
        ACCEPTED = "accepted", "Accepted unchanged"
        RESHAPED = "reshaped", "Reshaped"
        RELABELLED = "relabelled", "Relabelled"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        PART_CHANGED = "part_changed", "Part changed"
        DELETED = "deleted", "Deleted (false positive)"
        ADDED = "added", "Added (missed damage)"

    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="+")
    photo = models.ForeignKey("claims.Photo", on_delete=models.CASCADE, related_name="+")
    labels_version = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=Action.choices)
    source_index = models.PositiveSmallIntegerField(null=True, blank=True)  # predicted region
    region_index = models.PositiveSmallIntegerField(null=True, blank=True)  # corrected region
    iou = models.FloatField(null=True, blank=True)  # corrected vs predicted mask
    model_confidence = models.FloatField(null=True, blank=True)  # of the predicted region
    from_label = models.CharField(max_length=60, blank=True)
    to_label = models.CharField(max_length=60, blank=True)
    from_severity = models.CharField(max_length=10, blank=True)
    to_severity = models.CharField(max_length=10, blank=True)
    # The car part before (the model region's) and after (the adjuster's); set on every entry
    # where known, so each change is filed under its part.
    from_part = models.CharField(max_length=60, blank=True)
    to_part = models.CharField(max_length=60, blank=True)
    adjuster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Active time on the photo up to this save (all saves so far), in milliseconds.
    active_ms = models.PositiveBigIntegerField()
    model_version = models.ForeignKey(
        "assessment.ModelVersion", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["photo_id", "labels_version", "id"]
        verbose_name_plural = "override ledger entries"
        indexes = [models.Index(fields=["photo", "labels_version"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=LEDGER_ACTIONS), name="ledger_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(iou__isnull=True) | (Q(iou__gte=0) & Q(iou__lte=1)),
                name="ledger_iou_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(action="added") | Q(source_index__isnull=False),
                name="ledger_source_unless_added",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} v{self.labels_version}: {self.action}"


ADJUSTMENT_ACTIONS = ["add", "remove", "change"]
ADJUSTMENT_OPERATIONS = ["repair", "replace", "refinish", "r_and_i", "blend"]


class EstimateAdjustment(models.Model):
    """One edit an adjuster made to a claim's estimate lines by part, before the decision:
    add a line, remove one, or change one's operation, hours or parts cost.

    Append-only, and the estimate's own override ledger: the override ledger above is per photo
    and region (it compares labels with a prediction), a line is per claim and part. The live
    estimate and the decision apply a claim's adjustments in order (``id``), each to the line of
    its (part, operation); the last one for a line wins (assessment.part_pricing).
    """

    class Action(models.TextChoices):
        ADD = "add", "Line added"
        REMOVE = "remove", "Line removed"
        CHANGE = "change", "Line changed"

    claim = models.ForeignKey(
        "claims.Claim", on_delete=models.CASCADE, related_name="estimate_adjustments"
    )
    adjuster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    part = models.CharField(max_length=60)  # a part map name (ml.labels)
    operation = models.CharField(max_length=10)  # the line's operation
    # change: the operation the line becomes (blank: it keeps its operation)
    to_operation = models.CharField(max_length=10, blank=True)
    # null: keep the line's figure (change), or the price table's (add)
    labour_hours = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    parts_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # What the line was before the edit (from the live estimate the adjuster saw), for the record.
    before = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["claim_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ADJUSTMENT_ACTIONS), name="estimate_adjustment_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(operation__in=ADJUSTMENT_OPERATIONS),
                name="estimate_adjustment_operation_valid",
            ),
            models.CheckConstraint(
                condition=Q(to_operation="") | Q(to_operation__in=ADJUSTMENT_OPERATIONS),
                name="estimate_adjustment_to_operation_valid",
            ),
            models.CheckConstraint(
                condition=Q(labour_hours__isnull=True) | Q(labour_hours__gte=0),
                name="estimate_adjustment_hours_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(parts_cost__isnull=True) | Q(parts_cost__gte=0),
                name="estimate_adjustment_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.action} {self.part} {self.operation}"


class ActiveTime(models.Model):
    """Active (not idle) time an adjuster spent, as the screen measured and reported it.

    ``photo`` set: time on that photo (reported with each labels save). ``photo`` null: time on
    the claim as a whole (reported with lock renewals and the decision); photo time is part of
    it, not added to it.
    """

    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="+")
    photo = models.ForeignKey(
        "claims.Photo", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    adjuster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    active_ms = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["claim", "photo"])]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.active_ms} ms"


class ClaimNote(models.Model):
    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.claim_id}"
