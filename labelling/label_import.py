"""Existing labels into a project: COCO instance JSON (polygons, compressed and uncompressed
RLE) and Label Studio JSON tasks (brush RLE, polygons), matched to items by file name.

The readers turn each file's regions into bool masks at the image size the file states, then
onto the item's mask grid (nearest neighbour, ``labelling.services``), and store them through
``services.item_labels_import``. What cannot be used is reported, never guessed: an image no
item matches, a name two items share, a type outside the project's label map, an empty mask.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from config.errors import ApplicationError, UnprocessableError
from labelling import services
from labelling.models import LabellingProject, ProjectItem
from review.models import SEVERITIES

logger = logging.getLogger(__name__)

ERR_NOT_JSON = "The labels file is not JSON: {error}."
ERR_NOT_COCO = "Not COCO instances: it needs the lists images, annotations and categories."
ERR_NOT_LABEL_STUDIO = "Not Label Studio tasks: it needs a list of tasks with data.image."
ERR_UNKNOWN_FORMAT = "Unknown labels format {name!r}: use coco or labelstudio."
# Reasons in LabelImportSummary.
NO_ITEM = "no item of this project has that file name"
AMBIGUOUS = "{count} items of this project have that file name"
KEPT_HUMAN = "the item was already labelled or checked on this product; its labels are kept"
NO_REGIONS_USABLE = "none of its regions could be used"
UNKNOWN_LABEL = "{label!r} is not a damage type of this project"
EMPTY_MASK = "the region's mask is empty"
BAD_MASK = "the region's mask cannot be read: {error}"
NO_ANNOTATION = "the task has no annotation (predictions are not imported as labels)"
UNSUPPORTED_RESULT = "Label Studio result type {kind!r} is not imported"

FORMATS = ("coco", "labelstudio")
# Label Studio prefixes uploaded files with 8 hex characters and a dash ("1a2b3c4d-dent.jpg").
_LS_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


@dataclass
class LabelImportSummary:
    imported: list[dict] = field(default_factory=list)  # {"name", "item_id", "regions"}
    unmatched: list[dict] = field(default_factory=list)  # {"name", "reason"}
    skipped_regions: list[dict] = field(default_factory=list)  # {"name", "reason"}

    def to_dict(self) -> dict:
        return {
            "imported": self.imported,
            "unmatched": self.unmatched,
            "skipped_regions": self.skipped_regions,
            "counts": {
                "imported": len(self.imported),
                "unmatched": len(self.unmatched),
                "skipped_regions": len(self.skipped_regions),
            },
        }


@dataclass(frozen=True)
class _FileRegion:
    label: str
    mask: np.ndarray  # bool, the file's image size
    severity: str | None = None
    part: str = ""


def _basename(name: str) -> str:
    return str(name).replace("\\", "/").rsplit("/", 1)[-1]


def _items_by_name(project: LabellingProject) -> dict[str, list[ProjectItem]]:
    """Items by the file name they were imported under, and by ``<item id>.<ext>``: the name
    the product's own project export gives each image, so an export edited in another tool
    comes back onto the same items."""
    found: dict[str, list[ProjectItem]] = defaultdict(list)
    for item in ProjectItem.objects.filter(project=project).select_related("project"):
        found[_basename(item.original_name)].append(item)
        found[f"id:{item.pk}"].append(item)
    return found


def _match(index: dict[str, list[ProjectItem]], name: str) -> tuple[ProjectItem | None, str]:
    base = _basename(name)
    candidates = (
        index.get(base)
        or index.get(_LS_UPLOAD_PREFIX.sub("", base))
        or index.get(f"id:{base.rsplit('.', 1)[0]}")
        or []
    )
    if not candidates:
        return None, NO_ITEM
    if len(candidates) > 1:
        return None, AMBIGUOUS.format(count=len(candidates))
    return candidates[0], ""


def _severity(project: LabellingProject, label: str, mask: np.ndarray, given) -> str:
    if given in SEVERITIES:
        return given
    from ml.labels import LabelMap, severity_for

    label_map = LabelMap.from_dict(project.label_map)
    return severity_for(label_map, label, float(mask.mean()))


def _store(
    summary: LabelImportSummary,
    *,
    project: LabellingProject,
    index: dict[str, list[ProjectItem]],
    name: str,
    regions: list[_FileRegion],
) -> None:
    from ml.label_export_core import upsample_mask

    item, reason = _match(index, name)
    if item is None:
        summary.unmatched.append({"name": name, "reason": reason})
        return
    classes = services.item_classes(project)
    clean = []
    for region in regions:
        if region.label not in classes:
            summary.skipped_regions.append(
                {"name": name, "reason": UNKNOWN_LABEL.format(label=region.label)}
            )
            continue
        mask = upsample_mask(region.mask, item.mask_height, item.mask_width)
        if not mask.any():
            summary.skipped_regions.append({"name": name, "reason": EMPTY_MASK})
            continue
        severity = _severity(project, region.label, mask, region.severity)
        part = region.part if region.part in services.PART_NAMES else ""
        clean.append(
            services.CleanRegion(region.label, classes[region.label], severity, mask, None, part)
        )
    if regions and not clean:
        summary.unmatched.append({"name": name, "reason": NO_REGIONS_USABLE})
        return
    labels = services.item_labels_import(item=item, clean=clean)
    if labels is None:
        summary.unmatched.append({"name": name, "reason": KEPT_HUMAN})
        return
    summary.imported.append({"name": name, "item_id": str(item.pk), "regions": len(clean)})


# --------------------------------------------------------------------------- COCO


def labels_import_coco(*, project: LabellingProject, data: dict) -> LabelImportSummary:
    """COCO instances: ``images`` matched by ``file_name``, ``annotations`` by ``image_id``,
    ``categories`` by name against the project's label map. ``attributes.severity`` and
    ``attributes.part`` (the product's own COCO export writes both) are kept."""
    from ml.coco import segmentation_to_mask

    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise UnprocessableError(ERR_NOT_COCO, code="invalid_labels_file")
    categories = {c.get("id"): c.get("name") for c in data["categories"] if isinstance(c, dict)}
    by_image: dict[Any, list[dict]] = defaultdict(list)
    for ann in data["annotations"]:
        if isinstance(ann, dict):
            by_image[ann.get("image_id")].append(ann)
    index = _items_by_name(project)
    summary = LabelImportSummary()
    for image in data["images"]:
        if not isinstance(image, dict):
            continue
        name = str(image.get("file_name", ""))
        height, width = int(image.get("height", 0)), int(image.get("width", 0))
        regions = []
        for ann in by_image.get(image.get("id"), []):
            attributes = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
            try:
                mask = segmentation_to_mask(ann.get("segmentation"), height, width)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                summary.skipped_regions.append({"name": name, "reason": BAD_MASK.format(error=exc)})
                continue
            regions.append(
                _FileRegion(
                    label=str(categories.get(ann.get("category_id"), ann.get("category_id"))),
                    mask=mask,
                    severity=attributes.get("severity"),
                    part=attributes.get("part") or "",
                )
            )
        _store(summary, project=project, index=index, name=name, regions=regions)
    return summary


# --------------------------------------------------------------------------- Label Studio


def _ls_polygon_mask(value: dict, height: int, width: int) -> np.ndarray:
    from ml.coco import polygons_to_mask

    points = value.get("points") or []
    # Label Studio stores polygon points in percent of the image's width and height.
    flat = [c for x, y in points for c in (float(x) * width / 100, float(y) * height / 100)]
    return polygons_to_mask([flat], height, width)


def _ls_regions(results: list, name: str, summary: LabelImportSummary) -> list[_FileRegion]:
    """One region per brush or polygon result; severity and part from the per-region choices
    that share its id (the product's Label Studio export writes them so)."""
    from ml.label_export_labelstudio import (
        LS_PART_FROM_NAME,
        LS_SEVERITY_FROM_NAME,
        ls_rle_to_mask,
    )

    choices: dict[tuple[str, str], str] = {}
    for result in results:
        if isinstance(result, dict) and result.get("type") == "choices":
            picked = (result.get("value") or {}).get("choices") or [""]
            choices[(str(result.get("id")), str(result.get("from_name")))] = picked[0]
    regions = []
    for result in results:
        if not isinstance(result, dict) or result.get("type") == "choices":
            continue
        kind, value = result.get("type"), result.get("value") or {}
        height = int(result.get("original_height") or 0)
        width = int(result.get("original_width") or 0)
        try:
            if kind == "brushlabels" and value.get("format") == "rle":
                mask = ls_rle_to_mask(value["rle"], height, width)
                labels = value.get("brushlabels") or []
            elif kind == "polygonlabels":
                mask = _ls_polygon_mask(value, height, width)
                labels = value.get("polygonlabels") or []
            else:
                summary.skipped_regions.append(
                    {"name": name, "reason": UNSUPPORTED_RESULT.format(kind=kind)}
                )
                continue
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            summary.skipped_regions.append({"name": name, "reason": BAD_MASK.format(error=exc)})
            continue
        region_id = str(result.get("id"))
        regions.append(
            _FileRegion(
                label=str(labels[0]) if labels else "",
                mask=mask,
                severity=choices.get((region_id, LS_SEVERITY_FROM_NAME)),
                part=choices.get((region_id, LS_PART_FROM_NAME), ""),
            )
        )
    return regions


def _ls_annotation(task: dict) -> list | None:
    """The task's annotation to import: a ground-truth one first, else the first not
    cancelled. A task with no annotation has nothing to import (predictions are not labels)."""
    annotations = [
        a
        for a in task.get("annotations") or []
        if isinstance(a, dict) and not a.get("was_cancelled")
    ]
    annotations.sort(key=lambda a: not a.get("ground_truth"))
    return (annotations[0].get("result") or []) if annotations else None


def labels_import_labelstudio(*, project: LabellingProject, tasks: list) -> LabelImportSummary:
    """Label Studio JSON export (a list of tasks): ``data.image`` matched by file name
    (Label Studio's upload prefix stripped), brush RLE and polygon results as regions."""
    if not isinstance(tasks, list) or not all(
        isinstance(t, dict) and isinstance(t.get("data"), dict) and "image" in t["data"]
        for t in tasks
    ):
        raise UnprocessableError(ERR_NOT_LABEL_STUDIO, code="invalid_labels_file")
    index = _items_by_name(project)
    summary = LabelImportSummary()
    for task in tasks:
        name = str(task["data"]["image"])
        results = _ls_annotation(task)
        if results is None:
            summary.unmatched.append({"name": name, "reason": NO_ANNOTATION})
            continue
        regions = _ls_regions(results, name, summary)
        _store(summary, project=project, index=index, name=name, regions=regions)
    return summary


def labels_import(
    *, project: LabellingProject, fileobj: IO[bytes], fmt: str, user=None
) -> LabelImportSummary:
    """Read a labels file (``coco`` or ``labelstudio``) and import it into ``project``."""
    if user is not None:
        services.require_manager(user)
    if fmt not in FORMATS:
        raise ApplicationError(ERR_UNKNOWN_FORMAT.format(name=fmt), code="invalid_format")
    try:
        data = json.load(fileobj)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableError(
            ERR_NOT_JSON.format(error=exc), code="invalid_labels_file"
        ) from None
    summary = (
        labels_import_coco(project=project, data=data)
        if fmt == "coco"
        else labels_import_labelstudio(project=project, tasks=data)
    )
    logger.info(
        "project %s: %s labels for %d items, %d unmatched",
        project.pk,
        fmt,
        len(summary.imported),
        len(summary.unmatched),
    )
    return summary
