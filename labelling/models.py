"""Labelling projects: photos that are not claims, pre-labelled by the model, corrected by a
labeller, checked by a reviewer, and fed to training. Rules live in ``labelling.services``.

Nothing here points at a claim: a project's photos are stored through the same private storage
aliases as customers' photos (``claims.models.originals_storage`` / ``working_storage``) under
their own folder, and never appear in a claim, the review queue or a decision.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from claims.models import originals_storage, working_storage
from review.models import REGION_ORIGINS, SEVERITIES

# Where an item's current labels came from: another tool's export (COCO, Label Studio) or a
# person on this product's screen. Training records it as the sample's provenance.
LABEL_SOURCES = ["imported", "labelled"]


class LabellingProject(models.Model):
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    # The damage types labellers choose from (``ml.labels.LabelMap.to_dict()``); the active
    # model's map when the project was created (``labelling.services.project_create``).
    label_map = models.JSONField()
    # Share of labelled items a second person checks; flagged items always go to QA.
    qa_share = models.FloatField(default=0.2)
    # Share of items shown without pre-labels (drawn at import, recorded per item), so time
    # from scratch can be measured against time with pre-labels on the same project.
    scratch_share = models.FloatField(default=0.1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMember", related_name="labelling_projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(qa_share__gte=0) & Q(qa_share__lte=1), name="project_qa_share_unit"
            ),
            models.CheckConstraint(
                condition=Q(scratch_share__gte=0) & Q(scratch_share__lte=1),
                name="project_scratch_share_unit",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectMember(models.Model):
    class Role(models.TextChoices):
        LABELLER = "labeller", "Labeller"
        REVIEWER = "reviewer", "Reviewer"

    project = models.ForeignKey(
        LabellingProject, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labelling_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "user_id", "role"]
        constraints = [
            # One person may be labeller and reviewer of a project (never of the same item:
            # labelling.services.item_qa_review refuses that), but each role once.
            models.UniqueConstraint(
                fields=["project", "user", "role"], name="project_member_role_unique"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["labeller", "reviewer"]), name="project_member_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.project_id}"


class ProjectItem(models.Model):
    """One photo of a project. ``sha256`` of the original is unique per project: a second
    import of the same file is reported as a duplicate, not stored twice."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        PRELABELLING = "prelabelling", "Pre-labelling"
        PRELABELLED = "prelabelled", "Pre-labelled"
        IN_PROGRESS = "in_progress", "In progress"
        LABELLED = "labelled", "Labelled"
        IN_QA = "in_qa", "In QA"
        ACCEPTED = "accepted", "Accepted"
        SENT_BACK = "sent_back", "Sent back"
        SKIPPED = "skipped", "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(LabellingProject, on_delete=models.CASCADE, related_name="items")
    original = models.FileField(storage=originals_storage, max_length=200)
    working = models.FileField(storage=working_storage, max_length=200)
    original_name = models.CharField(max_length=255, blank=True)  # safe display name
    image_format = models.CharField(max_length=10)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()  # original, after EXIF orientation
    height = models.PositiveIntegerField()
    working_width = models.PositiveIntegerField()
    working_height = models.PositiveIntegerField()
    # The grid labels and predictions of this item are stored on (``labelling.services``
    # LABEL_GRID_LONG_SIDE): the same network-size grid reviewed claim labels use.
    mask_width = models.PositiveIntegerField()
    mask_height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    quality_warnings = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    # Why the model could not pre-label this item (an undecodable working copy); blank if it did.
    prelabel_error = models.CharField(max_length=300, blank=True)
    # How often the sweeper sent the item to the workers again (labelling.services
    # items_sweep_stuck): after CLAIMVISION_PRELABEL_MAX_ATTEMPTS sends it is labelled without.
    prelabel_resends = models.PositiveSmallIntegerField(default=0)
    # Drawn once at import with the project's scratch_share (a seeded draw per item id, so
    # it can be re-derived and audited): False = the labeller starts from an empty canvas.
    show_prelabels = models.BooleanField(default=True)
    # Drawn when labels are submitted (labelling.services.QA draw); null until then.
    qa_selected = models.BooleanField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    flag_note = models.TextField(blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    time_on_task_ms = models.PositiveBigIntegerField(default=0)  # all labellers, all saves
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "sha256"], name="project_item_sha256_unique"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "new",
                        "prelabelling",
                        "prelabelled",
                        "in_progress",
                        "labelled",
                        "in_qa",
                        "accepted",
                        "sent_back",
                        "skipped",
                    ]
                ),
                name="project_item_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["project", "status"], name="project_item_status_idx")]

    def __str__(self) -> str:
        return f"{self.original_name or self.pk} ({self.status})"


class ItemPrediction(models.Model):
    """The model's regions for an item, one per (item, model version): a re-delivered task
    finds the row and does nothing. ``regions`` are on the item's mask grid:
    ``[{"index", "label", "label_id", "severity", "score", "mask_rle", "bbox", "area",
    "part"}]``, ``mask_rle`` a compressed COCO RLE ``{"size": [h, w], "counts": str}``."""

    item = models.ForeignKey(ProjectItem, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(
        "assessment.ModelVersion", on_delete=models.PROTECT, related_name="+"
    )
    regions = models.JSONField(default=list)
    photo_confidence = models.FloatField()
    mask_width = models.PositiveIntegerField()
    mask_height = models.PositiveIntegerField()
    timings_ms = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model_version"], name="one_prediction_per_item_and_model"
            ),
            models.CheckConstraint(
                condition=Q(photo_confidence__gte=0) & Q(photo_confidence__lte=1),
                name="item_prediction_confidence_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} by {self.model_version_id}"


class ItemLabels(models.Model):
    """An item's current labels; ``version`` guards against lost updates (a save names the
    version it started from). ``regions``: ``[{"index", "label", "label_id", "severity",
    "mask_rle", "bbox", "area", "origin", "source_index", "part"}]`` on the item's mask grid,
    ``origin`` one of review's REGION_ORIGINS, set by the server."""

    item = models.OneToOneField(ProjectItem, on_delete=models.CASCADE, related_name="labels")
    version = models.PositiveIntegerField()
    regions = models.JSONField(default=list)
    source = models.CharField(max_length=10, choices=[(s, s) for s in LABEL_SOURCES])
    # The prediction the labeller was shown (its regions are what "accepted" compares to);
    # null for imported labels and for items labelled from scratch.
    prediction = models.ForeignKey(
        ItemPrediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labeller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # who saved the current version; null for imported labels
    active_ms = models.PositiveBigIntegerField(default=0)  # all saves
    created_at = models.DateTimeField(auto_now_add=True)
    saved_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "item labels"
        constraints = [
            models.CheckConstraint(
                condition=Q(version__gte=1), name="item_labels_version_positive"
            ),
            models.CheckConstraint(
                condition=Q(source__in=LABEL_SOURCES), name="item_labels_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} v{self.version}"


class ItemLabelsSave(models.Model):
    """Append-only history: every save of an item's labels as it was written. Never updated
    or deleted by the product; the current labels are the row of the highest version."""

    item = models.ForeignKey(ProjectItem, on_delete=models.CASCADE, related_name="label_saves")
    version = models.PositiveIntegerField()
    regions = models.JSONField(default=list)
    source = models.CharField(max_length=10)
    labeller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prediction = models.ForeignKey(
        ItemPrediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active_ms = models.PositiveBigIntegerField(default=0)  # this save's active time
    show_prelabels = models.BooleanField()  # what the labeller was shown at this save
    saved_at = models.DateTimeField()

    class Meta:
        ordering = ["item_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="item_labels_save_unique")
        ]

    def __str__(self) -> str:
        return f"{self.item_id} save v{self.version}"


class QAReview(models.Model):
    """A reviewer's check of one labelled item. ``agreement``: per labeller region, the best
    IoU with a reviewer region and whether the types agree
    (``[{"index", "label", "iou", "matched_label", "type_agrees"}]``)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        SENT_BACK = "sent_back", "Sent back"

    item = models.ForeignKey(ProjectItem, on_delete=models.CASCADE, related_name="qa_reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    labeller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # whose labels were checked (agreement is reported per labeller)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    note = models.TextField(blank=True)
    labels_version = models.PositiveIntegerField()  # the version that was checked
    agreement = models.JSONField(default=list)
    mean_iou = models.FloatField(null=True, blank=True)  # null: neither side has a region
    type_agreement = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["accepted", "sent_back"]), name="qa_review_outcome_valid"
            ),
            # Sending back without saying why leaves the labeller guessing.
            models.CheckConstraint(
                condition=~Q(outcome="sent_back") | ~Q(note=""), name="qa_review_sent_back_note"
            ),
            models.CheckConstraint(
                condition=Q(mean_iou__isnull=True) | (Q(mean_iou__gte=0) & Q(mean_iou__lte=1)),
                name="qa_review_mean_iou_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.outcome} by {self.reviewer_id}"


class ItemLock(models.Model):
    """Who has an item open on the screen (``labelling.locks``): the queue hands an item to one
    labeller (or reviewer) at a time. It expires unless the open screen renews it, so an item
    left open in a closed tab goes back to the queue; saves are guarded by the labels' version
    as well, so a lock that lapsed mid-edit cannot lose anyone's work."""

    class Purpose(models.TextChoices):
        LABEL = "label", "Labelling"
        QA = "qa", "QA"

    item = models.OneToOneField(ProjectItem, on_delete=models.CASCADE, related_name="lock")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=5, choices=Purpose.choices)
    taken_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(purpose__in=["label", "qa"]), name="item_lock_purpose_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.purpose} by {self.user_id} until {self.expires_at}"


__all__ = [
    "LABEL_SOURCES",
    "REGION_ORIGINS",
    "SEVERITIES",
    "ItemLabels",
    "ItemLabelsSave",
    "ItemLock",
    "ItemPrediction",
    "LabellingProject",
    "ProjectItem",
    "ProjectMember",
    "QAReview",
]
