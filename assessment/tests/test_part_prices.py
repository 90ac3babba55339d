"""The default prices by part (migration 0012, a fresh database) and the claim's estimate by part
through the automatic path: lines by part and operation, the damage record, and a part with no
price rule routed to review."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from assessment import configuration, defaults, services
from assessment.models import (
    ClaimAssessment,
    Decision,
    PartPrice,
    PriceRule,
    PriceTable,
    RepairTime,
)
from assessment.tests.conftest import region
from ml.labels import PRODUCT_LABEL_MAP

pytestmark = pytest.mark.django_db

part_migration = importlib.import_module("assessment.migrations.0012_part_prices")
REPAIR_TIME_ROWS = 3 * len(defaults.REPAIR_TIMES)


def test_migrated_default_table_is_priced_by_part():
    table = configuration.price_table_active()

    assert table.part_prices.count() == len(defaults.PART_PRICES)
    assert table.repair_times.count() == REPAIR_TIME_ROWS
    headlamp = table.part_prices.get(part="headlamp", operation="replace")
    assert (headlamp.labour_hours, headlamp.parts_cost) == (Decimal("0.50"), Decimal("480.00"))
    door = table.repair_times.get(damage_type="dent", severity="moderate", size_band="large")
    assert door.labour_hours == Decimal("3.50")


def test_migration_seeds_part_prices_once_and_keeps_staff_rows():
    # given the default table as the previous release left it, with one row staff added
    table = configuration.price_table_active()
    table.part_prices.all().delete()
    table.repair_times.all().delete()
    PartPrice.objects.create(table=table, part="hood", operation="refinish", labour_hours=4)

    # when the migration runs (twice)
    part_migration.seed_part_prices(django_apps, None)
    part_migration.seed_part_prices(django_apps, None)

    # then a table already priced by part is left as staff made it
    assert list(table.part_prices.values_list("part", "labour_hours")) == [
        ("hood", Decimal("4.00"))
    ]
    assert table.repair_times.count() == 0

    # and an unpriced default table is seeded once
    table.part_prices.all().delete()
    part_migration.seed_part_prices(django_apps, None)
    part_migration.seed_part_prices(django_apps, None)
    assert table.part_prices.count() == len(defaults.PART_PRICES)
    assert table.repair_times.count() == REPAIR_TIME_ROWS


def test_migration_leaves_a_table_staff_made_alone():
    PriceTable.objects.all().delete()
    own = PriceTable.objects.create(
        name="Garage partners (CHF)", currency="CHF", labour_rate=95, paint_rate=99, is_active=True
    )

    part_migration.seed_part_prices(django_apps, None)

    assert own.part_prices.count() == 0


def test_empty_database_starts_from_default_part_prices():
    PriceTable.objects.all().delete()

    table = configuration.price_table_active()

    assert table.part_prices.count() == len(defaults.PART_PRICES)
    assert RepairTime.objects.filter(table=table).count() == REPAIR_TIME_ROWS
    assert PriceRule.objects.filter(table=table).count() == len(defaults.RULES)


def test_price_table_snapshot_has_part_prices_and_repair_times():
    snapshot = configuration.price_table_snapshot(configuration.price_table_active())

    assert len(snapshot["part_prices"]) == len(defaults.PART_PRICES)
    assert len(snapshot["repair_times"]) == REPAIR_TIME_ROWS
    assert ("headlamp", "replace", "0.50", "480.00") in {
        (p["part"], p["operation"], p["labour_hours"], p["parts_cost"])
        for p in snapshot["part_prices"]
    }


def _assess(claim):
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    return ClaimAssessment.objects.get(claim=claim)


def test_claim_estimate_is_by_part_across_photos(product_segmenter, assessing_claim):
    # given every photo shows the same dented rear door
    product_segmenter.regions = [
        region(
            "dent", 0.97, "moderate", label_map=PRODUCT_LABEL_MAP, part="rear_door", part_share=0.9
        )
    ]

    # when the claim is assessed
    record = _assess(assessing_claim)

    # then one damaged part, seen on every photo, priced once per operation
    photo_ids = [str(p.pk) for p in assessing_claim.photos.order_by("created_at")]
    [door] = record.damaged_parts
    assert (door["part"], door["damage_types"], door["photo_ids"]) == (
        "rear_door",
        ["dent"],
        photo_ids,
    )
    lines = list(record.lines.all())
    assert [(line.part, line.operation) for line in lines] == [
        ("rear_door", "repair"),
        ("rear_door", "r_and_i"),
        ("rear_door", "refinish"),
        ("rear_door", "blend"),
    ]
    assert lines[0].description == "Rear door — repair"
    assert [e["photo_id"] for e in lines[0].evidence] == photo_ids
    assert record.estimate_total == sum((line.total for line in lines), Decimal(0))
    assert assessing_claim.status == "auto_decided"


def test_claim_with_a_part_the_table_cannot_price_goes_to_review(
    product_segmenter, assessing_claim
):
    # given a table that does not refinish the rear door
    table = configuration.price_table_active()
    table.part_prices.filter(part="rear_door", operation="refinish").delete()
    product_segmenter.regions = [
        region(
            "dent", 0.97, "moderate", label_map=PRODUCT_LABEL_MAP, part="rear_door", part_share=0.9
        )
    ]

    # when the claim is assessed
    record = _assess(assessing_claim)

    # then the refinish is not guessed: the claim goes to a person, who reads what is missing
    assert assessing_claim.status == "in_review"
    assert "refinish" not in [line.operation for line in record.lines.all()]
    reasons = Decision.objects.get(claim=assessing_claim).reasons
    assert [r["code"] for r in reasons] == ["no_price_rule", "no_part_price"]
    assert reasons[1]["message"] == services.MSG_NO_PART_PRICE.format(
        part="Rear door", operation="refinish"
    )
