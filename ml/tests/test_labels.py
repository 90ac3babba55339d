"""Label map: data round-trips, custom taxonomies, severity rules."""

import json
import re

import pytest

from ml.labels import (
    DEFAULT_LABEL_MAP,
    ERR_CLASS_ID,
    ERR_COLOUR,
    ERR_DUPLICATE,
    IGNORE_INDEX,
    UNTYPED_DAMAGE,
    DamageClass,
    LabelMap,
    SeverityRule,
    severity_for,
)


def test_default_label_map_has_cardd_types_in_order():
    assert DEFAULT_LABEL_MAP.names == (
        "background", "dent", "scratch", "crack", "glass_shatter", "lamp_broken", "tire_flat",
    )  # fmt: skip
    assert DEFAULT_LABEL_MAP.num_classes == 7
    assert DEFAULT_LABEL_MAP.by_name("crack").id == 3
    assert DEFAULT_LABEL_MAP.by_id(6).name == "tire_flat"
    assert len({c.colour for c in DEFAULT_LABEL_MAP.classes}) == 6
    assert (IGNORE_INDEX, UNTYPED_DAMAGE) == (255, 254)


def test_label_map_json_round_trip_is_equal(tmp_path):
    # given
    path = tmp_path / "labels.json"
    # when
    DEFAULT_LABEL_MAP.to_json(path)
    back = LabelMap.from_json(path)
    # then
    assert back == DEFAULT_LABEL_MAP
    assert json.loads(path.read_text())["classes"][3]["severity"]["floor"] == "moderate"


def test_label_map_custom_three_classes_works_everywhere(tmp_path):
    lm = LabelMap(
        name="insurer-x",
        classes=(
            DamageClass(1, "paint", "#E69F00", SeverityRule(0.05, 0.3)),
            DamageClass(2, "deformation", "#0072b2", SeverityRule(0.01, 0.05, floor="moderate")),
            DamageClass(3, "broken_part", "#cc79a7", SeverityRule(0.0, 0.0, floor="severe")),
        ),
    )
    lm.to_json(tmp_path / "lm.json")
    back = LabelMap.from_dict(json.loads((tmp_path / "lm.json").read_text()))
    assert back == lm
    assert back.num_classes == 4
    assert back.by_name("paint").colour == "#e69f00"
    assert back.palette()[2] == (0, 114, 178)
    assert severity_for(back, "paint", 0.01) == "minor"
    assert severity_for(back, "deformation", 0.001) == "moderate"
    assert severity_for(back, "broken_part", 0.0001) == "severe"


def test_label_map_from_names_assigns_ids_from_one():
    lm = LabelMap.from_names(["a", "b"])
    assert [(c.id, c.name) for c in lm.classes] == [(1, "a"), (2, "b")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": 0, "name": "x", "colour": "#000000"}, ERR_CLASS_ID),
        ({"id": 254, "name": "x", "colour": "#000000"}, ERR_CLASS_ID),
        ({"id": 1, "name": "x", "colour": "red"}, ERR_COLOUR),
    ],
)
def test_damage_class_invalid_values_rejected(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DamageClass(**kwargs)


def test_label_map_duplicate_names_rejected():
    with pytest.raises(ValueError, match=re.escape(ERR_DUPLICATE)):
        LabelMap((DamageClass(1, "a", "#000000"), DamageClass(2, "a", "#111111")))


def test_label_map_unknown_name_raises_key_error():
    with pytest.raises(KeyError):
        DEFAULT_LABEL_MAP.by_name("rust")


@pytest.mark.parametrize(
    ("name", "area", "bbox", "expected"),
    [
        ("scratch", 0.01, (0.4, 0.4, 0.5, 0.5), "minor"),
        ("scratch", 0.05, (0.4, 0.4, 0.6, 0.6), "moderate"),
        ("scratch", 0.25, (0.2, 0.2, 0.8, 0.8), "severe"),
        # the visible part of a region cut by the frame is a lower bound: 0.03 x 1.5 >= 0.04
        ("scratch", 0.03, (0.0, 0.4, 0.2, 0.6), "moderate"),
        ("glass_shatter", 0.0001, (0.4, 0.4, 0.41, 0.41), "moderate"),
        ("tire_flat", 0.001, None, "moderate"),
        ("tire_flat", 0.07, (0.3, 0.5, 0.6, 0.8), "severe"),
        ("dent", 0.01, (0.3, 0.3, 0.4, 0.4), "minor"),
        # low on the car (sills, mounts): raised one level
        ("dent", 0.01, (0.3, 0.8, 0.4, 0.95), "moderate"),
        ("crack", 0.006, (0.3, 0.3, 0.4, 0.4), "moderate"),
    ],
)
def test_severity_for_default_rules(name, area, bbox, expected):
    assert severity_for(DEFAULT_LABEL_MAP, name, area, bbox) == expected
