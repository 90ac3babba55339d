"""Test photos for the browser tests: a smooth drawing of a car side with damage painted on it.

Smooth drawings stay small as screenshots and make masks easy to check by eye.
"""

import io

import numpy as np
from PIL import Image, ImageDraw

Damage = tuple[str, tuple[float, float, float, float]]  # (kind, (cx, cy, rx, ry)) in pixels


def car_photo(
    size: tuple[int, int], damage: list[Damage], seed: int, *, wheel: int = 110, quality: int = 85
) -> bytes:
    """A JPEG of a car side (sky gradient, body, windows, wheels) with ``damage`` painted on:
    dents as darker ellipses, scratches as light strokes, cracks as dark zigzags."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(h):
        t = y / h
        draw.line(
            [(0, y), (w, y)], fill=(int(196 - 90 * t), int(212 - 100 * t), int(228 - 110 * t))
        )
    body = tuple(int(c) for c in rng.integers(150, 215, 3))
    radius = int(wheel * 0.73)
    draw.rounded_rectangle([w * 0.06, h * 0.38, w * 0.94, h * 0.78], radius=radius, fill=body)
    draw.polygon(
        [(w * 0.25, h * 0.40), (w * 0.36, h * 0.2), (w * 0.66, h * 0.2), (w * 0.78, h * 0.40)],
        fill=body,
    )
    for x0, x1 in ((0.31, 0.5), (0.52, 0.73)):
        draw.polygon(
            [
                (w * x0, h * 0.39),
                (w * (x0 + 0.07), h * 0.24),
                (w * (x1 - 0.07), h * 0.24),
                (w * x1, h * 0.39),
            ],
            fill=(52, 70, 88),
        )
    hub = wheel // 2
    for cx in (0.24, 0.76):
        top = h * 0.66
        draw.ellipse([w * cx - wheel, top, w * cx + wheel, top + 2 * wheel], fill=(28, 28, 30))
        draw.ellipse(
            [w * cx - hub, top + hub, w * cx + hub, top + hub + 2 * hub], fill=(160, 160, 165)
        )
    darker = tuple(max(0, c - 45) for c in body)
    for kind, (cx, cy, rx, ry) in damage:
        if kind == "dent":
            draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=darker)
        elif kind == "scratch":
            for i in range(5):
                dy = (i - 2) * ry / 3
                draw.line(
                    [(cx - rx, cy + dy - 6), (cx + rx, cy + dy + 8)], fill=(240, 240, 236), width=3
                )
        elif kind == "crack":
            points = [
                (cx - rx + i * rx / 4, cy + (ry * 0.7 if i % 2 else -ry * 0.7)) for i in range(9)
            ]
            draw.line(points, fill=(30, 30, 30), width=5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()
