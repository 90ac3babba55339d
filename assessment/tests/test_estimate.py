"""Pricing regions from a price table."""

from decimal import Decimal

from assessment.estimate import PricedRegion, Rates, Rule, estimate, overall_severity

RATES = Rates("EUR", Decimal("60.00"), Decimal("70.00"))
RULES = [
    Rule("dent", "minor", "repair", Decimal("1.5"), Decimal("0")),
    Rule("dent", "minor", "refinish", Decimal("1.0"), Decimal("30")),
    Rule("*", "severe", "replace", Decimal("2.0"), Decimal("400")),
]


def test_estimate_sums_labour_paint_and_parts_per_line():
    quote = estimate([PricedRegion("p1", 0, "dent", "minor")], RULES, RATES)
    assert [(line.operation, line.total) for line in quote.lines] == [
        ("repair", Decimal("90.00")),  # 1.5 h x 60
        ("refinish", Decimal("100.00")),  # 1.0 h x 70 + 30 parts
    ]
    assert quote.total == Decimal("190.00")
    assert quote.currency == "EUR"
    assert quote.unpriced == []


def test_estimate_wildcard_rule_prices_types_of_another_taxonomy():
    quote = estimate([PricedRegion("p1", 0, "hail", "severe")], RULES, RATES)
    assert quote.total == Decimal("520.00")  # 2 h x 60 + 400
    assert quote.lines[0].damage_type == "hail"


def test_estimate_flags_regions_no_rule_covers():
    region = PricedRegion("p1", 3, "hail", "minor")
    quote = estimate([region], RULES, RATES)
    assert quote.lines == []
    assert quote.unpriced == [region]
    assert quote.total == Decimal("0.00")


def test_overall_severity_is_the_worst_region():
    assert overall_severity(["minor", "severe", "moderate"]) == "severe"
    assert overall_severity([]) == ""
