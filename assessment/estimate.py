"""Repair estimates per region from a price table: pure functions over plain records. The
estimate by car part (assessment.part_pricing) uses these for regions without a part.

Each region is priced by the rules for its damage type and severity (a rule for type ``*``
applies to every type without a rule of its own). Labour is hours x the body rate, refinish
hours x the paint rate, plus parts. A region no rule covers is flagged, not guessed.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rule:
    damage_type: str
    severity: str
    operation: str  # repair | replace | refinish | r_and_i
    labour_hours: Decimal
    parts_cost: Decimal
    description: str = ""


@dataclass(frozen=True)
class Rates:
    currency: str
    labour_rate: Decimal
    paint_rate: Decimal


@dataclass(frozen=True)
class PricedRegion:
    photo_id: str
    region_index: int
    damage_type: str
    severity: str


@dataclass(frozen=True)
class Line:
    photo_id: str
    region_index: int
    damage_type: str
    severity: str
    operation: str
    description: str
    labour_hours: Decimal
    hourly_rate: Decimal
    parts_cost: Decimal
    total: Decimal
    # A line by part (assessment.part_pricing): the part, and every (photo id, region index) it
    # comes from; photo_id and region_index are then its best evidence. Blank for a region's line.
    part: str = ""
    evidence: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Estimate:
    currency: str
    lines: list[Line]
    total: Decimal
    unpriced: list[PricedRegion]


def rules_for(rules: list[Rule], damage_type: str, severity: str) -> list[Rule]:
    exact = [r for r in rules if r.damage_type == damage_type and r.severity == severity]
    if exact:
        return exact
    return [r for r in rules if r.damage_type == "*" and r.severity == severity]


def estimate(regions: list[PricedRegion], rules: list[Rule], rates: Rates) -> Estimate:
    lines: list[Line] = []
    unpriced: list[PricedRegion] = []
    for region in regions:
        matched = rules_for(rules, region.damage_type, region.severity)
        if not matched:
            unpriced.append(region)
            continue
        for rule in matched:
            rate = rates.paint_rate if rule.operation == "refinish" else rates.labour_rate
            total = (rule.labour_hours * rate + rule.parts_cost).quantize(CENT, ROUND_HALF_UP)
            lines.append(
                Line(
                    photo_id=region.photo_id,
                    region_index=region.region_index,
                    damage_type=region.damage_type,
                    severity=region.severity,
                    operation=rule.operation,
                    description=rule.description
                    or f"{rule.operation.replace('_', ' ')} {region.damage_type}",
                    labour_hours=rule.labour_hours,
                    hourly_rate=rate,
                    parts_cost=rule.parts_cost,
                    total=total,
                )
            )
    total = sum((line.total for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    return Estimate(currency=rates.currency, lines=lines, total=total, unpriced=unpriced)


def overall_severity(severities: list[str]) -> str:
    order = {"minor": 0, "moderate": 1, "severe": 2}
    return max(severities, key=lambda s: order.get(s, -1)) if severities else ""
