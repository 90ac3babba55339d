"""Defaults a fresh installation starts from: the price table (EUR).

Hours and parts are typical European body-shop figures for a mid-size car; `*` rows price any
damage type a custom taxonomy adds. ``RULES`` price a region by damage type and severity (regions
without a part); ``PART_PRICES`` and ``REPAIR_TIMES`` price a damaged part by operation.

Rows for both bundled taxonomies are kept: CarDD-6 (crack,
glass_shatter, tire_flat: the old starter model and custom taxonomies built on it) and the
product's damage-v2 types (broken_part, glass_crack, paint_damage). Staff change them in the
admin; these only seed an empty database, and migration 0008 adds the damage-v2 rows to an
existing default table that has none for those types.
"""

from decimal import Decimal

from django.utils.translation import gettext_noop

LABOUR_RATE = Decimal("62.00")
PAINT_RATE = Decimal("68.00")

# (damage type, severity, operation, labour hours, parts cost, description). Descriptions are
# stored in English and shown to customers in their language (assessment.serializers).
RULES = [
    ("dent", "minor", "repair", "1.5", "0", gettext_noop("Paintless dent repair")),
    ("dent", "moderate", "repair", "3.0", "0", gettext_noop("Panel beating and filling")),
    ("dent", "moderate", "refinish", "2.0", "45", gettext_noop("Refinish panel")),
    ("dent", "severe", "replace", "1.0", "450", gettext_noop("Replace panel")),
    ("dent", "severe", "r_and_i", "1.5", "0", gettext_noop("Remove and install trim")),
    ("dent", "severe", "refinish", "2.5", "60", gettext_noop("Refinish new panel")),
    ("scratch", "minor", "refinish", "1.0", "15", gettext_noop("Polish and spot repair")),
    ("scratch", "moderate", "refinish", "2.0", "40", gettext_noop("Refinish panel")),
    ("scratch", "severe", "repair", "1.5", "0", gettext_noop("Fill deep scratches")),
    ("scratch", "severe", "refinish", "3.0", "60", gettext_noop("Refinish panel and blend")),
    ("crack", "minor", "repair", "1.0", "20", gettext_noop("Plastic weld")),
    ("crack", "minor", "refinish", "1.0", "30", gettext_noop("Refinish repair area")),
    ("crack", "moderate", "repair", "2.0", "30", gettext_noop("Plastic weld and reinforce")),
    ("crack", "moderate", "refinish", "1.5", "40", gettext_noop("Refinish bumper")),
    ("crack", "severe", "replace", "1.0", "380", gettext_noop("Replace bumper cover")),
    ("crack", "severe", "refinish", "2.5", "60", gettext_noop("Refinish new bumper")),
    ("glass_shatter", "minor", "repair", "0.5", "60", gettext_noop("Chip repair")),
    ("glass_shatter", "moderate", "replace", "1.5", "420", gettext_noop("Replace glass")),
    ("glass_shatter", "severe", "replace", "1.5", "420", gettext_noop("Replace glass")),
    ("lamp_broken", "minor", "replace", "0.5", "120", gettext_noop("Replace lens")),
    ("lamp_broken", "moderate", "replace", "0.8", "260", gettext_noop("Replace lamp unit")),
    (
        "lamp_broken",
        "severe",
        "replace",
        "1.2",
        "520",
        gettext_noop("Replace lamp unit and bracket"),
    ),
    ("tire_flat", "minor", "repair", "0.5", "25", gettext_noop("Puncture repair")),
    ("tire_flat", "moderate", "replace", "0.5", "140", gettext_noop("Replace tyre")),
    ("tire_flat", "severe", "replace", "0.8", "320", gettext_noop("Replace tyre and wheel")),
    # damage-v2. A broken or missing part is replaced (clip or grille insert when minor, a
    # bumper cover or panel when moderate, with the parts around it when severe).
    (
        "broken_part",
        "minor",
        "replace",
        "0.8",
        "90",
        gettext_noop("Replace clip, trim or grille insert"),
    ),
    ("broken_part", "moderate", "replace", "1.5", "380", gettext_noop("Replace part")),
    ("broken_part", "moderate", "refinish", "1.5", "45", gettext_noop("Refinish new part")),
    ("broken_part", "severe", "replace", "2.0", "650", gettext_noop("Replace part and mountings")),
    (
        "broken_part",
        "severe",
        "r_and_i",
        "1.5",
        "0",
        gettext_noop("Remove and install adjacent parts"),
    ),
    ("broken_part", "severe", "refinish", "2.5", "60", gettext_noop("Refinish new part")),
    # Cracked glass prices as shattered glass does: a chip is repaired, a crack replaced.
    ("glass_crack", "minor", "repair", "0.5", "60", gettext_noop("Chip repair")),
    ("glass_crack", "moderate", "replace", "1.5", "420", gettext_noop("Replace glass")),
    ("glass_crack", "severe", "replace", "1.5", "420", gettext_noop("Replace glass")),
    # Paint damage (primer or bare metal showing) is refinished.
    ("paint_damage", "minor", "refinish", "1.0", "15", gettext_noop("Touch-up and polish")),
    ("paint_damage", "moderate", "refinish", "2.0", "40", gettext_noop("Refinish panel")),
    ("paint_damage", "severe", "repair", "1.0", "0", gettext_noop("Treat bare metal")),
    ("paint_damage", "severe", "refinish", "3.0", "60", gettext_noop("Refinish panel and blend")),
    ("*", "minor", "repair", "1.5", "0", gettext_noop("Repair")),
    ("*", "minor", "refinish", "1.0", "30", gettext_noop("Refinish")),
    ("*", "moderate", "repair", "3.0", "0", gettext_noop("Repair")),
    ("*", "moderate", "refinish", "2.0", "45", gettext_noop("Refinish")),
    ("*", "severe", "replace", "1.5", "400", gettext_noop("Replace part")),
    ("*", "severe", "refinish", "2.5", "60", gettext_noop("Refinish")),
]


# Prices by car part and operation (assessment.part_pricing): (part, operation, hours, parts cost,
# description). Hours are body hours, paint hours for refinish and blend. Typical published
# figures for a mid-size European car (VW Golf / Ford Focus class), in the range of the
# manufacturers' labour-time guides (Audatex, DAT) and list prices: bumper cover EUR 300-450 and
# about 2.5 h to refinish, bonnet about 3 h to refinish, a door shell EUR 550-750 with about
# 2.5 h to transfer its fittings, a headlamp EUR 350-600 (halogen to LED) plus 0.5 h, a
# windscreen EUR 500-800 with 2 h (camera calibration not included). ``repair`` rows carry the
# consumables; the hours come from REPAIR_TIMES by damage type, severity and size. A part with
# no row for an operation is priced by a person (the rear window has no repair: tempered glass
# is replaced); r_and_i and blend rows are the rule that adds them. Descriptions are for staff
# (the admin): a line reads "Front bumper — refinish" (assessment.serializers translates it).
PART_PRICES = [
    ("front_bumper", "repair", "0", "15", "Repair bumper cover"),
    ("front_bumper", "replace", "1.2", "380", "Replace bumper cover"),
    ("front_bumper", "r_and_i", "1.0", "0", "Remove and refit bumper cover"),
    ("front_bumper", "refinish", "2.5", "55", "Refinish bumper cover"),
    ("rear_bumper", "repair", "0", "15", "Repair bumper cover"),
    ("rear_bumper", "replace", "1.2", "340", "Replace bumper cover"),
    ("rear_bumper", "r_and_i", "1.0", "0", "Remove and refit bumper cover"),
    ("rear_bumper", "refinish", "2.5", "55", "Refinish bumper cover"),
    ("hood", "repair", "0", "20", "Repair bonnet"),
    ("hood", "replace", "0.8", "520", "Replace bonnet"),
    ("hood", "refinish", "3.0", "70", "Refinish bonnet"),
    ("trunk", "repair", "0", "20", "Repair boot lid"),
    ("trunk", "replace", "1.0", "480", "Replace boot lid"),
    ("trunk", "refinish", "2.6", "60", "Refinish boot lid"),
    ("front_door", "repair", "0", "20", "Repair door"),
    ("front_door", "replace", "2.5", "650", "Replace door shell, transfer fittings"),
    ("front_door", "r_and_i", "1.0", "0", "Remove and refit trim and handle"),
    ("front_door", "refinish", "2.8", "60", "Refinish door"),
    ("front_door", "blend", "1.0", "20", "Blend adjacent panel"),
    ("rear_door", "repair", "0", "20", "Repair door"),
    ("rear_door", "replace", "2.3", "600", "Replace door shell, transfer fittings"),
    ("rear_door", "r_and_i", "0.9", "0", "Remove and refit trim and handle"),
    ("rear_door", "refinish", "2.6", "60", "Refinish door"),
    ("rear_door", "blend", "1.0", "20", "Blend adjacent panel"),
    ("headlamp", "repair", "0.5", "25", "Polish and seal lens"),
    ("headlamp", "replace", "0.5", "480", "Replace headlamp unit"),
    ("tail_lamp", "repair", "0.3", "15", "Polish lens"),
    ("tail_lamp", "replace", "0.4", "180", "Replace tail lamp"),
    ("windshield", "repair", "0.5", "60", "Chip repair"),
    ("windshield", "replace", "2.0", "650", "Replace windscreen"),
    ("rear_window", "replace", "1.5", "380", "Replace rear window"),
    ("mirror", "repair", "0.3", "10", "Repair mirror housing"),
    ("mirror", "replace", "0.5", "220", "Replace mirror glass and housing"),
    ("wheel", "repair", "0.5", "25", "Puncture repair"),
    ("wheel", "replace", "0.8", "320", "Replace tyre and rim"),
]

# Body hours to repair one damage type on a part: (type, severity) -> hours for the small,
# medium and large size bands (assessment.parts). Paintless dent repair about 1 h for a small
# minor dent; a moderate door dent 1.5-3.5 h by size. Scratches and paint damage are mostly
# refinish time (PART_PRICES); glass chips and punctures are the part's repair row alone. Type
# ``*`` covers damage types without rows (the old per-region ``*`` figures).
REPAIR_TIMES = {
    ("dent", "minor"): ("0.8", "1.2", "2.0"),
    ("dent", "moderate"): ("1.5", "2.5", "3.5"),
    ("dent", "severe"): ("3.0", "4.5", "6.0"),
    ("scratch", "minor"): ("0", "0", "0.3"),
    ("scratch", "moderate"): ("0.3", "0.5", "0.8"),
    ("scratch", "severe"): ("0.8", "1.2", "1.8"),
    ("crack", "minor"): ("1.0", "1.0", "1.5"),
    ("crack", "moderate"): ("1.5", "2.0", "2.5"),
    ("crack", "severe"): ("2.5", "3.0", "3.5"),
    ("paint_damage", "minor"): ("0", "0", "0"),
    ("paint_damage", "moderate"): ("0.2", "0.3", "0.5"),
    ("paint_damage", "severe"): ("0.5", "1.0", "1.5"),
    ("broken_part", "minor"): ("0.5", "0.8", "1.0"),
    ("broken_part", "moderate"): ("1.0", "1.5", "2.0"),
    ("broken_part", "severe"): ("2.0", "2.5", "3.0"),
    ("glass_crack", "minor"): ("0", "0", "0"),
    ("glass_shatter", "minor"): ("0", "0", "0"),
    ("tire_flat", "minor"): ("0", "0", "0"),
    ("*", "minor"): ("1.0", "1.5", "2.0"),
    ("*", "moderate"): ("2.0", "3.0", "4.0"),
    ("*", "severe"): ("3.0", "4.5", "6.0"),
}
SIZE_BANDS = ("small", "medium", "large")


DEFAULT_TABLE_NAME = "Default (EUR)"
# The damage types damage-v2 added; migration 0008 prices them in an existing default table.
DAMAGE_V2_TYPES = ("broken_part", "glass_crack", "paint_damage")


def _rule(PriceRule, table, row):
    damage_type, severity, operation, hours, parts, description = row
    return PriceRule(
        table=table,
        damage_type=damage_type,
        severity=severity,
        operation=operation,
        labour_hours=Decimal(hours),
        parts_cost=Decimal(parts),
        description=description,
    )


def price_table_create_default(PriceTable, PriceRule, PartPrice=None, RepairTime=None):
    """Create the default table with the given model classes (real or historical); with
    ``PartPrice`` and ``RepairTime``, its prices by part too."""
    table = PriceTable.objects.create(
        name=DEFAULT_TABLE_NAME,
        currency="EUR",
        labour_rate=LABOUR_RATE,
        paint_rate=PAINT_RATE,
        is_active=True,
    )
    PriceRule.objects.bulk_create(_rule(PriceRule, table, row) for row in RULES)
    if PartPrice is not None and RepairTime is not None:
        part_prices_create(PartPrice, RepairTime, table)
    return table


def part_prices_create(PartPrice, RepairTime, table) -> None:
    """The default part prices and repair times, into ``table`` (real or historical models)."""
    PartPrice.objects.bulk_create(
        PartPrice(
            table=table,
            part=part,
            operation=operation,
            labour_hours=Decimal(hours),
            parts_cost=Decimal(parts),
            description=description,
        )
        for part, operation, hours, parts, description in PART_PRICES
    )
    RepairTime.objects.bulk_create(
        RepairTime(
            table=table,
            damage_type=damage_type,
            severity=severity,
            size_band=band,
            labour_hours=Decimal(hours),
        )
        for (damage_type, severity), by_band in REPAIR_TIMES.items()
        for band, hours in zip(SIZE_BANDS, by_band, strict=True)
    )


def part_prices_add_to_default(PriceTable, PartPrice, RepairTime) -> bool:
    """Seed the part prices into the active default table (EUR) when it has none (migration
    0012); a table of staff's own, or one already priced by part, is left alone."""
    table = PriceTable.objects.filter(
        is_active=True, name=DEFAULT_TABLE_NAME, currency="EUR"
    ).first()
    if table is None or PartPrice.objects.filter(table=table).exists():
        return False
    part_prices_create(PartPrice, RepairTime, table)
    return True


def price_rules_add_missing(PriceTable, PriceRule, *, damage_types=DAMAGE_V2_TYPES) -> list[str]:
    """Add the default rows of ``damage_types`` to the active default table (EUR), for each
    type that has no rule there yet; returns the types added. A type staff priced themselves,
    and a table of their own (another name or currency), are left as they are."""
    table = PriceTable.objects.filter(
        is_active=True, name=DEFAULT_TABLE_NAME, currency="EUR"
    ).first()
    if table is None:
        return []
    priced = set(
        PriceRule.objects.filter(table=table, damage_type__in=damage_types).values_list(
            "damage_type", flat=True
        )
    )
    added = [t for t in damage_types if t not in priced]
    PriceRule.objects.bulk_create(_rule(PriceRule, table, row) for row in RULES if row[0] in added)
    return added


# The policy note ``assessment.configuration.decision_policy_active`` gives the version it creates
# from the code's defaults when none exists.
DEFAULTS_POLICY_NOTE = "defaults"
DAMAGE_V2_POLICY_NOTE = "defaults, with the damage-v2 types (migration 0008)"


def decision_policy_add_missing_types(DecisionPolicy) -> int | None:
    """Give the damage-v2 types the default policy's treatment (always a person for glass_crack
    and broken_part, paint_damage's own confidence threshold) as a new, active version.

    Only when the active version is the one created from the code's defaults (a policy staff
    wrote stays theirs) and lacks them; versions are never edited. Returns the new version.
    """
    from assessment.policy import PolicyRules

    active = DecisionPolicy.objects.filter(is_active=True).first()
    if active is None or active.note != DEFAULTS_POLICY_NOTE:
        return None
    defaults = PolicyRules()
    rules = dict(active.rules)
    human = list(rules.get("always_human_types", []))
    missing = [t for t in defaults.always_human_types if t not in human]
    by_type = dict(rules.get("min_region_confidence_by_type", {}))
    new_thresholds = {
        t: v for t, v in defaults.min_region_confidence_by_type.items() if t not in by_type
    }
    if not missing and not new_thresholds:
        return None
    rules["always_human_types"] = human + missing
    rules["min_region_confidence_by_type"] = {**by_type, **new_thresholds}
    validated = PolicyRules.from_dict(rules).to_dict()
    last = DecisionPolicy.objects.order_by("-version").first()
    DecisionPolicy.objects.filter(is_active=True).update(is_active=False)
    created = DecisionPolicy.objects.create(
        version=last.version + 1, rules=validated, note=DAMAGE_V2_POLICY_NOTE, is_active=True
    )
    return created.version


AUDIT_SHARE_POLICY_NOTE = "defaults, with random audits (migration 0014)"


def decision_policy_add_audit_share(DecisionPolicy) -> int | None:
    """Turn on random audits (the default ``audit_sample_share``, 0.05) in a default policy
    saved before the rule existed, as a new, active version.

    Only when the active version is one the project made from its defaults (the lazily created
    "defaults" version or migration 0008's upgrade of it, with no author) and has no
    ``audit_sample_share``: a version without the key audits nothing, and a policy staff wrote
    (or ``manage.py calibrate`` adopted) stays as its author left it. Returns the new version.
    """
    from assessment.policy import PolicyRules

    active = DecisionPolicy.objects.filter(is_active=True).first()
    if (
        active is None
        or active.note not in (DEFAULTS_POLICY_NOTE, DAMAGE_V2_POLICY_NOTE)
        or active.created_by_id is not None
        or "audit_sample_share" in active.rules
    ):
        return None
    rules = {**active.rules, "audit_sample_share": PolicyRules().audit_sample_share}
    validated = PolicyRules.from_dict(rules).to_dict()
    last = DecisionPolicy.objects.order_by("-version").first()
    DecisionPolicy.objects.filter(is_active=True).update(is_active=False)
    created = DecisionPolicy.objects.create(
        version=last.version + 1, rules=validated, note=AUDIT_SHARE_POLICY_NOTE, is_active=True
    )
    return created.version
