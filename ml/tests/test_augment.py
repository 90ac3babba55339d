"""Paired augmentation keeps masks valid and aligned; copy-paste labels what it pastes."""

import numpy as np
import pytest

from ml.augment import (
    ColorJitter,
    Compose,
    RandomHorizontalFlip,
    RandomPerspective,
    RandomResizedCrop,
    RandomRotation,
    Resize,
    copy_paste,
    hflip,
    train_transforms,
)
from ml.labels import IGNORE_INDEX, UNTYPED_DAMAGE

ALLOWED = {0, 1, 3, UNTYPED_DAMAGE, IGNORE_INDEX}


def _pair(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[10:40, 20:60] = 1
    mask[50:70, 80:120] = 3
    mask[30:50, 50:70] = UNTYPED_DAMAGE
    # image carries the mask so alignment is checkable: red channel = label
    image[..., 0] = mask
    return image, mask


def test_hflip_twice_is_identity():
    image, mask = _pair()
    i2, m2 = hflip(*hflip(image, mask))
    assert np.array_equal(i2, image)
    assert np.array_equal(m2, mask)
    _, m1 = hflip(image, mask)
    assert m1[10, 128 - 21] == 1 and m1[10, 20] == 0


def test_resize_uses_nearest_no_new_labels():
    image, mask = _pair()
    _, m = Resize((61, 77))(image, mask, np.random.default_rng(0))
    assert m.shape == (61, 77)
    assert set(np.unique(m)) == {0, 1, 3, UNTYPED_DAMAGE}


@pytest.mark.parametrize(
    "transform",
    [
        RandomResizedCrop(64, damage_bias=0.5),
        RandomRotation(15, p=1.0),
        RandomPerspective(0.15, p=1.0),
        train_transforms(64),
    ],
)
def test_geometric_transforms_keep_allowed_values_and_alignment(transform):
    for seed in range(5):
        image, mask = _pair(seed=seed)
        # image red channel = label; geometry must move both the same way
        image[..., 0] = np.where(mask == UNTYPED_DAMAGE, 200, mask * 60)
        img, m = Compose([transform])(image, mask, np.random.default_rng(seed))
        assert img.shape[:2] == m.shape
        assert set(np.unique(m)) <= ALLOWED
        if isinstance(transform, Compose):
            continue  # photometric steps change the red channel too
        inner = (m == 3) & (np.abs(np.gradient(m.astype(float))[0]) == 0)
        if inner.any():
            assert np.median(img[..., 0][inner]) == pytest.approx(180, abs=25)


def test_transforms_deterministic_given_generator():
    image, mask = _pair()
    t = train_transforms(64)
    a = t(image, mask, np.random.default_rng(42))
    b = t(image, mask, np.random.default_rng(42))
    c = t(image, mask, np.random.default_rng(43))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_rotation_marks_outside_pixels_void():
    image, mask = _pair()
    _, m = RandomRotation(30, p=1.0)(image, mask, np.random.default_rng(1))
    assert m[0, 0] == IGNORE_INDEX or m[0, -1] == IGNORE_INDEX


def test_color_jitter_leaves_mask_untouched():
    image, mask = _pair()
    img, m = ColorJitter(0.5, 0.5, 0.5, 0.1)(image, mask, np.random.default_rng(0))
    assert m is mask
    assert not np.array_equal(img, image)


def test_random_flip_probability_zero_is_noop():
    image, mask = _pair()
    img, m = RandomHorizontalFlip(p=0.0)(image, mask, np.random.default_rng(0))
    assert img is image and m is mask


def test_copy_paste_labels_pasted_damage_and_changes_pixels():
    # given: a grey destination without damage and a source with one dark scratch blob
    rng = np.random.default_rng(0)
    dst = np.full((128, 128, 3), 180, np.uint8)
    dst_mask = np.zeros((128, 128), np.uint8)
    src = np.full((96, 96, 3), (200, 30, 30), np.uint8)
    src_mask = np.zeros((96, 96), np.uint8)
    src_mask[40:52, 30:70] = UNTYPED_DAMAGE
    src[40:52, 30:70] = (20, 20, 20)
    # when
    img, m, info = copy_paste(dst, dst_mask, src, src_mask, rng, return_info=True)
    # then
    assert info.values == [UNTYPED_DAMAGE]
    assert set(np.unique(m)) == {0, UNTYPED_DAMAGE}
    area = int((m == UNTYPED_DAMAGE).sum())
    assert 0.4 * 12 * 40 < area < 1.8 * 12 * 40
    labelled = img[m == UNTYPED_DAMAGE].astype(int)
    assert labelled.mean() < 120  # the dark damage came along
    # colour matched: the red context of the source did not come along
    assert np.abs(img[..., 0].astype(int) - img[..., 1].astype(int)).max() < 40
    far = np.ones_like(m, bool)
    x0, y0, x1, y1 = info.boxes[0]
    far[y0:y1, x0:x1] = False
    assert np.array_equal(img[far], dst[far])  # nothing changes outside the pasted box


def test_copy_paste_respects_dst_valid_and_existing_labels():
    rng = np.random.default_rng(3)
    dst = np.full((128, 128, 3), 120, np.uint8)
    dst_mask = np.zeros((128, 128), np.uint8)
    dst_mask[:, :64] = 2  # left half already labelled
    valid = np.zeros((128, 128), bool)
    valid[:, 64:] = True
    src = np.full((64, 64, 3), 120, np.uint8)
    src_mask = np.zeros((64, 64), np.uint8)
    src_mask[20:30, 20:30] = 1
    _, m = copy_paste(dst, dst_mask, src, src_mask, rng, dst_valid=valid, max_regions=1)
    assert (m[:, :64] == 2).all()
    assert (m == 1).sum() > 0
    assert np.nonzero(m == 1)[1].mean() > 64


def test_copy_paste_without_source_damage_returns_inputs_unchanged():
    image, mask = _pair()
    empty = np.zeros_like(mask)
    img, m = copy_paste(image, mask, image, empty, np.random.default_rng(0))
    assert np.array_equal(img, image) and np.array_equal(m, mask)
