"""Reads for calibration: reviewed claims as back-test records (``backtest.ClaimRecord``).

The facts come from the append-only audit record of the automated decision an adjuster then
reviewed (the scores, estimate and rules it fired exactly as the policy saw them, whatever was
re-assessed or corrected since) and from the photos' quality and duplicate flags. Whether the
adjuster changed the result comes from the final human decision and the override ledger.

A claim the automated decision sent to review as a random audit (``random_audit`` in its
rules) is marked ``audited``: its facts replay as automatic under that policy, and the
would-be outcome is kept in ``detail``. The claim confidence is read from the audit record's
``scores["claim_confidence"]`` where the decision recorded one.

``claim_confidence_records_list`` reads the same reviews as claim-confidence records: the prior
the automated decision recorded, and whether the adjuster kept the model's line items.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from assessment import policy, selectors
from assessment.models import AuditRecord, ClaimAssessment, Decision, ModelVersion
from claims.models import Photo
from learning.backtest import ClaimRecord
from learning.claim_confidence import ClaimConfidenceRecord, line_items_kept
from review.models import OverrideLedgerEntry, PhotoLabels

# Human decisions that end a review. A claim's latest one is its outcome.
REVIEW_OUTCOMES = (
    Decision.Outcome.APPROVED,
    Decision.Outcome.APPROVED_WITH_CORRECTIONS,
    Decision.Outcome.DENIED,
    Decision.Outcome.MORE_PHOTOS,
)
# Outcomes that mean an automatic decision on the same facts would have been wrong. "More
# photos" counts: the adjuster could not decide from these photos, so deciding on them
# automatically would have been premature (conservative on purpose).
CHANGED_OUTCOMES = (
    Decision.Outcome.APPROVED_WITH_CORRECTIONS,
    Decision.Outcome.DENIED,
    Decision.Outcome.MORE_PHOTOS,
)
# Claims per query batch: keeps ``IN (...)`` lists well under SQLite's variable limit.
BATCH = 500


@dataclass(frozen=True)
class CalibrationData:
    records: list[ClaimRecord]
    # Reviewed claims left out, by reason (e.g. no automated decision record before the review).
    skipped: dict[str, int] = field(default_factory=dict)


def calibration_records_list(
    *, since: datetime | None = None, until: datetime | None = None
) -> CalibrationData:
    """One record per claim whose latest human decision (in the window) ends a review.

    "Changed" is true when that decision is in ``CHANGED_OUTCOMES`` or when any photo's current
    labels have a ledger entry other than ``accepted`` (an "approved" claim whose regions were
    corrected still counts as changed). The facts are those of the latest automated decision
    before the human one; the customer's contest, if any, is not a fact (it says nothing about
    the model).
    """
    final = _latest_reviews(since=since, until=until)
    claim_ids = sorted(final, key=str)

    records: list[ClaimRecord] = []
    skipped: dict[str, int] = defaultdict(int)
    for start in range(0, len(claim_ids), BATCH):
        batch = claim_ids[start : start + BATCH]
        for record in _records_for(batch, final).values():
            if record is None:
                skipped["no_automated_decision_record"] += 1
            else:
                records.append(record)
    records.sort(key=lambda r: r.claim)
    return CalibrationData(records=records, skipped=dict(skipped))


def _latest_reviews(*, since: datetime | None, until: datetime | None) -> dict:
    """Each claim's latest human decision that ends a review (in the window), by claim id."""
    decisions = Decision.objects.filter(
        automatic=False, decided_by__isnull=False, outcome__in=REVIEW_OUTCOMES
    )
    if since is not None:
        decisions = decisions.filter(created_at__gte=since)
    if until is not None:
        decisions = decisions.filter(created_at__lt=until)
    final: dict = {}
    for row in decisions.order_by("created_at", "id").values("claim_id", "outcome", "created_at"):
        final[row["claim_id"]] = row  # ordered, so the latest wins
    return final


def _records_for(claim_ids: list, final: dict) -> dict:
    automated: dict = {}
    for audit in AuditRecord.objects.filter(
        claim_id__in=claim_ids, kind=AuditRecord.Kind.AUTOMATED_DECISION
    ).order_by("created_at", "id"):
        if audit.created_at <= final[audit.claim_id]["created_at"]:
            automated[audit.claim_id] = audit  # the latest before the human decision
    photos = {
        str(p["id"]): p
        for p in Photo.objects.filter(claim_id__in=claim_ids).values(
            "id", "created_at", "quality_warnings", "duplicate_of_id"
        )
    }
    current_versions = dict(
        PhotoLabels.objects.filter(claim_id__in=claim_ids).values_list("photo_id", "version")
    )
    ledger_changes: dict = defaultdict(list)
    for entry in (
        OverrideLedgerEntry.objects.filter(claim_id__in=claim_ids)
        .exclude(action=OverrideLedgerEntry.Action.ACCEPTED)
        .values("claim_id", "photo_id", "labels_version", "action")
    ):
        if current_versions.get(entry["photo_id"]) == entry["labels_version"]:
            ledger_changes[entry["claim_id"]].append(entry["action"])

    label_names = {
        v.version: selectors.label_names(v)
        for v in ModelVersion.objects.filter(
            version__in={a.model_version for a in automated.values()}
        )
    }
    result = {}
    for claim_id in claim_ids:
        audit = automated.get(claim_id)
        if audit is None:
            result[claim_id] = None
            continue
        outcome = final[claim_id]["outcome"]
        changes = ledger_changes.get(claim_id, [])
        audit_reason = next(
            (r for r in audit.rules_fired or [] if r.get("code") == "random_audit"), None
        )
        result[claim_id] = ClaimRecord(
            claim=audit.claim_reference,
            facts=_facts(audit, photos, label_names.get(audit.model_version, {})),
            changed=outcome in CHANGED_OUTCOMES or bool(changes),
            detail={
                "outcome": outcome,
                "ledger_changes": len(changes),
                "automated_outcome": audit.outcome,
                "policy_version": audit.policy_version,
                "model_version": audit.model_version,
                **({"would_be": audit_reason.get("would_be")} if audit_reason else {}),
            },
            audited=audit_reason is not None,
        )
    return result


def _facts(audit: AuditRecord, photos: dict, names: dict[str, str]) -> policy.ClaimFacts:
    """The facts ``_claim_assess_and_decide`` built, rebuilt from its audit record: photos in
    upload order; a photo in the inputs without scores had failed; a region was unpriced when
    the decision fired ``no_price_rule`` for its type and severity. ``names``: the decided
    model's label map names, as the decision's messages name the types."""
    scores = audit.scores or {}
    scored = scores.get("photos", {})
    unpriced_messages = {
        r.get("message") for r in audit.rules_fired or [] if r.get("code") == "no_price_rule"
    }
    photo_ids = sorted(
        (audit.inputs or {}).get("photos", {}) or scored,
        key=lambda pid: (0, photos[pid]["created_at"], pid) if pid in photos else (1, pid),
    )
    facts = []
    for number, photo_id in enumerate(photo_ids, start=1):
        row = photos.get(photo_id, {})
        score = scored.get(photo_id)
        facts.append(
            policy.PhotoFacts(
                photo=str(number),
                confidence=None if score is None else float(score["photo_confidence"]),
                regions=[
                    policy.RegionFacts(
                        label=r["label"],
                        confidence=float(r["confidence"]),
                        severity=r["severity"],
                        priced=unpriced_messages.isdisjoint(_unpriced_messages(r, names)),
                    )
                    for r in (score or {}).get("regions", [])
                ],
                quality_warnings=[w["code"] for w in row.get("quality_warnings") or []],
                duplicate=row.get("duplicate_of_id") is not None,
                error="" if score is not None else "failed",
            )
        )
    claim_confidence = scores.get("claim_confidence")  # recorded where it was computed
    return policy.ClaimFacts(
        photos=facts,
        estimate_total=float(scores.get("estimate_total", 0)),
        claim_confidence=None if claim_confidence is None else float(claim_confidence),
    )


def _unpriced_messages(region: dict, names: dict[str, str]) -> set[str]:
    """The ``no_price_rule`` message a decision wrote for the region: the type named as the
    label map names it (policy.type_in_words), or by its code in a record written before."""
    return {
        policy.REASON_MESSAGES["no_price_rule"].format(
            value=0, threshold=0, label=label, severity=region["severity"]
        )
        for label in (policy.type_in_words(region["label"], names), region["label"])
    }


# --------------------------------------------------------------------------- claim confidence


@dataclass(frozen=True)
class ClaimConfidenceData:
    records: list[ClaimConfidenceRecord]
    # Reviewed claims left out, by reason: no automated decision record before the review, one
    # recorded before the claim confidence (no prior or no line items), another model version.
    skipped: dict[str, int] = field(default_factory=dict)


def claim_confidence_records_list(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
) -> ClaimConfidenceData:
    """One record per reviewed claim (the same reviews as ``calibration_records_list``): the
    prior its automated decision recorded (``scores["claim_confidence_prior"]``) and whether
    the adjuster kept the line items.

    Kept: the latest review outcome is ``approved`` and the final claim assessment's lines
    (part, operation, hours) equal the model's as the audit record stored them
    (``scores["line_items"]``), as a multiset (``line_items_kept``). Any other outcome is not
    kept, as in the back-test: corrections, a denial, or more photos mean the model's line items
    did not stand. Region outlines the adjuster reshaped without changing a line do not count:
    the claim confidence is about the line items. ``model_version``: only decisions made under
    it (a prior is a model's; the fitted map is applied under that model only).
    """
    final = _latest_reviews(since=since, until=until)
    claim_ids = sorted(final, key=str)

    records: list[ClaimConfidenceRecord] = []
    skipped: dict[str, int] = defaultdict(int)
    for start in range(0, len(claim_ids), BATCH):
        batch = claim_ids[start : start + BATCH]
        automated: dict = {}
        for audit in AuditRecord.objects.filter(
            claim_id__in=batch, kind=AuditRecord.Kind.AUTOMATED_DECISION
        ).order_by("created_at", "id"):
            if audit.created_at <= final[audit.claim_id]["created_at"]:
                automated[audit.claim_id] = audit  # the latest before the human decision
        final_lines = {
            a.claim_id: [(line.part, line.operation, line.labour_hours) for line in a.lines.all()]
            for a in ClaimAssessment.objects.filter(claim_id__in=batch).prefetch_related("lines")
        }
        for claim_id in batch:
            audit = automated.get(claim_id)
            scores = (audit.scores or {}) if audit else {}
            if audit is None:
                skipped["no_automated_decision_record"] += 1
            elif model_version is not None and audit.model_version != model_version:
                skipped["other_model_version"] += 1
            elif scores.get("claim_confidence_prior") is None or "line_items" not in scores:
                skipped["no_claim_confidence_recorded"] += 1
            else:
                model_lines = [(p, op, float(h)) for p, op, h in scores["line_items"]]
                kept = final[claim_id]["outcome"] == Decision.Outcome.APPROVED and (
                    line_items_kept(model_lines, final_lines.get(claim_id, []))
                )
                records.append(
                    ClaimConfidenceRecord(
                        prior=float(scores["claim_confidence_prior"]),
                        kept=kept,
                        claim_id=claim_id,
                    )
                )
    records.sort(key=lambda r: str(r.claim_id))
    return ClaimConfidenceData(records=records, skipped=dict(skipped))
