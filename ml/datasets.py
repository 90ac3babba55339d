"""Torch datasets that mix synthetic typed scenes with real binary-labelled photos.

Images are decoded once and cached in memory at a reduced size (``cache_long_side``): on a
2-core machine JPEG decoding would otherwise cost more than the training step. Semantic masks
follow ``ml.labels`` conventions (0 background, 1..K types, 254 untyped damage, 255 ignore).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ml.inference import network_size
from ml.labels import IGNORE_INDEX

logger = logging.getLogger(__name__)


@dataclass
class SegItem:
    """One cached training/eval image: RGB uint8 (H, W, 3) and semantic mask uint8 (H, W)."""

    image: np.ndarray
    mask: np.ndarray
    source: str  # "synth", "real", or an ml.sources set ("bilgi", "dsmlr", "wiki")
    name: str
    # Car part per pixel (ml.labels.PartMap index, 255 = unknown); None = no part labels.
    parts: np.ndarray | None = None
    # Whole-photo truth: the car is damaged (None = unknown, then read off the mask).
    damaged: bool | None = None


def resize_long_side(
    image: np.ndarray, mask: np.ndarray | None, long_side: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize so max(H, W) == long_side (area filter for images, nearest for masks)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if abs(scale - 1.0) < 1e-6:
        return image, mask
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image, size, interpolation=interp)
    if mask is not None:
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    return image, mask


def items_from_samples(samples: Sequence, source: str, long_side: int) -> list[SegItem]:
    """Decode ``ml.coco.Sample`` records, crop letter-box bars, cache at ``long_side``."""
    from ml import coco

    items = []
    for s in samples:
        image = s.load_image()
        mask = np.asarray(coco.semantic_mask(s), dtype=np.uint8)
        if s.content_box is not None:
            x0, y0, x1, y1 = s.content_box
            if x1 - x0 >= 32 and y1 - y0 >= 32:
                image, mask = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        image, mask = resize_long_side(
            np.ascontiguousarray(image), np.ascontiguousarray(mask), long_side
        )
        items.append(SegItem(image=image, mask=mask, source=source, name=str(s.image_path)))
    return items


def read_rgb(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HWC RGB -> float32 CHW in [0, 255] (the network normalises internally)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()


def _photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32)
    img = img * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)  # contrast, brightness
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.6, 1.4)  # saturation
    img = img * rng.uniform(0.9, 1.1, size=(1, 1, 3))  # white balance
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.3:
        img = img + rng.normal(0, rng.uniform(2, 8), size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _damage_mask(mask: np.ndarray) -> np.ndarray:
    return (mask > 0) & (mask != IGNORE_INDEX)


class TrainCrops(Dataset):
    """Random scale, damage-biased crop, flip and photometric jitter of cached items.

    ``scale_range`` is relative to ``base_long_side`` (the inference input long side), so the
    network sees damage at the sizes it will meet in production. Randomness comes from
    ``(seed, epoch, index)`` so runs are reproducible and independent of worker count.
    """

    def __init__(
        self,
        items: Sequence[SegItem],
        crop_size: int,
        base_long_side: int,
        scale_range: tuple[float, float] = (0.7, 1.4),
        damage_crop_prob: float = 0.6,
        seed: int = 0,
        extra_augment: Callable | None = None,
    ) -> None:
        self.items = list(items)
        self.crop_size = crop_size
        self.base_long_side = base_long_side
        self.scale_range = scale_range
        self.damage_crop_prob = damage_crop_prob
        self.seed = seed
        self.epoch = 0
        self.extra_augment = extra_augment
        from ml.augment import RandomJpeg

        self.jpeg = RandomJpeg(p=0.3)  # customer photos arrive recompressed by apps

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, damage mask, part mask); the part mask is all 255 where parts are unknown."""
        rng = np.random.default_rng([self.seed, self.epoch, index, 7])
        item = self.items[index]
        image, mask = item.image, item.mask
        if self.extra_augment is not None:
            image, mask = self.extra_augment(image, mask, rng)
        parts = item.parts if item.parts is not None else np.full_like(mask, IGNORE_INDEX)
        # Damage and part masks travel as one 2-channel array through every geometric step.
        both = np.dstack([mask, parts])
        long_side = self.base_long_side * math.exp(rng.uniform(*np.log(self.scale_range)))
        image, both = resize_long_side(image, both, round(long_side))
        image, both = self._crop(image, both, rng)
        if rng.random() < 0.5:
            image, both = image[:, ::-1], both[:, ::-1]
        image = _photometric(np.ascontiguousarray(image), rng)
        image, both = self.jpeg(image, both, rng)
        both = torch.from_numpy(np.ascontiguousarray(both)).long()
        return to_tensor(image), both[..., 0], both[..., 1]

    def _crop(self, image: np.ndarray, both: np.ndarray, rng: np.random.Generator):
        c = self.crop_size
        h, w = both.shape[:2]
        if h < c or w < c:  # pad with ignore so padding is never scored
            ph, pw = max(0, c - h), max(0, c - w)
            image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=0)
            both = cv2.copyMakeBorder(
                both, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=(IGNORE_INDEX, IGNORE_INDEX)
            )
            h, w = both.shape[:2]
        ys, xs = (None, None)
        if rng.random() < self.damage_crop_prob:
            ys, xs = np.nonzero(_damage_mask(both[::4, ::4, 0]))
        if ys is not None and len(ys):
            k = rng.integers(len(ys))
            cy, cx = ys[k] * 4, xs[k] * 4
            y0 = int(np.clip(cy - rng.integers(c // 4, 3 * c // 4), 0, h - c))
            x0 = int(np.clip(cx - rng.integers(c // 4, 3 * c // 4), 0, w - c))
        else:
            y0, x0 = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        return image[y0 : y0 + c, x0 : x0 + c], both[y0 : y0 + c, x0 : x0 + c]


class CopyPasteDamage:
    """Paste damage from other cached items onto an item (``ml.augment.copy_paste``).

    Used on real photos: real untyped damage moves to other cars (more damage contexts from
    51 photos), synthetic typed damage lands on real cars (types seen on real paint and light).
    Each source list is tried with its own probability.
    """

    def __init__(self, sources: Sequence[tuple[Sequence[SegItem], float]]) -> None:
        self.sources = [(list(items), p) for items, p in sources if items and p > 0]

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        from ml.augment import copy_paste

        for items, p in self.sources:
            if rng.random() < p:
                src = items[int(rng.integers(len(items)))]
                image, mask = copy_paste(
                    image, mask, src.image, src.mask, rng, max_regions=2, min_area=64
                )
        return image, mask


class EvalImages(Dataset):
    """Whole images resized to the network size (long side ``long_side``), mask alongside."""

    def __init__(self, items: Sequence[SegItem], long_side: int) -> None:
        self.items = list(items)
        self.long_side = long_side

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, damage mask, part mask: all 255 where the item has no part labels)."""
        item = self.items[index]
        h, w = network_size(*item.mask.shape, self.long_side)
        image = cv2.resize(item.image, (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(item.mask, (w, h), interpolation=cv2.INTER_NEAREST)
        if item.parts is None:
            parts = np.full_like(mask, IGNORE_INDEX)
        else:
            parts = cv2.resize(item.parts, (w, h), interpolation=cv2.INTER_NEAREST)
        return to_tensor(image), torch.from_numpy(mask).long(), torch.from_numpy(parts).long()


class MixSampler(Sampler[int]):
    """Draw ``length`` indices per epoch from a concatenation of groups with fixed shares.

    ``offsets[i]`` is group i's first index in the concatenated dataset; ``shares`` sum to 1.
    Deterministic in ``(seed, epoch)``.
    """

    def __init__(
        self, sizes: Sequence[int], shares: Sequence[float], length: int, seed: int = 0
    ) -> None:
        active = [(n, s) for n, s in zip(sizes, shares, strict=True) if n > 0 and s > 0]
        if not active:
            raise ValueError("MixSampler needs at least one non-empty group with a share > 0")
        self.sizes = list(sizes)
        total = sum(s for n, s in zip(sizes, shares, strict=True) if n > 0)
        self.shares = [s / total if n > 0 else 0.0 for n, s in zip(sizes, shares, strict=True)]
        self.offsets = np.cumsum([0, *sizes[:-1]]).tolist()
        self.length = length
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch, 11])
        groups = rng.choice(len(self.sizes), size=self.length, p=self.shares)
        for g in groups:
            yield int(self.offsets[g] + rng.integers(self.sizes[g]))


def class_pixel_counts(items: Sequence[SegItem], num_classes: int) -> list[int]:
    """Pixel count per class id 0..num_classes-1 (untyped damage and ignore not counted)."""
    counts = np.zeros(256, dtype=np.int64)
    for it in items:
        counts += np.bincount(it.mask.ravel(), minlength=256)
    return counts[:num_classes].tolist()
