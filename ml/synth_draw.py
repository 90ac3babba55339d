"""Drawing primitives for ``ml.synth``: smoothstep, value noise, anti-aliased polygon fill,
alpha compositing, jagged strokes and the car-units-to-pixels camera."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth value noise ~N(0, 1) with feature size ``cell`` px (cheap: resized random grid)."""
    g = rng.standard_normal((max(2, h // cell + 2), max(2, w // cell + 2))).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def _fill(h: int, w: int, polys: Sequence[np.ndarray]) -> np.ndarray:
    """Anti-aliased coverage (float32 0..1) of pixel-space polygons."""
    m = np.zeros((h, w), np.uint8)
    pts = [np.round(np.asarray(p) * 16).astype(np.int32) for p in polys]
    cv2.fillPoly(m, pts, 255, cv2.LINE_AA, shift=4)
    return m.astype(np.float32) * (1.0 / 255.0)


def _chaikin(p: np.ndarray, n: int = 2) -> np.ndarray:
    for _ in range(n):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], axis=1).reshape(-1, 2)
    return p


def _over(img: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """In-place alpha composite; ``colour`` HxWx3 or (3,). Works on alpha's bounding box only."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if len(rows) == 0:
        return
    cols = np.flatnonzero(alpha.any(axis=0))
    sl = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    a = alpha[sl][..., None]
    c = np.broadcast_to(colour, img.shape)[sl] if np.ndim(colour) == 3 else colour
    sub = img[sl]
    sub *= 1.0 - a
    sub += a * c


def _jagged(rng: np.random.Generator, p0, angle: float, length: float, step: float, wig: float):
    n = max(2, int(length / step))
    angs = angle + np.cumsum(rng.normal(0, wig, n))
    pts = np.cumsum(np.stack([np.cos(angs), np.sin(angs)], 1) * step, axis=0) + p0
    return np.vstack([p0, pts])


@dataclass
class _Cam:
    s: float  # car length in px
    ox: float
    oy: float  # pixel y of the ground line

    def px(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=np.float64)
        return np.stack([self.ox + pts[:, 0] * self.s, self.oy - pts[:, 1] * self.s], 1)
