"""Reads for adjuster review: the queue with its priority and counts, and the review screen.

Queue priority (0..1, higher first, shown to adjusters):

    w = hours waiting / SLA hours              (CLAIMVISION_REVIEW_SLA_HOURS, default 24)
    e = estimate / (estimate + reference)      (CLAIMVISION_REVIEW_ESTIMATE_REF, default 1000)
    u = 1 - lowest photo confidence            (1 when no photo could be assessed)
    priority = 1                               if w >= 1 (the SLA target is missed)
             = 0.6 w + 0.25 e + 0.15 u         otherwise (always < 1)

Time dominates so nothing starves: a claim at its SLA target outranks any estimate; among
fresh claims, expensive and uncertain ones come first. Ties go to the claim waiting longest.
A claim waits from its latest routing to review (the automatic routing, a contest, or the
re-assessment after more photos), falling back to its last change.

The queue is computed in Python over every claim in review (a handful of queries, no per-claim
query): review queues hold hundreds of claims, not millions, and filters on JSON reasons would
otherwise need database-specific operators.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from assessment import selectors as assessment_selectors
from assessment.models import AuditRecord, ClaimAssessment, Decision, ModelVersion, Region
from claims.models import Claim, Photo
from config.errors import NotFoundError
from review.models import (
    SEVERITIES,
    ActiveTime,
    ClaimNote,
    LabelRegion,
    OverrideLedgerEntry,
    PhotoLabels,
    ReviewLock,
)

ERR_CLAIM_NOT_FOUND = "No claim with that id for review."
ERR_PHOTO_NOT_FOUND = "No photo with that id on this claim."

WEIGHT_TIME, WEIGHT_ESTIMATE, WEIGHT_UNCERTAINTY = 0.6, 0.25, 0.15


def review_priority(
    *,
    waiting_hours: float,
    sla_hours: float,
    estimate_total: float,
    min_photo_confidence: float | None,
    estimate_ref: float,
) -> float:
    """The queue's priority (see the module docstring), rounded to 3 decimals."""
    w = waiting_hours / sla_hours if sla_hours > 0 else 1.0
    if w >= 1:
        return 1.0
    total = max(estimate_total, 0.0)
    e = total / (total + estimate_ref) if estimate_ref > 0 else 1.0
    u = 1.0 if min_photo_confidence is None else 1.0 - min(max(min_photo_confidence, 0.0), 1.0)
    return round(WEIGHT_TIME * max(w, 0.0) + WEIGHT_ESTIMATE * e + WEIGHT_UNCERTAINTY * u, 3)


def lock_view(lock: ReviewLock | None, *, user, now: datetime) -> dict | None:
    """A live lock as the API shows it; a lapsed lock is no lock."""
    if lock is None or lock.expires_at <= now:
        return None
    return {
        "adjuster": lock.adjuster.get_username(),
        "expires_at": lock.expires_at,
        "mine": lock.adjuster_id == user.pk,
    }


@dataclass(frozen=True)
class ReviewQueue:
    rows: list[dict]
    counts: dict


def review_queue_list(
    *,
    user,
    reason: str | None = None,
    damage_type: str | None = None,
    min_age_hours: float | None = None,
    mine: bool = False,
    now: datetime | None = None,
) -> ReviewQueue:
    """Claims in review, filtered and ordered by priority; ``counts`` cover the whole queue."""
    now = now or timezone.now()
    sla = float(settings.CLAIMVISION_REVIEW_SLA_HOURS)
    ref = float(settings.CLAIMVISION_REVIEW_ESTIMATE_REF)
    claims = list(Claim.objects.filter(status=Claim.Status.IN_REVIEW))
    ids = [c.pk for c in claims]
    assessments = {a.claim_id: a for a in ClaimAssessment.objects.filter(claim_id__in=ids)}
    photo_counts = dict(
        Photo.objects.filter(claim_id__in=ids)
        .values("claim_id")
        .annotate(n=Count("id"))
        .values_list("claim_id", "n")
    )
    locks = {
        lock.claim_id: lock
        for lock in ReviewLock.objects.filter(claim_id__in=ids).select_related("adjuster")
    }
    routing: dict = {}
    for decision in Decision.objects.filter(
        claim_id__in=ids, outcome=Decision.Outcome.ROUTED_TO_REVIEW
    ).order_by("claim_id", "-created_at", "-id"):
        routing.setdefault(decision.claim_id, decision)
    types: dict = defaultdict(set)
    model_of = {cid: a.model_version_id for cid, a in assessments.items()}
    for claim_id, model_id, label in (
        Region.objects.filter(assessment__photo__claim_id__in=ids)
        .values_list("assessment__photo__claim_id", "assessment__model_version_id", "label")
        .distinct()
    ):
        if model_of.get(claim_id) in (None, model_id):
            types[claim_id].add(label)
    for claim_id, label in (
        LabelRegion.objects.filter(labels__claim_id__in=ids)
        .values_list("labels__claim_id", "label")
        .distinct()
    ):
        types[claim_id].add(label)

    rows = []
    for claim in claims:
        assessment = assessments.get(claim.pk)
        decision = routing.get(claim.pk)
        waiting_since = decision.created_at if decision else claim.updated_at
        waiting_hours = max((now - waiting_since).total_seconds() / 3600, 0.0)
        estimate = float(assessment.estimate_total) if assessment else 0.0
        confidence = assessment.min_photo_confidence if assessment else None
        rows.append(
            {
                "id": claim.pk,
                "reference": claim.reference,
                "status": claim.status,
                "waiting_since": waiting_since,
                "waiting_hours": round(waiting_hours, 2),
                "sla_hours": sla,
                "sla_breached": waiting_hours >= sla,
                "priority": review_priority(
                    waiting_hours=waiting_hours,
                    sla_hours=sla,
                    estimate_total=estimate,
                    min_photo_confidence=confidence,
                    estimate_ref=ref,
                ),
                "estimate_total": assessment.estimate_total if assessment else None,
                "currency": assessment.currency if assessment else "",
                "min_photo_confidence": confidence,
                "reasons": [
                    {"code": r.get("code", ""), "message": r.get("message", "")}
                    for r in (decision.reasons if decision else [])
                ],
                "damage_types": sorted(types.get(claim.pk, ())),
                "photo_count": photo_counts.get(claim.pk, 0),
                "lock": lock_view(locks.get(claim.pk), user=user, now=now),
            }
        )

    by_reason: dict[str, int] = defaultdict(int)
    for row in rows:
        for code in {r["code"] for r in row["reasons"]}:
            by_reason[code] += 1
    counts = {
        "total": len(rows),
        "mine": sum(1 for r in rows if r["lock"] and r["lock"]["mine"]),
        "locked_by_others": sum(1 for r in rows if r["lock"] and not r["lock"]["mine"]),
        "by_reason": dict(sorted(by_reason.items())),
    }

    def keep(row: dict) -> bool:
        if reason and reason not in {r["code"] for r in row["reasons"]}:
            return False
        if damage_type and damage_type not in row["damage_types"]:
            return False
        if min_age_hours is not None and row["waiting_hours"] < min_age_hours:
            return False
        return not (mine and not (row["lock"] and row["lock"]["mine"]))

    selected = [r for r in rows if keep(r)]
    selected.sort(key=lambda r: (-r["priority"], r["waiting_since"], r["reference"]))
    return ReviewQueue(rows=selected, counts=counts)


# --------------------------------------------------------------------------- the screen


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def review_claim_get(*, claim_id) -> Claim:
    """Any claim past the draft stage: adjusters may read history and decided claims too."""
    pk = _as_uuid(claim_id)
    claim = Claim.objects.exclude(status=Claim.Status.DRAFT).filter(pk=pk).first() if pk else None
    if claim is None:
        raise NotFoundError(ERR_CLAIM_NOT_FOUND)
    return claim


def review_photo_get(*, claim_id, photo_id) -> Photo:
    claim = review_claim_get(claim_id=claim_id)
    pk = _as_uuid(photo_id)
    photo = Photo.objects.filter(pk=pk, claim=claim).select_related("claim").first() if pk else None
    if photo is None:
        raise NotFoundError(ERR_PHOTO_NOT_FOUND)
    return photo


def _working_size(photo: Photo) -> tuple[int, int]:
    """Pixel size of the working copy (what the screen draws); reads the header only."""
    try:
        with photo.working.open("rb") as handle, Image.open(handle) as image:
            return image.size
    except (OSError, ValueError):
        return photo.width, photo.height


def _history_summary(record: AuditRecord) -> str:
    if record.detail.get("summary"):
        return str(record.detail["summary"])
    messages = [r.get("message", "") for r in record.rules_fired if isinstance(r, dict)]
    if record.kind == AuditRecord.Kind.CUSTOMER_CONTEST:
        detail = next((r.get("detail") for r in record.rules_fired if r.get("detail")), "")
        return f"{messages[0] if messages else ''} {detail}".strip()
    return " ".join(m for m in messages if m) or record.outcome.replace("_", " ")


def labels_view(labels: PhotoLabels | None) -> dict | None:
    if labels is None:
        return None
    return {
        "version": labels.version,
        "adjuster": labels.adjuster.get_username(),
        "saved_at": labels.saved_at,
        "active_ms": labels.active_ms,
        "regions": [
            {
                "index": r.index,
                "label": r.label,
                "severity": r.severity,
                "mask_rle": r.mask_rle,
                "source_index": r.source_index,
                "bbox": r.bbox,
                "area": r.area,
            }
            for r in labels.regions.all()
        ],
    }


def ledger_view(entry: OverrideLedgerEntry) -> dict:
    return {
        "action": entry.action,
        "source_index": entry.source_index,
        "region_index": entry.region_index,
        "iou": entry.iou,
        "model_confidence": entry.model_confidence,
        "from_label": entry.from_label,
        "to_label": entry.to_label,
        "from_severity": entry.from_severity,
        "to_severity": entry.to_severity,
        "adjuster": entry.adjuster.get_username(),
        "active_ms": entry.active_ms,
        "model_version": entry.model_version.version,
        "labels_version": entry.labels_version,
        "created_at": entry.created_at,
    }


def review_claim_detail(*, claim: Claim, user, now: datetime | None = None) -> dict:
    """Everything the review screen shows for one claim (docs/review-api.md)."""
    now = now or timezone.now()
    claim_assessment = assessment_selectors.claim_assessment_get(claim=claim)
    decision = assessment_selectors.decision_latest(claim=claim)
    shown = assessment_selectors.photo_assessments_for_claim(claim=claim)
    model_version: ModelVersion | None = (
        (claim_assessment.model_version if claim_assessment else None)
        or next((a.model_version for a in shown.values()), None)
        or ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    )
    labels = {
        pl.photo_id: pl
        for pl in PhotoLabels.objects.filter(claim=claim)
        .select_related("adjuster")
        .prefetch_related("regions")
    }
    photo_time = dict(
        ActiveTime.objects.filter(claim=claim, photo__isnull=False)
        .values("photo_id")
        .annotate(ms=Sum("active_ms"))
        .values_list("photo_id", "ms")
    )
    claim_time = (
        ActiveTime.objects.filter(claim=claim, photo__isnull=True).aggregate(ms=Sum("active_ms"))[
            "ms"
        ]
        or 0
    )
    photos = []
    for photo in claim.photos.order_by("created_at"):
        assessment = shown.get(photo.pk)
        width, height = _working_size(photo)
        photos.append(
            {
                "id": photo.pk,
                "image_url": reverse(
                    "api-review-photo-image", kwargs={"claim_id": claim.pk, "photo_id": photo.pk}
                ),
                "width": width,
                "height": height,
                "quality_warnings": photo.quality_warnings,
                "duplicate": photo.duplicate_of_id is not None,
                "mask_width": assessment.mask_width if assessment else None,
                "mask_height": assessment.mask_height if assessment else None,
                "model_version": assessment.model_version.version if assessment else None,
                "photo_confidence": assessment.photo_confidence if assessment else None,
                "predicted": [
                    {
                        "index": r.index,
                        "label": r.label,
                        "severity": r.severity,
                        "confidence": r.confidence,
                        "mask_rle": r.mask_rle,
                        "polygon": r.polygon,
                        "bbox": r.bbox,
                        "part": r.part or None,
                        "part_share": r.part_share,
                    }
                    for r in (assessment.regions.all() if assessment else [])
                ],
                "labels": labels_view(labels.get(photo.pk)),
                "active_ms": photo_time.get(photo.pk, 0),
            }
        )
    history = [
        {
            "at": record.created_at,
            "kind": record.kind,
            "actor": record.actor,
            "outcome": record.outcome,
            "summary": _history_summary(record),
        }
        for record in AuditRecord.objects.filter(claim_id=claim.pk).order_by("created_at", "id")
    ]
    notes = [
        {"id": n.pk, "author": n.author.get_username(), "text": n.text, "created_at": n.created_at}
        for n in ClaimNote.objects.filter(claim=claim).select_related("author")
    ]
    lock = ReviewLock.objects.filter(claim=claim).select_related("adjuster").first()
    return {
        "claim": claim,
        "decision": decision,
        "assessment": claim_assessment,
        "label_map": {
            "classes": assessment_selectors.label_classes(
                model_version.label_map if model_version else None
            )
        },
        "severities": SEVERITIES,
        "history": history,
        "notes": notes,
        "lock": lock_view(lock, user=user, now=now),
        "photos": photos,
        "active_time": {"claim_ms": claim_time, "photos_ms": sum(photo_time.values())},
    }
