"""The claim's damage record by car part: regions from all of a claim's photos merged into
damaged parts. Pure functions over plain records (no Django), so pricing, the review screen and
the claim confidence all read the same record.

Rules (docs/assessment.md, "Damage by part"):

- **One entry per part name.** Every region the model put on a named part (``Region.part``, a
  name from the model's part map) joins that part's entry, whatever photo it is on: an overview
  and a close-up of the same bumper are one entry, and two dents on one door are one entry with
  both regions as evidence. Evidence is listed, never added up: to a model that sees one photo
  at a time, a close-up of a dent seen in the overview and a second dent look alike.
- **Damage types**: every type seen on the part, in the order first seen; per type, its worst
  severity (``DamagedPart.type_severity``). **Severity**: the worst over all its regions.
- **Size**: the largest ``area_share`` (the region's share of its photo's pixels) among the
  part's regions, with a band: small below ``SIZE_MEDIUM`` (3 %), medium below ``SIZE_LARGE``
  (10 %), large above. A close-up makes damage look bigger than an overview does, so the band
  leans large on close-ups; it sets repair hours only, next to the severity.
- **Confidence**: the best single piece of evidence, ``max(confidence x part_share)``: how sure
  the model is of the damage times how much of it lies on this part. Not ``1 - prod(1 - c s)``:
  two photos of one dent are not independent witnesses (same car, same light, same model), and
  adding them up would make a claim with more close-ups look surer than it is. A region a person
  drew or corrected (confidence ``None``) counts as 1.0; a missing ``part_share`` as 1.0.
- **Unknown part**: regions on no named part (blank or ``other``) from a model with a part head
  form one entry with ``part == UNKNOWN_PART``. It is never priced: the claim goes to review.
- **No part head**: regions whose ``part_share`` is ``None`` and that have no part (a model
  without a part head, or a region an adjuster drew) are left out of the part record;
  ``unplaced`` returns them and the estimate prices them per region (assessment.estimate).

Known limitation: the part map has no left and right (ml.labels), so damage on the left and
the right front door is one ``front_door`` entry and priced as one door.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml.labels import PART_OTHER

UNKNOWN_PART = ""
SEVERITY_ORDER = {"minor": 0, "moderate": 1, "severe": 2}
# Size bands on the largest region's share of its photo. A dent a hand wide on a door is about
# 1-2 % of an overview photo; a crumpled panel 5-10 %; whole-part damage above.
SIZE_MEDIUM = 0.03
SIZE_LARGE = 0.10
SIZE_BANDS = ("small", "medium", "large")


@dataclass(frozen=True)
class PartRegion:
    """One region as the part record takes it (a model's ``Region`` or an adjuster's label)."""

    photo_id: str
    region_index: int
    label: str
    severity: str
    confidence: float | None  # None: a person drew or corrected it
    area_share: float
    part: str = ""  # a part map name; blank or "other": on no named part
    part_share: float | None = None  # None: the model has no part head (or nobody placed it)

    @classmethod
    def of(cls, photo_id: str, region) -> PartRegion:
        """A model region (``assessment.models.Region``, or any record with its fields)."""
        return cls(
            photo_id=photo_id,
            region_index=region.index,
            label=region.label,
            severity=region.severity,
            confidence=region.confidence,
            area_share=region.area_share,
            part=region.part or "",
            part_share=region.part_share,
        )

    @property
    def placed(self) -> bool:
        """Whether the region belongs in the part record (see the module docstring)."""
        return bool(self.part) or self.part_share is not None


@dataclass(frozen=True)
class Evidence:
    photo_id: str
    region_index: int
    label: str
    severity: str
    confidence: float | None
    part_share: float | None
    area_share: float

    def to_dict(self) -> dict:
        return {
            "photo_id": self.photo_id,
            "region_index": self.region_index,
            "label": self.label,
            "severity": self.severity,
            "confidence": self.confidence,
            "part_share": self.part_share,
            "area_share": self.area_share,
        }


@dataclass(frozen=True)
class DamagedPart:
    part: str  # UNKNOWN_PART for damage on no named part
    damage_types: tuple[str, ...]
    type_severity: dict[str, str]  # damage type -> its worst severity on the part
    type_size: dict[str, float]  # damage type -> its largest area share on the part
    severity: str
    size: float
    confidence: float
    evidence: tuple[Evidence, ...]

    @property
    def known(self) -> bool:
        return self.part != UNKNOWN_PART

    @property
    def size_band(self) -> str:
        return size_band(self.size)

    @property
    def photo_ids(self) -> list[str]:
        return list(dict.fromkeys(e.photo_id for e in self.evidence))

    def to_dict(self) -> dict:
        return {
            "part": self.part,
            "damage_types": list(self.damage_types),
            "severity": self.severity,
            "size": round(self.size, 4),
            "size_band": self.size_band,
            "confidence": round(self.confidence, 4),
            "photo_ids": self.photo_ids,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def size_band(size: float) -> str:
    if size < SIZE_MEDIUM:
        return "small"
    if size < SIZE_LARGE:
        return "medium"
    return "large"


def worst_severity(severities) -> str:
    return max(severities, key=lambda s: SEVERITY_ORDER.get(s, -1), default="")


def part_key(part: str) -> str:
    """The entry a region's part joins: its name, or UNKNOWN_PART for blank and ``other``."""
    return UNKNOWN_PART if not part or part == PART_OTHER else part


def evidence_confidence(evidence: Evidence) -> float:
    confidence = 1.0 if evidence.confidence is None else evidence.confidence
    share = 1.0 if evidence.part_share is None else evidence.part_share
    return confidence * share


def damaged_parts(regions: list[PartRegion]) -> list[DamagedPart]:
    """Merge placed regions into one entry per part, in the order parts are first seen; the
    unknown-part entry, if any, comes last."""
    grouped: dict[str, list[Evidence]] = {}
    for region in regions:
        if not region.placed:
            continue
        grouped.setdefault(part_key(region.part), []).append(
            Evidence(
                photo_id=region.photo_id,
                region_index=region.region_index,
                label=region.label,
                severity=region.severity,
                confidence=region.confidence,
                part_share=region.part_share,
                area_share=region.area_share,
            )
        )
    order = [p for p in grouped if p != UNKNOWN_PART] + (
        [UNKNOWN_PART] if UNKNOWN_PART in grouped else []
    )
    return [_damaged_part(part, grouped[part]) for part in order]


def unplaced(regions: list[PartRegion]) -> list[PartRegion]:
    """The regions the part record leaves out (no part head, or drawn by a person)."""
    return [r for r in regions if not r.placed]


def _damaged_part(part: str, evidence: list[Evidence]) -> DamagedPart:
    types = tuple(dict.fromkeys(e.label for e in evidence))
    return DamagedPart(
        part=part,
        damage_types=types,
        type_severity={
            t: worst_severity(e.severity for e in evidence if e.label == t) for t in types
        },
        type_size={t: max(e.area_share for e in evidence if e.label == t) for t in types},
        severity=worst_severity(e.severity for e in evidence),
        size=max(e.area_share for e in evidence),
        confidence=max(evidence_confidence(e) for e in evidence),
        evidence=tuple(evidence),
    )
