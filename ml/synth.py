"""Procedural photo-like car-damage scenes (numpy + OpenCV) with exact masks, for bootstrapping.

A side view of a car body, seen at a random zoom: painted panels shaded by an environment
reflection (sky, skyline, ground: the horizon line that runs along real car paint), panel gaps,
windows, lamps, tyres, a blurred background, camera noise and JPEG. Damage is rendered the way
it looks in photos: dents bend the reflection, scratches expose primer or metal, cracks branch,
glass shatters in a spider web, lamps lose pieces of lens, a flat tyre sags and bulges. Every
image is a pure function of ``(seed, index)``.

CLI: ``python -m ml.synth --out DIR --n N --seed S --size 512 [--gallery PATH]``.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ml.coco import Region, Sample, write_coco
from ml.labels import DEFAULT_LABEL_MAP, LabelMap, severity_for

logger = logging.getLogger(__name__)

DAMAGE_TYPES = ("dent", "scratch", "crack", "glass_shatter", "lamp_broken", "tire_flat")

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
HOSTS = {
    "dent": (BODY,),
    "scratch": (BODY, BUMPER),
    "crack": (BUMPER, BODY),
    "glass_shatter": (GLASS,),
    "lamp_broken": (HEADLAMP, TAILLAMP),
    "tire_flat": (TYRE_F, TYRE_R),
}

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


@dataclass
class Scene:
    """One rendered image (uint8 RGB after JPEG), its JPEG bytes and its damage regions."""

    image: np.ndarray
    jpeg: bytes
    regions: list[Region] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- small helpers


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


# --------------------------------------------------------------------------- environment


@dataclass
class _Env:
    sky_top: np.ndarray
    sky_hor: np.ndarray
    skyline: np.ndarray  # colour of trees/buildings
    ground: np.ndarray
    phases: np.ndarray
    freqs: np.ndarray
    level: float

    def skyline_height(self, x: np.ndarray) -> np.ndarray:
        # tabulated then interpolated: sin() on every pixel was a third of the render time
        lo, hi = float(x.min()), float(x.max())
        grid = np.linspace(lo, hi + 1e-6, 1024)
        h = sum(np.sin(grid * f + p) for f, p in zip(self.freqs, self.phases, strict=True))
        return np.interp(x, grid, self.level + 0.06 * h).astype(np.float32)

    def reflect(self, r: np.ndarray, x: np.ndarray, sharp: float) -> np.ndarray:
        """Colour reflected by a surface whose normal points at elevation ``r`` (-1 down, 1 up)."""
        hl = self.skyline_height(x)
        sky = self.sky_hor + (self.sky_top - self.sky_hor) * np.clip(r, 0, 1)[..., None]
        t_sky = _smoothstep(-sharp, sharp, r - hl)[..., None]
        t_gnd = _smoothstep(-sharp, sharp, -0.08 - r)[..., None]
        mid = self.skyline * (1 - t_gnd) + self.ground * t_gnd
        return sky * t_sky + mid * (1 - t_sky)


def _make_env(rng: np.random.Generator) -> _Env:
    kind = rng.choice(["blue", "overcast", "warm"], p=[0.45, 0.4, 0.15])
    if kind == "blue":
        top, hor = np.array([0.25, 0.45, 0.80]), np.array([0.70, 0.80, 0.92])
    elif kind == "overcast":
        g = rng.uniform(0.65, 0.9)
        top, hor = np.array([g, g, g + 0.03]), np.array([g + 0.05] * 3)
    else:
        top, hor = np.array([0.45, 0.50, 0.70]), np.array([0.95, 0.75, 0.55])
    skyline = rng.choice(
        [[0.12, 0.18, 0.10], [0.30, 0.30, 0.32], [0.45, 0.40, 0.35], [0.20, 0.22, 0.26]]
    )
    ground = rng.choice([[0.28, 0.28, 0.29], [0.40, 0.38, 0.36], [0.22, 0.30, 0.15]])
    jitter = rng.uniform(0.9, 1.1, 3)
    return _Env(
        sky_top=np.clip(top * jitter, 0, 1).astype(np.float32),
        sky_hor=np.clip(hor * jitter, 0, 1).astype(np.float32),
        skyline=np.asarray(skyline, np.float32) * rng.uniform(0.8, 1.2),
        ground=np.asarray(ground, np.float32) * rng.uniform(0.8, 1.2),
        phases=rng.uniform(0, 2 * np.pi, 4),
        freqs=rng.uniform(3, 25, 4),
        level=float(rng.uniform(0.0, 0.3)),
    )


def _background(rng: np.random.Generator, env: _Env, n: int, horizon: float) -> np.ndarray:
    """Sky, skyline (trees / buildings / wall) and ground, blurred like a shallow depth of field."""
    yy = np.arange(n, dtype=np.float32)[:, None]
    xx = np.arange(n, dtype=np.float32)[None, :]
    t = np.clip((horizon - yy) / max(horizon, 1.0), 0, 1)[..., None]
    img = env.sky_hor + (env.sky_top - env.sky_hor) * t
    img = np.broadcast_to(img, (n, n, 3)).copy()
    # skyline band: trees (noisy blobs) or buildings (blocks with windows) or a wall.
    kind = rng.integers(3)
    if kind == 2:  # wall close behind the car: covers the sky
        top = horizon - rng.uniform(0.3, 0.8) * n
        wall = np.asarray(rng.choice([[0.75, 0.72, 0.66], [0.55, 0.40, 0.32], [0.6, 0.62, 0.6]]))
        a = _smoothstep(top - 2, top + 2, yy) * np.ones_like(xx)
        tex = 1 + 0.05 * _noise(rng, n, n, 24)[..., None]
        _over(img, wall.astype(np.float32) * tex, a)
    else:
        hgt = n * rng.uniform(0.05, 0.25)
        if kind == 0:
            prof = horizon - hgt * (
                0.6 + 0.3 * _noise(rng, 1, n, 60)[0] + 0.1 * _noise(rng, 1, n, 8)[0]
            )
        else:
            blocks = np.repeat(rng.uniform(0.3, 1.0, n // 24 + 2), 24)[:n]
            prof = horizon - hgt * blocks
        a = (yy >= prof[None, :]).astype(np.float32)
        col = env.skyline * (1 + 0.25 * _noise(rng, n, n, 6)[..., None])
        if kind == 1:
            win = ((yy.astype(int) // 7) % 2 == 0) & ((xx.astype(int) // 9) % 3 == 0)
            col = col * (1 - 0.25 * win[..., None])
        _over(img, col, a)
    # ground with perspective-scaled texture and parking lines sometimes
    g = (yy >= horizon).astype(np.float32) * np.ones_like(xx)
    depth = np.clip((yy - horizon) / n, 0, 1)[..., None]
    gcol = env.ground * (0.85 + 0.4 * depth) * (1 + 0.08 * _noise(rng, n, n, 3)[..., None])
    _over(img, gcol, g)
    if rng.random() < 0.4:
        x0 = rng.uniform(0, n)
        line = np.abs(xx - x0 - (yy - horizon) * rng.uniform(-1.5, 1.5)) < 2 + depth[..., 0] * 6
        _over(img, np.float32([0.85, 0.85, 0.8]), (line & (g > 0)).astype(np.float32) * 0.8)
    k = int(rng.integers(1, 4)) * 2 + 1
    return cv2.GaussianBlur(img, (k, k), 0)


# --------------------------------------------------------------------------- car parts


def _body_profile(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    vc = rng.uniform(0.22, 0.42)  # character line
    v = np.array([0.0, 0.1, vc - 0.02, vc + 0.02, 0.6, 0.85, 1.0])
    r = np.array([0.95, 0.6, 0.38, 0.12, -0.02, -0.3, -0.9]) + rng.normal(0, 0.04, 7)
    return v, r


def _dent_field(rng: np.random.Generator, n: int, cx: float, cy: float, rad: float):
    """Height-field gradient of a dent (gx, gy) and its visible extent (bool mask)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    ca, sa = math.cos(ang), math.sin(ang)
    dx, dy = xx - cx, yy - cy
    u = (dx * ca + dy * sa) / rad
    w = (-dx * sa + dy * ca) / (rad * rng.uniform(0.45, 1.0))
    theta = np.arctan2(w, u)
    wobble = 1 + 0.18 * np.sin(3 * theta + rng.uniform(0, 6)) + 0.1 * np.sin(5 * theta)
    d2 = (u * u + w * w) / (wobble * wobble)
    h = -np.exp(-d2 * 1.6)
    if rng.random() < 0.5:  # crease: a sharp fold through the dent
        h -= 0.5 * np.exp(-(w * w) * 18) * np.exp(-(u * u) * 1.2)
    gy, gx = np.gradient(h * rad * rng.uniform(0.12, 0.22))
    return gx, gy, h < -0.3


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


# --------------------------------------------------------------------------- damage overlays


def _scratch(rng, n, cx, cy, paint) -> tuple[np.ndarray, np.ndarray]:
    """Layer colour (HxWx3) + alpha for a cluster of thin jagged strokes, and its mask."""
    alpha = np.zeros((n, n), np.float32)
    col = np.zeros((n, n, 3), np.float32)
    angle = rng.uniform(-0.6, 0.6) + (np.pi if rng.random() < 0.5 else 0)
    length = n * rng.uniform(0.08, 0.4)
    spread = n * rng.uniform(0.008, 0.05)
    kind = rng.choice(["clearcoat", "primer", "metal", "dark"], p=[0.35, 0.3, 0.2, 0.15])
    tone = {
        "clearcoat": np.clip(np.asarray(paint) * 0.6 + 0.45, 0, 1),
        "primer": np.float32([0.75, 0.74, 0.70]),
        "metal": np.float32([0.85, 0.86, 0.88]),
        "dark": np.asarray(paint) * 0.3 + 0.03,
    }[kind]
    for _ in range(int(rng.integers(3, 14))):
        off = rng.normal(0, spread)
        p0 = np.array([cx, cy]) + off * np.array([-math.sin(angle), math.cos(angle)])
        p0 -= 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
        p0 += rng.normal(0, length * 0.1, 2)
        pts = _jagged(rng, p0, angle + rng.normal(0, 0.05), length * rng.uniform(0.3, 1.0), 4, 0.04)
        lay = np.zeros((n, n), np.uint8)
        w = int(rng.choice([1, 1, 2, 2, 3]))
        cv2.polylines(lay, [np.round(pts * 4).astype(np.int32)], False, 255, w, cv2.LINE_AA, 2)
        a = lay.astype(np.float32) / 255 * rng.uniform(0.55, 1.0)
        _over(col, tone.astype(np.float32) * rng.uniform(0.85, 1.1), a)
        np.maximum(alpha, a, out=alpha)
    mask = cv2.dilate((alpha > 0.15).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return col, alpha, mask


def _crack_lines(rng, n, cx, cy, scale) -> list[np.ndarray]:
    lines = []
    stack = [(np.array([cx, cy], float), rng.uniform(0, 2 * np.pi), scale, 0)]
    while stack:
        p0, ang, length, depth = stack.pop()
        pts = _jagged(rng, p0, ang, length, 3.0, 0.35)
        lines.append(pts)
        if depth < 2:
            for _ in range(int(rng.integers(1, 3))):
                j = int(rng.integers(1, len(pts)))
                stack.append((pts[j], ang + rng.choice([-1, 1]) * rng.uniform(0.4, 1.2),
                              length * rng.uniform(0.3, 0.6), depth + 1))  # fmt: skip
    return lines


def _crack(rng, n, cx, cy, paint):
    alpha = np.zeros((n, n), np.uint8)
    light = np.zeros((n, n), np.uint8)
    for pts in _crack_lines(rng, n, cx, cy, n * rng.uniform(0.06, 0.2)):
        p = np.round(pts * 4).astype(np.int32)
        cv2.polylines(light, [p + 4], False, 255, 1, cv2.LINE_AA, 2)  # chipped edge, 1 px off
        cv2.polylines(alpha, [p], False, 255, int(rng.choice([1, 2])), cv2.LINE_AA, 2)
    a = alpha.astype(np.float32) / 255
    la = light.astype(np.float32) / 255 * 0.5 * (1 - a)
    col = np.zeros((n, n, 3), np.float32) + np.asarray(paint, np.float32) * 0.15 + 0.02
    col = col * (a > 0)[..., None] + (la > 0)[..., None] * np.float32([0.8, 0.8, 0.78])
    mask = cv2.dilate((np.maximum(a, la) > 0.15).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return col, np.maximum(a, la), mask


def _shatter(rng, n, cx, cy, radius):
    lay = np.zeros((n, n), np.uint8)
    k = int(rng.integers(9, 18))
    angs = np.sort(rng.uniform(0, 2 * np.pi, k))
    rays = []
    for a in angs:
        pts = _jagged(rng, np.array([cx, cy]), a, radius * rng.uniform(0.6, 1.2), 4, 0.08)
        rays.append(pts)
        cv2.polylines(lay, [np.round(pts * 4).astype(np.int32)], False, 255, 1, cv2.LINE_AA, 2)
    for frac in np.sort(rng.uniform(0.08, 0.85, int(rng.integers(3, 7)))):
        ring = []
        for pts in rays:
            i = min(len(pts) - 1, int(frac * radius / 4))
            ring.append(pts[i] + rng.normal(0, 1.5, 2))
        ring = np.array(ring)
        seg = np.round(ring * 4).astype(np.int32)
        cv2.polylines(lay, [seg], rng.random() < 0.6, 255, 1, cv2.LINE_AA, 2)
    a = lay.astype(np.float32) / 255
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    core = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (radius * 0.07) ** 2))
    frost = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (radius * 0.4) ** 2)) * 0.25
    alpha = np.clip(np.maximum(a * rng.uniform(0.6, 0.95), core) + frost, 0, 1)
    col = np.zeros((n, n, 3), np.float32) + np.float32([0.9, 0.93, 0.95])
    hull = cv2.convexHull(np.round(np.vstack([r[-1] for r in rays])).astype(np.int32))
    mask = np.zeros((n, n), np.uint8)
    cv2.fillPoly(mask, [hull], 1)
    return col, alpha, mask > 0


def _lamp_break(rng, n, cx, cy, size):
    k = int(rng.integers(7, 13))
    angs = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = size * rng.uniform(0.3, 0.8, k)
    hole = np.stack([cx + rad * np.cos(angs), cy + rad * np.sin(angs)], 1)
    a_hole = _fill(n, n, [hole])
    interior = np.float32([0.05, 0.05, 0.055]) + 0.08 * _noise(rng, n, n, 4)[..., None]
    lay = np.zeros((n, n), np.uint8)
    cv2.polylines(lay, [np.round(hole * 4).astype(np.int32)], True, 255, 1, cv2.LINE_AA, 2)
    tips = []
    for p in hole[rng.permutation(k)[: int(rng.integers(3, 7))]]:
        ang = math.atan2(p[1] - cy, p[0] - cx)
        pts = _jagged(rng, p, ang, size * rng.uniform(0.4, 1.2), 3, 0.3)
        tips.append(pts)
        cv2.polylines(lay, [np.round(pts * 4).astype(np.int32)], False, 255, 1, cv2.LINE_AA, 2)
    edge = lay.astype(np.float32) / 255
    col = interior * a_hole[..., None] + np.float32([0.95, 0.95, 0.95]) * (1 - a_hole)[..., None]
    alpha = np.maximum(a_hole, edge * 0.8)
    pts = np.vstack([hole, *tips])
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    mask = np.zeros((n, n), np.uint8)
    cv2.fillPoly(mask, [hull], 1)
    return col, alpha, mask > 0


# --------------------------------------------------------------------------- the scene


def _pick(rng, owner: np.ndarray, part: int, margin: int) -> tuple[float, float] | None:
    m = (owner[::4, ::4] == part).astype(np.uint8)
    if margin:
        m = cv2.erode(m, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return None
    i = int(rng.integers(len(ys)))
    return float(xs[i] * 4 + rng.uniform(0, 4)), float(ys[i] * 4 + rng.uniform(0, 4))


def _focus(rng, name: str, tyre_rad: float) -> tuple[float, float]:
    """A point in car units on the part that hosts damage ``name``."""
    if name == "tire_flat":
        return WHEELS_X[int(rng.integers(2))], tyre_rad
    if name == "glass_shatter":
        return rng.uniform(0.38, 0.72), rng.uniform(0.29, 0.35)
    if name == "lamp_broken":
        return (0.07, 0.21) if rng.random() < 0.6 else (0.955, 0.24)
    if name == "crack":
        return (0.05, 0.11) if rng.random() < 0.6 else (0.96, 0.11)
    return rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.24)


def render_scene(
    rng: np.random.Generator,
    size: int = 512,
    *,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
    primary: str | None = None,
    max_extra: int = 2,
) -> Scene:
    """Render one scene. ``primary`` is the damage type the camera frames (random if None).

    Only damage types that are in ``label_map`` (by name) are drawn, so a custom taxonomy that
    shares some names gets only those; a taxonomy sharing none gets clean cars.
    """
    n = size
    types = [t for t in DAMAGE_TYPES if t in label_map.names]
    if primary is None and types:
        primary = str(rng.choice(types))
    tyre_rad = rng.uniform(0.072, 0.088)

    # camera: zoom, then put the primary damage's host near the frame centre
    wide = rng.random() < 0.2  # whole car in view, else a close-up of part of it
    scale = n * (rng.uniform(0.85, 1.1) if wide else rng.uniform(1.2, 2.8))
    fx, fy = _focus(rng, primary, tyre_rad) if primary else (0.5, 0.2)
    tx, ty = n * rng.uniform(0.3, 0.7), n * rng.uniform(0.35, 0.65)
    if scale < n:
        fx, tx = 0.5, n * 0.5 + rng.uniform(-0.05, 0.05) * n
    cam = _Cam(s=scale, ox=tx - fx * scale, oy=ty + fy * scale)

    env = _make_env(rng)
    horizon = cam.oy - scale * rng.uniform(0.28, 0.5)
    img = _background(rng, env, n, horizon)
    yy = np.arange(n, dtype=np.float32)[:, None]
    xx = np.arange(n, dtype=np.float32)[None, :]
    carx = (xx - cam.ox) / scale  # car-unit coordinates of every pixel
    cary = (cam.oy - yy) / scale
    owner = np.zeros((n, n), np.uint8)

    # ground shadow under the car
    sh = np.zeros((n, n), np.float32)
    cv2.ellipse(sh, (int(cam.ox + 0.5 * scale), int(cam.oy)),
                (int(0.52 * scale), max(2, int(0.03 * scale))), 0, 0, 360, 1.0, -1)  # fmt: skip
    sh = cv2.GaussianBlur(sh, (0, 0), max(1.0, 0.015 * scale))
    img *= 1 - 0.75 * sh[..., None]

    sil = _fill(n, n, [cam.px(_chaikin(SILHOUETTE, 3))])
    arches = np.zeros((n, n), np.float32)
    for wx in WHEELS_X:
        c = cam.px(np.array([[wx, tyre_rad]]))[0]
        cv2.circle(arches, (int(c[0]), int(c[1])), int(tyre_rad * 1.18 * scale), 1.0, -1,
                   cv2.LINE_AA)  # fmt: skip
    arches = np.minimum(arches, sil)
    belt_y = np.interp(carx[0], BELTLINE[:, 0], BELTLINE[:, 1]).astype(np.float32)[None, :]
    green = _fill(n, n, [cam.px(_chaikin(GREENHOUSE, 2))])
    green = np.minimum(green, sil) * (cary > belt_y)
    paint_a = np.clip(sil - green, 0, 1)

    # choose damages now that parts are known (hosts must be visible)
    owner[paint_a >= 0.5] = BODY
    bumper_a = _fill(n, n, [cam.px(FRONT_BUMPER), cam.px(REAR_BUMPER)]) * paint_a
    owner[bumper_a >= 0.5] = BUMPER
    glass_k = max(1, int(0.012 * scale))
    glass_a = cv2.erode(green, np.ones((glass_k, glass_k), np.uint8))
    pillar = (np.abs(carx - (0.56 - 0.02 * (cary - 0.26) / 0.12)) < 0.012) | (carx > 0.765)
    glass_a = glass_a * ~pillar
    owner[green >= 0.5] = TRIM
    owner[glass_a >= 0.5] = GLASS
    head_a = _fill(n, n, [cam.px(_chaikin(HEADLAMP_POLY, 2))])
    tail_a = _fill(n, n, [cam.px(_chaikin(TAILLAMP_POLY, 2))])
    owner[head_a >= 0.5] = HEADLAMP
    owner[tail_a >= 0.5] = TAILLAMP
    owner[arches >= 0.5] = ARCH
    tyres = []
    for k, wx in enumerate(WHEELS_X):
        c = cam.px(np.array([[wx, tyre_rad]]))[0]
        tyres.append((c, TYRE_F if k == 0 else TYRE_R))
        cv2.circle(owner, (int(c[0]), int(c[1])), int(tyre_rad * scale), TYRE_F + k, -1)

    def visible(part: int, name: str) -> bool:
        return int((owner[::4, ::4] == part).sum()) * 16 > 0.002 * n * n * (
            4 if name == "tire_flat" else 1
        )

    plan: list[tuple[str, int]] = []
    candidates = [primary] if primary else []
    extra = int(rng.choice(max_extra + 1, p=None)) if types else 0
    if extra:  # a flat tyre is big and easy: rarer as a side damage
        w = np.array([0.3 if t == "tire_flat" else 1.0 for t in types])
        candidates += [str(t) for t in rng.choice(types, size=extra, p=w / w.sum())]
    for name in candidates:
        hosts = [h for h in HOSTS[name] if visible(h, name)]
        if name in {p[0] for p in plan} and name in ("tire_flat", "lamp_broken", "glass_shatter"):
            continue
        if hosts:
            plan.append((name, int(rng.choice(hosts))))

    # body paint: albedo, diffuse light and environment reflection bent by dents
    paint = np.asarray(PAINTS[int(rng.integers(len(PAINTS)))], np.float32)
    paint = np.clip(paint * rng.uniform(0.9, 1.1, 3), 0, 1).astype(np.float32)
    sill_y = 0.06
    v = np.clip((belt_y - cary) / (belt_y - sill_y), 0, 1)
    kv, kr = _body_profile(rng)
    r = np.interp(v, kv, kr).astype(np.float32)
    envx = xx / n * 1.0
    pending: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray | None]] = []
    for name, host in plan:
        if name != "dent":
            continue
        p = _pick(rng, owner, host, 3)
        if p is None:
            continue
        rad = n * rng.uniform(0.05, 0.16) * min(1.6, scale / n)
        gx, gy, m = _dent_field(rng, n, p[0], p[1], rad)
        r = r - gy * 2.5
        envx = envx + gx * 1.5
        pending.append((name, host, m, np.zeros(0), None))
    ends = _smoothstep(0.9, 1.0, carx) + _smoothstep(0.08, 0.0, carx)
    r = r + ends * 0.3 * np.sign(0.5 - v)
    diffuse = 0.35 + 0.55 * np.clip(0.5 + 0.5 * r, 0, 1) - 0.25 * ends
    if pending:  # dents also darken/lighten the diffuse term on their slopes
        diffuse = diffuse + np.clip(-r + np.interp(v, kv, kr), -0.4, 0.4) * 0.3
    # Fresnel: surfaces turned away from the camera (shoulder, rocker) mirror more
    spec = (rng.uniform(0.2, 0.4) + 0.25 * np.clip(np.abs(r), 0, 1))[..., None]
    refl = env.reflect(r, envx + 0.02 * _noise(rng, n, n, 64), float(rng.uniform(0.015, 0.05)))
    sun = np.exp(-(((r - rng.uniform(0.5, 0.9)) / 0.05) ** 2)) * np.exp(
        -(((xx / n - rng.uniform(0.2, 0.8)) / rng.uniform(0.05, 0.25)) ** 2)
    )
    body = paint * diffuse[..., None] * (1 - spec) + spec * refl + 0.8 * sun[..., None]
    flake = 1 + 0.025 * rng.standard_normal((n, n), np.float32)[..., None]
    _over(img, body * flake, paint_a)
    # lower bumper plastic and grille darker
    lower = _fill(n, n, [cam.px(np.array([(0.0, 0.06), (0.0, 0.10), (0.09, 0.10), (0.095, 0.06)]))])
    _over(img, np.float32([0.06, 0.06, 0.065]) * (1 + 0.5 * _noise(rng, n, n, 3)[..., None]),
          lower * paint_a * rng.uniform(0.7, 1.0))  # fmt: skip

    # panel gaps, bumper seams, character line, door handles
    lines = np.zeros((n, n), np.uint8)
    hi = np.zeros((n, n), np.uint8)
    lw = max(1, int(scale / 700))
    for xt, xb in DOOR_GAPS:
        yt = float(np.interp(xt, BELTLINE[:, 0], BELTLINE[:, 1]))
        pts = np.round(cam.px(np.array([[xt, yt], [xb, sill_y]])) * 4).astype(np.int32)
        cv2.polylines(lines, [pts], False, 255, lw, cv2.LINE_AA, 2)
        cv2.polylines(
            hi, [pts + np.array([4 * lw + 4, 0], np.int32)], False, 255, 1, cv2.LINE_AA, 2
        )
    for poly in (FRONT_BUMPER, REAR_BUMPER):
        pts = np.round(cam.px(poly[2:-1] if poly is FRONT_BUMPER else poly[:3]) * 4)
        cv2.polylines(lines, [pts.astype(np.int32)], False, 255, lw, cv2.LINE_AA, 2)
    for hx in (0.47, 0.70):
        c = cam.px(np.array([[hx, 0.225]]))[0]
        ax = (max(2, int(0.028 * scale)), max(1, int(0.005 * scale)))
        cv2.ellipse(lines, (int(c[0]), int(c[1] + ax[1])), ax, 0, 0, 360, 160, -1, cv2.LINE_AA)
        cv2.ellipse(hi, (int(c[0]), int(c[1] - ax[1])), ax, 0, 0, 360, 140, -1, cv2.LINE_AA)
    _over(img, paint * 0.12, lines.astype(np.float32) / 255 * paint_a)
    _over(img, np.clip(paint * 0.5 + 0.5, 0, 1), hi.astype(np.float32) / 255 * 0.5 * paint_a)

    # greenhouse: black trim, then glass with interior darkness and sky reflections
    _over(img, np.float32([0.04, 0.04, 0.045]) + 0.05 * (cary > 0.37)[..., None], green)
    gv = np.clip((cary - belt_y) / 0.12, 0, 1)
    grefl = env.reflect(0.1 + 0.9 * gv + 0.2 * (carx - 0.5), xx / n * 0.5 + 0.3 * yy / n, 0.03)
    glass = np.float32([0.03, 0.035, 0.04]) + rng.uniform(0.3, 0.55) * grefl
    streak = np.exp(-((((xx + yy * 0.7) / n * rng.uniform(4, 8) + rng.uniform(0, 6)) % 2 - 1) ** 2)
                    / 0.02)  # fmt: skip
    glass += 0.12 * streak[..., None]
    _over(img, glass, glass_a)
    _lamp(img, head_a, rng, HEADLAMP, 0.6)
    _lamp(img, tail_a, rng, TAILLAMP, 0.6)
    arch_col = np.float32([0.02, 0.02, 0.022]) * (1 + _noise(rng, n, n, 8)[..., None] * 0.5)
    _over(img, arch_col, arches)

    flat_part = next((h for name, h in plan if name == "tire_flat"), None)
    for c, part in tyres:
        is_flat = part == flat_part
        sag = rng.uniform(0.3, 0.42) if is_flat else 0.03
        cy = cam.oy - tyre_rad * scale * (1 - sag)
        m = _render_tyre(img, owner, rng, c[0], cy, tyre_rad * scale, is_flat, part, cam.oy)
        if is_flat:
            pending.append(("tire_flat", part, m, np.zeros(0), None))

    # overlays: each layer is clipped to its host part's visible pixels
    for name, host in plan:
        if name in ("dent", "tire_flat"):
            continue
        margin = 2 if host != HEADLAMP and host != TAILLAMP else 1
        p = _pick(rng, owner, host, margin)
        if p is None:
            continue
        hm = (owner == host).astype(np.float32)
        if name == "scratch":
            col, a, m = _scratch(rng, n, p[0], p[1], paint)
        elif name == "crack":
            col, a, m = _crack(rng, n, p[0], p[1], paint)
        elif name == "glass_shatter":
            col, a, m = _shatter(rng, n, p[0], p[1], n * rng.uniform(0.08, 0.3))
        else:
            ys, _ = np.nonzero(owner[::2, ::2] == host)
            size_px = max(6.0, (ys.max() - ys.min()) * 2 * rng.uniform(0.4, 0.9))
            col, a, m = _lamp_break(rng, n, p[0], p[1], size_px)
        _over(img, col, a * hm)
        pending.append((name, host, m, np.zeros(0), None))

    regions: list[Region] = []
    names: list[str] = []
    for name, host, m, _, _ in pending:
        rm = m & (owner == host)
        if rm.sum() >= 8:
            regions.append(Region(class_id=label_map.by_name(name).id, mask=rm))
            names.append(name)

    # camera: roll, mirror, lens blur, vignette, white balance, noise, JPEG
    angle = rng.normal(0, 2.5)
    rot = cv2.getRotationMatrix2D((n / 2, n / 2), angle, 1.0 + abs(angle) * 0.02)
    img = cv2.warpAffine(img, rot, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    flip = rng.random() < 0.5
    for reg in regions:
        mm = cv2.warpAffine(reg.mask.astype(np.uint8), rot, (n, n), flags=cv2.INTER_NEAREST)
        reg.mask = (mm[:, ::-1] if flip else mm).astype(bool)
    if flip:
        img = img[:, ::-1]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.0))
    vig = 1 - rng.uniform(0.1, 0.35) * (((xx - n / 2) ** 2 + (yy - n / 2) ** 2) / (n * n / 2))
    img = img * vig[..., None] * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    img = img * rng.uniform(0.8, 1.15)
    img = np.clip(img, 0, 1) ** (1 / 1.15)  # mild tone curve
    out = img * 255 + rng.normal(0, rng.uniform(1.5, 5), (n, n, 1)).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(
        ".jpg",
        cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 95))],
    )
    assert ok
    jpeg = buf.tobytes()
    final = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    for reg, name in zip(regions, names, strict=True):
        x0, y0, x1, y1 = reg.bbox()
        reg.severity = severity_for(
            label_map, name, reg.area / (n * n), (x0 / n, y0 / n, x1 / n, y1 / n)
        )
    keep = [i for i, reg in enumerate(regions) if reg.area > 0]
    return Scene(
        image=final,
        jpeg=jpeg,
        regions=[regions[i] for i in keep],
        names=[names[i] for i in keep],
    )


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image ``index``: images do not depend on how many are made."""
    return np.random.default_rng([seed, index])


def primary_for(seed: int, index: int, label_map: LabelMap) -> str | None:
    """Cycle the framed damage type so every type appears in any run of len(types) images."""
    types = [t for t in DAMAGE_TYPES if t in label_map.names]
    if not types:
        return None
    order = np.random.default_rng([seed, 2**31]).permutation(len(types))
    return types[int(order[index % len(types)])]


def generate(
    out_dir: str | Path,
    n: int,
    *,
    seed: int = 0,
    size: int = 512,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
    progress: bool = True,
) -> list[Sample]:
    """Write ``images/*.jpg``, ``annotations.json`` (COCO) and ``label_map.json`` to ``out_dir``."""
    from tqdm import tqdm

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    samples = []
    for i in tqdm(range(n), desc="synth", unit="img", disable=not progress):
        scene = render_scene(
            scene_rng(seed, i), size, label_map=label_map, primary=primary_for(seed, i, label_map)
        )
        path = out / "images" / f"{i:06d}.jpg"
        path.write_bytes(scene.jpeg)
        samples.append(Sample(path, size, size, scene.regions, image_id=i + 1))
    write_coco(samples, label_map, out / "annotations.json")
    label_map.to_json(out / "label_map.json")
    logger.info("wrote %d images to %s", n, out)
    return samples


def overlay(image: np.ndarray, regions: Sequence[Region], label_map: LabelMap) -> np.ndarray:
    """Image with translucent class colours and outlines, for galleries and review."""
    out = image.astype(np.float32)
    for reg in regions:
        rgb = (
            np.float32(label_map.by_id(reg.class_id).rgb)
            if reg.class_id
            else np.float32([0, 158, 115])
        )
        out[reg.mask] = out[reg.mask] * 0.55 + rgb * 0.45
        cnt, _ = cv2.findContours(
            reg.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(out, cnt, -1, tuple(float(c) for c in rgb), 1, cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


def render_gallery(
    path: str | Path,
    *,
    seed: int = 0,
    size: int = 384,
    rows: int = 3,
    cols: int = 4,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
) -> None:
    """Grid of synthetic photos; each tile's right half shows the masks over the photo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from PIL import Image

    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.6, rows * 3.75), dpi=100)
    for i, ax in enumerate(axes.flat):
        scene = render_scene(
            scene_rng(seed, i), size, label_map=label_map, primary=primary_for(seed, i, label_map)
        )
        tile = scene.image.copy()
        tile[:, size // 2 :] = overlay(scene.image, scene.regions, label_map)[:, size // 2 :]
        tile[:, size // 2] = 255
        ax.imshow(tile)
        pairs = zip(scene.names, scene.regions, strict=True)
        title = ", ".join(f"{nm} ({r.severity})" for nm, r in pairs) or "no damage"
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=c.colour, label=c.name) for c in label_map.classes]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    fig.suptitle("ml.synth: synthetic photos (left half) and their masks (right half)", fontsize=11)
    fig.tight_layout(rect=(0, 0.035, 1, 0.98))
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # an adaptive palette (plus the exact class colours, so the legend stays true) keeps the
    # PNG small enough for a repository
    im = Image.fromarray(np.ascontiguousarray(rgb))
    fixed = [c.rgb for c in label_map.classes] + [(0, 0, 0), (255, 255, 255)]
    adaptive = im.quantize(256 - len(fixed), method=Image.Quantize.MEDIANCUT).getpalette()
    colours = [v for c in fixed for v in c] + adaptive[: 3 * (256 - len(fixed))]
    pal = Image.new("P", (1, 1))
    pal.putpalette(colours + [0] * (768 - len(colours)))
    im.quantize(palette=pal, dither=Image.Dither.NONE).save(path, optimize=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.synth", description=__doc__)
    parser.add_argument("--out", type=Path, help="output folder (images/ + annotations.json)")
    parser.add_argument("--n", type=int, default=100, help="number of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="square image side in px")
    parser.add_argument("--label-map", type=Path, help="label map JSON (default: cardd-6)")
    parser.add_argument("--gallery", type=Path, help="also write a 4x3 gallery PNG here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    lm = LabelMap.from_json(args.label_map) if args.label_map else DEFAULT_LABEL_MAP
    if args.out is None and args.gallery is None:
        parser.error("give --out and/or --gallery")
    if args.out is not None:
        generate(args.out, args.n, seed=args.seed, size=args.size, label_map=lm)
    if args.gallery is not None:
        render_gallery(args.gallery, seed=args.seed, label_map=lm)
        logger.info("gallery written to %s", args.gallery)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
