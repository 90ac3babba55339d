"""Claims made of real labelled photos, and their ground truth on a model's mask grid.

The simulation (``flywheel.simulation``) and the claims benchmark (``bench/claims_loop.py``)
both send real typed photos of ``bilgi-car-damage`` as claims: a split's photos in a seeded
random order, cut into claims of ``min_size..max_size`` photos (:func:`group_claims`), with
photos of intact cars (``intact-cars-wikipedia``) mixed in at a given rate. Bilgi has no car or
claim id, so a claim's photos show unrelated cars: a claim is a bag of real photos.

Photos with an ``airbag`` polygon (void: interior, not body damage) are left out, so every
pixel of a photo has a label. Ground truth on the model's grid: one region per connected
component of each damage type (components below the model's ``min_region_share`` dropped, as
the model drops its own), its severity from the label map's rules on its area and box
(``ml.labels.severity_for``: Bilgi has no severity labels) and its part from the model's part
head under its pixels (Bilgi has no part labels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class ClaimPhoto:
    data: bytes  # the original file, byte for byte
    semantic: np.ndarray  # ground-truth type ids (PRODUCT_LABEL_MAP) at the photo's size
    name: str
    intact: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.semantic.shape[1]), int(self.semantic.shape[0])


@dataclass
class SimClaim:
    key: str  # stable across runs: "<split>-<n>", what a resumed run recognises
    photos: list[ClaimPhoto] = field(default_factory=list)


def group_claims(n_photos: int, *, seed: int, min_size: int = 1, max_size: int = 4) -> list:
    """Photo indices cut into claims: a seeded permutation of ``range(n_photos)``, cut in order
    into claims of sizes drawn uniformly from ``min_size..max_size`` (the last claim takes what
    is left, so it may be smaller). Deterministic for a seed; every photo in exactly one claim."""
    if not 1 <= min_size <= max_size:
        raise ValueError("need 1 <= min_size <= max_size")
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(n_photos)]
    claims, at = [], 0
    while at < n_photos:
        size = int(rng.integers(min_size, max_size + 1))
        claims.append(order[at : at + size])
        at += size
    return claims


def _bilgi_photos(split: str):
    from ml import sources

    photos, cats = sources._read_source(sources.BILGI, sources.DATASETS_ROOT)
    mapping = {src: target for src, target, _ in sources.BILGI_CATEGORIES}
    from ml.labels import IGNORE_NAME

    void = {cid for cid, name in cats.items() if mapping[name] == IGNORE_NAME}
    photos = [
        p
        for p in sources._split_bilgi(photos, 0)[split]
        if not any(a["category_id"] in void for a in p.anns)
    ]
    photos.sort(key=lambda p: p.path.name)  # the annotation file's order is not a contract
    return photos, cats, mapping


def _load_bilgi(p, cats, mapping) -> ClaimPhoto:
    from ml import sources
    from ml.labels import IGNORE_INDEX, PRODUCT_LABEL_MAP

    ids = {
        cid: sources._target_id(mapping[n], lambda t: PRODUCT_LABEL_MAP.by_name(t).id)
        for cid, n in cats.items()
    }
    h, w = p.height, p.width
    layers = [(sources._ann_mask(a, h, w), ids[a["category_id"]]) for a in p.anns]
    semantic = sources._paint((h, w), [x for x in layers if x[1] != IGNORE_INDEX])
    return ClaimPhoto(data=p.path.read_bytes(), semantic=semantic, name=p.path.name)


def _load_intact(p) -> ClaimPhoto:
    return ClaimPhoto(
        data=p.path.read_bytes(),
        semantic=np.zeros((p.height, p.width), dtype=np.uint8),
        name=p.path.name,
        intact=True,
    )


def dataset_claims(
    split: str,
    n_claims: int,
    *,
    seed: int,
    min_size: int,
    max_size: int,
    intact_rate: float = 0.0,
    intact_splits: tuple[str, ...] = ("val", "test"),
    skip: int = 0,
) -> list[SimClaim]:
    """``n_claims`` claims of Bilgi ``split`` photos (``ml.sources`` names: ``train``,
    ``stream``, ``test`` = the upstream ``valid`` folder, ...), after the first ``skip`` claims.

    ``intact_rate``: the share of a claim's photos that are intact cars (of
    ``intact-cars-wikipedia``'s ``intact_splits``, on which no flywheel model trains), drawn
    per photo slot by the same seed; each intact photo is used once, in name order."""
    if not 0.0 <= intact_rate < 1.0:
        raise ValueError("intact_rate is a share below 1")
    from ml import sources

    photos, cats, mapping = _bilgi_photos(split)
    groups = group_claims(len(photos), seed=seed, min_size=min_size, max_size=max_size)
    intact = []
    if intact_rate > 0:
        wiki, _ = sources._read_source(sources.WIKI, sources.DATASETS_ROOT)
        pools = sources._split_intact(wiki, 0)
        intact = sorted(
            [p for split in intact_splits for p in pools[split]], key=lambda p: p.path.name
        )
    rng = np.random.default_rng(seed + 1)
    # The draw for every claim slot happens whether or not it is returned, so claim k is the
    # same claim whatever ``skip`` and ``n_claims`` are. Intact photos are never reused (a
    # photo seen twice is a duplicate the product flags); when they run out, none are added.
    plans = []
    next_intact = 0
    for g in groups:
        slots = []
        for i in g:
            if rng.random() < intact_rate and next_intact < len(intact):
                slots.append(("intact", next_intact))
                next_intact += 1
            slots.append(("bilgi", i))
        plans.append(slots[:max_size])
    chosen = plans[skip : skip + n_claims]
    if len(chosen) < n_claims:
        logger.warning("%s: only %d claims available after %d", split, len(chosen), skip)
    out = []
    for k, slots in enumerate(chosen, start=skip):
        claim = SimClaim(key=f"{split}-{k}")
        for kind, i in slots:
            if kind == "intact":
                claim.photos.append(_load_intact(intact[i]))
            else:
                claim.photos.append(_load_bilgi(photos[i], cats, mapping))
        out.append(claim)
    return out


def eval_items(split: str = "test", *, limit: int | None = None, cache_long_side: int = 512):
    """The frozen evaluation set as ``ml.datasets.SegItem`` (Bilgi ``split``, sorted by name,
    the first ``limit``): what ``learning.promotion.evaluate_model_dir`` scores every round."""
    from ml import sources

    items = sources.bilgi_items(split, cache_long_side=cache_long_side)
    items.sort(key=lambda it: it.name)
    return items[:limit] if limit else items


# --------------------------------------------------------------------------- ground truth


@dataclass
class TruthRegion:
    label: str
    label_id: int
    severity: str
    mask: np.ndarray  # bool, on the model's mask grid
    area_share: float
    part: str = ""
    part_share: float | None = None


def truth_regions(segmenter, photo: ClaimPhoto) -> list[TruthRegion]:
    """The ground truth of one photo as regions on ``segmenter``'s mask grid (module doc)."""
    import cv2

    from ml.inference import Region, assign_parts
    from ml.labels import IGNORE_INDEX, PRODUCT_LABEL_MAP, UNTYPED_DAMAGE, severity_for

    pred = segmenter.predict(photo.data)
    h, w = pred.mask_height, pred.mask_width
    grid = cv2.resize(photo.semantic, (w, h), interpolation=cv2.INTER_NEAREST)
    min_area = max(4, int(segmenter.meta.get("min_region_share", 0.0005) * h * w))
    regions = []
    for cls in sorted(set(np.unique(grid).tolist()) - {0, IGNORE_INDEX, UNTYPED_DAMAGE}):
        name = PRODUCT_LABEL_MAP.by_id(cls).name
        n, lab, stats, _ = cv2.connectedComponentsWithStats(
            (grid == cls).astype(np.uint8), connectivity=8
        )
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < min_area:
                continue
            share = area / (h * w)
            box = (x / w, y / h, (x + bw) / w, (y + bh) / h)
            regions.append(
                Region(
                    label=name,
                    label_id=cls,
                    confidence=1.0,
                    severity=severity_for(segmenter.label_map, name, share, box),
                    mask=lab == i,
                    polygon=[],
                    bbox=[x, y, bw, bh],
                    area_share=share,
                )
            )
    if segmenter.part_names is not None and pred.part_logits is not None:
        assign_parts(regions, pred.part_logits, segmenter.part_names)
    return [
        TruthRegion(
            label=r.label,
            label_id=r.label_id,
            severity=r.severity,
            mask=r.mask,
            area_share=r.area_share,
            part=r.part or "",
            part_share=r.part_share if r.has_part else None,
        )
        for r in regions
    ]


def truth_part_regions(regions: list[TruthRegion], photo_id: str):
    """The ground truth as the part record takes it (``assessment.parts.PartRegion``)."""
    from assessment.parts import PartRegion

    return [
        PartRegion(
            photo_id=photo_id,
            region_index=k,
            label=r.label,
            severity=r.severity,
            confidence=None,
            area_share=r.area_share,
            part=r.part,
            part_share=r.part_share,
        )
        for k, r in enumerate(regions)
    ]


def truth_labels(regions: list[TruthRegion]) -> list[dict]:
    """The ground truth as review labels drawn from scratch (no model region behind them)."""
    from ml.coco import mask_to_rle

    return [
        {
            "label": r.label,
            "severity": r.severity,
            "source_index": None,
            "part": r.part,
            "mask_rle": mask_to_rle(r.mask),
        }
        for r in regions
    ]
