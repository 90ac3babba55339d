"""Real photo sets: taxonomy mapping, splits, masks (fixtures in the sets' formats; real data
checks skip where ../shared/datasets is absent)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ml import sources
from ml.labels import DEFAULT_PART_MAP, IGNORE_INDEX, PRODUCT_LABEL_MAP, UNTYPED_DAMAGE
from ml.tests.source_fixtures import make_datasets


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_datasets(tmp_path_factory.mktemp("datasets"))


def test_bilgi_categories_map_every_class_to_the_label_map_or_void():
    targets = {target for _, target, _ in sources.BILGI_CATEGORIES}
    assert targets <= set(PRODUCT_LABEL_MAP.names[1:]) | {"ignore"}
    assert dict((s, t) for s, t, _ in sources.BILGI_CATEGORIES)["airbag"] == "ignore"
    assert all(reason for _, _, reason in sources.BILGI_CATEGORIES)


def test_part_maps_reach_only_known_parts():
    assert set(sources.DSMLR_PARTS.values()) <= set(DEFAULT_PART_MAP.names)
    assert set(sources.REAL_PARTS.values()) <= set(DEFAULT_PART_MAP.names) | {"ignore"}
    assert len(sources.DSMLR_PARTS) == 18


def test_dhash_groups_join_near_identical_photos_only():
    names = ["a", "b", "c"]
    hashes = ["ffffffffffffffff", "fffffffffffffff0", "0000000000000000"]  # a~b: 4 bits
    groups = sources.dhash_groups(names, hashes)
    assert groups == {"a": "a", "b": "a", "c": "c"}


def test_bilgi_valid_folder_is_the_test_split(fake_root):
    test = sources.bilgi_items("test", root=fake_root)
    train = sources.bilgi_items("train", root=fake_root)
    val = sources.bilgi_items("val", root=fake_root)
    assert sorted(int(it.name.split("/b")[-1][:-4]) for it in test) == [0, 4, 8]
    names = [it.name for it in train + val + test]
    assert len(names) == len(set(names)) == 12


def test_bilgi_masks_carry_mapped_types_and_void_airbags(fake_root):
    items = sources.bilgi_items("train", root=fake_root) + sources.bilgi_items(
        "val", root=fake_root
    )
    values = set(np.unique(np.concatenate([it.mask.ravel() for it in items])).tolist())
    dent = PRODUCT_LABEL_MAP.by_name("dent").id
    assert dent in values and IGNORE_INDEX in values  # hood damage/dent; airbag is void
    assert values <= set(range(PRODUCT_LABEL_MAP.num_classes)) | {IGNORE_INDEX}
    assert all(it.damaged and (it.parts == IGNORE_INDEX).all() for it in items)


def test_bilgi_unknown_type_in_an_older_taxonomy_becomes_untyped(fake_root):
    from ml.labels import DEFAULT_LABEL_MAP  # CarDD-6: no broken_part, no paint_damage

    items = sources.bilgi_items("train", root=fake_root, lm=DEFAULT_LABEL_MAP)
    values = set(np.unique(np.concatenate([it.mask.ravel() for it in items])).tolist())
    assert UNTYPED_DAMAGE in values


def test_dsmlr_parts_merge_left_and_right(fake_root):
    items = sources.split_items("dsmlr_train", root=fake_root)
    assert items and all(not it.damaged and not it.mask.any() for it in items)
    values = set(np.unique(np.concatenate([it.parts.ravel() for it in items])).tolist())
    assert values == {0, DEFAULT_PART_MAP.index("front_door"), DEFAULT_PART_MAP.index("wheel")}


def test_intact_splits_are_disjoint_and_deterministic(fake_root):
    parts = {
        s: [it.name for it in sources.wiki_items(s, root=fake_root)] for s in sources.INTACT_SHARES
    }
    assert sum(len(v) for v in parts.values()) == 12
    assert len({n for v in parts.values() for n in v}) == 12
    again = [it.name for it in sources.wiki_items("train", root=fake_root)]
    assert again == parts["train"]
    other_seed = [it.name for it in sources.wiki_items("train", root=fake_root, seed=1)]
    assert other_seed != parts["train"]


def test_split_items_rejects_unknown_split(fake_root):
    with pytest.raises(ValueError, match="unknown split"):
        sources.split_items("bilgi_holdout", root=fake_root)


def test_missing_set_names_its_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="bilgi-car-damage"):
        sources.bilgi_items("train", root=tmp_path)


# --------------------------------------------------------------------------- the real sets


@pytest.fixture(scope="module")
def shared_root():
    root = sources.datasets_root()
    if not all(sources.available(f, root) for f in sources.SOURCE_FOLDERS.values()):
        if os.environ.get("CLAIMVISION_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"real data sets required but not all found in {root}")
        pytest.skip(f"real data sets not found in {root}; tests that read them skip")
    return root


@pytest.mark.realdata
def test_real_bilgi_categories_are_all_mapped(shared_root):
    data = json.loads((shared_root / sources.BILGI / "annotations.json").read_text())
    assert {c["name"] for c in data["categories"]} == {s for s, _, _ in sources.BILGI_CATEGORIES}


@pytest.mark.realdata
def test_real_splits_never_share_a_photo_group(shared_root):
    for name, split in (("bilgi", sources._split_bilgi), ("wiki", sources._split_intact)):
        photos, _ = sources._read_source(sources.SOURCE_FOLDERS[name], shared_root)
        parts = split(photos, 0)
        groups = [{p.group for p in parts[s]} for s in ("train", "val", "test")]
        assert not (groups[0] & groups[1]) and not (groups[0] & groups[2])
        assert not (groups[1] & groups[2])
        if name == "bilgi":
            assert len(parts["test"]) == 416  # the upstream valid folder, whole


def test_the_cold_start_cut_partitions_bilgi_train_by_group(fake_root):
    photos, _ = sources._read_source(sources.BILGI, fake_root)
    split = sources._split_bilgi(photos, 0)
    base = {p.path.name for p in split["base"]}
    stream = {p.path.name for p in split["stream"]}
    assert base | stream == {p.path.name for p in split["train"]}
    assert not base & stream
    groups = {p.group: "base" if p.path.name in base else "stream" for p in split["train"]}
    assert all(
        ("base" if p.path.name in base else "stream") == groups[p.group] for p in split["train"]
    )


def test_a_sliced_spec_is_the_same_photos_in_name_order(fake_root):
    whole = sources.sliced_items("bilgi_test", root=fake_root)
    head = sources.sliced_items("bilgi_test:0:2", root=fake_root)
    rest = sources.sliced_items("bilgi_test:2:", root=fake_root)
    assert [it.name for it in whole] == sorted(it.name for it in whole)
    assert [it.name for it in head + rest] == [it.name for it in whole]
    assert len(head) == min(2, len(whole))
    with pytest.raises(ValueError):
        sources.sliced_items("bilgi_test:one:2", root=fake_root)
