"""COCO instance-segmentation I/O, mask helpers and the de-duplicated real car-damage splits.

Everything returns plain records (:class:`Sample`, :class:`Region`) holding boolean masks, so the
model code never touches COCO's JSON. Mask value conventions are in :mod:`ml.labels`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ml.labels import (
    IGNORE_INDEX,
    IGNORE_NAME,
    UNTYPED_DAMAGE,
    UNTYPED_NAME,
    LabelMap,
)

logger = logging.getLogger(__name__)

ERR_UNMAPPED_CATEGORY = "COCO category is not in the label map and not in the category mapping"
ERR_BAD_SEGMENTATION = "unsupported COCO segmentation"
ERR_SHAPE = "mask shape does not match the image"

# The repository sits at <shared>/../main next to the shared data folder (see README).
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REAL_ROOT = (REPO_ROOT / ".." / "shared" / "datasets" / "real-car-damage").resolve()


@dataclass(eq=False)
class Region:
    """One damage instance.

    ``class_id`` is a label-map id, ``None`` for damage of unknown type (painted as
    ``UNTYPED_DAMAGE``), or ``IGNORE_INDEX`` for a void region (COCO crowd / "ignore").
    """

    class_id: int | None
    mask: np.ndarray  # bool, H x W
    severity: str | None = None
    score: float | None = None

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def bbox(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` with exclusive ends; ``(0, 0, 0, 0)`` for an empty mask."""
        ys = np.flatnonzero(self.mask.any(axis=1))
        xs = np.flatnonzero(self.mask.any(axis=0))
        if len(xs) == 0:
            return 0, 0, 0, 0
        return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


@dataclass(eq=False)
class Sample:
    """One image and its regions. ``content_box`` (x0, y0, x1, y1) excludes letter-box bars."""

    image_path: Path
    width: int
    height: int
    regions: list[Region] = field(default_factory=list)
    image_id: int | None = None
    content_box: tuple[int, int, int, int] | None = None

    def load_image(self) -> np.ndarray:
        """The image as uint8 RGB, H x W x 3."""
        return read_rgb(self.image_path)


def read_rgb(path: str | Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------- mask helpers


def _decode(rle: Mapping[str, Any]) -> np.ndarray:
    # pycocotools' Cython array triggers a NumPy 2 DeprecationWarning on every decode; it is
    # harmless and would bury real warnings in test output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle)


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """Compressed COCO RLE with ASCII ``counts`` (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode()}


def _to_binary_rle(segm: Any, height: int, width: int) -> dict[str, Any]:
    if isinstance(segm, list):  # polygons
        polys = [p for p in segm if len(p) >= 6]
        if not polys:
            return mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order="F"))
        return mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    if isinstance(segm, dict) and "counts" in segm:
        if isinstance(segm["counts"], list):  # uncompressed RLE
            return mask_utils.frPyObjects(segm, *segm["size"])
        counts = segm["counts"]
        return {
            "size": list(segm["size"]),
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
    raise ValueError(ERR_BAD_SEGMENTATION)


def rle_to_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """Bool mask from a compressed (str/bytes counts) or uncompressed (list counts) RLE."""
    h, w = rle["size"]
    return _decode(_to_binary_rle(dict(rle), h, w)).astype(bool)


def segmentation_to_mask(segm: Any, height: int, width: int) -> np.ndarray:
    """Bool mask from any COCO ``segmentation`` (polygons, compressed or uncompressed RLE)."""
    m = _decode(_to_binary_rle(segm, height, width)).astype(bool)
    if m.shape != (height, width):
        raise ValueError(ERR_SHAPE)
    return m


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons ``[[x0, y0, x1, y1, ...], ...]`` the way pycocotools does."""
    return segmentation_to_mask([list(map(float, p)) for p in polygons], height, width)


def mask_to_polygons(mask: np.ndarray, tolerance: float = 1.0) -> list[list[float]]:
    """Outer contours simplified with Douglas-Peucker (``tolerance`` px).

    Lossy: holes are filled and edges move by up to ``tolerance``; use RLE when pixels matter.
    """
    m = np.ascontiguousarray(np.asarray(mask, dtype=np.uint8))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        if tolerance > 0:
            c = cv2.approxPolyDP(c, tolerance, True)
        if len(c) >= 3:
            polys.append([float(v) for v in c.reshape(-1)])
    return polys


def semantic_mask(
    sample_or_regions: Sample | Iterable[Region],
    height: int | None = None,
    width: int | None = None,
) -> np.ndarray:
    """uint8 H x W: 0 background, class ids, ``UNTYPED_DAMAGE``, ``IGNORE_INDEX``.

    Painting order: untyped first, typed regions largest first (a small region inside a big one
    stays visible), void last (an uncertain pixel is never scored).
    """
    if isinstance(sample_or_regions, Sample):
        height = sample_or_regions.height if height is None else height
        width = sample_or_regions.width if width is None else width
        regions = list(sample_or_regions.regions)
    else:
        regions = list(sample_or_regions)
    if height is None or width is None:
        raise ValueError("height and width are required when passing regions")
    out = np.zeros((height, width), dtype=np.uint8)
    untyped = [r for r in regions if r.class_id is None]
    void = [r for r in regions if r.class_id == IGNORE_INDEX]
    typed = [r for r in regions if r.class_id is not None and r.class_id != IGNORE_INDEX]
    typed.sort(key=lambda r: -r.area)
    for r in untyped + typed + void:
        if r.mask.shape != (height, width):
            raise ValueError(ERR_SHAPE)
        out[r.mask] = UNTYPED_DAMAGE if r.class_id is None else r.class_id
    return out


# --------------------------------------------------------------------------- reading


def _resolve_category(
    name: str, label_map: LabelMap, category_map: Mapping[str, str | None] | None
) -> int | None:
    """Label-map id for a COCO category name; None = untyped; IGNORE_INDEX = void."""
    target: str | None
    if category_map is not None and name in category_map:
        target = category_map[name]
        if target is None:
            return None
    else:
        target = name
        if name == UNTYPED_NAME:
            return None
    if target == IGNORE_NAME:
        return IGNORE_INDEX
    try:
        return label_map.by_name(target).id
    except KeyError:
        raise ValueError(f"{ERR_UNMAPPED_CATEGORY}: {name!r}") from None


def read_coco(
    path: str | Path,
    label_map: LabelMap,
    *,
    category_map: Mapping[str, str | None] | None = None,
    image_root: str | Path | None = None,
) -> list[Sample]:
    """Read a COCO instance-segmentation file into samples (one per image, ordered by id).

    ``category_map`` maps COCO category names to label-map names, to ``None`` (damage of unknown
    type, e.g. ``{"damage": None}``) or to ``"ignore"``. Names not in it are looked up in the
    label map as they are; ``"damage"`` means untyped and ``"ignore"`` void by default.
    Crowd annotations are void. ``image_root`` defaults to the JSON file's folder.
    """
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    data = json.loads(path.read_text(encoding="utf-8"))
    cats = {
        c["id"]: _resolve_category(c["name"], label_map, category_map) for c in data["categories"]
    }
    samples: dict[int, Sample] = {}
    for img in sorted(data["images"], key=lambda i: i["id"]):
        samples[img["id"]] = Sample(
            image_path=root / img["file_name"],
            width=int(img["width"]),
            height=int(img["height"]),
            image_id=int(img["id"]),
        )
    for ann in sorted(data.get("annotations", []), key=lambda a: a["id"]):
        s = samples[ann["image_id"]]
        m = segmentation_to_mask(ann["segmentation"], s.height, s.width)
        if not m.any():
            logger.debug("annotation %s has an empty mask; skipped", ann["id"])
            continue
        attrs = ann.get("attributes") or {}
        class_id = IGNORE_INDEX if ann.get("iscrowd", 0) else cats[ann["category_id"]]
        s.regions.append(
            Region(
                class_id=class_id,
                mask=m,
                severity=attrs.get("severity", ann.get("severity")),
                score=ann.get("score", attrs.get("score")),
            )
        )
    return list(samples.values())


# --------------------------------------------------------------------------- writing


def write_coco(
    samples: Sequence[Sample],
    label_map: LabelMap,
    path: str | Path,
    *,
    image_root: str | Path | None = None,
) -> dict[str, Any]:
    """Write samples as COCO (compressed RLE, ASCII counts) and return the written dict.

    ``file_name`` is relative to ``image_root`` (default: the JSON's folder). Severity and score
    go into ``attributes`` (CVAT convention). The label map is stored under ``info`` so the file
    explains itself. Output bytes depend only on the inputs (reproducible exports).
    """
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    categories = [
        {"id": c.id, "name": c.name, "supercategory": "damage"}
        for c in sorted(label_map.classes, key=lambda c: c.id)
    ]
    used_untyped = any(r.class_id is None for s in samples for r in s.regions)
    used_void = any(r.class_id == IGNORE_INDEX for s in samples for r in s.regions)
    if used_untyped:
        categories.append({"id": UNTYPED_DAMAGE, "name": UNTYPED_NAME, "supercategory": "damage"})
    if used_void:
        categories.append({"id": IGNORE_INDEX, "name": IGNORE_NAME, "supercategory": "void"})
    images, annotations = [], []
    ann_id = 1
    for i, s in enumerate(samples):
        image_id = s.image_id if s.image_id is not None else i + 1
        images.append(
            {
                "id": image_id,
                "file_name": Path(os.path.relpath(Path(s.image_path), root)).as_posix(),
                "width": s.width,
                "height": s.height,
            }
        )
        for r in s.regions:
            if r.mask.shape != (s.height, s.width):
                raise ValueError(ERR_SHAPE)
            rle = mask_to_rle(r.mask)
            x0, y0, x1, y1 = r.bbox()
            cat = UNTYPED_DAMAGE if r.class_id is None else r.class_id
            ann: dict[str, Any] = {
                "id": ann_id,
                "image_id": image_id,
                "category_id": cat,
                "segmentation": rle,
                "area": r.area,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "iscrowd": 1 if r.class_id == IGNORE_INDEX else 0,
                "attributes": {"severity": r.severity},
            }
            if r.score is not None:
                ann["attributes"]["score"] = float(r.score)
            annotations.append(ann)
            ann_id += 1
    data = {
        "info": {
            "description": "claimvision damage segmentation",
            "label_map": label_map.to_dict(),
        },
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return data


# --------------------------------------------------------------------------- real data set

# From PROVENANCE.md: perceptual duplicates that no byte hash finds (first is kept if possible).
KNOWN_NEAR_DUPLICATES: tuple[tuple[str, ...], ...] = (
    ("images/train/19.jpg", "images/train/79.jpg"),
    ("images/train/8.jpg", "images/train/33.jpg"),
)
# dHash (16x16 bits) Hamming distance at or below which two photos count as the same photo.
DHASH_MAX_DISTANCE = 4


@dataclass
class RealSplits:
    """De-duplicated real photos: ``test`` = the original 8 val photos (held out, never tuned
    on), ``val`` = a small calibration split carved from train, ``unlabelled`` = the unlabelled
    test folder. ``removed`` maps each dropped duplicate to the copy that was kept.
    """

    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    unlabelled: list[Path]
    removed: dict[str, str]


def real_dataset_available(root: str | Path = DEFAULT_REAL_ROOT) -> bool:
    root = Path(root)
    return (root / "annotations" / "coco" / "train_damage.json").is_file() and (
        root / "images" / "train"
    ).is_dir()


def content_box(image: np.ndarray, threshold: int = 16) -> tuple[int, int, int, int]:
    """Box (x0, y0, x1, y1) inside letter-box bars: rows/columns that are not ~all black."""
    gray = image if image.ndim == 2 else image.max(axis=2)
    dark = gray <= threshold
    rows = np.flatnonzero(dark.mean(axis=1) < 0.98)
    cols = np.flatnonzero(dark.mean(axis=0) < 0.98)
    if len(rows) == 0 or len(cols) == 0:
        return 0, 0, gray.shape[1], gray.shape[0]
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _dhash(path: Path) -> np.ndarray:
    g = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    s = cv2.resize(g, (17, 16), interpolation=cv2.INTER_AREA)
    return (s[:, 1:] > s[:, :-1]).ravel()


def _stem_key(rel: str) -> tuple[int, str]:
    stem = Path(rel).stem
    return (int(stem), rel) if stem.isdigit() else (10**9, rel)


def duplicate_groups(root: str | Path, rel_paths: Sequence[str]) -> list[list[str]]:
    """Groups (size >= 2) of the same photo: byte-identical, near-identical dHash, or listed."""
    root = Path(root)
    parent = {p: p for p in rel_paths}

    def find(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    def union(a: str, b: str) -> None:
        if a in parent and b in parent:
            parent[find(a)] = find(b)

    by_sha: dict[str, str] = {}
    hashes = {}
    for p in rel_paths:
        digest = hashlib.sha256((root / p).read_bytes()).hexdigest()
        if digest in by_sha:
            union(p, by_sha[digest])
        by_sha.setdefault(digest, p)
        hashes[p] = _dhash(root / p)
    ordered = list(rel_paths)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if int((hashes[a] != hashes[b]).sum()) <= DHASH_MAX_DISTANCE:
                union(a, b)
    for group in KNOWN_NEAR_DUPLICATES:
        for a, b in itertools.pairwise(group):
            union(a, b)
    groups: dict[str, list[str]] = {}
    for p in rel_paths:
        groups.setdefault(find(p), []).append(p)
    return [sorted(g, key=_stem_key) for g in groups.values() if len(g) > 1]


def load_real_car_damage(
    root: str | Path = DEFAULT_REAL_ROOT,
    *,
    val_size: int = 8,
    seed: int = 0,
    label_map: LabelMap | None = None,
    with_content_box: bool = True,
) -> RealSplits:
    """Read the real photos (binary "damage" labels, so every region is untyped) and split them.

    Duplicates are removed before splitting, keeping one copy per group: the held-out copy if
    one is in the original val folder, else a labelled one, else the lowest number. The val split
    is chosen by hashing ``seed`` and the file name, so it is deterministic and does not depend
    on file-system order.
    """
    from ml.labels import DEFAULT_LABEL_MAP

    root = Path(root)
    if not real_dataset_available(root):
        raise FileNotFoundError(f"real-car-damage dataset not found at {root}")
    lm = label_map or DEFAULT_LABEL_MAP
    coco_dir = root / "annotations" / "coco"
    cat_map = {UNTYPED_NAME: None}
    train_all = read_coco(coco_dir / "train_damage.json", lm, category_map=cat_map, image_root=root)
    held_out = read_coco(coco_dir / "val_damage.json", lm, category_map=cat_map, image_root=root)
    unlabelled = sorted(
        (p.relative_to(root).as_posix() for p in (root / "images" / "test").glob("*.jpg")),
        key=_stem_key,
    )

    def rel(s: Sample) -> str:
        return Path(s.image_path).relative_to(root).as_posix()

    rank = {rel(s): 0 for s in held_out} | {rel(s): 1 for s in train_all}
    rank |= {p: 2 for p in unlabelled}
    removed: dict[str, str] = {}
    for group in duplicate_groups(root, list(rank)):
        keep = min(group, key=lambda p: (rank[p], _stem_key(p)))
        removed |= {p: keep for p in group if p != keep}
    if removed:
        logger.info("real-car-damage: dropped %d duplicates: %s", len(removed), removed)

    train_all = [s for s in train_all if rel(s) not in removed]
    held_out = [s for s in held_out if rel(s) not in removed]
    order = sorted(train_all, key=lambda s: hashlib.sha256(f"{seed}:{rel(s)}".encode()).hexdigest())
    val = sorted(order[:val_size], key=lambda s: _stem_key(rel(s)))
    train = sorted(order[val_size:], key=lambda s: _stem_key(rel(s)))
    if with_content_box:
        for s in train + val + held_out:
            g = cv2.imread(str(s.image_path), cv2.IMREAD_REDUCED_GRAYSCALE_4)
            x0, y0, x1, y1 = content_box(g)
            fx, fy = s.width / g.shape[1], s.height / g.shape[0]
            s.content_box = (
                int(x0 * fx),
                int(y0 * fy),
                min(s.width, round(x1 * fx)),
                min(s.height, round(y1 * fy)),
            )
    return RealSplits(
        train=train,
        val=val,
        test=held_out,
        unlabelled=[root / p for p in unlabelled if p not in removed],
        removed=removed,
    )
