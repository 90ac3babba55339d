"""Default prices and policy for both bundled taxonomies, and migration 0008, which brings an
existing default price table and default policy up to the damage-v2 types."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from assessment import configuration, defaults, estimate
from assessment.models import DecisionPolicy, PriceRule, PriceTable
from assessment.policy import PolicyRules
from ml.labels import DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP

pytestmark = pytest.mark.django_db

prices_migration = importlib.import_module("assessment.migrations.0008_damage_v2_prices_and_policy")
SEVERITIES = ("minor", "moderate", "severe")


def _rules(table: PriceTable) -> list[estimate.Rule]:
    return [
        estimate.Rule(r.damage_type, r.severity, r.operation, r.labour_hours, r.parts_cost)
        for r in table.rules.all()
    ]


def _rates(table: PriceTable) -> estimate.Rates:
    return estimate.Rates(table.currency, table.labour_rate, table.paint_rate)


@pytest.mark.parametrize("label_map", [DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP], ids=lambda m: m.name)
def test_default_rules_price_every_bundled_type_and_severity_by_its_own_rows(label_map):
    priced = {(row[0], row[1]) for row in defaults.RULES}
    missing = [
        (c.name, s) for c in label_map.classes for s in SEVERITIES if (c.name, s) not in priced
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("damage_type", "severity", "total"),
    [
        # 1.5 h x 62 + 380 parts, then 1.5 h x 68 + 45 paint
        ("broken_part", "moderate", Decimal("620.00")),
        ("glass_crack", "moderate", Decimal("513.00")),  # 1.5 h x 62 + 420
        ("paint_damage", "minor", Decimal("83.00")),  # 1.0 h x 68 + 15
    ],
)
def test_default_table_prices_damage_v2_types(damage_type, severity, total):
    table = configuration.price_table_active()
    region = estimate.PricedRegion("p", 0, damage_type, severity)

    quote = estimate.estimate([region], _rules(table), _rates(table))

    assert quote.unpriced == []
    assert quote.total == total
    assert {line.damage_type for line in quote.lines} == {damage_type}


def _old_default_table() -> PriceTable:
    """The default table as the previous release seeded it: no damage-v2 rows."""
    table = configuration.price_table_active()
    PriceRule.objects.filter(table=table, damage_type__in=defaults.DAMAGE_V2_TYPES).delete()
    return table


def test_migration_adds_damage_v2_rows_only_for_types_without_a_rule():
    # given the old default table where staff already priced cracked glass their way
    table = _old_default_table()
    PriceRule.objects.create(
        table=table,
        damage_type="glass_crack",
        severity="moderate",
        operation="replace",
        labour_hours=Decimal("2.0"),
        parts_cost=Decimal("600"),
    )
    before = table.rules.count()

    prices_migration.prices(django_apps, None)

    types = defaults.DAMAGE_V2_TYPES
    expected = [r for r in defaults.RULES if r[0] in types and r[0] != "glass_crack"]
    assert table.rules.count() == before + len(expected)
    staff_rows = table.rules.filter(damage_type="glass_crack")
    assert [(r.severity, r.parts_cost) for r in staff_rows] == [("moderate", Decimal("600.00"))]
    broken = table.rules.get(damage_type="broken_part", severity="moderate", operation="replace")
    assert (broken.labour_hours, broken.parts_cost) == (Decimal("1.50"), Decimal("380.00"))


def test_migration_prices_are_added_once():
    _old_default_table()
    assert defaults.price_rules_add_missing(PriceTable, PriceRule) == list(defaults.DAMAGE_V2_TYPES)
    count = PriceRule.objects.count()

    prices_migration.prices(django_apps, None)

    assert PriceRule.objects.count() == count


def test_migration_leaves_a_table_staff_made_alone():
    _old_default_table().delete()
    own = PriceTable.objects.create(
        name="Garage partners (CHF)",
        currency="CHF",
        labour_rate=Decimal("95"),
        paint_rate=Decimal("99"),
        is_active=True,
    )

    prices_migration.prices(django_apps, None)

    assert own.rules.count() == 0


# --------------------------------------------------------------------------- the policy

OLD_DEFAULT_RULES = {
    **PolicyRules().to_dict(),
    "always_human_types": ["glass_shatter", "tire_flat"],
    "min_region_confidence_by_type": {"crack": 0.85, "scratch": 0.75},
}


def test_migration_gives_the_default_policy_the_damage_v2_types_as_a_new_version():
    old = DecisionPolicy.objects.create(
        version=1, rules=OLD_DEFAULT_RULES, note=defaults.DEFAULTS_POLICY_NOTE, is_active=True
    )

    prices_migration.policy(django_apps, None)
    prices_migration.policy(django_apps, None)  # once only

    active = DecisionPolicy.objects.get(is_active=True)
    assert active.version == 2
    assert active.note == defaults.DAMAGE_V2_POLICY_NOTE
    assert active.rules["always_human_types"] == [
        "glass_shatter",
        "tire_flat",
        "glass_crack",
        "broken_part",
    ]
    assert active.rules["min_region_confidence_by_type"] == {
        "crack": 0.85,
        "scratch": 0.75,
        "paint_damage": 0.75,
    }
    old.refresh_from_db()
    assert (old.is_active, old.rules) == (False, OLD_DEFAULT_RULES)  # never edited
    assert DecisionPolicy.objects.count() == 2


def test_migration_leaves_a_policy_staff_wrote_alone():
    DecisionPolicy.objects.create(
        version=3, rules=OLD_DEFAULT_RULES, note="tighter", is_active=True
    )

    prices_migration.policy(django_apps, None)

    assert list(DecisionPolicy.objects.values_list("version", "is_active")) == [(3, True)]


def test_a_fresh_default_policy_needs_no_migration():
    configuration.decision_policy_active()

    assert defaults.decision_policy_add_missing_types(DecisionPolicy) is None
