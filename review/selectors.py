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
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from assessment import estimate as pricing
from assessment import selectors as assessment_selectors
from assessment import services as assessment_services
from assessment.models import AuditRecord, ClaimAssessment, Decision, ModelVersion, Region
from claims.models import Claim, Photo
from config.errors import ApplicationError, NotFoundError
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
ERR_PREVIEW_PHOTO = "Photo {photo_id} is not a photo of this claim."
ERR_PREVIEW_LABEL = "Photo {number}, region {index}: {label!r} is not a damage type of the model."
ERR_PREVIEW_SEVERITY = "Photo {number}, region {index}: severity must be minor, moderate or severe."

# "Why this claim is here", most important first: what a person asked for, then what may be
# fraud or cannot be judged by the model at all, then money, then the model's own doubt (the
# most frequent and least telling). Codes not listed follow, in the order they came.
REASON_ORDER = [
    "customer_contest",
    "customer_contested",
    "senior_review",
    "more_photos_received",
    "duplicate_photo",
    "assessment_failed",
    "estimate_over_limit",
    "no_price_rule",
    "always_human_severity",
    "always_human_type",
    "photo_quality",
    "no_damage_found",
    "low_photo_confidence",
    "low_region_confidence",
]
# Short titles for the grouped reasons (adjusters' words; the messages carry the details).
REASON_TITLES = {
    "customer_contest": "Customer contests the decision",
    "customer_contested": "Customer contests the decision",
    "senior_review": "Senior adjuster decides",
    "more_photos_received": "More photos received",
    "duplicate_photo": "Photo seen in another claim",
    "assessment_failed": "Photo not assessed",
    "estimate_over_limit": "Estimate over the automatic limit",
    "no_price_rule": "No price rule",
    "always_human_severity": "Severity always checked",
    "always_human_type": "Damage type always checked",
    "photo_quality": "Photo quality",
    "no_damage_found": "No damage found",
    "low_photo_confidence": "Model unsure about a photo",
    "low_region_confidence": "Model unsure about a region",
}

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
                "reason_groups": reason_groups(decision.reasons if decision else []),
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


def _reason_rank(code: str) -> int:
    if code in REASON_ORDER:
        return REASON_ORDER.index(code)
    # Whatever a contest is called by the code that records it, it stands at the top.
    return 0 if code.startswith("customer_contest") else len(REASON_ORDER)


def reason_groups(reasons: list[dict]) -> list[dict]:
    """The routing reasons grouped by code with a count, most important first (REASON_ORDER):
    29 low-confidence regions are one line "Model unsure about a region (29)", and a
    customer's contest, with the customer's own words (``detail``), comes first."""
    groups: dict[str, dict] = {}
    for reason in reasons:
        if not isinstance(reason, dict):
            continue
        code = str(reason.get("code", ""))
        group = groups.setdefault(
            code,
            {
                "code": code,
                "title": REASON_TITLES.get(code, code.replace("_", " ").capitalize()),
                "count": 0,
                "messages": [],
                "detail": "",
            },
        )
        group["count"] += 1
        message = str(reason.get("message", ""))
        if reason.get("detail"):  # the customer's words stand apart (``detail``), not twice
            message = message.replace(f" The customer wrote: “{reason['detail']}”", "")
        if message and message not in group["messages"]:
            group["messages"].append(message)
        if reason.get("detail") and not group["detail"]:
            group["detail"] = str(reason["detail"])
    order = list(groups)
    return sorted(groups.values(), key=lambda g: (_reason_rank(g["code"]), order.index(g["code"])))


# --------------------------------------------------------------------------- estimates


def claim_priced_regions(
    *, claim: Claim, overrides: dict[str, list[dict]] | None = None
) -> list[pricing.PricedRegion]:
    """The regions a corrected estimate prices, photo by photo in upload order: a photo's
    regions in ``overrides`` (the screen's unsaved edits, by photo id), else its saved labels,
    else the model's regions. The decision's rebuild (review.services) and the screen's live
    estimate both price this list, so the sidebar shows what the decision will record."""
    overrides = overrides or {}
    labels = {
        pl.photo_id: pl
        for pl in PhotoLabels.objects.filter(claim=claim).prefetch_related("regions")
    }
    shown = assessment_selectors.photo_assessments_for_claim(claim=claim)
    priced: list[pricing.PricedRegion] = []
    for photo in claim.photos.order_by("created_at"):
        if str(photo.pk) in overrides:
            regions = [
                (i, r["label"], r["severity"]) for i, r in enumerate(overrides[str(photo.pk)])
            ]
        elif photo.pk in labels:
            regions = [(r.index, r.label, r.severity) for r in labels[photo.pk].regions.all()]
        elif photo.pk in shown:
            regions = [(r.index, r.label, r.severity) for r in shown[photo.pk].regions.all()]
        else:
            regions = []
        priced.extend(
            pricing.PricedRegion(str(photo.pk), index, label, severity)
            for index, label, severity in regions
        )
    return priced


def override_needs_reason(*, model_total: Decimal | None, corrected_total: Decimal) -> bool:
    """Approving with corrections overrides the model's outcome when it pays a different
    amount than the model's estimate: then the adjuster must say why."""
    return model_total is None or Decimal(corrected_total) != Decimal(model_total)


def _check_overrides(claim: Claim, overrides: dict[str, list[dict]]) -> None:
    photos = {str(p.pk): n for n, p in enumerate(claim.photos.order_by("created_at"), start=1)}
    shown = assessment_selectors.photo_assessments_for_claim(claim=claim)
    for photo_id, regions in overrides.items():
        if photo_id not in photos:
            raise ApplicationError(
                ERR_PREVIEW_PHOTO.format(photo_id=photo_id),
                code="invalid_photo",
                details={"photo_id": photo_id},
            )
        assessment = shown.get(uuid.UUID(photo_id))
        label_map = assessment.model_version.label_map if assessment else None
        names = {c["name"] for c in assessment_selectors.label_classes(label_map)}
        for index, region in enumerate(regions):
            place = {"number": photos[photo_id], "index": index}
            if region["label"] not in names:
                raise ApplicationError(
                    ERR_PREVIEW_LABEL.format(**place, label=region["label"]),
                    code="invalid_label",
                    details={"photo_id": photo_id, "region": index},
                )
            if region["severity"] not in SEVERITIES:
                raise ApplicationError(
                    ERR_PREVIEW_SEVERITY.format(**place),
                    code="invalid_severity",
                    details={"photo_id": photo_id, "region": index},
                )


def _quote_view(quote: pricing.Estimate) -> dict:
    return {
        "currency": quote.currency,
        "total": quote.total,
        "lines": [
            {
                "photo_id": line.photo_id,
                "region_index": line.region_index,
                "damage_type": line.damage_type,
                "severity": line.severity,
                "operation": line.operation,
                "description": line.description,
                "total": line.total,
            }
            for line in quote.lines
        ],
        "unpriced": [
            {
                "photo_id": r.photo_id,
                "region_index": r.region_index,
                "damage_type": r.damage_type,
                "severity": r.severity,
            }
            for r in quote.unpriced
        ],
    }


def review_estimate_preview(*, claim: Claim, overrides: dict[str, list[dict]]) -> dict:
    """What each decision would record, before it is made: the corrected estimate (priced by
    the active price table, as the decision prices it), the model's, whether a reason is
    required and the standard message the customer reads."""
    from review import services  # the decision's own rules and wording

    _check_overrides(claim, overrides)
    quote = assessment_services.price_quote(claim_priced_regions(claim=claim, overrides=overrides))
    assessment = ClaimAssessment.objects.filter(claim=claim).first()
    model_total = assessment.estimate_total if assessment else None
    corrected = _quote_view(quote)
    return {
        "corrected": corrected,
        "model": {
            "total": model_total,
            "currency": assessment.currency if assessment else quote.currency,
            "source": assessment.source if assessment else "",
        },
        "outcomes": [
            {
                "outcome": action,
                "reason_required": action in services.REASON_REQUIRED
                or (
                    action == "approve_with_corrections"
                    and override_needs_reason(model_total=model_total, corrected_total=quote.total)
                ),
                "customer_message": services.CUSTOMER_MESSAGES[action],
                "estimate_total": quote.total
                if action == "approve_with_corrections"
                else model_total,
            }
            for action in services.ACTION_OUTCOMES
        ],
    }


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
    return {
        "claim": claim,
        "decision": decision,
        "reason_groups": reason_groups(_routing_reasons(claim)),
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
