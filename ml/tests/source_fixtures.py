"""Tiny stand-ins for the ../shared/datasets folders, in their exact formats (no real photos).

Each set gets a PROVENANCE.md, an ``annotations.json`` with the upstream category names and the
``dhash64`` / ``split`` / ``damaged`` image fields, and small JPEGs with a drawn car body.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ml.sources import BILGI, BILGI_CATEGORIES, DSMLR, DSMLR_PARTS, WIKI

SIZE = 96


def _photo(path: Path, seed: int) -> str:
    """Write a JPEG of a 'car' (a coloured box with wheels); returns a distinct fake dHash."""
    rng = np.random.default_rng(seed)
    img = np.full((SIZE, SIZE, 3), rng.integers(80, 200), np.uint8)
    colour = [int(v) for v in rng.integers(0, 255, 3)]
    cv2.rectangle(img, (10, 30), (86, 70), colour, -1)
    cv2.circle(img, (25, 72), 9, (20, 20, 20), -1)
    cv2.circle(img, (71, 72), 9, (20, 20, 20), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return f"{seed * 0x9E3779B97F4A7C15 % 2**64:016x}"


def _square(x: float, y: float, s: float) -> list[list[float]]:
    return [[x, y, x + s, y, x + s, y + s, x, y + s]]


def _write(folder: Path, images: list[dict], anns: list[dict], cats: list[dict]) -> None:
    (folder / "PROVENANCE.md").write_text("test fixture\n")
    data = {"images": images, "annotations": anns, "categories": cats}
    (folder / "annotations.json").write_text(json.dumps(data))


def make_datasets(root: Path, n: int = 12) -> Path:
    """Bilgi-, dsmlr- and Wikipedia-shaped sets under ``root``; returns ``root``."""
    bilgi = root / BILGI
    cats = [{"id": i + 1, "name": name} for i, (name, _, _) in enumerate(BILGI_CATEGORIES)]
    images, anns = [], []
    for i in range(n):
        name = f"images/b{i}.jpg"
        images.append(
            {
                "id": i + 1,
                "file_name": name,
                "width": SIZE,
                "height": SIZE,
                "split": "valid" if i % 4 == 0 else "train",
                "damaged": True,
                "dhash64": _photo(bilgi / name, i),
            }
        )
        for j, cat in enumerate((i % len(cats), (i + 3) % len(cats))):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": cat + 1,
                    "segmentation": _square(12 + 40 * j, 34, 20),
                    "iscrowd": 0,
                }
            )
    _write(bilgi, images, anns, cats)

    dsmlr = root / DSMLR
    cats = [{"id": i + 2, "name": name} for i, name in enumerate(DSMLR_PARTS)]
    by_name = {c["name"]: c["id"] for c in cats}
    images, anns = [], []
    for i in range(n):
        name = f"images/train{i}.jpg"
        images.append(
            {
                "id": i + 1,
                "file_name": name,
                "width": SIZE,
                "height": SIZE,
                "split": "train",
                "damaged": False,
                "dhash64": _photo(dsmlr / name, 100 + i),
            }
        )
        for part, box in (("front_left_door", (10, 30, 40)), ("wheel", (16, 63, 18))):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": by_name[part],
                    "segmentation": _square(*box),
                    "iscrowd": 0,
                }
            )
    _write(dsmlr, images, anns, cats)

    wiki = root / WIKI
    images = []
    for i in range(n):
        name = f"images/w{i}.jpg"
        images.append(
            {
                "id": i + 1,
                "file_name": name,
                "width": SIZE,
                "height": SIZE,
                "damaged": False,
                "dhash64": _photo(wiki / name, 200 + i),
            }
        )
    _write(wiki, images, [], [])
    return root
