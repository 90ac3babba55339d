"""The real photo sets the damage model learns from, their taxonomy mapping and their splits.

Four folders under ``../shared/datasets`` (each has a PROVENANCE.md; licences in
docs/model-card.md):

=====================  =====  ==========================================  ==================
set                    used   labels                                      licence
=====================  =====  ==========================================  ==================
bilgi-car-damage       1,691  typed damage polygons, 8 classes            CC BY 4.0
car-parts-dsmlr          397  18 car-part polygons, intact cars            none: research use
intact-cars-wikipedia    700  none (intact whole cars: negatives)         per-file Commons
real-car-damage           67  binary damage + 5 car parts                 MIT (Flickr photos)
=====================  =====  ==========================================  ==================

Splits (never chosen on test): Bilgi's upstream ``train`` folder is split by photo into train
and val (``BILGI_VAL_SHARE``), and its upstream ``valid`` folder is our test split; the intact
sets are split train / val / test by a hash of the photo group; real-car-damage keeps
``ml.coco.load_real_car_damage``'s splits. Photos whose 64-bit dHash (given in the
annotations) lie within ``DHASH_GROUP_DISTANCE`` bits of each other form one group and always
land in the same split, so burst shots never straddle train and test.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ml.labels import (
    DEFAULT_PART_MAP,
    IGNORE_INDEX,
    IGNORE_NAME,
    PRODUCT_LABEL_MAP,
    UNTYPED_DAMAGE,
    LabelMap,
    PartMap,
)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_ROOT = (REPO_ROOT / ".." / "shared" / "datasets").resolve()
BILGI = "bilgi-car-damage"
DSMLR = "car-parts-dsmlr"
WIKI = "intact-cars-wikipedia"
REAL = "real-car-damage"

ERR_MISSING = "data set {name!r} not found at {path} (see its PROVENANCE.md in ../shared/datasets)"
ERR_SPLIT = "unknown split {split!r}: expected <set>_<train|val|test> or train|val|test"

BILGI_VAL_SHARE = 0.10
# The flywheel simulation's cold start (flywheel.simulation, docs/learning-loop.md): Bilgi's
# train split cut by photo group into ``base`` (this share: what the cold-start model learns
# from) and ``stream`` (the rest: the photos sent as claims). Never tuned; its own salt, so the
# cut is independent of the validation split.
BILGI_BASE_SHARE = 0.10
BASE_SALT = "cold-start:"
INTACT_SHARES = {"train": 0.70, "val": 0.15, "test": 0.15}
DHASH_GROUP_DISTANCE = 6  # the provenance screens used dHash <= 6 for "the same photo"

# Every Bilgi class -> a product damage type, or "ignore" (void: never trained or scored).
# (source name, target, reason) - the table docs/model-card.md reproduces.
BILGI_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("cizik", "scratch", "scratch"),
    ("gocuk", "dent", "dent"),
    ("kirik-kayip", "broken_part", "broken or missing part: priced as a replacement"),
    ("cam_catlagi", "glass_crack", "glass crack / shattered glass"),
    ("far_hasar", "lamp_broken", "headlamp damage"),
    (
        "kaput_hasar",
        "dent",
        "hood damage: on the photos a crumpled or pushed-in bonnet, i.e. deformation; the part "
        "head says it is the hood",
    ),
    (
        "astar",
        "paint_damage",
        "primer / bare paint: paint missing down to primer or filler, priced as refinish",
    ),
    (
        "airbag",
        IGNORE_NAME,
        "deployed airbag, photographed inside the car: not body damage, priced as a separate "
        "restraint-system claim; void so the model is neither taught nor scored there",
    ),
)

# car-parts-dsmlr's 18 parts -> the part map (left/right merged; trunk and tailgate are the
# same opening on a sedan and on a hatchback/pickup).
DSMLR_PARTS: Mapping[str, str] = {
    "front_bumper": "front_bumper",
    "back_bumper": "rear_bumper",
    "hood": "hood",
    "trunk": "trunk",
    "tailgate": "trunk",
    "front_left_door": "front_door",
    "front_right_door": "front_door",
    "back_left_door": "rear_door",
    "back_right_door": "rear_door",
    "front_left_light": "headlamp",
    "front_right_light": "headlamp",
    "back_left_light": "tail_lamp",
    "back_right_light": "tail_lamp",
    "front_glass": "windshield",
    "back_glass": "rear_window",
    "left_mirror": "mirror",
    "right_mirror": "mirror",
    "wheel": "wheel",
}
# real-car-damage's 5 parts. "door" does not say front or rear: void for the part head.
REAL_PARTS: Mapping[str, str] = {
    "front_bumper": "front_bumper",
    "rear_bumper": "rear_bumper",
    "hood": "hood",
    "headlamp": "headlamp",
    "door": IGNORE_NAME,
}


@dataclass
class SourcePhoto:
    """One photo of a source set, before decoding."""

    path: Path
    width: int
    height: int
    group: str  # photos of one group always share a split
    damaged: bool
    anns: list[dict]


def datasets_root() -> Path:
    return DATASETS_ROOT


def available(name: str, root: Path | None = None) -> bool:
    return ((root or DATASETS_ROOT) / name / "PROVENANCE.md").is_file()


def _require(name: str, root: Path) -> Path:
    path = root / name
    if not (path / "PROVENANCE.md").is_file():
        raise FileNotFoundError(ERR_MISSING.format(name=name, path=path))
    return path


def _share_of(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def dhash_groups(names: Sequence[str], hashes: Sequence[str]) -> dict[str, str]:
    """name -> group key (smallest name in its group), grouping dHash distance <= threshold."""
    bits = np.array(
        [np.unpackbits(np.frombuffer(bytes.fromhex(h), dtype=np.uint8)) for h in hashes],
        dtype=bool,
    ).reshape(len(hashes), -1)
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        dist = (bits[i + 1 :] != bits[i]).sum(axis=1)
        for j in np.flatnonzero(dist <= DHASH_GROUP_DISTANCE) + i + 1:
            parent[find(int(j))] = find(i)
    members: dict[int, list[str]] = {}
    for i, n in enumerate(names):
        members.setdefault(find(i), []).append(n)
    return {n: min(group) for group in members.values() for n in group}


def _read_source(name: str, root: Path) -> tuple[list[SourcePhoto], dict[int, str]]:
    folder = _require(name, root)
    data = json.loads((folder / "annotations.json").read_text(encoding="utf-8"))
    cats = {c["id"]: c["name"] for c in data.get("categories", [])}
    anns: dict[int, list[dict]] = {}
    for a in data.get("annotations", []):
        anns.setdefault(a["image_id"], []).append(a)
    images = sorted(data["images"], key=lambda i: i["file_name"])
    groups = dhash_groups([i["file_name"] for i in images], [i["dhash64"] for i in images])
    photos = [
        SourcePhoto(
            path=folder / img["file_name"],
            width=int(img["width"]),
            height=int(img["height"]),
            group=groups[img["file_name"]],
            damaged=bool(img.get("damaged", bool(anns.get(img["id"])))),
            anns=anns.get(img["id"], []),
        )
        for img in images
    ]
    for p, img in zip(photos, images, strict=True):
        p.anns = sorted(p.anns, key=lambda a: a["id"])
        p.split_upstream = img.get("split")  # type: ignore[attr-defined]
    return photos, cats


def _split_bilgi(photos: list[SourcePhoto], seed: int) -> dict[str, list[SourcePhoto]]:
    """``train`` / ``val`` / ``test``, plus ``train`` cut into ``base`` and ``stream``
    (``BILGI_BASE_SHARE``, by photo group: near-duplicates never straddle the cut)."""
    out: dict[str, list[SourcePhoto]] = {"train": [], "val": [], "test": []}
    out |= {"base": [], "stream": []}
    for p in photos:
        if p.split_upstream == "valid":  # type: ignore[attr-defined]
            out["test"].append(p)
        elif _share_of(p.group, seed) < BILGI_VAL_SHARE:
            out["val"].append(p)
        else:
            out["train"].append(p)
            cold = _share_of(BASE_SALT + p.group, seed) < BILGI_BASE_SHARE
            out["base" if cold else "stream"].append(p)
    return out


def _split_intact(photos: list[SourcePhoto], seed: int) -> dict[str, list[SourcePhoto]]:
    out: dict[str, list[SourcePhoto]] = {"train": [], "val": [], "test": []}
    for p in photos:
        u = _share_of(p.group, seed)
        if u < INTACT_SHARES["train"]:
            out["train"].append(p)
        elif u < INTACT_SHARES["train"] + INTACT_SHARES["val"]:
            out["val"].append(p)
        else:
            out["test"].append(p)
    return out


def _paint(shape: tuple[int, int], layers: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Paint (mask, value) layers largest first, so a small part inside a big one survives."""
    out = np.zeros(shape, dtype=np.uint8)
    for m, v in sorted(layers, key=lambda layer: -int(layer[0].sum())):
        out[m] = v
    return out


def _ann_mask(ann: dict, h: int, w: int) -> np.ndarray:
    from ml.coco import segmentation_to_mask

    return segmentation_to_mask(ann["segmentation"], h, w)


def _target_id(target: str, lookup) -> int:
    """Mask value of a mapped class. A name the label map lacks (an older taxonomy, e.g. the
    CarDD-6 starter has no ``broken_part``) becomes untyped damage: still damage, no type."""
    if target == IGNORE_NAME:
        return IGNORE_INDEX
    try:
        return lookup(target)
    except KeyError:
        return UNTYPED_DAMAGE


def _items(
    photos: Sequence[SourcePhoto],
    source: str,
    cache_long_side: int,
    damage_of,
    parts_of,
):
    """Decode, rasterise and cache photos as ``ml.datasets.SegItem``."""
    from ml.coco import read_rgb
    from ml.datasets import SegItem, resize_long_side

    items = []
    for p in photos:
        image = read_rgb(p.path)
        h, w = image.shape[:2]
        damage = damage_of(p, h, w)
        parts = parts_of(p, h, w)
        stacked = np.dstack([damage, parts])
        image, stacked = resize_long_side(image, stacked, cache_long_side)
        items.append(
            SegItem(
                image=np.ascontiguousarray(image),
                mask=np.ascontiguousarray(stacked[..., 0]),
                source=source,
                name=str(p.path),
                parts=np.ascontiguousarray(stacked[..., 1]),
                damaged=p.damaged,
            )
        )
    return items


def _void(_p: SourcePhoto, h: int, w: int) -> np.ndarray:
    return np.full((h, w), IGNORE_INDEX, dtype=np.uint8)


def _intact(_p: SourcePhoto, h: int, w: int) -> np.ndarray:
    return np.zeros((h, w), dtype=np.uint8)


def bilgi_items(
    split: str,
    *,
    lm: LabelMap = PRODUCT_LABEL_MAP,
    seed: int = 0,
    root: Path | None = None,
    cache_long_side: int = 640,
):
    photos, cats = _read_source(BILGI, root or DATASETS_ROOT)
    mapping = {src: target for src, target, _ in BILGI_CATEGORIES}
    ids = {cid: _target_id(mapping[n], lambda t: lm.by_name(t).id) for cid, n in cats.items()}

    def damage_of(p: SourcePhoto, h: int, w: int) -> np.ndarray:
        typed = [(_ann_mask(a, h, w), ids[a["category_id"]]) for a in p.anns]
        out = _paint((h, w), [t for t in typed if t[1] != IGNORE_INDEX])
        for m, v in typed:  # void last: an airbag pixel is never scored
            if v == IGNORE_INDEX:
                out[m] = IGNORE_INDEX
        return out

    photos = _split_bilgi(photos, seed)[split]
    return _items(photos, "bilgi", cache_long_side, damage_of, _void)


def dsmlr_items(
    split: str,
    *,
    pm: PartMap = DEFAULT_PART_MAP,
    seed: int = 0,
    root: Path | None = None,
    cache_long_side: int = 512,
):
    photos, cats = _read_source(DSMLR, root or DATASETS_ROOT)
    ids = {cid: pm.index(DSMLR_PARTS[n]) for cid, n in cats.items()}

    def parts_of(p: SourcePhoto, h: int, w: int) -> np.ndarray:
        return _paint((h, w), [(_ann_mask(a, h, w), ids[a["category_id"]]) for a in p.anns])

    photos = _split_intact(photos, seed)[split]
    return _items(photos, "dsmlr", cache_long_side, _intact, parts_of)


def wiki_items(split: str, *, seed: int = 0, root: Path | None = None, cache_long_side: int = 512):
    photos, _ = _read_source(WIKI, root or DATASETS_ROOT)
    photos = _split_intact(photos, seed)[split]
    return _items(photos, "wiki", cache_long_side, _intact, _void)


def real_items(
    split: str,
    *,
    lm: LabelMap = PRODUCT_LABEL_MAP,
    pm: PartMap = DEFAULT_PART_MAP,
    seed: int = 0,
    root: Path | None = None,
    cache_long_side: int = 640,
):
    """real-car-damage with its part polygons (only 5 parts are drawn: the rest is void)."""
    from ml import coco
    from ml.datasets import items_from_samples

    folder = _require(REAL, root or DATASETS_ROOT)
    splits = coco.load_real_car_damage(folder, seed=seed, label_map=lm)
    samples = getattr(splits, split)
    items = items_from_samples(samples, "real", cache_long_side)
    parts_by_file: dict[str, list[tuple[dict, str]]] = {}
    for name in ("train_parts.json", "val_parts.json"):
        data = json.loads((folder / "annotations" / "coco" / name).read_text(encoding="utf-8"))
        cats = {c["id"]: c["name"] for c in data["categories"]}
        files = {i["id"]: i["file_name"] for i in data["images"]}
        for a in data["annotations"]:
            parts_by_file.setdefault(files[a["image_id"]], []).append((a, cats[a["category_id"]]))
    for s, item in zip(samples, items, strict=True):
        rel = Path(s.image_path).relative_to(folder).as_posix()
        layers = []
        for a, cat in parts_by_file.get(rel, []):
            target = REAL_PARTS[cat]
            layers.append((_ann_mask(a, s.height, s.width), _target_id(target, pm.index)))
        parts = _paint((s.height, s.width), layers)
        parts[parts == 0] = IGNORE_INDEX  # unlabelled pixels may be any part
        if s.content_box is not None:
            x0, y0, x1, y1 = s.content_box
            if x1 - x0 >= 32 and y1 - y0 >= 32:
                parts = parts[y0:y1, x0:x1]
        h, w = item.mask.shape
        item.parts = cv2.resize(parts, (w, h), interpolation=cv2.INTER_NEAREST)
        item.damaged = True
    return items


LOADERS = {"bilgi": bilgi_items, "dsmlr": dsmlr_items, "wiki": wiki_items, "real": real_items}
SOURCE_FOLDERS = {"bilgi": BILGI, "dsmlr": DSMLR, "wiki": WIKI, "real": REAL}


def sliced_items(spec: str, *, root: Path | None = None, lm: LabelMap | None = None):
    """Items of ``<set>_<split>[:start:stop]`` (``bilgi_test:100:250``): the split's photos in
    name order, sliced, so a frozen set is the same photos on every machine."""
    name, _, bounds = spec.partition(":")
    start, _, stop = bounds.partition(":")
    try:
        first = int(start) if start else None
        last = int(stop) if stop else None
    except ValueError:
        raise ValueError(ERR_SPLIT.format(split=spec)) from None
    items = sorted(split_items(name, root=root, lm=lm), key=lambda it: it.name)
    return items[first:last]


def split_items(spec: str, *, seed: int = 0, root: Path | None = None, lm: LabelMap | None = None):
    """Items of ``<set>_<split>`` (``bilgi_val``), or of every present set for ``val``/``test``."""
    root = root or DATASETS_ROOT
    if spec in ("train", "val", "test"):
        names = [n for n in LOADERS if available(SOURCE_FOLDERS[n], root)]
        return [it for n in names for it in split_items(f"{n}_{spec}", seed=seed, root=root, lm=lm)]
    source, _, split = spec.partition("_")
    splits = ("train", "val", "test", *(("base", "stream") if source == "bilgi" else ()))
    if source not in LOADERS or split not in splits:
        raise ValueError(ERR_SPLIT.format(split=spec))
    kwargs = {"seed": seed, "root": root}
    if lm is not None and source in ("bilgi", "real"):
        kwargs["lm"] = lm
    items = LOADERS[source](split, **kwargs)
    logger.info("%s: %d photos", spec, len(items))
    return items
