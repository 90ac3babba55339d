"""Merging a claim's regions into damaged parts (assessment.parts)."""

import pytest

from assessment.parts import (
    UNKNOWN_PART,
    PartRegion,
    damaged_parts,
    size_band,
    unplaced,
)


def region(photo, index, label, severity, part, *, conf=0.9, share=1.0, area=0.02):
    return PartRegion(photo, index, label, severity, conf, area, part, share)


def test_damaged_parts_overview_and_close_up_are_one_part():
    # given: the front bumper's dent in an overview (small) and in a close-up (large)
    regions = [
        region("overview", 0, "dent", "moderate", "front_bumper", conf=0.8, area=0.02),
        region("close", 0, "dent", "moderate", "front_bumper", conf=0.95, area=0.3),
    ]
    # when
    parts = damaged_parts(regions)
    # then
    assert [p.part for p in parts] == ["front_bumper"]
    bumper = parts[0]
    assert bumper.damage_types == ("dent",)
    assert bumper.photo_ids == ["overview", "close"]
    assert [(e.photo_id, e.region_index) for e in bumper.evidence] == [
        ("overview", 0),
        ("close", 0),
    ]
    assert bumper.size == 0.3 and bumper.size_band == "large"
    assert bumper.confidence == pytest.approx(0.95)


def test_damaged_parts_two_dents_on_one_part_are_one_entry_with_both():
    regions = [
        region("p1", 0, "dent", "minor", "front_door", area=0.01),
        region("p1", 1, "scratch", "severe", "front_door", area=0.05),
        region("p1", 2, "dent", "moderate", "front_door", area=0.02),
    ]
    [door] = damaged_parts(regions)
    assert door.damage_types == ("dent", "scratch")
    assert door.severity == "severe"
    assert door.type_severity == {"dent": "moderate", "scratch": "severe"}
    assert door.type_size == {"dent": 0.02, "scratch": 0.05}
    assert len(door.evidence) == 3


def test_damaged_parts_a_part_seen_on_one_photo_only():
    regions = [
        region("p1", 0, "dent", "minor", "hood"),
        region("p2", 0, "lamp_broken", "severe", "headlamp", conf=0.8, share=0.5),
        region("p2", 1, "dent", "minor", "hood"),
    ]
    parts = {p.part: p for p in damaged_parts(regions)}
    assert set(parts) == {"hood", "headlamp"}
    assert parts["headlamp"].photo_ids == ["p2"]
    assert parts["hood"].photo_ids == ["p1", "p2"]
    # confidence: the best evidence's confidence x its share on the part
    assert parts["headlamp"].confidence == pytest.approx(0.4)


def test_damaged_parts_unknown_part_is_its_own_entry_last():
    regions = [
        region("p1", 0, "scratch", "minor", "", share=0.0),
        region("p1", 1, "dent", "minor", "trunk"),
        region("p2", 0, "dent", "severe", "other", share=0.7),
    ]
    parts = damaged_parts(regions)
    assert [p.part for p in parts] == ["trunk", UNKNOWN_PART]
    unknown = parts[-1]
    assert not unknown.known
    assert unknown.severity == "severe" and len(unknown.evidence) == 2


def test_damaged_parts_leave_out_regions_without_a_part_head():
    # given: a model without a part head (no part, no share) and a region a person drew
    regions = [
        region("p1", 0, "dent", "minor", "", share=None),
        region("p1", 1, "dent", "minor", "", conf=None, share=None),
    ]
    assert damaged_parts(regions) == []
    assert len(unplaced(regions)) == 2


def test_damaged_parts_adjuster_regions_count_as_sure():
    [part] = damaged_parts([region("p1", 0, "dent", "minor", "hood", conf=None, share=0.6)])
    assert part.confidence == pytest.approx(0.6)


def test_damaged_part_to_dict_names_evidence():
    [part] = damaged_parts([region("p1", 3, "dent", "minor", "hood", area=0.05)])
    data = part.to_dict()
    assert data["part"] == "hood" and data["size_band"] == "medium"
    assert data["photo_ids"] == ["p1"]
    assert data["evidence"][0]["region_index"] == 3


@pytest.mark.parametrize(
    ("size", "band"),
    [(0.0, "small"), (0.029, "small"), (0.03, "medium"), (0.099, "medium"), (0.1, "large")],
)
def test_size_band_edges(size, band):
    assert size_band(size) == band
