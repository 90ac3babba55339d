"""The decision configuration's audit trail: every decision policy and price table that is
created, changed or activated is recorded (who, when, what it was before and after), because
together they decide which claims are paid automatically and how much.

Records are ``AuditRecord`` rows of kind ``config_changed`` (no claim), with ``outcome`` the
action and ``detail`` ``{"object", "before", "after"}``; snapshots are plain JSON so a record
still reads the same after the rows it describes changed again.
"""

from __future__ import annotations

from assessment.models import AuditRecord, DecisionPolicy, PriceTable

SYSTEM_ACTOR = "system"
CREATED, CHANGED, ACTIVATED = "created", "changed", "activated"


def policy_snapshot(decision_policy: DecisionPolicy | None) -> dict | None:
    if decision_policy is None:
        return None
    return {
        "version": decision_policy.version,
        "rules": decision_policy.rules,
        "note": decision_policy.note,
        "is_active": decision_policy.is_active,
    }


def price_table_snapshot(table: PriceTable | None) -> dict | None:
    if table is None:
        return None
    return {
        "id": table.pk,
        "name": table.name,
        "currency": table.currency,
        "labour_rate": str(table.labour_rate),
        "paint_rate": str(table.paint_rate),
        "is_active": table.is_active,
        "rules": [
            {
                "damage_type": rule.damage_type,
                "severity": rule.severity,
                "operation": rule.operation,
                "labour_hours": str(rule.labour_hours),
                "parts_cost": str(rule.parts_cost),
                "description": rule.description,
            }
            for rule in table.rules.order_by("damage_type", "severity", "operation")
        ],
    }


def configuration_change_record(
    *, obj: str, action: str, before: dict | None, after: dict | None, actor=None
) -> AuditRecord:
    """One ``config_changed`` record; ``obj`` is ``decision_policy`` or ``price_table``."""
    identity = after or before or {}
    return AuditRecord.objects.create(
        claim_id=None,
        claim_reference="",
        kind=AuditRecord.Kind.CONFIG_CHANGED,
        actor=actor.get_username() if actor is not None else SYSTEM_ACTOR,
        actor_id=actor.pk if actor is not None else None,
        inputs={"object": obj, "id": identity.get("id"), "version": identity.get("version")},
        policy_version=identity.get("version") if obj == "decision_policy" else None,
        outcome=action,
        detail={"object": obj, "before": before, "after": after},
    )


def price_table_change_record(*, table: PriceTable, before: dict | None, actor=None) -> None:
    """After a price table was saved (rules included): record what changed, if anything."""
    after = price_table_snapshot(table)
    if before == after:
        return
    if before is None:
        action = CREATED
    elif after["is_active"] and not before["is_active"]:
        action = ACTIVATED
    else:
        action = CHANGED
    configuration_change_record(
        obj="price_table", action=action, before=before, after=after, actor=actor
    )
