"""Label maps (damage taxonomy + colours + severity rules) as data that travels with every model.

An insurer may use its own taxonomy, so nothing in ``ml/`` may hard-code class names or ids:
code asks a :class:`LabelMap` instead, and checkpoints/exports store ``LabelMap.to_dict()``.

Semantic-mask value conventions (uint8, shared by readers, augmentation, loss and metrics):

* ``0`` background;
* ``1 .. len(classes)`` damage types (the class ``id``);
* :data:`UNTYPED_DAMAGE` (254) damage of unknown type: the real photos are labelled only
  "damage / not damage", so the loss supervises the *sum* of the damage-type probabilities there
  (a partial label), never one type;
* :data:`IGNORE_INDEX` (255) void: crowd regions, padding, pixels nobody should be scored on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IGNORE_INDEX = 255
UNTYPED_DAMAGE = 254
BACKGROUND_ID = 0
BACKGROUND_NAME = "background"
# Name under which untyped damage is written to / read from COCO files.
UNTYPED_NAME = "damage"
UNTYPED_COLOUR = "#009e73"  # Okabe-Ito bluish green, distinct from every default type
IGNORE_NAME = "ignore"

SEVERITIES = ("minor", "moderate", "severe")

ERR_CLASS_ID = "class id must be an int in 1..253 (0 is background, 254/255 are reserved)"
ERR_COLOUR = "colour must be '#rrggbb'"
ERR_DUPLICATE = "class ids and names must be unique"
ERR_SEVERITY = "severity must be one of minor, moderate, severe"
ERR_UNKNOWN_NAME = "unknown damage class name"
ERR_UNKNOWN_ID = "unknown damage class id"
ERR_EMPTY = "a label map needs at least one class"

_COLOUR_RE = re.compile(r"^#[0-9a-f]{6}$")


@dataclass(frozen=True)
class SeverityRule:
    """Data that decides minor / moderate / severe for one damage class.

    Rules, applied in this order by :func:`severity_for`:

    1. ``area`` is the region's share of the image (0..1). If the region's box lies within
       ``border_margin`` of an image edge the damage probably continues out of frame, so the
       area is multiplied by ``border_area_factor`` (the visible part is a lower bound).
    2. ``area >= severe_area`` gives severe, ``area >= moderate_area`` moderate, else minor.
    3. If ``low_zone`` is set and the box's bottom edge lies below that fraction of the image
       height (sills, bumper mounts, wheels: structural parts are low on a car), the level is
       raised by one.
    4. The level is never below ``floor`` (e.g. shattered glass and a flat tyre always need a
       part replaced or repaired, so they are at least moderate).

    Thresholds are relative to the photo, not to the car, because the photo is all the model
    sees; the defaults are starting points to be re-fitted on adjuster decisions.
    """

    moderate_area: float = 0.02
    severe_area: float = 0.10
    floor: str = "minor"
    border_margin: float | None = 0.01
    border_area_factor: float = 1.5
    low_zone: float | None = None

    def __post_init__(self) -> None:
        if self.floor not in SEVERITIES:
            raise ValueError(ERR_SEVERITY)
        if not 0.0 <= self.moderate_area <= self.severe_area:
            raise ValueError("need 0 <= moderate_area <= severe_area")

    def to_dict(self) -> dict[str, Any]:
        return {
            "moderate_area": self.moderate_area,
            "severe_area": self.severe_area,
            "floor": self.floor,
            "border_margin": self.border_margin,
            "border_area_factor": self.border_area_factor,
            "low_zone": self.low_zone,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeverityRule:
        return cls(**{k: data[k] for k in cls().to_dict() if k in data})


@dataclass(frozen=True)
class DamageClass:
    """One damage type: ``id`` is its value in semantic masks and its COCO category id."""

    id: int
    name: str
    colour: str
    severity: SeverityRule = field(default_factory=SeverityRule)
    display: str = ""  # the one name people read (pages, exports); default from ``name``

    def __post_init__(self) -> None:
        if not isinstance(self.id, int) or isinstance(self.id, bool) or not 1 <= self.id <= 253:
            raise ValueError(ERR_CLASS_ID)
        if not isinstance(self.colour, str) or not _COLOUR_RE.match(self.colour.lower()):
            raise ValueError(ERR_COLOUR)
        if self.colour != self.colour.lower():
            object.__setattr__(self, "colour", self.colour.lower())
        if not self.name:
            raise ValueError("class name must be non-empty")

    @property
    def rgb(self) -> tuple[int, int, int]:
        return hex_to_rgb(self.colour)

    @property
    def display_name(self) -> str:
        return self.display or display_from_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "name": self.name,
            "colour": self.colour,
            "severity": self.severity.to_dict(),
        }
        if self.display:
            out["display"] = self.display
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DamageClass:
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            colour=str(data["colour"]),
            severity=SeverityRule.from_dict(data.get("severity", {})),
            display=str(data.get("display", "")),
        )


@dataclass(frozen=True)
class LabelMap:
    """An ordered damage taxonomy. ``num_classes`` counts background (id 0) as a class."""

    classes: tuple[DamageClass, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        if not self.classes:
            raise ValueError(ERR_EMPTY)
        ids = [c.id for c in self.classes]
        names = [c.name for c in self.classes]
        if len(set(ids)) != len(ids) or len(set(names)) != len(names):
            raise ValueError(ERR_DUPLICATE)
        reserved = {BACKGROUND_NAME, UNTYPED_NAME, IGNORE_NAME}
        if reserved & set(names):
            raise ValueError(f"class names {sorted(reserved)} are reserved")
        # Contiguous ids keep the model's output channel == class id, which every consumer
        # (loss, argmax, palette) relies on.
        if sorted(ids) != list(range(1, len(ids) + 1)):
            raise ValueError("class ids must be exactly 1..len(classes)")

    @property
    def num_classes(self) -> int:
        return len(self.classes) + 1

    @property
    def names(self) -> tuple[str, ...]:
        """Class names indexed by id, starting with ``background`` at 0."""
        by_id = {c.id: c.name for c in self.classes}
        return (BACKGROUND_NAME, *(by_id[i] for i in range(1, self.num_classes)))

    def by_name(self, name: str) -> DamageClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"{ERR_UNKNOWN_NAME}: {name!r}")

    def by_id(self, class_id: int) -> DamageClass:
        for c in self.classes:
            if c.id == class_id:
                return c
        raise KeyError(f"{ERR_UNKNOWN_ID}: {class_id!r}")

    def palette(self) -> list[tuple[int, int, int]]:
        """256 RGB entries for mask values (VOC-style palette): types, untyped, void white."""
        pal = [(0, 0, 0)] * 256
        for c in self.classes:
            pal[c.id] = c.rgb
        pal[UNTYPED_DAMAGE] = hex_to_rgb(UNTYPED_COLOUR)
        pal[IGNORE_INDEX] = (255, 255, 255)
        return pal

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ignore_index": IGNORE_INDEX,
            "untyped_damage": UNTYPED_DAMAGE,
            "classes": [c.to_dict() for c in sorted(self.classes, key=lambda c: c.id)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelMap:
        return cls(
            classes=tuple(DamageClass.from_dict(c) for c in data["classes"]),
            name=str(data.get("name", "custom")),
        )

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> LabelMap:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_names(cls, names: Sequence[str], *, name: str = "custom") -> LabelMap:
        """A map with ids 1..n, default rules and colours from the Okabe-Ito palette."""
        return cls(
            classes=tuple(
                DamageClass(id=i + 1, name=n, colour=OKABE_ITO[i % len(OKABE_ITO)])
                for i, n in enumerate(names)
            ),
            name=name,
        )


# Okabe & Ito (2008) colour-blind-safe palette, without black (background) and bluish green
# (kept for untyped damage).
OKABE_ITO = ("#0072b2", "#e69f00", "#d55e00", "#56b4e9", "#f0e442", "#cc79a7")


def display_from_name(name: str) -> str:
    """``front_bumper`` -> ``Front bumper``: the fallback for a class without a display name."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


# CarDD's six types. Area thresholds are shares of the photo; sources: trade practice that a
# scratch is usually refinish (minor) unless it spans a panel, a crack in a bumper soon means
# replace, shattered glass and a flat tyre always need a part.
DEFAULT_LABEL_MAP = LabelMap(
    name="cardd-6",
    classes=(
        DamageClass(1, "dent", "#0072b2", SeverityRule(0.02, 0.10, low_zone=0.9)),
        DamageClass(2, "scratch", "#e69f00", SeverityRule(0.04, 0.20)),
        DamageClass(3, "crack", "#d55e00", SeverityRule(0.005, 0.04, low_zone=0.85)),
        DamageClass(
            4, "glass_shatter", "#56b4e9", SeverityRule(0.0, 0.05, floor="moderate"), "Broken glass"
        ),
        DamageClass(5, "lamp_broken", "#f0e442", SeverityRule(0.005, 0.03), "Broken lamp"),
        DamageClass(
            6, "tire_flat", "#cc79a7", SeverityRule(0.0, 0.06, floor="moderate"), "Flat tyre"
        ),
    ),
)


def severity_for(
    label_map: LabelMap,
    class_name: str,
    area_share: float,
    bbox_norm: Sequence[float] | None = None,
) -> str:
    """Severity of one region from the class's :class:`SeverityRule` (see its docstring).

    ``area_share`` is the region's pixel share of the image (0..1); ``bbox_norm`` is
    ``(x0, y0, x1, y1)`` normalised to 0..1 (optional: without it, position rules are skipped).
    """
    rule = label_map.by_name(class_name).severity
    area = float(area_share)
    if bbox_norm is not None:
        x0, y0, x1, y1 = (float(v) for v in bbox_norm)
        if rule.border_margin is not None:
            m = rule.border_margin
            if min(x0, y0) <= m or max(x1, y1) >= 1.0 - m:
                area *= rule.border_area_factor
    if area >= rule.severe_area:
        level = 2
    elif area >= rule.moderate_area:
        level = 1
    else:
        level = 0
    if bbox_norm is not None and rule.low_zone is not None and float(bbox_norm[3]) >= rule.low_zone:
        level = min(level + 1, 2)
    level = max(level, SEVERITIES.index(rule.floor))
    return SEVERITIES[level]


# The product's damage taxonomy since the Bilgi typed photos (ml.sources.BILGI_CATEGORIES maps
# each Bilgi class onto it, with the reasons). ``tire_flat`` and ``crack`` of CarDD-6 have no
# real training photo, so they are not in it; a custom taxonomy can still add them.
PRODUCT_LABEL_MAP = LabelMap(
    name="claimvision-damage-2",
    classes=(
        DamageClass(1, "dent", "#0072b2", SeverityRule(0.02, 0.10, low_zone=0.9), "Dent"),
        DamageClass(2, "scratch", "#e69f00", SeverityRule(0.04, 0.20), "Scratch"),
        # Broken or missing part (bumper cover torn, grille gone): a part is replaced.
        DamageClass(
            3,
            "broken_part",
            "#d55e00",
            SeverityRule(0.0, 0.08, floor="moderate"),
            "Broken or missing part",
        ),
        DamageClass(
            4, "glass_crack", "#56b4e9", SeverityRule(0.0, 0.05, floor="moderate"), "Cracked glass"
        ),
        DamageClass(5, "lamp_broken", "#f0e442", SeverityRule(0.005, 0.03), "Broken lamp"),
        # Bare metal / primer showing: refinish, rarely more.
        DamageClass(6, "paint_damage", "#cc79a7", SeverityRule(0.06, 0.25), "Paint damage"),
    ),
)


@dataclass(frozen=True)
class PartMap:
    """Car parts the part head predicts; index 0 is ``other`` (a part nobody labelled, or no car).

    Left and right are merged (the part data's viewpoint convention is undocumented, and a
    horizontal flip is then a valid augmentation); front and rear doors stay apart.
    """

    names: tuple[str, ...]
    name: str = "parts"

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        if not self.names or self.names[0] != PART_OTHER:
            raise ValueError(f"a part map starts with {PART_OTHER!r}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(ERR_DUPLICATE)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def index(self, part: str) -> int:
        return self.names.index(part)

    @staticmethod
    def display(part: str) -> str:
        return display_from_name(part)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "names": list(self.names)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartMap:
        return cls(names=tuple(data["names"]), name=str(data.get("name", "parts")))


def damage_type_display(name: str) -> str:
    """A damage type's display name outside any one model's label map (an admin form, a
    dashboard over several models): the product label map's, else the bundled default's, else
    the name in words."""
    for label_map in (PRODUCT_LABEL_MAP, DEFAULT_LABEL_MAP):
        if name in label_map.names:
            return label_map.by_name(name).display_name
    return display_from_name(name)


PART_OTHER = "other"
DEFAULT_PART_MAP = PartMap(
    name="claimvision-parts-1",
    names=(
        PART_OTHER,
        "front_bumper",
        "rear_bumper",
        "hood",
        "trunk",  # boot lid or tailgate
        "front_door",
        "rear_door",
        "headlamp",
        "tail_lamp",
        "windshield",
        "rear_window",
        "mirror",
        "wheel",
    ),
)
