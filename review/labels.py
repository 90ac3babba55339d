"""Saving an adjuster's corrected regions for one photo, with the override ledger of what changed
against the model's prediction (accepted, reshaped, relabelled, severity changed, added, deleted).
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone

from assessment import selectors as assessment_selectors
from assessment.models import PhotoAssessment
from claims.models import Claim, Photo
from config.errors import ApplicationError, ConflictError
from ml.labels import DEFAULT_PART_MAP
from review import locks, masks
from review.models import SEVERITIES, LabelRegion, OverrideLedgerEntry, PhotoLabels

ERR_STALE_LABELS = (
    "These labels were saved again since you loaded them (now version {current}, you started "
    "from {base}). Reload the photo to see the latest labels."
)
ERR_PHOTO_NOT_ASSESSED = "This photo has no model assessment to correct."
ERR_INVALID_MASK = "Region {index}: {problem}."
ERR_INVALID_LABEL = "Region {index}: {label!r} is not a damage type of model {model_version}."
ERR_INVALID_SEVERITY = "Region {index}: severity must be one of minor, moderate, severe."
ERR_INVALID_SOURCE = "Region {index}: the model predicted no region {source} on this photo."
ERR_INVALID_PART = "Region {index}: {part!r} is not a car part of the part map."
ERR_TOO_MANY_REGIONS = "A photo holds at most {limit} regions."

# A photo with more distinct damage regions than this is not a car-damage photo an adjuster
# labels by hand; the cap bounds the work of one request (each region is decoded and compared).
MAX_REGIONS_PER_PHOTO = 100
# IoU at or above which a region counts as accepted unchanged (docs/review-api.md): a one-pixel
# brush slip on a typical region does not make it "reshaped".
ACCEPT_IOU = 0.98


@dataclass(frozen=True)
class _CleanRegion:
    index: int
    label: str
    label_id: int
    severity: str
    source_index: int | None
    mask: object  # np.ndarray (bool, mask grid)
    part: str = ""  # the adjuster's part; blank: the source region's (or none)


# The parts a region can be put on: the part map's names ("other": on no named part).
PART_NAMES = DEFAULT_PART_MAP.names


def part_choices() -> list[dict]:
    """The part select of the region panel: name and display name, ``other`` last."""
    names = [n for n in PART_NAMES if n != "other"] + ["other"]
    return [
        {
            "name": n,
            "display_name": "Other / no part" if n == "other" else DEFAULT_PART_MAP.display(n),
        }
        for n in names
    ]


def photo_assessment_shown(*, claim: Claim, photo: Photo) -> PhotoAssessment | None:
    """The prediction the screen shows for ``photo`` (the claim assessment's model version)."""
    return assessment_selectors.photo_assessments_for_claim(claim=claim).get(photo.pk)


def regions_clean(
    regions: list[dict],
    *,
    classes: dict[str, int],
    source_indices: Collection[int],
    mask_height: int,
    mask_width: int,
    err_too_many: str = ERR_TOO_MANY_REGIONS,
    err_label: str = ERR_INVALID_LABEL,
    err_source: str = ERR_INVALID_SOURCE,
    message_context: Mapping[str, object] | None = None,
) -> list[_CleanRegion]:
    """Check a client's regions (``{"label", "severity", "mask_rle", "source_index"?,
    "part"?}``) against a label map (``classes``, name to class id), the predicted regions a
    ``source_index`` may name and the mask grid; raise the first problem as ApplicationError.

    Shared by the review screen's save and the labelling screen's (which reuses the editor), so
    both accept and refuse the same regions; each caller words its own messages (``err_*``,
    formatted with ``index`` and the problem's fields plus ``message_context``).
    """
    extra = dict(message_context or {})
    if not isinstance(regions, list) or len(regions) > MAX_REGIONS_PER_PHOTO:
        raise ApplicationError(
            err_too_many.format(limit=MAX_REGIONS_PER_PHOTO, **extra), code="invalid_region"
        )
    clean = []
    for index, region in enumerate(regions):
        if not isinstance(region, dict):
            raise ApplicationError(
                ERR_INVALID_MASK.format(index=index, problem="a region must be an object"),
                code="invalid_region",
            )
        label, severity = region.get("label"), region.get("severity")
        source = region.get("source_index")
        if not isinstance(label, str) or label not in classes:
            raise ApplicationError(
                err_label.format(index=index, label=label, **extra),
                code="invalid_label",
                details={"region": index, "label": label, "allowed": sorted(classes)},
            )
        if severity not in SEVERITIES:
            raise ApplicationError(
                ERR_INVALID_SEVERITY.format(index=index),
                code="invalid_severity",
                details={"region": index, "severity": severity, "allowed": SEVERITIES},
            )
        if source is not None and (
            not isinstance(source, int) or isinstance(source, bool) or source not in source_indices
        ):
            raise ApplicationError(
                err_source.format(index=index, source=source, **extra),
                code="invalid_region",
                details={"region": index, "source_index": source},
            )
        try:
            mask = masks.decode_mask(region.get("mask_rle"), height=mask_height, width=mask_width)
        except masks.MaskError as exc:
            raise ApplicationError(
                ERR_INVALID_MASK.format(index=index, problem=exc),
                code="invalid_mask",
                details={
                    "region": index,
                    "problem": str(exc),
                    "mask_size": [mask_height, mask_width],
                },
            ) from None
        part = region.get("part") or ""
        if not isinstance(part, str) or (part and part not in PART_NAMES):
            raise ApplicationError(
                ERR_INVALID_PART.format(index=index, part=part),
                code="invalid_part",
                details={"region": index, "part": part, "allowed": list(PART_NAMES)},
            )
        clean.append(_CleanRegion(index, label, classes[label], severity, source, mask, part))
    return clean


def _clean_regions(regions: list[dict], assessment: PhotoAssessment) -> list[_CleanRegion]:
    classes = {c["name"]: c["id"] for c in assessment.model_version.label_map.get("classes", [])}
    predicted = {r.index: r.part or "" for r in assessment.regions.all()}
    clean = regions_clean(
        regions,
        classes=classes,
        source_indices=predicted,
        mask_height=assessment.mask_height,
        mask_width=assessment.mask_width,
        message_context={"model_version": assessment.model_version.version},
    )
    # The model's part, kept: stored blank (it follows the source).
    return [
        replace(r, part="")
        if r.source_index is not None and r.part == predicted[r.source_index]
        else r
        for r in clean
    ]


def _ledger(clean: list[_CleanRegion], assessment: PhotoAssessment) -> list[tuple[str, dict]]:
    """(action, fields) per change of every region against the model's prediction."""
    predicted = {r.index: r for r in assessment.regions.all()}
    predicted_masks = {}
    entries: list[tuple[str, dict]] = []
    A = OverrideLedgerEntry.Action
    for region in clean:
        if region.source_index is None:
            entries.append(
                (
                    A.ADDED,
                    {
                        "region_index": region.index,
                        "to_label": region.label,
                        "to_severity": region.severity,
                        "to_part": region.part,
                    },
                )
            )
            continue
        source = predicted[region.source_index]
        from_part = source.part or ""
        to_part = region.part or from_part
        if source.index not in predicted_masks:
            predicted_masks[source.index] = masks.rle_to_mask(source.mask_rle)
        overlap = round(masks.iou(region.mask, predicted_masks[source.index]), 4)
        base = {
            "region_index": region.index,
            "source_index": source.index,
            "iou": overlap,
            "model_confidence": source.confidence,
            "from_part": from_part,
            "to_part": to_part,
        }
        changes = []
        if overlap < ACCEPT_IOU:
            changes.append((A.RESHAPED, {}))
        if region.label != source.label:
            changes.append((A.RELABELLED, {"from_label": source.label, "to_label": region.label}))
        if region.severity != source.severity:
            changes.append(
                (
                    A.SEVERITY_CHANGED,
                    {"from_severity": source.severity, "to_severity": region.severity},
                )
            )
        if to_part != from_part:
            changes.append((A.PART_CHANGED, {}))
        if not changes:
            changes.append((A.ACCEPTED, {"from_label": source.label, "to_label": region.label}))
        entries.extend((action, {**base, **fields}) for action, fields in changes)
    used = {r.source_index for r in clean if r.source_index is not None}
    for index, source in predicted.items():
        if index not in used:
            entries.append(
                (
                    A.DELETED,
                    {
                        "source_index": index,
                        "model_confidence": source.confidence,
                        "from_label": source.label,
                        "from_severity": source.severity,
                        "from_part": source.part or "",
                    },
                )
            )
    return entries


def region_origins(entries: list[tuple[str, dict]]) -> dict[int, str]:
    """Each corrected region's origin from its ledger entries: ``accepted`` when its only
    entry is ``accepted`` (same shape within ACCEPT_IOU, type and severity as the model's),
    ``added`` when a person drew it, else ``edited``."""
    actions: dict[int, set[str]] = {}
    for action, fields in entries:
        if fields.get("region_index") is not None:
            actions.setdefault(fields["region_index"], set()).add(action)
    A = OverrideLedgerEntry.Action
    return {
        index: "accepted" if found == {A.ACCEPTED} else "added" if A.ADDED in found else "edited"
        for index, found in actions.items()
    }


def photo_labels_preview(
    *, claim: Claim, photo: Photo, regions: list[dict]
) -> list[tuple[str, dict]]:
    """The ledger a save of ``regions`` would append, without saving: what a person would be
    changing (the simulated adjuster prices its work with it before it saves; same checks,
    same errors as :func:`photo_labels_save`)."""
    assessment = photo_assessment_shown(claim=claim, photo=photo)
    if assessment is None:
        raise ConflictError(ERR_PHOTO_NOT_ASSESSED, code="photo_not_assessed")
    return _ledger(_clean_regions(regions, assessment), assessment)


def photo_labels_save(
    *,
    claim: Claim,
    photo: Photo,
    adjuster,
    base_version: int,
    regions: list[dict],
    active_ms: int = 0,
    now=None,
) -> tuple[PhotoLabels, list[OverrideLedgerEntry]]:
    """Store an adjuster's corrected regions for one photo and the ledger of what changed.

    Optimistic concurrency on top of the lock: ``base_version`` must be the version the screen
    loaded, so a second tab (or a lock taken over in between) cannot overwrite newer labels.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = locks.claim_for_update(claim)
        locks.require_in_review(locked)
        locks.require_lock(locked, adjuster, now)
        assessment = photo_assessment_shown(claim=locked, photo=photo)
        if assessment is None:
            raise ConflictError(ERR_PHOTO_NOT_ASSESSED, code="photo_not_assessed")
        current = PhotoLabels.objects.select_for_update().filter(photo=photo).first()
        current_version = current.version if current else 0
        if base_version != current_version:
            raise ConflictError(
                ERR_STALE_LABELS.format(current=current_version, base=base_version),
                code="stale_labels",
                details={"current_version": current_version, "base_version": base_version},
            )
        clean = _clean_regions(regions, assessment)
        entries = _ledger(clean, assessment)
        origins = region_origins(entries)

        if current is None:
            current = PhotoLabels(photo=photo, claim=locked, version=0)
        current.photo_assessment = assessment
        current.version = current_version + 1
        current.adjuster = adjuster
        current.saved_at = now
        current.active_ms = (current.active_ms or 0) + active_ms
        current.save()
        LabelRegion.objects.filter(labels=current).delete()
        LabelRegion.objects.bulk_create(
            [
                LabelRegion(
                    labels=current,
                    index=r.index,
                    label=r.label,
                    label_id=r.label_id,
                    severity=r.severity,
                    source_index=r.source_index,
                    mask_rle=masks.canonical_rle(r.mask),
                    area=int(r.mask.sum()),
                    bbox=masks.bbox(r.mask),
                    origin=origins[r.index],
                    part=r.part,
                )
                for r in clean
            ]
        )
        ledger = OverrideLedgerEntry.objects.bulk_create(
            [
                OverrideLedgerEntry(
                    claim=locked,
                    photo=photo,
                    labels_version=current.version,
                    action=action,
                    adjuster=adjuster,
                    active_ms=current.active_ms,
                    model_version=assessment.model_version,
                    **fields,
                )
                for action, fields in entries
            ]
        )
        locks.record_active_time(locked, adjuster, active_ms, photo=photo)
    return current, ledger
