"""COCO readers/writers and mask helpers: exact pixels, polygons, both RLE flavours."""

import json
import re

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from ml.coco import (
    ERR_UNMAPPED_CATEGORY,
    Region,
    Sample,
    mask_to_polygons,
    mask_to_rle,
    polygons_to_mask,
    read_coco,
    rle_to_mask,
    semantic_mask,
    write_coco,
)
from ml.labels import DEFAULT_LABEL_MAP, IGNORE_INDEX, UNTYPED_DAMAGE, LabelMap

H, W = 12, 16


def _block(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def _uncompressed_rle(mask):
    """COCO's uncompressed RLE: run lengths over the column-major flattening, zeros first."""
    flat = mask.flatten(order="F").astype(np.uint8)
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return {"size": [H, W], "counts": counts}


def _write(tmp_path, categories, annotations):
    data = {
        "images": [{"id": 7, "file_name": "img/a.jpg", "width": W, "height": H}],
        "annotations": annotations,
        "categories": categories,
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools
def test_read_coco_polygon_gives_exact_rectangle(tmp_path):
    # given: a rectangle polygon covering x 2..6, y 3..8 (pixel centres inside)
    poly = [2.0, 3.0, 7.0, 3.0, 7.0, 9.0, 2.0, 9.0]
    path = _write(
        tmp_path,
        [{"id": 1, "name": "dent"}],
        [{"id": 1, "image_id": 7, "category_id": 1, "segmentation": [poly], "iscrowd": 0}],
    )
    # when
    (sample,) = read_coco(path, DEFAULT_LABEL_MAP)
    # then
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], H, W)))
    assert sample.image_path == tmp_path / "img" / "a.jpg"
    assert sample.regions[0].class_id == 1
    assert np.array_equal(sample.regions[0].mask, expected.astype(bool))
    assert sample.regions[0].area == 30


def test_read_coco_rle_compressed_and_uncompressed_exact(tmp_path):
    a = _block(1, 4, 2, 9)
    b = _block(5, 11, 10, 15) | _block(0, 2, 0, 1)
    path = _write(
        tmp_path,
        [{"id": 3, "name": "crack"}, {"id": 9, "name": "scratch"}],
        [
            {"id": 1, "image_id": 7, "category_id": 3, "segmentation": mask_to_rle(a)},
            {"id": 2, "image_id": 7, "category_id": 9, "segmentation": _uncompressed_rle(b)},
        ],
    )
    (sample,) = read_coco(path, DEFAULT_LABEL_MAP)
    assert [r.class_id for r in sample.regions] == [3, 2]
    assert np.array_equal(sample.regions[0].mask, a)
    assert np.array_equal(sample.regions[1].mask, b)


def test_read_coco_category_mapping_untyped_and_renames(tmp_path):
    path = _write(
        tmp_path,
        [{"id": 1, "name": "damage"}, {"id": 2, "name": "Kratzer"}],
        [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 1,
                "segmentation": mask_to_rle(_block(0, 2, 0, 2)),
            },
            {
                "id": 2,
                "image_id": 7,
                "category_id": 2,
                "segmentation": mask_to_rle(_block(5, 6, 5, 9)),
            },
        ],
    )
    (sample,) = read_coco(
        path, DEFAULT_LABEL_MAP, category_map={"damage": None, "Kratzer": "scratch"}
    )
    assert [r.class_id for r in sample.regions] == [None, 2]


def test_read_coco_unknown_category_raises(tmp_path):
    path = _write(tmp_path, [{"id": 1, "name": "rust"}], [])
    with pytest.raises(ValueError, match=re.escape(ERR_UNMAPPED_CATEGORY)):
        read_coco(path, DEFAULT_LABEL_MAP)


def test_read_coco_crowd_is_void(tmp_path):
    m = _block(2, 4, 2, 4)
    path = _write(
        tmp_path,
        [{"id": 1, "name": "dent"}],
        [{"id": 1, "image_id": 7, "category_id": 1, "segmentation": mask_to_rle(m), "iscrowd": 1}],
    )
    (sample,) = read_coco(path, DEFAULT_LABEL_MAP)
    assert sample.regions[0].class_id == IGNORE_INDEX
    assert semantic_mask(sample)[3, 3] == IGNORE_INDEX


def test_semantic_mask_values_and_painting_order():
    # given: untyped big region, a typed region inside it, a small typed inside a big typed
    regions = [
        Region(None, _block(0, 6, 0, 6)),
        Region(1, _block(0, 12, 8, 16)),  # big dent
        Region(2, _block(2, 4, 10, 12)),  # small scratch inside the dent
        Region(3, _block(1, 3, 1, 3)),  # crack inside untyped damage
        Region(IGNORE_INDEX, _block(10, 12, 0, 2)),
    ]
    # when
    sem = semantic_mask(regions, H, W)
    # then
    assert sem.dtype == np.uint8
    assert sem[0, 0] == UNTYPED_DAMAGE
    assert sem[2, 2] == 3
    assert sem[3, 11] == 2
    assert sem[8, 9] == 1
    assert sem[11, 1] == IGNORE_INDEX
    assert sem[8, 4] == 0
    assert set(np.unique(sem)) == {0, 1, 2, 3, UNTYPED_DAMAGE, IGNORE_INDEX}


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools
def test_write_coco_round_trip_pixel_exact_and_pycocotools_readable(tmp_path):
    # given
    rng = np.random.default_rng(0)
    noisy = rng.random((H, W)) > 0.6
    samples = [
        Sample(
            tmp_path / "images" / "0.jpg",
            W,
            H,
            [Region(1, noisy, "minor"), Region(None, _block(0, 3, 0, 3))],
        ),
        Sample(
            tmp_path / "images" / "1.jpg", W, H, [Region(6, _block(4, 12, 3, 9), "severe", 0.9)]
        ),
        Sample(tmp_path / "images" / "2.jpg", W, H, []),
    ]
    path = tmp_path / "out" / "coco.json"
    # when
    write_coco(samples, DEFAULT_LABEL_MAP, path, image_root=tmp_path)
    back = read_coco(path, DEFAULT_LABEL_MAP, image_root=tmp_path)
    # then
    assert [s.image_path for s in back] == [s.image_path for s in samples]
    assert np.array_equal(back[0].regions[0].mask, noisy)
    assert back[0].regions[0].severity == "minor"
    assert back[0].regions[1].class_id is None
    assert back[1].regions[0].class_id == 6
    assert back[1].regions[0].score == pytest.approx(0.9)
    assert back[2].regions == []
    coco = COCO(str(path))
    ann = coco.loadAnns(coco.getAnnIds(imgIds=[2]))[0]
    assert np.array_equal(coco.annToMask(ann).astype(bool), _block(4, 12, 3, 9))
    assert ann["bbox"] == [3, 4, 6, 8]
    assert ann["attributes"]["severity"] == "severe"
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} >= {"dent", "tire_flat", "damage"}


def test_write_coco_is_reproducible(tmp_path):
    s = [Sample(tmp_path / "a.jpg", W, H, [Region(2, _block(1, 5, 1, 5), "minor")])]
    write_coco(s, DEFAULT_LABEL_MAP, tmp_path / "a.json")
    write_coco(s, DEFAULT_LABEL_MAP, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_write_coco_custom_label_map_categories(tmp_path):
    lm = LabelMap.from_names(["paint", "deformation", "broken_part"])
    s = [Sample(tmp_path / "a.jpg", W, H, [Region(3, _block(1, 5, 1, 5))])]
    data = write_coco(s, lm, tmp_path / "a.json")
    assert [c["name"] for c in data["categories"]] == ["paint", "deformation", "broken_part"]
    assert read_coco(tmp_path / "a.json", lm)[0].regions[0].class_id == 3


def test_mask_to_rle_ascii_and_inverse():
    m = _block(2, 7, 3, 11)
    rle = mask_to_rle(m)
    assert rle["size"] == [H, W]
    assert isinstance(rle["counts"], str)
    json.dumps(rle)  # JSON-ready
    assert np.array_equal(rle_to_mask(rle), m)
    assert np.array_equal(rle_to_mask(_uncompressed_rle(m)), m)


def test_mask_polygons_round_trip_rectangle():
    m = np.zeros((40, 50), bool)
    m[10:30, 5:25] = True
    polys = mask_to_polygons(m)
    assert len(polys) == 1
    back = polygons_to_mask(polys, 40, 50)
    # contours run through pixel centres, so the rasterised polygon loses at most the
    # outer half-pixel ring: IoU stays high and nothing appears outside the box
    iou = (back & m).sum() / (back | m).sum()
    assert iou > 0.85
    assert not (back & ~m).any()


def test_mask_to_polygons_separate_components():
    m = np.zeros((40, 50), bool)
    m[2:10, 2:10] = True
    m[20:30, 30:45] = True
    assert len(mask_to_polygons(m)) == 2
