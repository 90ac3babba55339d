"""The estimate by car part and operation: pure functions over the damage record by part
(assessment.parts) and a price book (the active table's part prices and repair times).

Operations per part are chosen by the rules below (docs/assessment.md, "Estimates"); the
figures come from the price table, and an operation the table has no row for is never guessed:
it is listed as unpriced with a reason and the claim goes to review.

- **replace** (part price plus fitting hours) when the part is past repair: lamps, glass and
  mirrors with any damage worse than minor or with a broken part or lamp; bumpers when severe or
  broken beyond minor; bonnet, boot lid and doors when severe over a large area or severely
  broken; wheels when worse than minor; any other part when severe.
- **repair** otherwise: the part's ``repair`` row (its consumables and any fixed hours) plus,
  per damage type on the part, the repair time for (type, that type's worst severity, the size
  band of its largest region); a type without a repair time of its own uses the ``*`` row.
- **refinish** (paint hours by part) on painted parts (bumpers, bonnet, boot lid, doors) when the
  damage hurts paint: every type except glass, lamp and tyre damage, and a minor dent (fixed
  paintless). A replaced painted part is always refinished.
- **r_and_i** (remove and refit) when a refinished part is repaired, not replaced (a replacement's
  fitting hours include it), and **blend** (the neighbouring panel) when a part is refinished:
  each only where the table has the part's row: the row *is* the rule, so no row, no line.

Regions without a part head are priced per region by the damage-type rules (assessment.estimate),
as before parts existed; the unknown-part entry is never priced.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from assessment import estimate as legacy
from assessment.parts import (
    DamagedPart,
    PartRegion,
    damaged_parts,
    evidence_confidence,
    size_band,
    unplaced,
)
from ml.labels import PartMap

CENT = legacy.CENT
REPAIR, REPLACE, REFINISH, R_AND_I, BLEND = "repair", "replace", "refinish", "r_and_i", "blend"
OPERATION_WORDS = {
    REPAIR: "repair",
    REPLACE: "replace",
    REFINISH: "refinish",
    R_AND_I: "remove and refit",
    BLEND: "blend",
}
PAINT_OPERATIONS = (REFINISH, BLEND)  # priced at the paint rate; the rest at the body rate

LAMPS_GLASS_MIRRORS = frozenset({"headlamp", "tail_lamp", "windshield", "rear_window", "mirror"})
BUMPERS = frozenset({"front_bumper", "rear_bumper"})
PANELS = frozenset({"hood", "trunk", "front_door", "rear_door"})
WHEELS = frozenset({"wheel"})
PAINTED = BUMPERS | PANELS
BROKEN_TYPES = frozenset({"broken_part", "lamp_broken", "glass_shatter"})
NO_PAINT_TYPES = frozenset({"glass_shatter", "glass_crack", "lamp_broken", "tire_flat"})

# Why a region is not in the total (Unpriced.reason).
UNKNOWN_PART = "unknown_part"  # on no named part: a person places and prices it
NO_PART_PRICE = "no_part_price"  # the table has no row for (part, operation)
NO_REPAIR_TIME = "no_repair_time"  # no repair time for (type, severity, size band), nor "*"
NO_PRICE_RULE = "no_price_rule"  # a region without a part and no damage-type rule


@dataclass(frozen=True)
class PartPrice:
    part: str
    operation: str
    labour_hours: Decimal  # paint hours for refinish and blend
    parts_cost: Decimal
    description: str = ""


@dataclass(frozen=True)
class RepairTime:
    damage_type: str  # "*": any type without a row of its own
    severity: str
    size_band: str
    labour_hours: Decimal


@dataclass(frozen=True)
class PriceBook:
    rates: legacy.Rates
    part_prices: tuple[PartPrice, ...] = ()
    repair_times: tuple[RepairTime, ...] = ()
    rules: tuple[legacy.Rule, ...] = ()  # per-region rules, for regions without a part

    def part_price(self, part: str, operation: str) -> PartPrice | None:
        return next(
            (p for p in self.part_prices if p.part == part and p.operation == operation), None
        )

    def repair_time(self, damage_type: str, severity: str, band: str) -> RepairTime | None:
        for wanted in (damage_type, "*"):
            for row in self.repair_times:
                if (row.damage_type, row.severity, row.size_band) == (wanted, severity, band):
                    return row
        return None


@dataclass(frozen=True)
class Unpriced:
    photo_id: str
    region_index: int
    damage_type: str
    severity: str
    part: str = ""
    operation: str = ""
    reason: str = NO_PRICE_RULE


@dataclass(frozen=True)
class ClaimEstimate:
    currency: str
    parts: list[DamagedPart]
    lines: list[legacy.Line]
    total: Decimal
    unpriced: list[Unpriced]


def part_in_words(part: str) -> str:
    return PartMap.display(part) if part else "Unknown part"


def line_description(part: str, operation: str) -> str:
    """``Front bumper — refinish``: what the line does to which part."""
    return f"{part_in_words(part)} — {OPERATION_WORDS.get(operation, operation)}"


def is_replaced(damaged: DamagedPart) -> bool:
    types = damaged.type_severity
    broken = {t for t, s in types.items() if t in BROKEN_TYPES}
    worse_than_minor = damaged.severity in ("moderate", "severe")
    if damaged.part in LAMPS_GLASS_MIRRORS:
        return worse_than_minor or bool(broken - {"glass_shatter"})
    if damaged.part in BUMPERS:
        return damaged.severity == "severe" or types.get("broken_part") in ("moderate", "severe")
    if damaged.part in PANELS:
        return (damaged.severity == "severe" and damaged.size_band == "large") or types.get(
            "broken_part"
        ) == "severe"
    if damaged.part in WHEELS:
        return worse_than_minor
    return damaged.severity == "severe"


def hurts_paint(damaged: DamagedPart) -> bool:
    return any(
        t not in NO_PAINT_TYPES and not (t == "dent" and s == "minor")
        for t, s in damaged.type_severity.items()
    )


def operations_for(damaged: DamagedPart, book: PriceBook) -> list[str]:
    """The operations the rules choose for a damaged part, in the order they are done."""
    replaced = is_replaced(damaged)
    operations = [REPLACE if replaced else REPAIR]
    if damaged.part in PAINTED and (replaced or hurts_paint(damaged)):
        if not replaced and book.part_price(damaged.part, R_AND_I) is not None:
            operations.append(R_AND_I)
        operations.append(REFINISH)
        if book.part_price(damaged.part, BLEND) is not None:
            operations.append(BLEND)
    return operations


def _best_evidence(damaged: DamagedPart):
    return max(damaged.evidence, key=evidence_confidence)


def _line(damaged, operation, hours, parts_cost, rates, description="") -> legacy.Line:
    rate = rates.paint_rate if operation in PAINT_OPERATIONS else rates.labour_rate
    best = _best_evidence(damaged)
    return legacy.Line(
        photo_id=best.photo_id,
        region_index=best.region_index,
        damage_type=", ".join(damaged.damage_types),
        severity=damaged.severity,
        operation=operation,
        description=description or line_description(damaged.part, operation),
        labour_hours=hours,
        hourly_rate=rate,
        parts_cost=parts_cost,
        total=(hours * rate + parts_cost).quantize(CENT, ROUND_HALF_UP),
        part=damaged.part,
        evidence=tuple((e.photo_id, e.region_index) for e in damaged.evidence),
    )


def _gaps(damaged: DamagedPart, operation: str, reason: str, types=None) -> list[Unpriced]:
    return [
        Unpriced(e.photo_id, e.region_index, e.label, e.severity, damaged.part, operation, reason)
        for e in damaged.evidence
        if types is None or e.label in types
    ]


def part_lines(damaged: DamagedPart, book: PriceBook) -> tuple[list[legacy.Line], list[Unpriced]]:
    """The lines of one damaged part, and what could not be priced (never guessed)."""
    if not damaged.known:
        return [], _gaps(damaged, "", UNKNOWN_PART)
    lines: list[legacy.Line] = []
    gaps: list[Unpriced] = []
    for operation in operations_for(damaged, book):
        row = book.part_price(damaged.part, operation)
        if row is None:
            gaps.extend(_gaps(damaged, operation, NO_PART_PRICE))
            continue
        hours = row.labour_hours
        if operation == REPAIR:
            missing = []
            for damage_type, severity in damaged.type_severity.items():
                band = size_band(damaged.type_size[damage_type])
                time = book.repair_time(damage_type, severity, band)
                if time is None:
                    missing.append(damage_type)
                else:
                    hours += time.labour_hours
            if missing:
                gaps.extend(_gaps(damaged, operation, NO_REPAIR_TIME, types=set(missing)))
                if len(missing) == len(damaged.type_severity):
                    continue
            if hours == 0 and row.parts_cost == 0:
                continue  # nothing to do on the body (a scratch only refinished)
        lines.append(_line(damaged, operation, hours, row.parts_cost, book.rates))
    return lines, gaps


def claim_estimate(regions: list[PartRegion], book: PriceBook) -> ClaimEstimate:
    """The claim's estimate: one set of lines per damaged part, and the regions without a part
    priced per region by the damage-type rules."""
    parts = damaged_parts(regions)
    lines: list[legacy.Line] = []
    gaps: list[Unpriced] = []
    for damaged in parts:
        part_line_list, part_gaps = part_lines(damaged, book)
        lines.extend(part_line_list)
        gaps.extend(part_gaps)
    loose = [
        legacy.PricedRegion(r.photo_id, r.region_index, r.label, r.severity)
        for r in unplaced(regions)
    ]
    if loose:
        per_region = legacy.estimate(loose, list(book.rules), book.rates)
        lines.extend(per_region.lines)
        gaps.extend(
            Unpriced(r.photo_id, r.region_index, r.damage_type, r.severity)
            for r in per_region.unpriced
        )
    total = sum((line.total for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    return ClaimEstimate(
        currency=book.rates.currency, parts=parts, lines=lines, total=total, unpriced=gaps
    )


# ------------------------------------------------------------------ an adjuster's line edits

ADD, REMOVE, CHANGE = "add", "remove", "change"
OPERATIONS = (REPAIR, REPLACE, REFINISH, R_AND_I, BLEND)


@dataclass(frozen=True)
class LineAdjustment:
    """An adjuster's edit of the line (part, operation), as plain data: review stores them
    (review.models.EstimateAdjustment) and passes them here, so assessment never reads review.

    ``add`` a line (figures given, else the price table's row), ``remove`` it, or ``change`` its
    operation (``to_operation``), labour hours or parts cost (``None``: keep the line's)."""

    action: str
    part: str
    operation: str
    to_operation: str = ""
    labour_hours: Decimal | None = None
    parts_cost: Decimal | None = None


def _adjusted_line(line: legacy.Line, adjustment: LineAdjustment, rates, book) -> legacy.Line:
    operation = adjustment.to_operation or line.operation
    row = book.part_price(line.part, operation) if operation != line.operation else None
    hours = adjustment.labour_hours
    if hours is None:
        hours = row.labour_hours if row is not None else line.labour_hours
    cost = adjustment.parts_cost
    if cost is None:
        cost = row.parts_cost if row is not None else line.parts_cost
    rate = rates.paint_rate if operation in PAINT_OPERATIONS else rates.labour_rate
    return replace(
        line,
        operation=operation,
        description=line_description(line.part, operation),
        labour_hours=Decimal(hours),
        hourly_rate=rate,
        parts_cost=Decimal(cost),
        total=(Decimal(hours) * rate + Decimal(cost)).quantize(CENT, ROUND_HALF_UP),
    )


def adjusted_estimate(
    estimate: ClaimEstimate, adjustments: list[LineAdjustment], book: PriceBook
) -> tuple[ClaimEstimate, list[LineAdjustment]]:
    """The estimate with an adjuster's line edits applied in order, and the edits that could not
    apply (an added line on a part with no damage on the claim: a line needs evidence; or a
    change to an operation the part already has a line for).

    Each edit acts on the line of its (part, operation): ``add`` creates it (or replaces its
    figures), ``change`` edits it (an absent line is added, so an edit made on a line that the
    rules no longer produce keeps its figures), ``remove`` drops it. A line added by hand prices
    the (part, operation) the price table could not: its ``no_part_price`` gaps are cleared.
    Lines priced per region (no part) are not adjustable here: the adjuster corrects the region.
    """
    lines = list(estimate.lines)
    unpriced = list(estimate.unpriced)
    by_part = {p.part: p for p in estimate.parts if p.known}
    skipped: list[LineAdjustment] = []

    def find(part: str, operation: str) -> int | None:
        return next(
            (i for i, x in enumerate(lines) if x.part == part and x.operation == operation), None
        )

    for adjustment in adjustments:
        at = find(adjustment.part, adjustment.operation)
        if adjustment.action == REMOVE:
            if at is not None:
                del lines[at]
            continue
        target = adjustment.to_operation or adjustment.operation
        if target != adjustment.operation and find(adjustment.part, target) is not None:
            skipped.append(adjustment)
            continue
        if at is None:
            damaged = by_part.get(adjustment.part)
            if damaged is None:
                skipped.append(adjustment)
                continue
            row = book.part_price(adjustment.part, target)
            if row is None and adjustment.labour_hours is None and adjustment.parts_cost is None:
                skipped.append(adjustment)  # nothing to price it by
                continue
            base = _line(
                damaged,
                target,
                row.labour_hours if row is not None else Decimal(0),
                row.parts_cost if row is not None else Decimal(0),
                book.rates,
            )
            lines.append(
                _adjusted_line(base, replace(adjustment, to_operation=""), book.rates, book)
            )
        else:
            lines[at] = _adjusted_line(lines[at], adjustment, book.rates, book)
        unpriced = [
            u for u in unpriced if not (u.part == adjustment.part and u.operation == target)
        ]
    total = sum((line.total for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    return replace(estimate, lines=lines, total=total, unpriced=unpriced), skipped
