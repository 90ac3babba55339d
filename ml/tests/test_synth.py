"""Synthetic generator: determinism, class coverage, exact in-image masks, COCO output."""

import numpy as np
import pytest

from ml.coco import read_coco, semantic_mask
from ml.labels import DEFAULT_LABEL_MAP, SEVERITIES, UNTYPED_DAMAGE, LabelMap
from ml.synth import DAMAGE_TYPES, main, primary_for, render_scene, scene_rng

SIZE = 192  # small: the tests check bookkeeping, not looks


@pytest.fixture(scope="module")
def batch():
    return [
        render_scene(scene_rng(3, i), SIZE, primary=primary_for(3, i, DEFAULT_LABEL_MAP))
        for i in range(12)
    ]


def test_render_scene_same_seed_same_bytes():
    a = render_scene(scene_rng(7, 0), SIZE)
    b = render_scene(scene_rng(7, 0), SIZE)
    assert a.jpeg == b.jpeg
    assert len(a.regions) == len(b.regions)
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.regions, b.regions, strict=True))


def test_render_scene_different_seed_different_image():
    a = render_scene(scene_rng(7, 0), SIZE)
    b = render_scene(scene_rng(8, 0), SIZE)
    assert a.jpeg != b.jpeg
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() > 5


def test_render_scene_every_damage_class_over_a_batch(batch):
    seen = {DEFAULT_LABEL_MAP.by_id(r.class_id).name for s in batch for r in s.regions}
    assert seen == set(DAMAGE_TYPES)


def test_render_scene_masks_non_empty_inside_image_with_severity(batch):
    for scene in batch:
        assert scene.image.shape == (SIZE, SIZE, 3)
        assert scene.image.dtype == np.uint8
        assert scene.regions, "every scene frames one damage"
        for r in scene.regions:
            assert r.mask.shape == (SIZE, SIZE)
            assert r.mask.dtype == bool
            assert r.area > 0
            assert r.severity in SEVERITIES
            assert 1 <= r.class_id <= 6


def test_render_scene_damage_changes_pixels(batch):
    # a labelled region must look different from a clean render: compare each damage's
    # pixels with its ring of surrounding pixels -> not all identical colour
    for scene in batch:
        for r in scene.regions:
            assert scene.image[r.mask].std() > 2


def test_render_scene_custom_taxonomy_renders_only_shared_names():
    lm = LabelMap.from_names(["scratch", "rust"])
    scenes = [render_scene(scene_rng(1, i), SIZE, label_map=lm) for i in range(4)]
    ids = {r.class_id for s in scenes for r in s.regions}
    assert ids == {1}


def test_synth_main_writes_coco_readable_dataset(tmp_path):
    # when
    rc = main(["--out", str(tmp_path / "ds"), "--n", "3", "--seed", "5", "--size", "128"])
    # then
    assert rc == 0
    samples = read_coco(tmp_path / "ds" / "annotations.json", DEFAULT_LABEL_MAP)
    assert [s.image_path.name for s in samples] == ["000000.jpg", "000001.jpg", "000002.jpg"]
    assert all(s.image_path.is_file() for s in samples)
    again = render_scene(scene_rng(5, 1), 128, primary=primary_for(5, 1, DEFAULT_LABEL_MAP))
    assert samples[1].image_path.read_bytes() == again.jpeg
    sem = semantic_mask(samples[1])
    assert np.array_equal(sem, semantic_mask(again.regions, 128, 128))
    assert UNTYPED_DAMAGE not in sem
    assert (tmp_path / "ds" / "label_map.json").is_file()
