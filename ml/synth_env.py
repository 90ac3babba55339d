"""The world around a synthetic car (``ml.synth``): the environment its paint reflects (sky,
skyline, ground) and the blurred background it stands in front of."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ml.synth_draw import _noise, _over, _smoothstep


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
