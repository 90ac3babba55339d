"""Reads for the review screen's live estimate: the regions a corrected estimate prices (shared
with the decision's rebuild in review.services) and the preview of what each decision would record.
"""

import uuid
from decimal import Decimal

from assessment import part_pricing
from assessment import selectors as assessment_selectors
from assessment.configuration import price_book, price_quote
from assessment.models import ClaimAssessment
from assessment.parts import PartRegion
from claims.models import Claim
from config.errors import ApplicationError
from review.labels import PART_NAMES
from review.models import SEVERITIES, EstimateAdjustment, PhotoLabels

ERR_PREVIEW_PHOTO = "Photo {photo_id} is not a photo of this claim."
ERR_PREVIEW_LABEL = "Photo {number}, region {index}: {label!r} is not a damage type of the model."
ERR_PREVIEW_SEVERITY = "Photo {number}, region {index}: severity must be minor, moderate or severe."
ERR_PREVIEW_PART = "Photo {number}, region {index}: {part!r} is not a car part of the part map."


def _label_region(
    photo_id: str, index: int, label: str, severity: str, source, part: str = "", **extra
):
    """A corrected region as the damage record by part takes it: on the part the adjuster
    chose (``part``), else on the part of the model region it came from (``source``), and
    unplaced when a person drew it without choosing a part (priced per region). A person stands
    behind it: confidence None, except a region accepted unchanged, which keeps the model's."""
    source_part = (source.part or "") if source is not None else ""
    if part and part != source_part:
        # The adjuster placed it: all of it on that part (no model share to weigh it by).
        return PartRegion(
            photo_id=photo_id,
            region_index=index,
            label=label,
            severity=severity,
            confidence=None,
            area_share=extra.get("area_share", source.area_share if source is not None else 0.0),
            part=part,
            part_share=None,
        )
    return PartRegion(
        photo_id=photo_id,
        region_index=index,
        label=label,
        severity=severity,
        confidence=extra.get("confidence"),
        area_share=extra.get("area_share", source.area_share if source is not None else 0.0),
        part=source.part if source is not None else "",
        part_share=source.part_share if source is not None else None,
    )


def claim_priced_regions(
    *, claim: Claim, overrides: dict[str, list[dict]] | None = None
) -> list[PartRegion]:
    """The regions a corrected estimate prices, photo by photo in upload order: a photo's
    regions in ``overrides`` (the screen's unsaved edits, by photo id), else its saved labels,
    else the model's regions. The decision's rebuild (review.services) and the screen's live
    estimate both price this list, so the sidebar shows what the decision will record.

    A corrected region is on the part the adjuster chose (``LabelRegion.part``; ``part`` in an
    unsaved edit), else on the part of the model region it started from (``source_index``); one
    with neither is priced per region by damage type (assessment.part_pricing)."""
    overrides = overrides or {}
    labels = {
        pl.photo_id: pl
        for pl in PhotoLabels.objects.filter(claim=claim).prefetch_related(
            "regions", "photo_assessment__regions"
        )
    }
    shown = assessment_selectors.photo_assessments_for_claim(claim=claim)
    priced: list[PartRegion] = []
    for photo in claim.photos.order_by("created_at"):
        photo_id = str(photo.pk)
        if photo_id in overrides:
            model = {r.index: r for r in shown[photo.pk].regions.all()} if photo.pk in shown else {}
            priced.extend(
                _label_region(
                    photo_id,
                    i,
                    r["label"],
                    r["severity"],
                    model.get(r.get("source_index")),
                    part=r.get("part") or "",
                )
                for i, r in enumerate(overrides[photo_id])
            )
        elif photo.pk in labels:
            saved = labels[photo.pk]
            model = {r.index: r for r in saved.photo_assessment.regions.all()}
            cells = (saved.photo_assessment.mask_width * saved.photo_assessment.mask_height) or 1
            for r in saved.regions.all():
                source = model.get(r.source_index)
                accepted = r.origin == "accepted" and source is not None
                priced.append(
                    _label_region(
                        photo_id,
                        r.index,
                        r.label,
                        r.severity,
                        source,
                        part=r.part,
                        confidence=source.confidence if accepted else None,
                        area_share=r.area / cells,
                    )
                )
        elif photo.pk in shown:
            priced.extend(PartRegion.of(photo_id, r) for r in shown[photo.pk].regions.all())
    return priced


def override_needs_reason(*, model_total: Decimal | None, corrected_total: Decimal) -> bool:
    """Approving with corrections overrides the model's outcome when it pays a different
    amount than the model's estimate: then the adjuster must say why."""
    return model_total is None or Decimal(corrected_total) != Decimal(model_total)


def _check_overrides(claim: Claim, overrides: dict[str, list[dict]]) -> None:
    photos = {str(p.pk): n for n, p in enumerate(claim.photos.order_by("created_at"), start=1)}
    shown = assessment_selectors.photo_assessments_for_claim(claim=claim)
    for photo_id, regions in overrides.items():
        if photo_id not in photos:
            raise ApplicationError(
                ERR_PREVIEW_PHOTO.format(photo_id=photo_id),
                code="invalid_photo",
                details={"photo_id": photo_id},
            )
        assessment = shown.get(uuid.UUID(photo_id))
        label_map = assessment.model_version.label_map if assessment else None
        names = {c["name"] for c in assessment_selectors.label_classes(label_map)}
        for index, region in enumerate(regions):
            place = {"number": photos[photo_id], "index": index}
            if region["label"] not in names:
                raise ApplicationError(
                    ERR_PREVIEW_LABEL.format(**place, label=region["label"]),
                    code="invalid_label",
                    details={"photo_id": photo_id, "region": index},
                )
            if region.get("part") and region["part"] not in PART_NAMES:
                raise ApplicationError(
                    ERR_PREVIEW_PART.format(**place, part=region["part"]),
                    code="invalid_part",
                    details={"photo_id": photo_id, "region": index},
                )
            if region["severity"] not in SEVERITIES:
                raise ApplicationError(
                    ERR_PREVIEW_SEVERITY.format(**place),
                    code="invalid_severity",
                    details={"photo_id": photo_id, "region": index},
                )


def line_adjustment(adjustment) -> part_pricing.LineAdjustment:
    """An EstimateAdjustment (or a dict with its fields) as assessment's pricing takes it."""

    def field(name):
        return adjustment.get(name) if isinstance(adjustment, dict) else getattr(adjustment, name)

    hours, cost = field("labour_hours"), field("parts_cost")
    return part_pricing.LineAdjustment(
        action=field("action"),
        part=field("part"),
        operation=field("operation"),
        to_operation=field("to_operation") or "",
        labour_hours=None if hours is None else Decimal(hours),
        parts_cost=None if cost is None else Decimal(cost),
    )


def claim_line_adjustments(*, claim: Claim) -> list[part_pricing.LineAdjustment]:
    """The adjuster's saved line edits on the claim, in the order they apply."""
    return [
        line_adjustment(a) for a in EstimateAdjustment.objects.filter(claim=claim).order_by("id")
    ]


def claim_corrected_quote(
    *,
    claim: Claim,
    overrides: dict[str, list[dict]] | None = None,
    adjustments: list[dict] | None = None,
) -> tuple[part_pricing.ClaimEstimate, list[PartRegion], list[part_pricing.LineAdjustment]]:
    """The corrected estimate: the priced regions (``claim_priced_regions``) priced by the
    active table, then the adjuster's saved line edits and any unsaved ones (``adjustments``,
    after the saved) applied. Returns the estimate, its regions and the edits that could not
    apply. The live estimate and the decision both use it."""
    regions = claim_priced_regions(claim=claim, overrides=overrides)
    quote = price_quote(regions)
    edits = claim_line_adjustments(claim=claim) + [line_adjustment(a) for a in adjustments or []]
    if not edits:
        return quote, regions, []
    quote, skipped = part_pricing.adjusted_estimate(quote, edits, price_book())
    return quote, regions, skipped


def _quote_view(quote: part_pricing.ClaimEstimate) -> dict:
    return {
        "currency": quote.currency,
        "total": quote.total,
        "parts": [p.to_dict() for p in quote.parts],
        "lines": [
            {
                "photo_id": line.photo_id,
                "region_index": line.region_index,
                "part": line.part,
                "evidence": [{"photo_id": p, "region_index": i} for p, i in line.evidence],
                "damage_type": line.damage_type,
                "severity": line.severity,
                "operation": line.operation,
                "description": line.description,
                "labour_hours": line.labour_hours,
                "hourly_rate": line.hourly_rate,
                "parts_cost": line.parts_cost,
                "total": line.total,
            }
            for line in quote.lines
        ],
        "unpriced": [
            {
                "photo_id": r.photo_id,
                "region_index": r.region_index,
                "damage_type": r.damage_type,
                "severity": r.severity,
                "part": r.part,
                "operation": r.operation,
                "reason": r.reason,
            }
            for r in quote.unpriced
        ],
    }


def review_estimate_preview(
    *, claim: Claim, overrides: dict[str, list[dict]], adjustments: list[dict] | None = None
) -> dict:
    """What each decision would record, before it is made: the corrected estimate (priced by
    the active price table, as the decision prices it), the model's, whether a reason is
    required and the standard message the customer reads."""
    from review import services  # the decision's own rules and wording (a cycle at import time)

    _check_overrides(claim, overrides)
    quote, _, skipped = claim_corrected_quote(
        claim=claim, overrides=overrides, adjustments=adjustments
    )
    assessment = ClaimAssessment.objects.filter(claim=claim).first()
    model_total = assessment.estimate_total if assessment else None
    corrected = _quote_view(quote)
    corrected["skipped_adjustments"] = [
        {
            "action": a.action,
            "part": a.part,
            "operation": a.operation,
            "to_operation": a.to_operation,
        }
        for a in skipped
    ]
    return {
        "corrected": corrected,
        "model": {
            "total": model_total,
            "currency": assessment.currency if assessment else quote.currency,
            "source": assessment.source if assessment else "",
        },
        "outcomes": [
            {
                "outcome": action,
                "reason_required": action in services.REASON_REQUIRED
                or (
                    action == "approve_with_corrections"
                    and override_needs_reason(model_total=model_total, corrected_total=quote.total)
                ),
                "customer_message": services.CUSTOMER_MESSAGES[action],
                "estimate_total": quote.total
                if action == "approve_with_corrections"
                else model_total,
            }
            for action in services.ACTION_OUTCOMES
        ],
    }
