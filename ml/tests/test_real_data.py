"""De-duplication and splits of the real car-damage photos (skips where the data is absent)."""

import hashlib

import numpy as np
import pytest

from ml.coco import load_real_car_damage, real_dataset_available, semantic_mask
from ml.labels import UNTYPED_DAMAGE

pytestmark = pytest.mark.realdata


def _rel(s, root):
    return s.image_path.relative_to(root).as_posix()


def test_real_dataset_available_false_for_missing_root(tmp_path):
    assert real_dataset_available(tmp_path / "nope") is False


def test_load_real_car_damage_removes_listed_duplicates(real_root):
    splits = load_real_car_damage(real_root)
    assert splits.removed == {
        "images/test/66.jpg": "images/train/17.jpg",
        "images/train/48.jpg": "images/train/25.jpg",
        "images/train/79.jpg": "images/train/19.jpg",
        "images/train/33.jpg": "images/train/8.jpg",
    }
    assert (len(splits.train), len(splits.val), len(splits.test)) == (51, 8, 8)
    assert len(splits.unlabelled) == 7


def test_load_real_car_damage_splits_disjoint_by_content(real_root):
    splits = load_real_car_damage(real_root)
    groups = {}
    for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        for s in part:
            digest = hashlib.sha256(s.image_path.read_bytes()).hexdigest()
            assert digest not in groups, (
                f"{_rel(s, real_root)} duplicates a photo in {groups.get(digest)}"
            )
            groups[digest] = name
    assert {_rel(s, real_root) for s in splits.test} == {
        p.relative_to(real_root).as_posix() for p in (real_root / "images" / "val").glob("*.jpg")
    }


def test_load_real_car_damage_is_deterministic_and_seeded(real_root):
    a = load_real_car_damage(real_root, with_content_box=False)
    b = load_real_car_damage(real_root, with_content_box=False)
    c = load_real_car_damage(real_root, seed=1, with_content_box=False)
    names = lambda sp: [_rel(s, real_root) for s in sp.val]  # noqa: E731
    assert names(a) == names(b)
    assert names(a) != names(c)


def test_load_real_car_damage_masks_are_untyped(real_root):
    splits = load_real_car_damage(real_root)
    s = splits.train[0]
    sem = semantic_mask(s)
    assert sem.shape == (1024, 1024)
    assert set(np.unique(sem)) == {0, UNTYPED_DAMAGE}
    assert all(
        r.class_id is None for sp in (splits.train, splits.val) for x in sp for r in x.regions
    )
    # a letter-boxed photo gets a content box inside its black bars
    boxes = {_rel(x, real_root): x.content_box for x in splits.train + splits.val + splits.test}
    assert boxes["images/train/21.jpg"][1] > 64
