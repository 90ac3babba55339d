"""Reads for one claim's review screen: the claim and its photos, the model's and the adjuster's
regions, history, notes, lock and active time (docs/review-api.md).

The queue lives in review.queue_selectors, the live estimate in review.estimate_selectors.
"""

import uuid
from datetime import datetime

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from assessment import selectors as assessment_selectors
from assessment.models import AuditRecord, Decision, ModelVersion
from claims.models import Claim, Photo
from config.errors import NotFoundError
from review import labels as review_labels
from review.models import (
    ADJUSTMENT_OPERATIONS,
    SEVERITIES,
    ActiveTime,
    ClaimNote,
    EstimateAdjustment,
    OverrideLedgerEntry,
    PhotoLabels,
    ReviewLock,
)
from review.queue_selectors import lock_view, reason_groups

ERR_CLAIM_NOT_FOUND = "No claim with that id for review."
ERR_PHOTO_NOT_FOUND = "No photo with that id on this claim."


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
    if record.kind == AuditRecord.Kind.HUMAN_DECISION and record.detail.get("action"):
        # In staff words: the adjuster's reason, then what the customer was told, marked as
        # such (the customer's sentence alone reads as if written to the adjuster).
        reason = str(record.detail.get("reason") or "").strip()
        told = str(record.detail.get("message_to_customer") or "").strip()
        parts = [reason or "No reason given."]
        if told:
            parts.append(f"Customer told: “{told}”")
        return " ".join(parts)
    if record.detail.get("summary"):
        return str(record.detail["summary"])
    messages = [r.get("message", "") for r in record.rules_fired if isinstance(r, dict)]
    if record.kind == AuditRecord.Kind.CUSTOMER_CONTEST:
        detail = next((r.get("detail") for r in record.rules_fired if r.get("detail")), "")
        return f"{messages[0] if messages else ''} {detail}".strip()
    return " ".join(m for m in messages if m) or record.outcome.replace("_", " ")


def _history_time(record: AuditRecord) -> datetime:
    """When it happened: a label save's record is written at the decision, but the adjuster
    saved the labels earlier (``detail.saved_at``)."""
    saved_at = record.detail.get("saved_at") if isinstance(record.detail, dict) else None
    if saved_at:
        try:
            return datetime.fromisoformat(saved_at)
        except (TypeError, ValueError):
            pass
    return record.created_at


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
                "origin": r.origin,
                "part": r.part or None,
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
        "from_part": entry.from_part,
        "to_part": entry.to_part,
        "adjuster": entry.adjuster.get_username(),
        "active_ms": entry.active_ms,
        "model_version": entry.model_version.version,
        "labels_version": entry.labels_version,
        "created_at": entry.created_at,
    }


def adjustment_view(adjustment: EstimateAdjustment) -> dict:
    return {
        "id": adjustment.pk,
        "action": adjustment.action,
        "part": adjustment.part,
        "operation": adjustment.operation,
        "to_operation": adjustment.to_operation,
        "labour_hours": adjustment.labour_hours,
        "parts_cost": adjustment.parts_cost,
        "reason": adjustment.reason,
        "before": adjustment.before,
        "adjuster": adjustment.adjuster.get_username(),
        "created_at": adjustment.created_at,
    }


def estimate_adjustments_list(*, claim: Claim) -> list[EstimateAdjustment]:
    """The adjuster's line edits on a claim, in the order they apply."""
    return list(
        EstimateAdjustment.objects.filter(claim=claim).select_related("adjuster").order_by("id")
    )


def _routing_reasons(claim: Claim) -> list:
    """The reasons of the latest routing to review (what "Why this claim is here" explains),
    also after the claim is decided."""
    routing = (
        Decision.objects.filter(claim=claim, outcome=Decision.Outcome.ROUTED_TO_REVIEW)
        .order_by("-created_at", "-id")
        .first()
    )
    return routing.reasons if routing else []


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
    history = sorted(
        (
            {
                "at": _history_time(record),
                "kind": record.kind,
                "actor": record.actor,
                "outcome": record.outcome,
                "summary": _history_summary(record),
            }
            for record in AuditRecord.objects.filter(claim_id=claim.pk).order_by("created_at", "id")
        ),
        key=lambda item: item["at"],  # stable: records of one time keep their order
    )
    notes = [
        {"id": n.pk, "author": n.author.get_username(), "text": n.text, "created_at": n.created_at}
        for n in ClaimNote.objects.filter(claim=claim).select_related("author")
    ]
    lock = ReviewLock.objects.filter(claim=claim).select_related("adjuster").first()
    routing = _routing_reasons(claim)
    return {
        "claim": claim,
        "decision": decision,
        "reason_groups": reason_groups(routing),
        # A random audit is reviewed blind: nothing of the model's own verdict (the claim
        # confidence that cleared the automatic path) is sent (docs/assessment.md).
        "random_audit": any(r.get("code") == "random_audit" for r in routing),
        "assessment": claim_assessment,
        "label_map": {
            "classes": assessment_selectors.label_classes(
                model_version.label_map if model_version else None
            )
        },
        "severities": SEVERITIES,
        "parts": review_labels.part_choices(),
        "operations": list(ADJUSTMENT_OPERATIONS),
        "estimate_adjustments": [
            adjustment_view(a) for a in estimate_adjustments_list(claim=claim)
        ],
        "history": history,
        "notes": notes,
        "lock": lock_view(lock, user=user, now=now),
        "photos": photos,
        "active_time": {"claim_ms": claim_time, "photos_ms": sum(photo_time.values())},
    }
