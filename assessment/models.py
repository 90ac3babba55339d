"""Model versions, photo and claim assessments, estimates, decision policies, decisions, audit.

Invariants live in the database: one assessment per (photo, model version), one claim
assessment per claim, confidences in [0, 1], one active model and one active policy, and an
audit trail that refuses updates and deletes (triggers, see migration 0002).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        SHADOW = "shadow", "Shadow"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    version = models.CharField(max_length=80, unique=True)
    path = models.CharField(max_length=500)  # model directory, absolute or relative to the repo
    artifact_sha256 = models.CharField(max_length=64)
    label_map = models.JSONField()
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CANDIDATE)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Registry (learning stage): lineage, data, and how the version compared when made.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    training_snapshot = models.JSONField(default=dict, blank=True)  # samples and label versions
    eval_metrics = models.JSONField(default=dict, blank=True)  # frozen reviewed evaluation set
    real_metrics = models.JSONField(default=dict, blank=True)  # real photo set, test split
    comparison = models.JSONField(default=dict, blank=True)  # vs the active model at evaluation
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_model_version"
            )
        ]

    def __str__(self) -> str:
        return self.version


class PhotoAssessment(models.Model):
    """The model's reading of one photo. Never updated; a new model version makes a new row."""

    photo = models.ForeignKey("claims.Photo", on_delete=models.CASCADE, related_name="assessments")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT)
    photo_confidence = models.FloatField()
    image_width = models.PositiveIntegerField()
    image_height = models.PositiveIntegerField()
    mask_width = models.PositiveIntegerField()
    mask_height = models.PositiveIntegerField()
    timings_ms = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["photo", "model_version"], name="one_assessment_per_photo_and_model"
            ),
            models.CheckConstraint(
                condition=Q(photo_confidence__gte=0) & Q(photo_confidence__lte=1),
                name="photo_confidence_unit_interval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} by {self.model_version_id}"


class Region(models.Model):
    class Severity(models.TextChoices):
        MINOR = "minor", "Minor"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    assessment = models.ForeignKey(
        PhotoAssessment, on_delete=models.CASCADE, related_name="regions"
    )
    index = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=60)  # a name from the model version's label map
    label_id = models.PositiveSmallIntegerField()
    confidence = models.FloatField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    area_share = models.FloatField()
    bbox = models.JSONField()  # [x, y, w, h] in mask pixels
    polygon = models.JSONField()  # [[x, y], ...] in mask pixels
    mask_rle = models.JSONField()  # COCO compressed RLE {"size": [h, w], "counts": str}
    # The car part the region sits on (a name from the model's part map), from models with a
    # part head: blank when no named part covers it; ``part_share`` (the part's share of the
    # region's pixels) is null for models without a part head.
    part = models.CharField(max_length=60, blank=True)
    part_share = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "index"], name="region_index_unique"),
            models.CheckConstraint(
                condition=Q(part_share__isnull=True)
                | (Q(part_share__gte=0) & Q(part_share__lte=1)),
                name="region_part_share_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="region_confidence_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(area_share__gte=0) & Q(area_share__lte=1),
                name="region_area_share_unit_interval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.severity}, {self.confidence:.2f})"


class PhotoAssessmentAttempt(models.Model):
    """How often a photo was tried under a model version: a photo that keeps killing workers
    goes to a person instead of looping. Incremented, and committed, before inference starts."""

    photo = models.ForeignKey("claims.Photo", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT)
    attempts = models.PositiveIntegerField(default=0)
    failed = models.BooleanField(default=False)
    last_error = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["photo", "model_version"], name="one_attempt_row_per_photo_and_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.photo_id}: {self.attempts} attempts"


class PriceTable(models.Model):
    """Labour rates and currency; staff edit it in the admin. The active one prices estimates."""

    name = models.CharField(max_length=80)
    currency = models.CharField(max_length=3, default="EUR")
    labour_rate = models.DecimalField(max_digits=8, decimal_places=2)  # per hour, body work
    paint_rate = models.DecimalField(max_digits=8, decimal_places=2)  # per hour, refinish
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_price_table"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class PriceRule(models.Model):
    class Operation(models.TextChoices):
        REPAIR = "repair", "Repair"
        REPLACE = "replace", "Replace"
        REFINISH = "refinish", "Refinish"
        REMOVE_INSTALL = "r_and_i", "Remove and install"
        BLEND = "blend", "Blend"

    table = models.ForeignKey(PriceTable, on_delete=models.CASCADE, related_name="rules")
    damage_type = models.CharField(max_length=60)  # label name; "*" matches any type
    severity = models.CharField(max_length=10, choices=Region.Severity.choices)
    operation = models.CharField(max_length=10, choices=Operation.choices)
    labour_hours = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal(0))
    parts_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    description = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["table", "damage_type", "severity", "operation"], name="price_rule_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.damage_type}/{self.severity}: {self.operation}"


class PartPrice(models.Model):
    """What one operation on one car part costs (assessment.part_pricing): hours (paint hours
    for refinish and blend, at the paint rate; body hours otherwise) and parts. A part and
    operation without a row is never guessed: the claim goes to review."""

    table = models.ForeignKey(PriceTable, on_delete=models.CASCADE, related_name="part_prices")
    part = models.CharField(max_length=60)  # a name from the model's part map
    operation = models.CharField(max_length=10, choices=PriceRule.Operation.choices)
    labour_hours = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal(0))
    parts_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    description = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["part", "operation"]
        constraints = [
            models.UniqueConstraint(
                fields=["table", "part", "operation"], name="part_price_unique"
            ),
            models.CheckConstraint(
                condition=Q(labour_hours__gte=0) & Q(parts_cost__gte=0),
                name="part_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part}: {self.operation}"


class RepairTime(models.Model):
    """Body hours to repair one damage type on a part, by severity and size band
    (assessment.parts.size_band); damage type ``*`` covers types without rows of their own."""

    class SizeBand(models.TextChoices):
        SMALL = "small", "Small"
        MEDIUM = "medium", "Medium"
        LARGE = "large", "Large"

    table = models.ForeignKey(PriceTable, on_delete=models.CASCADE, related_name="repair_times")
    damage_type = models.CharField(max_length=60)  # label name; "*" matches any type
    severity = models.CharField(max_length=10, choices=Region.Severity.choices)
    size_band = models.CharField(max_length=10, choices=SizeBand.choices)
    labour_hours = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta:
        ordering = ["damage_type", "severity", "size_band"]
        constraints = [
            models.UniqueConstraint(
                fields=["table", "damage_type", "severity", "size_band"],
                name="repair_time_unique",
            ),
            models.CheckConstraint(
                condition=Q(labour_hours__gte=0), name="repair_time_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.damage_type}/{self.severity}/{self.size_band}: {self.labour_hours} h"


class ClaimAssessment(models.Model):
    """The claim as a whole under one model version: its damage record and estimate."""

    claim = models.OneToOneField(
        "claims.Claim", on_delete=models.CASCADE, related_name="assessment"
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT)
    overall_severity = models.CharField(max_length=10, blank=True)  # blank: no damage found
    region_count = models.PositiveIntegerField(default=0)
    min_photo_confidence = models.FloatField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    estimate_total = models.DecimalField(max_digits=12, decimal_places=2)
    source = models.CharField(max_length=10, default="model")  # model | adjuster
    # The damage record by part (assessment.parts.DamagedPart.to_dict, in order): a snapshot
    # written and replaced with the estimate and always read whole, so JSON, not rows.
    damaged_parts = models.JSONField(default=list, blank=True)
    # The claim confidence (assessment.claim_confidence): P(the adjuster keeps the line items),
    # the prior it came from, and "prior" or "fitted". Null on an adjuster's assessment and on
    # assessments made before it was computed.
    claim_confidence = models.FloatField(null=True, blank=True)
    claim_confidence_prior = models.FloatField(null=True, blank=True)
    claim_confidence_source = models.CharField(max_length=10, blank=True)
    # A fitted number's reviews (the calibrator's), said with it in its meaning; 0 for a prior.
    claim_confidence_reviews = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(claim_confidence__isnull=True)
                | Q(claim_confidence__gte=0, claim_confidence__lte=1),
                name="claim_confidence_unit",
            ),
            models.CheckConstraint(
                condition=Q(claim_confidence_prior__isnull=True)
                | Q(claim_confidence_prior__gte=0, claim_confidence_prior__lte=1),
                name="claim_confidence_prior_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.estimate_total} {self.currency}"


class EstimateLine(models.Model):
    claim_assessment = models.ForeignKey(
        ClaimAssessment, on_delete=models.CASCADE, related_name="lines"
    )
    # A region's line: that region. A part's line: its best evidence (``evidence`` has all).
    photo = models.ForeignKey("claims.Photo", on_delete=models.CASCADE, related_name="+")
    region_index = models.PositiveSmallIntegerField()
    part = models.CharField(max_length=60, blank=True)  # blank: priced per region, no part
    # [{"photo_id": str, "region_index": int}, ...]: the regions the line comes from.
    evidence = models.JSONField(default=list, blank=True)
    damage_type = models.CharField(max_length=160)  # a part's line: its types, comma-separated
    severity = models.CharField(max_length=10)
    operation = models.CharField(max_length=10, choices=PriceRule.Operation.choices)
    description = models.CharField(max_length=160)
    labour_hours = models.DecimalField(max_digits=6, decimal_places=2)
    hourly_rate = models.DecimalField(max_digits=8, decimal_places=2)
    parts_cost = models.DecimalField(max_digits=10, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.description}: {self.total}"


class DecisionPolicy(models.Model):
    """A versioned decision policy. Rules are data (validated by ``assessment.policy``); a
    version is never edited once saved: staff add a new version and activate it."""

    version = models.PositiveIntegerField(unique=True)
    rules = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "decision policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_policy"
            )
        ]

    def __str__(self) -> str:
        return f"policy v{self.version}"


class Decision(models.Model):
    class Outcome(models.TextChoices):
        AUTO_APPROVED = "auto_approved", "Approved automatically"
        NO_DAMAGE = "no_damage", "No damage found"
        ROUTED_TO_REVIEW = "routed_to_review", "Sent to an adjuster"
        APPROVED = "approved", "Approved by an adjuster"
        APPROVED_WITH_CORRECTIONS = "approved_with_corrections", "Approved with corrections"
        DENIED = "denied", "Denied"
        MORE_PHOTOS = "more_photos", "More photos requested"

    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=30, choices=Outcome.choices)
    automatic = models.BooleanField()
    reasons = models.JSONField(default=list)  # [{"code": str, "message": str}]
    policy = models.ForeignKey(DecisionPolicy, null=True, on_delete=models.PROTECT)
    model_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.PROTECT)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.outcome}"


class Contest(models.Model):
    """A customer contesting, or asking about, a decision (GDPR art. 22): the claim goes back to
    review for a senior adjuster, and the customer sees whether it is still open. One open
    contest per claim; the adjuster's next decision answers it (``assessment.contests``)."""

    class State(models.TextChoices):
        OPEN = "open", "Being looked at by a senior adjuster"
        ANSWERED = "answered", "Answered"

    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="contests")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="+")  # contested
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(max_length=1000, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(state="open"), name="one_open_contest_per_claim"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["open", "answered"]), name="contest_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state="open", answered_at__isnull=True)
                | Q(state="answered", answered_at__isnull=False),
                name="contest_answered_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"contest {self.pk} on {self.claim_id} ({self.state})"


class AuditRecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("audit records are append-only")

    def delete(self):
        raise PermissionError("audit records are append-only")


class AuditRecord(models.Model):
    """Append-only trail of every automated decision, every human override and every change
    of the active model (the one record kind that belongs to no claim).

    Enforced twice: here in code (no save of an existing row, no update or delete through the
    ORM) and in the database by triggers that abort UPDATE and DELETE (migration 0002).
    """

    class Kind(models.TextChoices):
        AUTOMATED_DECISION = "automated_decision", "Automated decision"
        HUMAN_DECISION = "human_decision", "Human decision"
        HUMAN_OVERRIDE = "human_override", "Human override"
        CUSTOMER_CONTEST = "customer_contest", "Customer contested"
        ASSESSMENT_FAILED = "assessment_failed", "Assessment failed"
        MODEL_ACTIVATED = "model_activated", "Model activated"
        # A decision policy or price table created, changed or activated: they decide who is
        # paid automatically and how much. ``detail`` holds what it was before and after.
        CONFIG_CHANGED = "config_changed", "Decision configuration changed"

    # Kinds that belong to no claim.
    CLAIMLESS_KINDS = (Kind.MODEL_ACTIVATED, Kind.CONFIG_CHANGED)

    # Not a foreign key: the trail outlives rows. Null only for the claimless kinds.
    claim_id = models.UUIDField(null=True, blank=True, db_index=True)
    claim_reference = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.CharField(max_length=150)  # "system" or the user name
    actor_id = models.IntegerField(null=True, blank=True)
    inputs = models.JSONField(default=dict)  # e.g. {"photos": {id: sha256}}
    model_version = models.CharField(max_length=80, blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    scores = models.JSONField(default=dict)
    thresholds = models.JSONField(default=dict)
    rules_fired = models.JSONField(default=list)
    outcome = models.CharField(max_length=40)
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim_id__isnull=False)
                | Q(kind__in=["model_activated", "config_changed"]),
                name="audit_record_claim_unless_claimless_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.claim_reference or self.model_version} {self.kind} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise PermissionError("audit records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit records are append-only")
