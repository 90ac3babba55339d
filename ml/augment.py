"""Paired image/mask augmentation and copy-paste of real damage, deterministic given a Generator.

Every transform is called as ``t(image, mask, rng) -> (image, mask)`` with ``image`` uint8
H x W x 3 RGB and ``mask`` uint8 H x W semantic (see :mod:`ml.labels`). Geometry moves both;
masks are resampled with NEAREST so no new label values appear, and pixels that come from
outside the source image are ``IGNORE_INDEX`` (nobody knows what is there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ml.labels import IGNORE_INDEX

Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _size2(size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width)."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _check(image: np.ndarray, mask: np.ndarray) -> None:
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")


@dataclass
class Compose:
    transforms: Sequence[Transform]

    def __call__(self, image, mask, rng):
        for t in self.transforms:
            image, mask = t(image, mask, rng)
        return image, mask


@dataclass
class Resize:
    size: int | tuple[int, int]

    def __call__(self, image, mask, rng):
        _check(image, mask)
        h, w = _size2(self.size)
        shrink = h * w < image.shape[0] * image.shape[1]
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        return (
            cv2.resize(image, (w, h), interpolation=interp),
            cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST),
        )


@dataclass
class RandomResizedCrop:
    """Crop a random area share in ``scale`` with aspect in ``ratio`` and resize to ``size``.

    With probability ``damage_bias`` the crop is centred near a random damage pixel: damage
    covers ~1-5 % of a photo, so unbiased crops mostly teach "background".
    """

    size: int | tuple[int, int]
    scale: tuple[float, float] = (0.25, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    damage_bias: float = 0.0

    def __call__(self, image, mask, rng):
        _check(image, mask)
        H, W = mask.shape
        area = H * W * rng.uniform(*self.scale)
        log_r = rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]))
        ar = math.exp(log_r)
        cw = round(min(W, math.sqrt(area * ar)))
        ch = round(min(H, math.sqrt(area / ar)))
        cw, ch = max(cw, 1), max(ch, 1)
        ys, xs = None, None
        if self.damage_bias > 0 and rng.random() < self.damage_bias:
            ys, xs = np.nonzero((mask > 0) & (mask != IGNORE_INDEX))
        if ys is not None and len(ys):
            i = int(rng.integers(len(ys)))
            x0 = int(np.clip(xs[i] - cw * rng.uniform(0.2, 0.8), 0, W - cw))
            y0 = int(np.clip(ys[i] - ch * rng.uniform(0.2, 0.8), 0, H - ch))
        else:
            x0 = int(rng.integers(0, W - cw + 1))
            y0 = int(rng.integers(0, H - ch + 1))
        return Resize(self.size)(
            image[y0 : y0 + ch, x0 : x0 + cw], mask[y0 : y0 + ch, x0 : x0 + cw], rng
        )


def hflip(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1])


@dataclass
class RandomHorizontalFlip:
    p: float = 0.5

    def __call__(self, image, mask, rng):
        return hflip(image, mask) if rng.random() < self.p else (image, mask)


def warp(image: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply a 3x3 homography; outside pixels: image reflected, mask ``IGNORE_INDEX``."""
    h, w = mask.shape
    img = cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
    m = cv2.warpPerspective(mask, matrix, (w, h), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE_INDEX)  # fmt: skip
    return img, m


@dataclass
class RandomRotation:
    """Camera roll of up to ``degrees``; phone photos are rarely level."""

    degrees: float = 10.0
    p: float = 0.5

    def __call__(self, image, mask, rng):
        _check(image, mask)
        if rng.random() >= self.p:
            return image, mask
        h, w = mask.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-self.degrees, self.degrees), 1.0)
        return warp(image, mask, np.vstack([m, [0, 0, 1]]))


@dataclass
class RandomPerspective:
    """Move each corner by up to ``distortion`` x side: a different viewpoint on the panel."""

    distortion: float = 0.1
    p: float = 0.5

    def __call__(self, image, mask, rng):
        _check(image, mask)
        if rng.random() >= self.p:
            return image, mask
        h, w = mask.shape
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        jit = rng.uniform(-self.distortion, self.distortion, (4, 2)) * [w, h]
        mat = cv2.getPerspectiveTransform(src, (src + jit).astype(np.float32))
        return warp(image, mask, mat)


@dataclass
class ColorJitter:
    """Brightness/contrast/saturation factors in ``1 +- x``; hue shift in ``+- hue`` turns."""

    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.03

    def __call__(self, image, mask, rng):
        img = image.astype(np.float32)
        img *= rng.uniform(1 - self.brightness, 1 + self.brightness)
        mean = img.mean()
        img = (img - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast) + mean
        img = np.clip(img, 0, 255).astype(np.uint8)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 1] *= rng.uniform(1 - self.saturation, 1 + self.saturation)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-self.hue, self.hue) * 180) % 180
        hsv = np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), mask


@dataclass
class RandomBlur:
    sigma: tuple[float, float] = (0.3, 1.5)
    p: float = 0.3

    def __call__(self, image, mask, rng):
        if rng.random() >= self.p:
            return image, mask
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(*self.sigma)), mask


@dataclass
class RandomNoise:
    std: tuple[float, float] = (1.0, 8.0)
    p: float = 0.3

    def __call__(self, image, mask, rng):
        if rng.random() >= self.p:
            return image, mask
        noise = rng.normal(0, rng.uniform(*self.std), image.shape)
        return np.clip(image + noise, 0, 255).astype(np.uint8), mask


@dataclass
class RandomJpeg:
    """Re-encode at a random quality: customer photos arrive recompressed by apps."""

    quality: tuple[int, int] = (35, 95)
    p: float = 0.3

    def __call__(self, image, mask, rng):
        if rng.random() >= self.p:
            return image, mask
        q = int(rng.integers(self.quality[0], self.quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            return image, mask
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy(), mask


def train_transforms(size: int = 384, *, damage_bias: float = 0.5) -> Compose:
    """A reasonable default training pipeline for photos of cars."""
    return Compose(
        [
            RandomResizedCrop(size, scale=(0.2, 1.0), damage_bias=damage_bias),
            RandomHorizontalFlip(),
            RandomRotation(8, p=0.3),
            RandomPerspective(0.06, p=0.2),
            ColorJitter(),
            RandomBlur(),
            RandomNoise(),
            RandomJpeg(),
        ]
    )


def eval_transforms(size: int = 512) -> Compose:
    return Compose([Resize(size)])


# --------------------------------------------------------------------------- copy-paste


@dataclass
class PasteInfo:
    """Where each pasted component went (x0, y0, x1, y1) and its label value."""

    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    values: list[int] = field(default_factory=list)


def _components(mask: np.ndarray, min_area: int) -> list[tuple[int, np.ndarray, tuple]]:
    out = []
    for value in np.unique(mask):
        if value == 0 or value == IGNORE_INDEX:
            continue
        n, lab, stats, _ = cv2.connectedComponentsWithStats((mask == value).astype(np.uint8), 8)
        for k in range(1, n):
            x, y, w, h, area = stats[k]
            if area >= min_area:
                out.append((int(value), lab[y : y + h, x : x + w] == k, (x, y, w, h)))
    return out


def copy_paste(
    dst_image: np.ndarray,
    dst_mask: np.ndarray,
    src_image: np.ndarray,
    src_mask: np.ndarray,
    rng: np.random.Generator,
    *,
    max_regions: int = 2,
    min_area: int = 64,
    scale: tuple[float, float] = (0.7, 1.3),
    feather: float = 3.0,
    dst_valid: np.ndarray | None = None,
    return_info: bool = False,
):
    """Paste damage components of ``src`` onto ``dst`` and label them in ``dst_mask``.

    Each component (connected region of one damage value) is cut with a context margin,
    randomly scaled and mirrored, and colour-matched: its Lab mean/std around the damage are
    moved to those of the destination area (chroma only for paint-like pixels), so a scratch on
    a red door pasted on a white car keeps its contrast but takes the white paint. The alpha
    edge is feathered (``feather`` px Gaussian) so no cut line is learnable; the label is
    written where the blurred mask is >= 0.5 (the component's own edge).

    ``dst_valid`` (bool H x W, e.g. a car mask or the content box) limits where centres go;
    destination pixels that are already damage or void are not overwritten by the label.
    Returns ``(image, mask)`` or ``(image, mask, PasteInfo)``.
    """
    _check(dst_image, dst_mask)
    _check(src_image, src_mask)
    img = dst_image.astype(np.float32)
    out_mask = dst_mask.copy()
    info = PasteInfo()
    comps = _components(src_mask, min_area)
    H, W = dst_mask.shape
    if comps:
        order = rng.permutation(len(comps))[: int(rng.integers(1, max_regions + 1))]
        lab_dst = cv2.cvtColor(dst_image, cv2.COLOR_RGB2LAB).astype(np.float32)
        for idx in order:
            value, comp, (x, y, w, h) = comps[int(idx)]
            pad = max(4, int(0.25 * max(w, h)))
            sy0, sx0 = max(0, y - pad), max(0, x - pad)
            sy1, sx1 = min(src_mask.shape[0], y + h + pad), min(src_mask.shape[1], x + w + pad)
            patch = src_image[sy0:sy1, sx0:sx1]
            cmask = np.zeros(patch.shape[:2], np.uint8)
            cmask[y - sy0 : y - sy0 + h, x - sx0 : x - sx0 + w] = comp
            f = rng.uniform(*scale)
            ph = max(2, min(H, round(patch.shape[0] * f)))
            pw = max(2, min(W, round(patch.shape[1] * f)))
            patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_LINEAR)
            cmask = cv2.resize(cmask, (pw, ph), interpolation=cv2.INTER_NEAREST)
            if rng.random() < 0.5:
                patch, cmask = patch[:, ::-1], cmask[:, ::-1]
            # destination: a centre inside dst_valid (or anywhere) that keeps the patch inside
            cand = np.ones((H, W), bool) if dst_valid is None else dst_valid.astype(bool)
            cand = cand.copy()
            cand[: ph // 2, :] = False
            cand[H - (ph - ph // 2) + 1 :, :] = False
            cand[:, : pw // 2] = False
            cand[:, W - (pw - pw // 2) + 1 :] = False
            ys, xs = np.nonzero(cand[::4, ::4])
            if len(ys) == 0:
                continue
            i = int(rng.integers(len(ys)))
            dy0 = min(H - ph, max(0, int(ys[i]) * 4 - ph // 2))
            dx0 = min(W - pw, max(0, int(xs[i]) * 4 - pw // 2))
            # colour match in Lab, using the ring around the damage (src) and the target area
            lab_p = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2LAB).astype(np.float32)
            ring = cv2.dilate(cmask, np.ones((5, 5), np.uint8)) == 0  # paint, not damage edge
            if ring.sum() < 8:
                ring = np.ones_like(ring, bool)
            area = lab_dst[dy0 : dy0 + ph, dx0 : dx0 + pw]
            mu_s, sd_s = lab_p[ring].mean(0), lab_p[ring].std(0) + 1.0
            mu_d, sd_d = area.reshape(-1, 3).mean(0), area.reshape(-1, 3).std(0) + 1.0
            gain = np.clip(sd_d / sd_s, 0.8, 1.25)  # keep the damage's own contrast
            # lightness moves fully; chroma moves only for paint-like pixels (close to the
            # ring's chroma), so black or primer-grey damage stays neutral instead of taking
            # the complementary colour of the source paint
            lab_p[..., 0] = (lab_p[..., 0] - mu_s[0]) * gain[0] + mu_d[0]
            dist2 = ((lab_p[..., 1:] - mu_s[1:]) ** 2).sum(-1, keepdims=True)
            w = np.exp(-dist2 / (2 * 20.0**2))
            lab_p[..., 1:] += w * (mu_d[1:] - mu_s[1:])
            lab_p = np.clip(lab_p, 0, 255).astype(np.uint8)
            rgb_p = cv2.cvtColor(lab_p, cv2.COLOR_LAB2RGB).astype(np.float32)
            soft = cmask.astype(np.float32)
            if feather > 0:
                soft = cv2.GaussianBlur(soft, (0, 0), feather)
            alpha = np.clip(soft * 1.5, 0, 1)  # keep the core opaque, soften only the rim
            sub = img[dy0 : dy0 + ph, dx0 : dx0 + pw]
            sub *= 1 - alpha[..., None]
            sub += alpha[..., None] * rgb_p
            lab_sub = out_mask[dy0 : dy0 + ph, dx0 : dx0 + pw]
            write = (soft >= 0.5) & (lab_sub == 0)
            lab_sub[write] = value
            info.boxes.append((dx0, dy0, dx0 + pw, dy0 + ph))
            info.values.append(value)
    result = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return (result, out_mask, info) if return_info else (result, out_mask)
