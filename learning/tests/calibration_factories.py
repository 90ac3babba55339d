"""Builders of reviewed claims for the calibration tests, written as the services leave them:
an automated-decision audit record and decision, then the adjuster's decision."""

from assessment import audit
from assessment.models import AuditRecord, Decision
from claims.models import Claim
from claims.tests.factories import ClaimFactory, PhotoFactory

MODEL_VERSION = "test-v1"


def reviewed_claim_create(
    *,
    owner,
    adjuster,
    photo_confidence: float,
    outcome: str,
    region_confidence: float = 0.95,
    estimate_total: str = "300.00",
    claim_confidence_prior: float | None = None,
) -> Claim:
    """A one-photo claim the policy routed to review and ``adjuster`` decided as ``outcome``;
    the model saw one minor dent. With ``claim_confidence_prior`` the record carries it (as the
    claim confidence too) and no line items, as the claim finish records them."""
    claim = ClaimFactory(owner=owner, submitted=True, status=Claim.Status.DECIDED)
    photo = PhotoFactory(claim=claim)
    reasons = [{"code": "low_photo_confidence", "message": "not sure"}]
    audit.audit_record(
        claim=claim,
        kind=AuditRecord.Kind.AUTOMATED_DECISION,
        actor=None,
        inputs={"photos": {str(photo.pk): photo.sha256}},
        model_version=MODEL_VERSION,
        policy_version=1,
        scores={
            "photos": {
                str(photo.pk): {
                    "photo_confidence": photo_confidence,
                    "regions": [
                        {"label": "dent", "confidence": region_confidence, "severity": "minor"}
                    ],
                }
            },
            "estimate_total": estimate_total,
            "currency": "EUR",
            **(
                {
                    "claim_confidence": claim_confidence_prior,
                    "claim_confidence_prior": claim_confidence_prior,
                    "line_items": [],
                }
                if claim_confidence_prior is not None
                else {}
            ),
        },
        rules_fired=reasons,
        outcome=Decision.Outcome.ROUTED_TO_REVIEW,
    )
    Decision.objects.create(
        claim=claim, outcome=Decision.Outcome.ROUTED_TO_REVIEW, automatic=False, reasons=reasons
    )
    Decision.objects.create(claim=claim, outcome=outcome, automatic=False, decided_by=adjuster)
    return claim
