"""Training data from reviewed labels: every photo an adjuster labelled becomes a sample.

Reviewed masks live on the mask grid of the prediction they correct (the network size, e.g.
480x352). A sample is the working copy *downsampled to that grid* with the masks as stored: no
label pixel is invented by upsampling, and the network never sees more than the grid anyway.
Which side of the frozen split a photo is on comes from its claim (``learning.splits``).

Photos of labelling projects (``labelling``) join as samples the same way once their labels are
final (accepted in QA, or labelled and not drawn for QA), with ``source`` naming the project
(``labelling:<id>``) and their side of the split from the item's id (``split_for_item``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from claims.models import Photo
from labelling.models import ProjectItem
from learning.splits import EVAL, TRAIN, split_for_claim, split_for_item

logger = logging.getLogger(__name__)


@dataclass
class ReviewedRegion:
    label: str
    severity: str
    mask: np.ndarray  # bool, mask grid
    area_share: float
    bbox: list[int]  # [x, y, w, h] on the mask grid


@dataclass
class ReviewedSample:
    """One reviewed photo: working copy at the mask grid, the adjuster's regions, its split."""

    photo_id: str
    claim_id: str
    split: str
    labels_version: int
    saved_at: str
    image: np.ndarray  # uint8 RGB, mask grid size
    regions: list[ReviewedRegion] = field(default_factory=list)
    # Where the labels come from: "reviewed" (an adjuster, on a claim) or "labelling:<project
    # id>" (a labelling project's item; ``photo_id`` is then the item's id, ``claim_id`` "").
    source: str = "reviewed"

    def semantic_mask(self, label_map) -> np.ndarray:
        """uint8 mask in ``label_map`` ids; a type the map lacks is void (never scored)."""
        from ml import coco
        from ml.labels import IGNORE_INDEX

        regions = []
        for r in self.regions:
            try:
                class_id = label_map.by_name(r.label).id
            except KeyError:
                class_id = IGNORE_INDEX
            regions.append(coco.Region(class_id=class_id, mask=r.mask, severity=r.severity))
        h, w = self.image.shape[:2]
        return coco.semantic_mask(regions, h, w)


def _working_rgb(photo: Photo | ProjectItem, width: int, height: int) -> np.ndarray:
    """A photo's (or a labelling item's) working copy, downsampled to the mask grid."""
    import cv2

    from ml.inference import decode_image

    with photo.working.open("rb") as handle:
        decoded = decode_image(handle.read(), max(width, height))
    return cv2.resize(decoded.rgb, (width, height), interpolation=cv2.INTER_AREA)


def reviewed_samples(
    *, split: str | None = None, include_projects: bool = True
) -> list[ReviewedSample]:
    """Every photo with adjuster labels as a sample, ordered by photo id (reproducible), then
    (``include_projects``) every labelling-project item with final labels, by item id."""
    from ml.coco import rle_to_mask
    from review.models import PhotoLabels

    rows = (
        PhotoLabels.objects.select_related("photo", "photo_assessment")
        .prefetch_related("regions")
        .order_by("photo_id")
    )
    samples = []
    for labels in rows:
        side = split_for_claim(labels.claim_id)
        if split is not None and side != split:
            continue
        grid_w, grid_h = labels.photo_assessment.mask_width, labels.photo_assessment.mask_height
        try:
            image = _working_rgb(labels.photo, grid_w, grid_h)
        except (OSError, ValueError) as exc:  # a missing or unreadable working copy
            logger.warning("reviewed photo %s skipped: %s", labels.photo_id, exc)
            continue
        regions = []
        for r in labels.regions.all():
            mask = rle_to_mask(r.mask_rle).astype(bool)
            regions.append(
                ReviewedRegion(
                    label=r.label,
                    severity=r.severity,
                    mask=mask,
                    area_share=float(mask.mean()),
                    bbox=list(r.bbox),
                )
            )
        samples.append(
            ReviewedSample(
                photo_id=str(labels.photo_id),
                claim_id=str(labels.claim_id),
                split=side,
                labels_version=labels.version,
                saved_at=labels.saved_at.isoformat(),
                image=image,
                regions=regions,
            )
        )
    if include_projects:
        samples += project_samples(split=split)
    return samples


def project_samples(*, split: str | None = None, project_id: int | None = None):
    """Labelling-project items whose labels are final (``labelling.selectors.items_for_training``)
    as samples, on the item's mask grid; ``source`` is ``labelling:<project id>``."""
    from labelling.selectors import items_for_training
    from ml.coco import rle_to_mask

    samples = []
    for item in items_for_training(project_id=project_id):
        side = split_for_item(item.pk)
        if split is not None and side != split:
            continue
        try:
            image = _working_rgb(item, item.mask_width, item.mask_height)
        except (OSError, ValueError) as exc:  # a missing or unreadable working copy
            logger.warning("labelling item %s skipped: %s", item.pk, exc)
            continue
        regions = []
        for r in item.labels.regions:
            mask = rle_to_mask(r["mask_rle"]).astype(bool)
            regions.append(
                ReviewedRegion(
                    label=r["label"],
                    severity=r["severity"],
                    mask=mask,
                    area_share=float(mask.mean()),
                    bbox=list(r["bbox"]),
                )
            )
        samples.append(
            ReviewedSample(
                photo_id=str(item.pk),
                claim_id="",
                split=side,
                labels_version=item.labels.version,
                saved_at=item.labels.saved_at.isoformat(),
                image=image,
                regions=regions,
                source=f"labelling:{item.project_id}",
            )
        )
    return samples


def sample_items(samples: list[ReviewedSample], label_map) -> list:
    """``ml.datasets.SegItem`` records for training and evaluation."""
    from ml.datasets import SegItem

    return [
        SegItem(image=s.image, mask=s.semantic_mask(label_map), source=s.source, name=s.photo_id)
        for s in samples
    ]


def snapshot_describe(samples: list[ReviewedSample], base: dict) -> dict:
    """What a model was trained on: every sample with its label version, and the base data."""
    return {
        "samples": [
            {"photo": s.photo_id, "claim": s.claim_id, "labels_version": s.labels_version}
            | ({} if s.source == "reviewed" else {"source": s.source})
            for s in samples
            if s.split == TRAIN
        ],
        "eval_samples": [
            {"photo": s.photo_id, "labels_version": s.labels_version}
            | ({} if s.source == "reviewed" else {"source": s.source})
            for s in samples
            if s.split == EVAL
        ],
        "base": base,
    }


def snapshot_write(*, samples: list[ReviewedSample], label_map, out: Path) -> Path:
    """Write samples as COCO (``ml.coco.write_coco``) with PNG images at the mask grid.

    ``out/images/<photo>.png`` and ``out/{train,eval}.json``; PNG because the images were
    already decoded and JPEG would compress them a second time. Returns ``out``.
    """
    import cv2

    from ml import coco

    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list] = {TRAIN: [], EVAL: []}
    for index, s in enumerate(samples, start=1):
        path = images / f"{s.photo_id}.png"
        cv2.imwrite(str(path), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR))
        h, w = s.image.shape[:2]
        regions = []
        for r in s.regions:
            try:
                class_id = label_map.by_name(r.label).id
            except KeyError:
                continue
            regions.append(coco.Region(class_id=class_id, mask=r.mask, severity=r.severity))
        by_split[s.split].append(
            coco.Sample(image_path=path, width=w, height=h, regions=regions, image_id=index)
        )
    for name, split_samples in by_split.items():
        coco.write_coco(split_samples, label_map, out / f"{name}.json")
    (out / "snapshot.json").write_text(
        json.dumps(snapshot_describe(samples, {}), indent=2), encoding="utf-8"
    )
    return out
