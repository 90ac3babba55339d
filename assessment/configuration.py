"""The decision configuration: the decision policy and price table in force, new policy
versions, pricing with the active table, and the audit trail of every change.

Every decision policy and price table that is created, changed or activated is recorded (who,
when, what it was before and after), because together they decide which claims are paid
automatically and how much; so is every model version registered or moved to shadow
(activation has its own ``model_activated`` record).

Records are ``AuditRecord`` rows of kind ``config_changed`` (no claim), with ``outcome`` the
action and ``detail`` ``{"object", "before", "after"}``; snapshots are plain JSON so a record
still reads the same after the rows it describes changed again.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from assessment import estimate as pricing
from assessment import part_pricing, policy
from assessment.defaults import DEFAULTS_POLICY_NOTE
from assessment.models import (
    AuditRecord,
    DecisionPolicy,
    PartPrice,
    PriceRule,
    PriceTable,
    RepairTime,
)
from assessment.parts import PartRegion
from config.errors import ConflictError

SYSTEM_ACTOR = "system"
CREATED, CHANGED, ACTIVATED = "created", "changed", "activated"
ERR_NO_ACTIVE_PRICE_TABLE = "No active price table: an admin must activate one."


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
        "part_prices": [
            {
                "part": row.part,
                "operation": row.operation,
                "labour_hours": str(row.labour_hours),
                "parts_cost": str(row.parts_cost),
                "description": row.description,
            }
            for row in table.part_prices.order_by("part", "operation")
        ],
        "repair_times": [
            {
                "damage_type": row.damage_type,
                "severity": row.severity,
                "size_band": row.size_band,
                "labour_hours": str(row.labour_hours),
            }
            for row in table.repair_times.order_by("damage_type", "severity", "size_band")
        ],
    }


def configuration_change_record(
    *, obj: str, action: str, before: dict | None, after: dict | None, actor=None
) -> AuditRecord:
    """One ``config_changed`` record; ``obj`` is ``decision_policy``, ``price_table`` or
    ``model_version`` (assessment.model_versions)."""
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


def created_once(create, existing):
    """``create()`` a default row, or take ``existing()`` when a concurrent request created it
    first: the "one active" unique constraint lets one insert win, the other gets an
    IntegrityError (inside a savepoint, so an outer transaction goes on). Two status polls or
    estimate previews on an empty database met here as a 500 before."""
    try:
        with transaction.atomic():
            return create()
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found


def decision_policy_active() -> DecisionPolicy:
    active = DecisionPolicy.objects.filter(is_active=True).first()
    if active is not None:
        return active

    def create() -> DecisionPolicy:
        version = DecisionPolicy.objects.order_by("-version").first()
        return DecisionPolicy.objects.create(
            version=(version.version + 1) if version else 1,
            rules=policy.PolicyRules().to_dict(),
            note=DEFAULTS_POLICY_NOTE,
            is_active=True,
        )

    return created_once(create, DecisionPolicy.objects.filter(is_active=True).first)


def decision_policy_create(*, rules: dict, note: str = "", created_by=None, activate: bool):
    """Add a policy version (validated; audited); versions are never edited in place."""
    validated = policy.PolicyRules.from_dict(rules).to_dict()
    with transaction.atomic():
        last = DecisionPolicy.objects.select_for_update().order_by("-version").first()
        previous = DecisionPolicy.objects.filter(is_active=True).first()
        if activate:
            DecisionPolicy.objects.filter(is_active=True).update(is_active=False)
        created = DecisionPolicy.objects.create(
            version=(last.version + 1) if last else 1,
            rules=validated,
            note=note,
            created_by=created_by,
            is_active=activate,
        )
        configuration_change_record(
            obj="decision_policy",
            action=ACTIVATED if activate else CREATED,
            before=policy_snapshot(previous),
            after=policy_snapshot(created),
            actor=created_by,
        )
        return created


def decision_policy_activate(*, decision_policy: DecisionPolicy, actor=None) -> None:
    """Make one version the active policy (audited); a no-op for the active one."""
    with transaction.atomic():
        previous = DecisionPolicy.objects.select_for_update().filter(is_active=True).first()
        if previous is not None and previous.pk == decision_policy.pk:
            return
        DecisionPolicy.objects.filter(is_active=True).update(is_active=False)
        DecisionPolicy.objects.filter(pk=decision_policy.pk).update(is_active=True)
        decision_policy.refresh_from_db()
        configuration_change_record(
            obj="decision_policy",
            action=ACTIVATED,
            before=policy_snapshot(previous),
            after=policy_snapshot(decision_policy),
            actor=actor,
        )


def price_table_active() -> PriceTable:
    """The active price table; an empty database starts from the defaults."""
    table = PriceTable.objects.filter(is_active=True).first()
    if table is not None:
        return table
    if PriceTable.objects.exists():  # staff deactivated every table: refuse to guess prices
        raise ConflictError(ERR_NO_ACTIVE_PRICE_TABLE, code="no_price_table")
    from assessment.defaults import price_table_create_default

    return created_once(
        lambda: price_table_create_default(PriceTable, PriceRule, PartPrice, RepairTime),
        PriceTable.objects.filter(is_active=True).first,
    )


def price_inputs() -> tuple[list[pricing.Rule], pricing.Rates]:
    """The active price table as ``assessment.estimate`` takes it: rules and rates."""
    table = price_table_active()
    rules = [
        pricing.Rule(
            damage_type=r.damage_type,
            severity=r.severity,
            operation=r.operation,
            labour_hours=r.labour_hours,
            parts_cost=r.parts_cost,
            description=r.description,
        )
        for r in table.rules.all()
    ]
    return rules, pricing.Rates(table.currency, table.labour_rate, table.paint_rate)


def price_book() -> part_pricing.PriceBook:
    """The active price table as ``assessment.part_pricing`` takes it: rates, prices by part
    and operation, repair times, and the per-region rules for regions without a part."""
    table = price_table_active()
    rules, rates = price_inputs()
    return part_pricing.PriceBook(
        rates=rates,
        part_prices=tuple(
            part_pricing.PartPrice(
                part=row.part,
                operation=row.operation,
                labour_hours=row.labour_hours,
                parts_cost=row.parts_cost,
                description=row.description,
            )
            for row in table.part_prices.all()
        ),
        repair_times=tuple(
            part_pricing.RepairTime(
                damage_type=row.damage_type,
                severity=row.severity,
                size_band=row.size_band,
                labour_hours=row.labour_hours,
            )
            for row in table.repair_times.all()
        ),
        rules=tuple(rules),
    )


def price_quote(regions: list[PartRegion]) -> part_pricing.ClaimEstimate:
    """Price a claim's regions by part with the active price table (the same code the automatic
    path uses)."""
    return part_pricing.claim_estimate(regions, price_book())
