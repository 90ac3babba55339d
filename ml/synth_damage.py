"""Damage as ``ml.synth`` paints it: the types, the parts each may sit on, the dent height
field that bends the paint's reflection, and the scratch, crack, shatter and broken-lamp
layers (colour, alpha and the exact mask of each)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ml.synth_car import BODY, BUMPER, GLASS, HEADLAMP, TAILLAMP, TYRE_F, TYRE_R
from ml.synth_draw import _fill, _jagged, _noise, _over

DAMAGE_TYPES = ("dent", "scratch", "crack", "glass_shatter", "lamp_broken", "tire_flat")

# The parts each damage type can sit on (ids from ml.synth_car).
HOSTS = {
    "dent": (BODY,),
    "scratch": (BODY, BUMPER),
    "crack": (BUMPER, BODY),
    "glass_shatter": (GLASS,),
    "lamp_broken": (HEADLAMP, TAILLAMP),
    "tire_flat": (TYRE_F, TYRE_R),
}


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
