"""Defaults a fresh installation starts from: the price table (EUR).

Hours and parts are typical European body-shop figures for a mid-size car; `*` rows price any
damage type a custom taxonomy adds. Staff change them in the admin; these only seed an empty
database.
"""

from decimal import Decimal

LABOUR_RATE = Decimal("62.00")
PAINT_RATE = Decimal("68.00")

# (damage type, severity, operation, labour hours, parts cost, description)
RULES = [
    ("dent", "minor", "repair", "1.5", "0", "Paintless dent repair"),
    ("dent", "moderate", "repair", "3.0", "0", "Panel beating and filling"),
    ("dent", "moderate", "refinish", "2.0", "45", "Refinish panel"),
    ("dent", "severe", "replace", "1.0", "450", "Replace panel"),
    ("dent", "severe", "r_and_i", "1.5", "0", "Remove and install trim"),
    ("dent", "severe", "refinish", "2.5", "60", "Refinish new panel"),
    ("scratch", "minor", "refinish", "1.0", "15", "Polish and spot repair"),
    ("scratch", "moderate", "refinish", "2.0", "40", "Refinish panel"),
    ("scratch", "severe", "repair", "1.5", "0", "Fill deep scratches"),
    ("scratch", "severe", "refinish", "3.0", "60", "Refinish panel and blend"),
    ("crack", "minor", "repair", "1.0", "20", "Plastic weld"),
    ("crack", "minor", "refinish", "1.0", "30", "Refinish repair area"),
    ("crack", "moderate", "repair", "2.0", "30", "Plastic weld and reinforce"),
    ("crack", "moderate", "refinish", "1.5", "40", "Refinish bumper"),
    ("crack", "severe", "replace", "1.0", "380", "Replace bumper cover"),
    ("crack", "severe", "refinish", "2.5", "60", "Refinish new bumper"),
    ("glass_shatter", "minor", "repair", "0.5", "60", "Chip repair"),
    ("glass_shatter", "moderate", "replace", "1.5", "420", "Replace glass"),
    ("glass_shatter", "severe", "replace", "1.5", "420", "Replace glass"),
    ("lamp_broken", "minor", "replace", "0.5", "120", "Replace lens"),
    ("lamp_broken", "moderate", "replace", "0.8", "260", "Replace lamp unit"),
    ("lamp_broken", "severe", "replace", "1.2", "520", "Replace lamp unit and bracket"),
    ("tire_flat", "minor", "repair", "0.5", "25", "Puncture repair"),
    ("tire_flat", "moderate", "replace", "0.5", "140", "Replace tyre"),
    ("tire_flat", "severe", "replace", "0.8", "320", "Replace tyre and wheel"),
    ("*", "minor", "repair", "1.5", "0", "Repair"),
    ("*", "minor", "refinish", "1.0", "30", "Refinish"),
    ("*", "moderate", "repair", "3.0", "0", "Repair"),
    ("*", "moderate", "refinish", "2.0", "45", "Refinish"),
    ("*", "severe", "replace", "1.5", "400", "Replace part"),
    ("*", "severe", "refinish", "2.5", "60", "Refinish"),
]


def price_table_create_default(PriceTable, PriceRule):
    """Create the default table with the given model classes (real or historical)."""
    table = PriceTable.objects.create(
        name="Default (EUR)",
        currency="EUR",
        labour_rate=LABOUR_RATE,
        paint_rate=PAINT_RATE,
        is_active=True,
    )
    PriceRule.objects.bulk_create(
        PriceRule(
            table=table,
            damage_type=damage_type,
            severity=severity,
            operation=operation,
            labour_hours=Decimal(hours),
            parts_cost=Decimal(parts),
            description=description,
        )
        for damage_type, severity, operation, hours, parts, description in RULES
    )
    return table
