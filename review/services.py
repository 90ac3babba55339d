"""Writes for adjuster review: notes, and the human decision with its audit record (the claim's
damage record rebuilt from corrected labels, the claim's move, the lock's release).

Locks live in review.locks, saving corrected labels and their override ledger in review.labels.
Every write runs in one transaction under a row lock on the claim, so a lock check and the write
it guards cannot interleave with another adjuster's, and a refused request changes nothing.
"""

import logging

from django.db import transaction
from django.utils import timezone

from assessment import services as assessment_services
from assessment.audit import audit_record
from assessment.contests import contest_answer
from assessment.model_versions import model_version_active
from assessment.models import AuditRecord, ClaimAssessment, Decision
from claims.models import Claim
from config import metrics
from config.errors import ApplicationError, ConflictError
from review import estimate_selectors, locks
from review.labels import PART_NAMES
from review.models import (
    ADJUSTMENT_OPERATIONS,
    ClaimNote,
    EstimateAdjustment,
    OverrideLedgerEntry,
    PhotoLabels,
    ReviewLock,
)

logger = logging.getLogger(__name__)

ERR_REASON_REQUIRED = "Give a reason to {action}."
ERR_NO_CORRECTIONS = (
    "No corrections are saved on this claim: save a photo's labels or edit an estimate line "
    "first, or approve as assessed."
)
ERR_ADJUST_ACTION = "Unknown line edit {action!r}: add, remove or change."
ERR_ADJUST_PART = "{part!r} is not a car part a line can be on."
ERR_ADJUST_OPERATION = (
    "{operation!r} is not an operation (repair, replace, refinish, r_and_i, blend)."
)
ERR_ADJUST_NOTHING = "A change names a new operation, labour hours or a parts cost."
ERR_ADJUST_REMOVE_FIGURES = "A removed line takes no operation, hours or cost to change to."
ERR_UNKNOWN_OUTCOME = "Unknown outcome {outcome!r}."
ERR_OVERRIDE_REASON_REQUIRED = (
    "Give a reason: the corrected estimate ({after}) differs from the model's ({before})."
)

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


# --------------------------------------------------------------------------- notes


def review_note_add(*, claim: Claim, author, text: str) -> ClaimNote:
    return ClaimNote.objects.create(claim=claim, author=author, text=text.strip())


# --------------------------------------------------------------------------- estimate lines


def review_estimate_adjust(
    *,
    claim: Claim,
    adjuster,
    action: str,
    part: str,
    operation: str,
    to_operation: str = "",
    labour_hours=None,
    parts_cost=None,
    reason: str = "",
    now=None,
) -> EstimateAdjustment:
    """Record one edit of the claim's estimate lines (add, remove, change a line of a part),
    under the claim's lock; the live estimate and the decision apply it. The row is the edit's
    ledger entry: it keeps who, when, the part and what the line was before
    (``before``, from the live estimate at the time)."""
    if action not in EstimateAdjustment.Action.values:
        raise ApplicationError(ERR_ADJUST_ACTION.format(action=action), code="invalid_adjustment")
    if part not in PART_NAMES or part == "other":
        raise ApplicationError(ERR_ADJUST_PART.format(part=part), code="invalid_part")
    for op in (operation, to_operation):
        if op and op not in ADJUSTMENT_OPERATIONS:
            raise ApplicationError(
                ERR_ADJUST_OPERATION.format(operation=op), code="invalid_operation"
            )
    if not operation:
        raise ApplicationError(
            ERR_ADJUST_OPERATION.format(operation=operation), code="invalid_operation"
        )
    if to_operation == operation:
        to_operation = ""
    if action == "change" and not to_operation and labour_hours is None and parts_cost is None:
        raise ApplicationError(ERR_ADJUST_NOTHING, code="invalid_adjustment")
    if action == "remove" and (to_operation or labour_hours is not None or parts_cost is not None):
        raise ApplicationError(ERR_ADJUST_REMOVE_FIGURES, code="invalid_adjustment")
    now = now or timezone.now()
    with transaction.atomic():
        locked = locks.claim_for_update(claim)
        locks.require_in_review(locked)
        locks.require_lock(locked, adjuster, now)
        quote, _, _ = estimate_selectors.claim_corrected_quote(claim=locked)
        line = next((x for x in quote.lines if x.part == part and x.operation == operation), None)
        before = (
            {
                "operation": line.operation,
                "labour_hours": str(line.labour_hours),
                "parts_cost": str(line.parts_cost),
                "total": str(line.total),
            }
            if line
            else {}
        )
        return EstimateAdjustment.objects.create(
            claim=locked,
            adjuster=adjuster,
            action=action,
            part=part,
            operation=operation,
            to_operation=to_operation,
            labour_hours=labour_hours,
            parts_cost=parts_cost,
            reason=reason.strip(),
            before=before,
        )


# --------------------------------------------------------------------------- decision


def _ledger_summary(entries) -> str:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.action] = counts.get(entry.action, 0) + 1
    return ", ".join(f"{n} {action.replace('_', ' ')}" for action, n in sorted(counts.items()))


def _rebuild_from_labels(claim: Claim, adjuster, before: ClaimAssessment | None):
    """The claim's damage record and estimate from the corrected regions (photos without saved
    labels keep the model's regions), priced by the same code as the automatic path, with the
    adjuster's line edits applied (assessment.part_pricing.adjusted_estimate); one
    ``human_override`` audit record per corrected photo, and one for the line edits."""
    labels = {
        pl.photo_id: pl
        for pl in PhotoLabels.objects.filter(claim=claim)
        .select_related("photo_assessment__model_version")
        .prefetch_related("regions")
    }
    adjustments = list(EstimateAdjustment.objects.filter(claim=claim).order_by("id"))
    if not labels and not adjustments:
        raise ConflictError(ERR_NO_CORRECTIONS, code="no_corrections")
    # The same regions, in the same order, and the same line edits as the live estimate
    # (review.estimate_selectors).
    quote, priced, _ = estimate_selectors.claim_corrected_quote(claim=claim)
    model_version = before.model_version if before else model_version_active()
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
        audit_record(
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
    if adjustments:
        audit_record(
            claim=claim,
            kind=AuditRecord.Kind.HUMAN_OVERRIDE,
            actor=adjuster,
            inputs={"estimate_adjustments": [a.pk for a in adjustments]},
            model_version=model_version.version if model_version else "",
            scores={},
            outcome="estimate_adjusted",
            detail={
                "adjustments": [
                    {
                        "action": a.action,
                        "part": a.part,
                        "operation": a.operation,
                        "to_operation": a.to_operation,
                        "labour_hours": None if a.labour_hours is None else str(a.labour_hours),
                        "parts_cost": None if a.parts_cost is None else str(a.parts_cost),
                        "reason": a.reason,
                        "by": a.adjuster.get_username(),
                    }
                    for a in adjustments
                ],
                "summary": f"Estimate lines edited: {len(adjustments)} edit"
                + ("s" if len(adjustments) != 1 else ""),
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
        locked = locks.claim_for_update(claim)
        locks.require_in_review(locked)
        locks.require_lock(locked, adjuster, now)
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
            if not reason and estimate_selectors.override_needs_reason(
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
        contest = contest_answer(claim=locked, decision=decision, now=now)
        labels_versions = dict(
            PhotoLabels.objects.filter(claim=locked).values_list("photo_id", "version")
        )
        audit_record(
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
                # The customer's contest this (senior) decision answers, when it answers one.
                **({"contest": contest.pk} if contest else {}),
            },
        )
        target = (
            Claim.Status.MORE_PHOTOS_REQUESTED
            if action == "request_photos"
            else Claim.Status.DECIDED
        )
        claim = claim_transition(claim=locked, to=target)
        ReviewLock.objects.filter(claim=locked).delete()
        locks.record_active_time(locked, adjuster, active_ms)
        # Counted once the decision is committed: a rolled-back one was never made.
        answered = contest is not None
        transaction.on_commit(
            lambda: metrics.review_decision_count(outcome=outcome, contest=answered)
        )
    logger.info("claim %s: %s by %s", claim.reference, outcome, adjuster.get_username())
    return claim
