"""The undamaged car of ``ml.synth``: paint colours, part ids, side-view geometry in car
units, and the body reflection profile, tyres and lamps."""

from __future__ import annotations

import cv2
import numpy as np

from ml.synth_draw import _over, _smoothstep

# Common car colours (linear-ish RGB 0..1): white, silver, greys, black, reds, blues, ...
PAINTS = (
    (0.92, 0.92, 0.90),
    (0.70, 0.71, 0.73),
    (0.45, 0.46, 0.48),
    (0.22, 0.23, 0.25),
    (0.05, 0.05, 0.06),
    (0.62, 0.06, 0.06),
    (0.40, 0.03, 0.05),
    (0.08, 0.20, 0.50),
    (0.04, 0.08, 0.22),
    (0.45, 0.62, 0.80),
    (0.10, 0.28, 0.15),
    (0.70, 0.62, 0.48),
    (0.85, 0.55, 0.08),
    (0.88, 0.78, 0.10),
)

# Part ids in the ownership map; a damage region is clipped to the pixels its part owns.
BODY, BUMPER, TRIM, GLASS, HEADLAMP, TAILLAMP, ARCH, TYRE_F, TYRE_R = range(1, 10)

# Car geometry in car units: length 1, ground at y = 0, y up, front at x = 0.
SILHOUETTE = np.array(
    [
        (0.012, 0.055),
        (0.0, 0.10),
        (0.0, 0.165),
        (0.012, 0.205),
        (0.05, 0.228),
        (0.30, 0.262),
        (0.43, 0.385),
        (0.66, 0.39),
        (0.73, 0.37),
        (0.85, 0.285),
        (0.97, 0.272),
        (0.997, 0.235),
        (1.0, 0.15),
        (0.99, 0.06),
        (0.96, 0.05),
        (0.04, 0.05),
    ]
)
BELTLINE = np.array([(0.0, 0.17), (0.05, 0.228), (0.30, 0.262), (0.85, 0.285), (1.0, 0.24)])
GREENHOUSE = np.array([(0.30, 0.262), (0.43, 0.385), (0.66, 0.39), (0.73, 0.37), (0.85, 0.285)])
HEADLAMP_POLY = np.array([(0.004, 0.172), (0.012, 0.204), (0.05, 0.226), (0.13, 0.232),
                          (0.135, 0.212), (0.07, 0.19), (0.03, 0.172)])  # fmt: skip
TAILLAMP_POLY = np.array([(0.90, 0.258), (0.975, 0.268), (0.995, 0.238), (0.996, 0.205),
                          (0.96, 0.212), (0.915, 0.232)])  # fmt: skip
FRONT_BUMPER = np.array([(0.012, 0.055), (0.0, 0.10), (0.0, 0.165), (0.05, 0.17),
                         (0.095, 0.16), (0.10, 0.05)])  # fmt: skip
REAR_BUMPER = np.array([(0.92, 0.05), (0.915, 0.15), (0.96, 0.17), (1.0, 0.17),
                        (1.0, 0.15), (0.99, 0.06), (0.96, 0.05)])  # fmt: skip
WHEELS_X = (0.175, 0.80)
DOOR_GAPS = ((0.30, 0.295), (0.55, 0.555), (0.775, 0.77))  # (x at beltline, x at sill)


def _body_profile(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    vc = rng.uniform(0.22, 0.42)  # character line
    v = np.array([0.0, 0.1, vc - 0.02, vc + 0.02, 0.6, 0.85, 1.0])
    r = np.array([0.95, 0.6, 0.38, 0.12, -0.02, -0.3, -0.9]) + rng.normal(0, 0.04, 7)
    return v, r


def _render_tyre(img, owner, rng, cx, cy, rad, flat: bool, part: int, ground_y: float):
    n = img.shape[0]
    x0, x1 = int(max(0, cx - rad * 1.5)), int(min(n, cx + rad * 1.5))
    y0, y1 = int(max(0, cy - rad * 1.5)), int(min(n, cy + rad * 1.5))
    if x1 <= x0 or y1 <= y0:
        return np.zeros(owner.shape, bool)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    if flat:  # the sidewall bulges sideways over the contact patch
        bulge = rng.uniform(0.18, 0.3)
        dx = dx / (1 + bulge * _smoothstep(-0.1, 0.7, dy / rad))
    d = np.sqrt(dx * dx + dy * dy) / rad
    phi = np.arctan2(dy, dx)  # pi/2 = straight down in image coordinates
    shape = np.ones_like(d)
    a = np.clip((shape - d) * rad + 0.5, 0, 1) * np.clip(ground_y - yy + 0.5, 0, 1)
    rr = d / shape
    rubber = 0.06 + 0.05 * np.exp(-(((rr - 0.82) / 0.08) ** 2)) + 0.03 * np.clip(-dy / rad, 0, 1)
    if flat:  # wrinkles on the crushed sidewall
        wr = np.sin(phi * rng.uniform(25, 40)) * np.exp(-(((phi - np.pi / 2) / 0.5) ** 2))
        rubber = rubber + 0.03 * wr * (rr > 0.7)
    col = np.repeat(rubber[..., None], 3, axis=2).astype(np.float32)
    # rim: alloy with spokes, brake disc behind, centre cap
    rim_r = 0.64
    nsp = int(rng.integers(5, 11))
    spoke = np.cos(nsp * (phi - rng.uniform(0, 6))) > rng.uniform(-0.2, 0.5)
    metal = rng.uniform(0.45, 0.8) * (0.8 + 0.25 * np.clip(-dy / rad, -1, 1))
    rim = np.where(spoke | (rr < 0.2) | (rr > rim_r - 0.06), metal, 0.12 + 0.05 * (rr > 0.45))
    rim_a = np.clip((rim_r - rr) * rad + 0.5, 0, 1)
    col = col * (1 - rim_a[..., None]) + rim[..., None] * rim_a[..., None] * np.float32(
        [1.0, 1.0, 1.03]
    )
    sub = img[y0:y1, x0:x1]
    sub *= 1 - a[..., None]
    sub += a[..., None] * col
    owner[y0:y1, x0:x1][a >= 0.5] = part
    m = np.zeros(owner.shape, bool)
    m[y0:y1, x0:x1] = a >= 0.5
    return m


def _lamp(img, alpha, rng, kind: int, paint_layer_dark: float) -> None:
    n = img.shape[0]
    yy = np.arange(n, dtype=np.float32)[:, None] / n
    xx = np.arange(n, dtype=np.float32)[None, :] / n
    ys, xs = np.nonzero(alpha > 0.5)
    if len(ys) == 0:
        return
    cy = ys.mean() / n
    hy = max((ys.max() - ys.min()) / n, 1e-3)
    if kind == HEADLAMP:
        base = 0.25 + 0.45 * np.clip(1 - (yy - cy + hy / 2) / hy, 0, 1)  # chrome reflector
        col = np.repeat(base[..., None], 3, 2) * np.float32([0.95, 0.97, 1.0])
        col = np.broadcast_to(col, (n, n, 3)).copy()
        # projector lenses: dark rings with a bright core
        for k in range(int(rng.integers(1, 3))):
            px = xs.min() / n + (0.25 + 0.35 * k) * (xs.max() - xs.min()) / n
            rr = np.sqrt((xx - px) ** 2 + (yy - cy) ** 2) / (hy * 0.35)
            ring = np.clip(1.2 - rr, 0, 1)
            col *= 1 - 0.8 * ring[..., None] * (rr > 0.3)[..., None]
            col += (np.exp(-((rr / 0.25) ** 2)) * 0.8)[..., None]
        drl = np.exp(-(((yy - cy - hy * 0.25) / (hy * 0.06)) ** 2)) * (xx > xs.min() / n)
        col += (0.6 * drl)[..., None]
    else:
        red = np.float32([0.75, 0.06, 0.05]) * rng.uniform(0.7, 1.1)
        col = np.broadcast_to(red, (n, n, 3)).copy()
        bands = (np.sin((yy - cy) / hy * 14) > 0.6)[..., None]
        col = col * np.where(bands, 0.7, 1.0) + np.float32([0.3, 0.02, 0.02]) * bands
    gloss = np.exp(-(((yy - cy + hy * 0.3) / (hy * 0.08)) ** 2))[..., None]
    col = np.clip(col + 0.35 * gloss, 0, 1.5)
    edge = alpha - cv2.erode(alpha, np.ones((3, 3), np.uint8))
    col = col * (1 - paint_layer_dark * edge[..., None])
    _over(img, col, alpha)
