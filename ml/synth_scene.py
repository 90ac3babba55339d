"""One synthetic scene of ``ml.synth``: where the camera looks, which damage goes where, the
car painted part by part over its background, the damage layers and the camera's roll, blur,
noise and JPEG, plus the per-image generator and the framed damage type of each index."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ml.coco import Region
from ml.labels import DEFAULT_LABEL_MAP, LabelMap, severity_for
from ml.synth_car import (
    ARCH,
    BELTLINE,
    BODY,
    BUMPER,
    DOOR_GAPS,
    FRONT_BUMPER,
    GLASS,
    GREENHOUSE,
    HEADLAMP,
    HEADLAMP_POLY,
    PAINTS,
    REAR_BUMPER,
    SILHOUETTE,
    TAILLAMP,
    TAILLAMP_POLY,
    TRIM,
    TYRE_F,
    TYRE_R,
    WHEELS_X,
    _body_profile,
    _lamp,
    _render_tyre,
)
from ml.synth_damage import (
    DAMAGE_TYPES,
    HOSTS,
    _crack,
    _dent_field,
    _lamp_break,
    _scratch,
    _shatter,
)
from ml.synth_draw import _Cam, _chaikin, _fill, _noise, _over, _smoothstep
from ml.synth_env import _background, _make_env


@dataclass
class Scene:
    """One rendered image (uint8 RGB after JPEG), its JPEG bytes and its damage regions."""

    image: np.ndarray
    jpeg: bytes
    regions: list[Region] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


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
