"""Hand-built rows for the quality dashboard tests, written as the services leave them: the
policy's automated-decision audit record and decision, the adjuster's labels, ledger entries,
active time, decision and human-decision audit record, each at a chosen moment."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from unittest import mock

from assessment import audit
from assessment.models import AuditRecord, Decision, ModelVersion, PhotoAssessment
from claims.models import Claim
from claims.tests.factories import ClaimFactory
from review.models import ActiveTime, LabelRegion, OverrideLedgerEntry, PhotoLabels

WEEK_1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
WEEK_2 = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
RLE = {"size": [48, 64], "counts": "0"}


@contextlib.contextmanager
def at(moment: datetime):
    """Rows saved inside get ``moment`` as their ``auto_now_add`` time."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def model_version_create(version: str) -> ModelVersion:
    return ModelVersion.objects.create(
        version=version, path="/nonexistent", artifact_sha256="0" * 64, label_map={}
    )


def policy_decision_create(
    *,
    claim: Claim,
    version: ModelVersion,
    when: datetime,
    outcome: str,
    audited: bool = False,
    photo=None,
    estimate_total: str = "300.00",
    claim_confidence: float | None = None,
) -> None:
    """The policy's decision on ``claim`` (audit record and decision) at ``when``."""
    reasons = (
        [{"code": "random_audit", "message": "random audit", "would_be": "auto_approved"}]
        if audited
        else [{"code": "low_photo_confidence", "message": "not sure"}]
        if outcome == Decision.Outcome.ROUTED_TO_REVIEW
        else []
    )
    photos = [photo] if photo is not None else []
    scores = {
        "photos": {
            str(p.pk): {
                "photo_confidence": 0.99,
                "regions": [{"label": "dent", "confidence": 0.99, "severity": "minor"}],
            }
            for p in photos
        },
        "estimate_total": estimate_total,
        "currency": "EUR",
    }
    if claim_confidence is not None:
        scores.update(
            claim_confidence=claim_confidence,
            claim_confidence_prior=claim_confidence,
            line_items=[],
        )
    with at(when):
        audit.audit_record(
            claim=claim,
            kind=AuditRecord.Kind.AUTOMATED_DECISION,
            actor=None,
            inputs={"photos": {str(p.pk): p.sha256 for p in photos}},
            model_version=version.version,
            policy_version=1,
            scores=scores,
            rules_fired=reasons,
            outcome=outcome,
        )
        Decision.objects.create(
            claim=claim,
            outcome=outcome,
            automatic=outcome != Decision.Outcome.ROUTED_TO_REVIEW,
            reasons=reasons,
            model_version=version,
        )


def auto_decided_claim_create(*, owner, version: ModelVersion, when: datetime) -> Claim:
    claim = ClaimFactory(owner=owner, submitted=True, status=Claim.Status.AUTO_DECIDED)
    policy_decision_create(
        claim=claim, version=version, when=when, outcome=Decision.Outcome.AUTO_APPROVED
    )
    return claim


def labels_save(
    *,
    claim: Claim,
    photo,
    version: ModelVersion,
    adjuster,
    when: datetime,
    entries: list[dict],
    final_regions: int,
    labels_version: int = 1,
) -> None:
    """The photo's labels at ``labels_version`` and that save's ledger entries."""
    assessment = PhotoAssessment.objects.get_or_create(
        photo=photo,
        model_version=version,
        defaults={
            "photo_confidence": 0.99,
            "image_width": 96,
            "image_height": 64,
            "mask_width": 64,
            "mask_height": 48,
        },
    )[0]
    with at(when):
        labels, _ = PhotoLabels.objects.update_or_create(
            photo=photo,
            defaults={
                "claim": claim,
                "photo_assessment": assessment,
                "version": labels_version,
                "adjuster": adjuster,
                "saved_at": when,
            },
        )
        labels.regions.all().delete()
        for index in range(final_regions):
            LabelRegion.objects.create(
                labels=labels,
                index=index,
                label="dent",
                label_id=1,
                severity="minor",
                mask_rle=RLE,
                area=10,
                bbox=[0, 0, 2, 5],
            )
        for entry in entries:
            OverrideLedgerEntry.objects.create(
                claim=claim,
                photo=photo,
                labels_version=labels_version,
                adjuster=adjuster,
                active_ms=1000,
                model_version=version,
                **entry,
            )


def review_finish(
    *,
    claim: Claim,
    version: ModelVersion,
    adjuster,
    when: datetime,
    outcome: str,
    reviewed_total: str | None,
    active_ms: int = 0,
) -> None:
    """The adjuster's decision at ``when``, its audit record and the claim's active time."""
    with at(when):
        Decision.objects.create(
            claim=claim,
            outcome=outcome,
            automatic=False,
            decided_by=adjuster,
            model_version=version,
        )
        audit.audit_record(
            claim=claim,
            kind=AuditRecord.Kind.HUMAN_DECISION,
            actor=adjuster,
            inputs={},
            model_version=version.version,
            outcome=outcome,
            detail={
                "estimate_after": None
                if reviewed_total is None
                else {"total": reviewed_total, "currency": "EUR", "source": "adjuster"}
            },
        )
        if active_ms:
            ActiveTime.objects.create(claim=claim, adjuster=adjuster, active_ms=active_ms)
    claim.status = Claim.Status.DECIDED
    claim.save(update_fields=["status"])


def entry(action: str, source_index: int | None, **fields) -> dict:
    return {"action": action, "source_index": source_index, **fields}


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
