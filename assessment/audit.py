"""The claim's audit trail: one append-only record per automated decision, contest and
adjuster action, with the inputs, scores, thresholds and rules behind it.

Configuration changes (no claim) are recorded by ``assessment.configuration``.
"""

from assessment.models import AuditRecord
from claims.models import Claim


def audit_record(
    *,
    claim: Claim,
    kind: str,
    actor,
    inputs: dict,
    model_version: str = "",
    policy_version: int | None = None,
    scores: dict | None = None,
    thresholds: dict | None = None,
    rules_fired: list | None = None,
    outcome: str,
    detail: dict | None = None,
) -> AuditRecord:
    return AuditRecord.objects.create(
        claim_id=claim.pk,
        claim_reference=claim.reference,
        kind=kind,
        actor=actor.get_username() if actor else "system",
        actor_id=actor.pk if actor else None,
        inputs=inputs,
        model_version=model_version,
        policy_version=policy_version,
        scores=scores or {},
        thresholds=thresholds or {},
        rules_fired=rules_fired or [],
        outcome=outcome,
        detail=detail or {},
    )
