"""Pricing a claim by car part and operation (assessment.part_pricing), with the default book."""

from decimal import Decimal

import pytest

from assessment import defaults
from assessment import estimate as legacy
from assessment import part_pricing as pp
from assessment.parts import PartRegion

RATES = legacy.Rates("EUR", Decimal("62.00"), Decimal("68.00"))


def default_book(drop=()) -> pp.PriceBook:
    return pp.PriceBook(
        rates=RATES,
        part_prices=tuple(
            pp.PartPrice(part, op, Decimal(hours), Decimal(cost), description)
            for part, op, hours, cost, description in defaults.PART_PRICES
            if (part, op) not in drop
        ),
        repair_times=tuple(
            pp.RepairTime(damage_type, severity, band, Decimal(hours))
            for (damage_type, severity), by_band in defaults.REPAIR_TIMES.items()
            for band, hours in zip(defaults.SIZE_BANDS, by_band, strict=True)
        ),
        rules=tuple(
            legacy.Rule(t, s, op, Decimal(h), Decimal(c), d) for t, s, op, h, c, d in defaults.RULES
        ),
    )


def region(label, severity, part, *, photo="p1", index=0, area=0.02, conf=0.9, share=0.9):
    return PartRegion(photo, index, label, severity, conf, area, part, share)


def ops(quote):
    return [(line.part, line.operation, line.labour_hours, line.total) for line in quote.lines]


def test_claim_estimate_overview_and_close_up_price_one_bumper():
    # given: one moderate scratch on the front bumper, seen in an overview and a close-up
    regions = [
        region("scratch", "moderate", "front_bumper", photo="overview", area=0.01),
        region("scratch", "moderate", "front_bumper", photo="close", area=0.02),
    ]
    # when
    quote = pp.claim_estimate(regions, default_book())
    # then: one repair (0.3 h, small), remove and refit, refinish: priced once, not twice
    assert ops(quote) == [
        ("front_bumper", "repair", Decimal("0.3"), Decimal("33.60")),  # 0.3 h x 62 + 15
        ("front_bumper", "r_and_i", Decimal("1.0"), Decimal("62.00")),
        ("front_bumper", "refinish", Decimal("2.5"), Decimal("225.00")),  # 2.5 h x 68 + 55
    ]
    assert quote.lines[0].description == "Front bumper — repair"
    assert quote.lines[0].evidence == (("overview", 0), ("close", 0))
    assert quote.total == Decimal("320.60")
    assert quote.unpriced == []


@pytest.mark.parametrize(
    ("area", "hours"), [(0.01, Decimal("1.5")), (0.05, Decimal("2.5")), (0.2, Decimal("3.5"))]
)
def test_claim_estimate_repair_hours_follow_the_size_band(area, hours):
    quote = pp.claim_estimate([region("dent", "moderate", "front_door", area=area)], default_book())
    repair = quote.lines[0]
    assert (repair.operation, repair.labour_hours) == ("repair", hours)
    assert [line.operation for line in quote.lines] == ["repair", "r_and_i", "refinish", "blend"]


def test_claim_estimate_minor_dent_is_paintless():
    quote = pp.claim_estimate([region("dent", "minor", "hood")], default_book())
    assert ops(quote) == [("hood", "repair", Decimal("0.8"), Decimal("69.60"))]  # 0.8 h + 20


def test_claim_estimate_two_damage_types_on_one_part_add_their_repair_hours():
    regions = [
        region("dent", "moderate", "trunk", index=0, area=0.05),
        region("crack", "minor", "trunk", index=1, area=0.01),
    ]
    quote = pp.claim_estimate(regions, default_book())
    repair = quote.lines[0]
    assert (repair.operation, repair.labour_hours) == ("repair", Decimal("3.5"))  # 2.5 + 1.0
    assert repair.damage_type == "dent, crack"
    assert [line.operation for line in quote.lines] == ["repair", "refinish"]  # no trunk R&I


def test_claim_estimate_severe_headlamp_is_replaced():
    quote = pp.claim_estimate([region("lamp_broken", "severe", "headlamp")], default_book())
    assert ops(quote) == [("headlamp", "replace", Decimal("0.5"), Decimal("511.00"))]


def test_claim_estimate_severe_bumper_is_replaced_and_refinished_without_r_and_i():
    quote = pp.claim_estimate([region("crack", "severe", "rear_bumper")], default_book())
    assert [(line.operation, line.total) for line in quote.lines] == [
        ("replace", Decimal("414.40")),  # 340 + 1.2 h x 62
        ("refinish", Decimal("225.00")),
    ]


def test_claim_estimate_glass_chip_is_repaired_without_paint():
    quote = pp.claim_estimate([region("glass_crack", "minor", "windshield")], default_book())
    assert ops(quote) == [("windshield", "repair", Decimal("0.5"), Decimal("91.00"))]


def test_claim_estimate_door_dent_adds_r_and_i_and_blend():
    quote = pp.claim_estimate([region("dent", "moderate", "rear_door")], default_book())
    assert [(line.operation, line.hourly_rate) for line in quote.lines] == [
        ("repair", RATES.labour_rate),
        ("r_and_i", RATES.labour_rate),
        ("refinish", RATES.paint_rate),
        ("blend", RATES.paint_rate),
    ]


def test_claim_estimate_missing_part_price_is_not_guessed():
    # given: a table without the rear window's repair (tempered glass) and without bumper refinish
    book = default_book(drop={("front_bumper", "refinish")})
    regions = [
        region("glass_crack", "minor", "rear_window", index=0),
        region("scratch", "moderate", "front_bumper", index=1),
    ]
    # when
    quote = pp.claim_estimate(regions, book)
    # then: what has a row is priced; the rest is listed with part, operation and reason
    assert [(line.part, line.operation) for line in quote.lines] == [
        ("front_bumper", "repair"),
        ("front_bumper", "r_and_i"),
    ]
    assert [(g.part, g.operation, g.reason) for g in quote.unpriced] == [
        ("rear_window", "repair", pp.NO_PART_PRICE),
        ("front_bumper", "refinish", pp.NO_PART_PRICE),
    ]


def test_claim_estimate_missing_repair_time_is_not_guessed():
    book = pp.PriceBook(
        rates=RATES, part_prices=(pp.PartPrice("hood", "repair", Decimal(0), Decimal(20)),)
    )
    quote = pp.claim_estimate([region("dent", "minor", "hood")], book)
    assert quote.lines == []
    assert [(g.part, g.operation, g.reason) for g in quote.unpriced] == [
        ("hood", "repair", pp.NO_REPAIR_TIME)
    ]


def test_claim_estimate_unknown_part_is_never_priced():
    quote = pp.claim_estimate(
        [region("dent", "severe", "", share=0.1), region("dent", "minor", "other", index=1)],
        default_book(),
    )
    assert quote.lines == [] and quote.total == 0
    assert [(g.region_index, g.reason) for g in quote.unpriced] == [
        (0, pp.UNKNOWN_PART),
        (1, pp.UNKNOWN_PART),
    ]
    assert [p.part for p in quote.parts] == [""]


def test_claim_estimate_regions_without_a_part_head_are_priced_per_region():
    # given: a model without a part head (no part, no share): the damage-type rules price it
    quote = pp.claim_estimate([region("dent", "minor", "", share=None)], default_book())
    assert [(line.part, line.operation, line.description) for line in quote.lines] == [
        ("", "repair", "Paintless dent repair")
    ]
    assert quote.parts == []


def test_every_default_part_and_operation_the_rules_choose_is_priced():
    # given every bundled damage type at every severity and size on every part of the part map
    from ml.labels import DEFAULT_PART_MAP, PRODUCT_LABEL_MAP

    types = [c.name for c in PRODUCT_LABEL_MAP.classes if c.name != "background"]
    book = default_book()
    missing = set()
    for part in DEFAULT_PART_MAP.names[1:]:
        for damage_type in types:
            for severity in ("minor", "moderate", "severe"):
                for area in (0.01, 0.05, 0.2):
                    quote = pp.claim_estimate(
                        [region(damage_type, severity, part, area=area)], book
                    )
                    missing |= {(g.part, g.operation) for g in quote.unpriced}
    # then the only gap is the rear window's repair, which is replaced or priced by a person
    assert missing == {("rear_window", "repair")}
