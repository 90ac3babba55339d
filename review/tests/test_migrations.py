"""review 0002 on a database that already holds labels: it fills ``LabelRegion.origin`` of the
rows saved before the field from the override ledger, and reverses. Runs on SQLite and, in CI,
on PostgreSQL (django-test-migrations' ``migrator`` migrates the test database itself)."""

from datetime import UTC, date, datetime

import pytest

BEFORE = [("review", "0001_initial")]
AFTER = [("review", "0002_label_region_origin")]

SAVED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _photo_labels(apps, *, claim, adjuster, model_version, name: str, version: int):
    photo = apps.get_model("claims", "Photo").objects.create(
        claim=claim,
        original=f"photos/{name}.jpg",
        image_format="JPEG",
        size_bytes=1000,
        width=64,
        height=48,
        sha256=name[:1] * 64,
    )
    assessment = apps.get_model("assessment", "PhotoAssessment").objects.create(
        photo=photo,
        model_version=model_version,
        photo_confidence=0.9,
        image_width=64,
        image_height=48,
        mask_width=64,
        mask_height=48,
    )
    return apps.get_model("review", "PhotoLabels").objects.create(
        photo=photo,
        claim=claim,
        adjuster=adjuster,
        photo_assessment=assessment,
        version=version,
        saved_at=SAVED_AT,
    )


def _history(apps) -> dict[str, int]:
    """Two photos' labels (at version 2), each region a case the migration tells apart, with
    the ledger entries an adjuster's saves left. Returns the region ids by case."""
    user = apps.get_model("auth", "User").objects.create(username="adjuster-before-origin")
    claim = apps.get_model("claims", "Claim").objects.create(
        reference="CLM-2026-ORIGIN",
        policy_number="P-1",
        vehicle_make="Volvo",
        vehicle_model="V70",
        vehicle_year=2015,
        incident_date=date(2026, 11, 1),
        owner=user,
    )
    model_version = apps.get_model("assessment", "ModelVersion").objects.create(
        version="before-origin", path="x", artifact_sha256="0" * 64, label_map={}
    )
    made = {"claim": claim, "adjuster": user, "model_version": model_version}
    first = _photo_labels(apps, **made, name="a-first", version=2)
    second = _photo_labels(apps, **made, name="b-second", version=2)

    region = apps.get_model("review", "LabelRegion").objects
    regions = {}
    for case, labels, index, source in [
        ("accepted", first, 0, 0),  # only `accepted` at the current version
        ("accepted_and_relabelled", first, 1, 1),  # accepted, then relabelled
        ("accepted_in_an_older_save", first, 2, 2),  # only at version 1, none at 2
        ("reshaped", first, 3, 3),
        ("no_entry", first, 4, 4),
        ("drawn", first, 5, None),  # no source region: the adjuster drew it
        ("other_photos_entry", second, 0, 0),  # the first photo's index 0 was accepted
    ]:
        regions[case] = region.create(
            labels=labels,
            index=index,
            source_index=source,
            label="dent",
            label_id=1,
            severity="minor",
            mask_rle={"size": [48, 64], "counts": "0"},
            area=10,
            bbox=[0, 0, 4, 4],
        ).pk

    entry = apps.get_model("review", "OverrideLedgerEntry").objects
    for labels, version, action, source, index in [
        (first, 2, "accepted", 0, 0),
        (first, 2, "accepted", 1, 1),
        (first, 2, "relabelled", 1, 1),
        (first, 1, "accepted", 2, 2),
        (first, 2, "reshaped", 3, 3),
        (first, 2, "added", None, 5),
        (second, 2, "deleted", 1, None),  # a deleted region has no index: never counted
    ]:
        entry.create(
            photo_id=labels.photo_id,
            claim=claim,
            adjuster=user,
            model_version=model_version,
            labels_version=version,
            action=action,
            source_index=source,
            region_index=index,
            active_ms=1000,
        )
    return regions


@pytest.mark.django_db(transaction=True)
def test_label_region_origin_is_filled_from_the_ledger_for_rows_saved_before_it(migrator):
    # given regions saved before LabelRegion had an origin
    regions = _history(migrator.apply_initial_migration(BEFORE).apps)

    # when the migration adds and fills it
    apps = migrator.apply_tested_migration(AFTER).apps

    # then each region's origin is what the ledger of its labels' current version says
    origin = dict(apps.get_model("review", "LabelRegion").objects.values_list("pk", "origin"))
    assert {case: origin[pk] for case, pk in regions.items()} == {
        "accepted": "accepted",
        "accepted_and_relabelled": "edited",
        "accepted_in_an_older_save": "edited",
        "reshaped": "edited",
        "no_entry": "edited",
        "drawn": "added",
        "other_photos_entry": "edited",
    }


@pytest.mark.django_db(transaction=True)
def test_label_region_origin_migration_reverses_and_keeps_the_regions(migrator):
    regions = _history(migrator.apply_initial_migration(BEFORE).apps)
    migrator.apply_tested_migration(AFTER)

    # when the migration is undone
    apps = migrator.apply_tested_migration(BEFORE).apps

    # then every region is still there, without the field
    label_region = apps.get_model("review", "LabelRegion")
    assert set(label_region.objects.values_list("pk", flat=True)) == set(regions.values())
    assert "origin" not in {f.name for f in label_region._meta.get_fields()}
