"""Writes for adjuster review: locks, corrected labels and their override ledger, notes, and the
human decision with its audit record.

Every write runs in one transaction under a row lock on the claim, so a lock check and the write
it guards cannot interleave with another adjuster's, and a refused request changes nothing.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assessment import selectors as assessment_selectors
from assessment import services as assessment_services
from assessment.models import AuditRecord, ClaimAssessment, Decision, PhotoAssessment
from claims.models import Claim, Photo
from config.errors import ApplicationError, ConflictError
from review import masks, selectors
from review.models import (
    SEVERITIES,
    ActiveTime,
    ClaimNote,
    LabelRegion,
    OverrideLedgerEntry,
    PhotoLabels,
    ReviewLock,
)

logger = logging.getLogger(__name__)

ERR_CLAIM_LOCKED = "{name} is reviewing this claim (until {until})."
ERR_LOCK_REQUIRED = "Open the claim to take it before changing it: you do not hold its lock."
ERR_NOT_IN_REVIEW = "This claim is not waiting for an adjuster (it is {status})."
ERR_STALE_LABELS = (
    "These labels were saved again since you loaded them (now version {current}, you started "
    "from {base}). Reload the photo to see the latest labels."
)
ERR_PHOTO_NOT_ASSESSED = "This photo has no model assessment to correct."
ERR_INVALID_MASK = "Region {index}: {problem}."
ERR_INVALID_LABEL = "Region {index}: {label!r} is not a damage type of model {model_version}."
ERR_INVALID_SEVERITY = "Region {index}: severity must be one of minor, moderate, severe."
ERR_INVALID_SOURCE = "Region {index}: the model predicted no region {source} on this photo."
ERR_TOO_MANY_REGIONS = "A photo holds at most {limit} regions."
ERR_REASON_REQUIRED = "Give a reason to {action}."
ERR_NO_CORRECTIONS = (
    "No corrections are saved on this claim: save a photo's labels first, or approve as assessed."
)
ERR_UNKNOWN_OUTCOME = "Unknown outcome {outcome!r}."
ERR_OVERRIDE_REASON_REQUIRED = (
    "Give a reason: the corrected estimate ({after}) differs from the model's ({before})."
)

# A photo with more distinct damage regions than this is not a car-damage photo an adjuster
# labels by hand; the cap bounds the work of one request (each region is decoded and compared).
MAX_REGIONS_PER_PHOTO = 100
# IoU at or above which a region counts as accepted unchanged (docs/review-api.md): a one-pixel
# brush slip on a typical region does not make it "reshaped".
ACCEPT_IOU = 0.98

ACTION_OUTCOMES = {
    "approve": Decision.Outcome.APPROVED,
    "approve_with_corrections": Decision.Outcome.APPROVED_WITH_CORRECTIONS,
    "deny": Decision.Outcome.DENIED,
    "request_photos": Decision.Outcome.MORE_PHOTOS,
}
# What the customer reads (the customer API shows a decision's reason messages) unless the
# adjuster wrote a message to the customer.
CUSTOMER_MESSAGES = {
    "approve": "An adjuster checked the assessment and approved your claim.",
    "approve_with_corrections": (
        "An adjuster checked the assessment, corrected it and approved your claim."
    ),
    "deny": "An adjuster reviewed your claim and declined it.",
    "request_photos": (
        "An adjuster needs more photos of the damage to decide. Add them and submit the claim "
        "again."
    ),
}
REASON_CODES = {
    "approve": "adjuster_approved",
    "approve_with_corrections": "adjuster_corrected",
    "deny": "adjuster_denied",
    "request_photos": "more_photos_requested",
}
REASON_REQUIRED = {"deny": "deny the claim", "request_photos": "ask for more photos"}


# --------------------------------------------------------------------------- locks


def _lock_duration() -> timedelta:
    return timedelta(minutes=settings.CLAIMVISION_REVIEW_LOCK_MINUTES)


def _display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _locked_error(lock: ReviewLock) -> ConflictError:
    until = timezone.localtime(lock.expires_at).strftime("%H:%M")
    return ConflictError(
        ERR_CLAIM_LOCKED.format(name=_display_name(lock.adjuster), until=until),
        code="claim_locked",
        details={
            "adjuster": lock.adjuster.get_username(),
            "expires_at": lock.expires_at.isoformat(),
        },
    )


def _claim_for_update(claim: Claim) -> Claim:
    return Claim.objects.select_for_update().get(pk=claim.pk)


def _require_in_review(claim: Claim) -> None:
    if claim.status != Claim.Status.IN_REVIEW:
        raise ConflictError(
            ERR_NOT_IN_REVIEW.format(status=claim.get_status_display().lower()),
            code="claim_not_in_review",
            details={"status": claim.status},
        )


def _require_lock(claim: Claim, adjuster, now: datetime) -> ReviewLock:
    """The caller's lock on ``claim`` (renewed), or 409.

    A lock of the caller's that lapsed but that nobody took over still counts: taking over
    replaces the row, so while it names the caller nobody else can have written in between.
    """
    lock = ReviewLock.objects.select_related("adjuster").filter(claim=claim).first()
    if lock is None or lock.adjuster_id != adjuster.pk:
        if lock is not None and lock.expires_at > now:
            raise _locked_error(lock)
        raise ConflictError(ERR_LOCK_REQUIRED, code="claim_locked")
    lock.expires_at = now + _lock_duration()
    lock.save(update_fields=["expires_at"])
    return lock


def _record_active_time(claim: Claim, adjuster, active_ms: int, photo: Photo | None = None):
    if active_ms > 0:
        ActiveTime.objects.create(claim=claim, photo=photo, adjuster=adjuster, active_ms=active_ms)


def review_lock_take(*, claim: Claim, adjuster, active_ms: int = 0, now=None) -> ReviewLock:
    """Take or renew the lock on a claim in review; a live lock of someone else's is a 409,
    a lapsed one is taken over."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _claim_for_update(claim)
        _require_in_review(locked)
        lock = ReviewLock.objects.select_related("adjuster").filter(claim=locked).first()
        if lock is not None and lock.adjuster_id != adjuster.pk and lock.expires_at > now:
            raise _locked_error(lock)
        if lock is None:
            lock = ReviewLock(claim=locked, taken_at=now)
        elif lock.adjuster_id != adjuster.pk:
            logger.info(
                "claim %s: %s takes over the lapsed lock of %s",
                locked.reference,
                adjuster.get_username(),
                lock.adjuster.get_username(),
            )
            lock.taken_at = now
        lock.adjuster = adjuster
        lock.expires_at = now + _lock_duration()
        lock.save()
        _record_active_time(locked, adjuster, active_ms)
    return lock


def review_lock_release(*, claim: Claim, adjuster, now=None) -> None:
    """Give the claim back. Releasing a lock one does not hold is a no-op unless someone else
    holds it live (409: a screen must not believe it released another adjuster's lock)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Claim.objects.select_for_update().filter(pk=claim.pk).first()
        if locked is None:  # the claim is gone (deleted by staff): nothing left to release
            return
        lock = ReviewLock.objects.select_related("adjuster").filter(claim=locked).first()
        if lock is None:
            return
        if lock.adjuster_id != adjuster.pk:
            if lock.expires_at > now:
                raise _locked_error(lock)
            return
        lock.delete()


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class _CleanRegion:
    index: int
    label: str
    label_id: int
    severity: str
    source_index: int | None
    mask: object  # np.ndarray (bool, mask grid)


def photo_assessment_shown(*, claim: Claim, photo: Photo) -> PhotoAssessment | None:
    """The prediction the screen shows for ``photo`` (the claim assessment's model version)."""
    return assessment_selectors.photo_assessments_for_claim(claim=claim).get(photo.pk)


def _clean_regions(regions: list[dict], assessment: PhotoAssessment) -> list[_CleanRegion]:
    if len(regions) > MAX_REGIONS_PER_PHOTO:
        raise ApplicationError(
            ERR_TOO_MANY_REGIONS.format(limit=MAX_REGIONS_PER_PHOTO), code="invalid_region"
        )
    classes = {c["name"]: c["id"] for c in assessment.model_version.label_map.get("classes", [])}
    predicted = {r.index for r in assessment.regions.all()}
    clean = []
    for index, region in enumerate(regions):
        label, severity = region.get("label"), region.get("severity")
        source = region.get("source_index")
        if not isinstance(label, str) or label not in classes:
            raise ApplicationError(
                ERR_INVALID_LABEL.format(
                    index=index, label=label, model_version=assessment.model_version.version
                ),
                code="invalid_label",
                details={"region": index, "label": label, "allowed": sorted(classes)},
            )
        if severity not in SEVERITIES:
            raise ApplicationError(
                ERR_INVALID_SEVERITY.format(index=index),
                code="invalid_severity",
                details={"region": index, "severity": severity, "allowed": SEVERITIES},
            )
        if source is not None and (
            not isinstance(source, int) or isinstance(source, bool) or source not in predicted
        ):
            raise ApplicationError(
                ERR_INVALID_SOURCE.format(index=index, source=source),
                code="invalid_region",
                details={"region": index, "source_index": source},
            )
        try:
            mask = masks.decode_mask(
                region.get("mask_rle"), height=assessment.mask_height, width=assessment.mask_width
            )
        except masks.MaskError as exc:
            raise ApplicationError(
                ERR_INVALID_MASK.format(index=index, problem=exc),
                code="invalid_mask",
                details={
                    "region": index,
                    "problem": str(exc),
                    "mask_size": [assessment.mask_height, assessment.mask_width],
                },
            ) from None
        clean.append(_CleanRegion(index, label, classes[label], severity, source, mask))
    return clean


def _ledger(clean: list[_CleanRegion], assessment: PhotoAssessment) -> list[tuple[str, dict]]:
    """(action, fields) per change of every region against the model's prediction."""
    predicted = {r.index: r for r in assessment.regions.all()}
    predicted_masks = {}
    entries: list[tuple[str, dict]] = []
    A = OverrideLedgerEntry.Action
    for region in clean:
        if region.source_index is None:
            entries.append(
                (
                    A.ADDED,
                    {
                        "region_index": region.index,
                        "to_label": region.label,
                        "to_severity": region.severity,
                    },
                )
            )
            continue
        source = predicted[region.source_index]
        if source.index not in predicted_masks:
            predicted_masks[source.index] = masks.rle_to_mask(source.mask_rle)
        overlap = round(masks.iou(region.mask, predicted_masks[source.index]), 4)
        base = {
            "region_index": region.index,
            "source_index": source.index,
            "iou": overlap,
            "model_confidence": source.confidence,
        }
        changes = []
        if overlap < ACCEPT_IOU:
            changes.append((A.RESHAPED, {}))
        if region.label != source.label:
            changes.append((A.RELABELLED, {"from_label": source.label, "to_label": region.label}))
        if region.severity != source.severity:
            changes.append(
                (
                    A.SEVERITY_CHANGED,
                    {"from_severity": source.severity, "to_severity": region.severity},
                )
            )
        if not changes:
            changes.append((A.ACCEPTED, {"from_label": source.label, "to_label": region.label}))
        entries.extend((action, {**base, **fields}) for action, fields in changes)
    used = {r.source_index for r in clean if r.source_index is not None}
    for index, source in predicted.items():
        if index not in used:
            entries.append(
                (
                    A.DELETED,
                    {
                        "source_index": index,
                        "model_confidence": source.confidence,
                        "from_label": source.label,
                        "from_severity": source.severity,
                    },
                )
            )
    return entries


def region_origins(entries: list[tuple[str, dict]]) -> dict[int, str]:
    """Each corrected region's origin from its ledger entries: ``accepted`` when its only
    entry is ``accepted`` (same shape within ACCEPT_IOU, type and severity as the model's),
    ``added`` when a person drew it, else ``edited``."""
    actions: dict[int, set[str]] = {}
    for action, fields in entries:
        if fields.get("region_index") is not None:
            actions.setdefault(fields["region_index"], set()).add(action)
    A = OverrideLedgerEntry.Action
    return {
        index: "accepted" if found == {A.ACCEPTED} else "added" if A.ADDED in found else "edited"
        for index, found in actions.items()
    }


def photo_labels_save(
    *,
    claim: Claim,
    photo: Photo,
    adjuster,
    base_version: int,
    regions: list[dict],
    active_ms: int = 0,
    now=None,
) -> tuple[PhotoLabels, list[OverrideLedgerEntry]]:
    """Store an adjuster's corrected regions for one photo and the ledger of what changed.

    Optimistic concurrency on top of the lock: ``base_version`` must be the version the screen
    loaded, so a second tab (or a lock taken over in between) cannot overwrite newer labels.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _claim_for_update(claim)
        _require_in_review(locked)
        _require_lock(locked, adjuster, now)
        assessment = photo_assessment_shown(claim=locked, photo=photo)
        if assessment is None:
            raise ConflictError(ERR_PHOTO_NOT_ASSESSED, code="photo_not_assessed")
        current = PhotoLabels.objects.select_for_update().filter(photo=photo).first()
        current_version = current.version if current else 0
        if base_version != current_version:
            raise ConflictError(
                ERR_STALE_LABELS.format(current=current_version, base=base_version),
                code="stale_labels",
                details={"current_version": current_version, "base_version": base_version},
            )
        clean = _clean_regions(regions, assessment)
        entries = _ledger(clean, assessment)
        origins = region_origins(entries)

        if current is None:
            current = PhotoLabels(photo=photo, claim=locked, version=0)
        current.photo_assessment = assessment
        current.version = current_version + 1
        current.adjuster = adjuster
        current.saved_at = now
        current.active_ms = (current.active_ms or 0) + active_ms
        current.save()
        LabelRegion.objects.filter(labels=current).delete()
        LabelRegion.objects.bulk_create(
            [
                LabelRegion(
                    labels=current,
                    index=r.index,
                    label=r.label,
                    label_id=r.label_id,
                    severity=r.severity,
                    source_index=r.source_index,
                    mask_rle=masks.canonical_rle(r.mask),
                    area=int(r.mask.sum()),
                    bbox=masks.bbox(r.mask),
                    origin=origins[r.index],
                )
                for r in clean
            ]
        )
        ledger = OverrideLedgerEntry.objects.bulk_create(
            [
                OverrideLedgerEntry(
                    claim=locked,
                    photo=photo,
                    labels_version=current.version,
                    action=action,
                    adjuster=adjuster,
                    active_ms=current.active_ms,
                    model_version=assessment.model_version,
                    **fields,
                )
                for action, fields in entries
            ]
        )
        _record_active_time(locked, adjuster, active_ms, photo=photo)
    return current, ledger


# --------------------------------------------------------------------------- notes


def review_note_add(*, claim: Claim, author, text: str) -> ClaimNote:
    return ClaimNote.objects.create(claim=claim, author=author, text=text.strip())


# --------------------------------------------------------------------------- decision


def _ledger_summary(entries) -> str:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.action] = counts.get(entry.action, 0) + 1
    return ", ".join(f"{n} {action.replace('_', ' ')}" for action, n in sorted(counts.items()))


def _rebuild_from_labels(claim: Claim, adjuster, before: ClaimAssessment | None):
    """The claim's damage record and estimate from the corrected regions (photos without saved
    labels keep the model's regions), priced by the same code as the automatic path; one
    ``human_override`` audit record per corrected photo."""
    labels = {
        pl.photo_id: pl
        for pl in PhotoLabels.objects.filter(claim=claim)
        .select_related("photo_assessment__model_version")
        .prefetch_related("regions")
    }
    if not labels:
        raise ConflictError(ERR_NO_CORRECTIONS, code="no_corrections")
    # The same regions, in the same order, as the screen's live estimate (review.selectors).
    priced = selectors.claim_priced_regions(claim=claim)
    quote = assessment_services.price_quote(priced)
    model_version = before.model_version if before else assessment_services.model_version_active()
    rebuilt = assessment_services.claim_assessment_replace(
        claim=claim,
        model_version=model_version,
        severities=[r.severity for r in priced],
        quote=quote,
        min_photo_confidence=before.min_photo_confidence if before else None,
        source="adjuster",
    )
    numbers = {
        p: n
        for n, p in enumerate(
            claim.photos.order_by("created_at").values_list("pk", flat=True), start=1
        )
    }
    for photo_id, photo_labels in labels.items():
        prediction = photo_labels.photo_assessment
        ledger = list(
            OverrideLedgerEntry.objects.filter(
                photo_id=photo_id, labels_version=photo_labels.version
            )
        )
        # A photo whose every region was accepted unchanged was checked, not corrected.
        unchanged = all(e.action == OverrideLedgerEntry.Action.ACCEPTED for e in ledger)
        outcome, verb = (
            ("labels_accepted", "accepted as predicted")
            if unchanged
            else ("labels_corrected", "corrected")
        )
        assessment_services.audit_record(
            claim=claim,
            kind=AuditRecord.Kind.HUMAN_OVERRIDE,
            actor=adjuster,
            inputs={"photo": str(photo_id), "sha256": photo_labels.photo.sha256},
            model_version=prediction.model_version.version,
            scores={
                "photo_confidence": prediction.photo_confidence,
                "predicted": [
                    {
                        "index": r.index,
                        "label": r.label,
                        "severity": r.severity,
                        "confidence": r.confidence,
                    }
                    for r in prediction.regions.all()
                ],
            },
            outcome=outcome,
            detail={
                "photo_number": numbers.get(photo_id),
                "labels_version": photo_labels.version,
                "labelled_by": photo_labels.adjuster.get_username(),
                # When the labels were saved (the record itself is written at the decision):
                # the review history shows this time.
                "saved_at": photo_labels.saved_at.isoformat(),
                "regions": [
                    {
                        "index": r.index,
                        "label": r.label,
                        "severity": r.severity,
                        "source_index": r.source_index,
                        "origin": r.origin,
                        "area": r.area,
                    }
                    for r in photo_labels.regions.all()
                ],
                "ledger": [
                    {
                        "action": e.action,
                        "source_index": e.source_index,
                        "region_index": e.region_index,
                        "iou": e.iou,
                        "from_label": e.from_label,
                        "to_label": e.to_label,
                        "from_severity": e.from_severity,
                        "to_severity": e.to_severity,
                    }
                    for e in ledger
                ],
                "summary": (
                    f"Photo {numbers.get(photo_id)} {verb}: "
                    f"{_ledger_summary(ledger) or 'no regions'}"
                ),
            },
        )
    return rebuilt, quote


def _model_said(claim: Claim) -> tuple[dict, AuditRecord | None]:
    """What the model and policy had said about the claim, from the automated audit record."""
    automated = (
        AuditRecord.objects.filter(claim_id=claim.pk, kind=AuditRecord.Kind.AUTOMATED_DECISION)
        .order_by("-created_at", "-id")
        .first()
    )
    if automated is None:
        return {}, None
    return {
        "outcome": automated.outcome,
        "estimate_total": automated.scores.get("estimate_total"),
        "currency": automated.scores.get("currency"),
        "photos": automated.scores.get("photos", {}),
        "reasons": automated.rules_fired,
    }, automated


def review_decide(
    *,
    claim: Claim,
    adjuster,
    action: str,
    reason: str = "",
    message_to_customer: str = "",
    active_ms: int = 0,
    now=None,
) -> Claim:
    """Record an adjuster's decision: a Decision, an append-only ``human_decision`` audit
    record (who, what, why, what the model had said), the claim's move, the lock's release."""
    from claims.services import claim_transition

    if action not in ACTION_OUTCOMES:
        raise ApplicationError(ERR_UNKNOWN_OUTCOME.format(outcome=action), code="invalid_outcome")
    reason, message_to_customer = reason.strip(), message_to_customer.strip()
    if action in REASON_REQUIRED and not reason:
        raise ApplicationError(
            ERR_REASON_REQUIRED.format(action=REASON_REQUIRED[action]), code="reason_required"
        )
    now = now or timezone.now()
    with transaction.atomic():
        locked = _claim_for_update(claim)
        _require_in_review(locked)
        _require_lock(locked, adjuster, now)
        before = (
            ClaimAssessment.objects.filter(claim=locked).select_related("model_version").first()
        )
        estimate_before = (
            {
                "total": str(before.estimate_total),
                "currency": before.currency,
                "source": before.source,
            }
            if before
            else None
        )
        estimate_after = estimate_before
        if action == "approve_with_corrections":
            rebuilt, quote = _rebuild_from_labels(locked, adjuster, before)
            model_total = before.estimate_total if before else None
            if not reason and selectors.override_needs_reason(
                model_total=model_total, corrected_total=rebuilt.estimate_total
            ):
                # Raised inside the transaction: the rebuilt record is rolled back with it.
                raise ApplicationError(
                    ERR_OVERRIDE_REASON_REQUIRED.format(
                        after=f"{rebuilt.estimate_total} {rebuilt.currency}",
                        before=f"{model_total} {rebuilt.currency}",
                    ),
                    code="reason_required",
                )
            estimate_after = {
                "total": str(rebuilt.estimate_total),
                "currency": rebuilt.currency,
                "source": rebuilt.source,
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
        routing = Decision.objects.filter(claim=locked).order_by("-created_at", "-id").first()
        model_said, automated = _model_said(locked)
        reasons = [
            {
                "code": REASON_CODES[action],
                "message": message_to_customer or CUSTOMER_MESSAGES[action],
                **({"detail": reason} if reason else {}),
            }
        ]
        outcome = ACTION_OUTCOMES[action]
        model_version = before.model_version if before else None
        decision = Decision.objects.create(
            claim=locked,
            outcome=outcome,
            automatic=False,
            reasons=reasons,
            policy=routing.policy if routing else None,
            model_version=model_version,
            decided_by=adjuster,
        )
        # A customer's open contest is answered by this decision (not by a photo request).
        assessment_services.contest_answer(claim=locked, decision=decision, now=now)
        labels_versions = dict(
            PhotoLabels.objects.filter(claim=locked).values_list("photo_id", "version")
        )
        assessment_services.audit_record(
            claim=locked,
            kind=AuditRecord.Kind.HUMAN_DECISION,
            actor=adjuster,
            inputs={
                "photos": {str(p.pk): p.sha256 for p in locked.photos.order_by("created_at")},
                "labels": {str(k): v for k, v in labels_versions.items()},
            },
            model_version=model_version.version if model_version else "",
            policy_version=automated.policy_version if automated else None,
            scores={"model": model_said},
            thresholds=automated.thresholds if automated else {},
            rules_fired=routing.reasons if routing else [],
            outcome=outcome,
            detail={
                "action": action,
                "reason": reason,
                "message_to_customer": reasons[0]["message"],
                "active_ms": active_ms,
                "estimate_before": estimate_before,
                "estimate_after": estimate_after,
                "summary": reason or reasons[0]["message"],
            },
        )
        target = (
            Claim.Status.MORE_PHOTOS_REQUESTED
            if action == "request_photos"
            else Claim.Status.DECIDED
        )
        claim = claim_transition(claim=locked, to=target)
        ReviewLock.objects.filter(claim=locked).delete()
        _record_active_time(locked, adjuster, active_ms)
    logger.info("claim %s: %s by %s", claim.reference, outcome, adjuster.get_username())
    return claim
