"""A contact sheet of the model's regions on held-out photos, for people to look at.

``python -m ml.gallery --model-dir ml/models/damage-v2 --split bilgi_test --split wiki_test
--n 6 --out var/gallery.jpg``

Each tile: the photo with predicted regions filled in their type colour (outlined), the
ground-truth outline in white, and a caption with the photo-level damage score, the photo
confidence and each region's type, part and confidence. Photos are picked by a seeded hash,
never by how well the model does on them.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Sequence

import cv2
import numpy as np

logger = logging.getLogger(__name__)

TILE = 320


def _pick(items: list, n: int, seed: int) -> list:
    key = lambda it: hashlib.sha256(f"{seed}:{it.name}".encode()).hexdigest()  # noqa: E731
    return sorted(items, key=key)[:n]


def render_tile(seg, item) -> np.ndarray:
    from ml.evaluate import is_damage

    pred = seg.predict_array(item.image)
    h, w = pred.mask_height, pred.mask_width
    img = cv2.resize(item.image, (w, h), interpolation=cv2.INTER_AREA)[:, :, ::-1].copy()
    over = img.copy()
    for r in pred.regions:
        rgb = seg.label_map.by_id(r.label_id).rgb
        over[r.mask] = rgb[::-1]
    img = cv2.addWeighted(img, 0.55, over, 0.45, 0)
    for r in pred.regions:
        rgb = seg.label_map.by_id(r.label_id).rgb
        cs, _ = cv2.findContours(
            r.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(img, cs, -1, rgb[::-1], 2)
    gt = cv2.resize(item.mask, (w, h), interpolation=cv2.INTER_NEAREST)
    gt_mask = is_damage(gt, seg.label_map.num_classes).astype(np.uint8)
    cs, _ = cv2.findContours(gt_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(img, cs, -1, (255, 255, 255), 1)
    scale = TILE / max(h, w)
    img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    tile = np.full((TILE + 64, TILE, 3), 255, np.uint8)
    tile[: img.shape[0], : img.shape[1]] = img
    lines = [
        f"{item.source}: damage {pred.damage_score:.2f}  conf {pred.photo_confidence:.2f}",
        *(
            f"{r.label} / {r.part or '-'} {r.confidence:.2f}"
            for r in sorted(pred.regions, key=lambda r: -r.area_share)[:3]
        ),
    ]
    for i, line in enumerate(lines[:4]):
        cv2.putText(
            tile,
            line,
            (4, TILE + 14 + 15 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return tile


def main(argv: Sequence[str] | None = None) -> int:
    from ml.calibration import load_split_items
    from ml.inference import DEFAULT_MODEL_DIR, Segmenter

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--split", action="append", required=True)
    parser.add_argument("--n", type=int, default=6, help="photos per split")
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seg = Segmenter.load(args.model_dir)
    tiles = []
    for split in args.split:
        if split.endswith("train"):
            parser.error("a gallery shows held-out photos only")
        items = load_split_items(split, seg.label_map)
        tiles += [render_tile(seg, it) for it in _pick(items, args.n, args.seed)]
    rows = []
    for i in range(0, len(tiles), args.cols):
        row = tiles[i : i + args.cols]
        row += [np.full_like(tiles[0], 255)] * (args.cols - len(row))
        rows.append(np.hstack(row))
    cv2.imwrite(args.out, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
    logger.info("wrote %d tiles to %s", len(tiles), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
