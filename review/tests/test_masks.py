"""The mask checks that stand between a client's payload and pycocotools."""

import numpy as np
import pytest

from ml.coco import mask_to_rle
from review import masks


def test_rle_counts_reads_what_pycocotools_writes():
    # given masks of every shape and density
    rng = np.random.default_rng(7)
    for _ in range(50):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random((height, width)) < rng.random()
        rle = mask_to_rle(mask)
        # when / then: the runs cover the grid, and a non-empty mask decodes to itself
        assert sum(masks.rle_counts(rle["counts"])) == height * width
        if mask.any():
            decoded = masks.decode_mask(rle, height=height, width=width)
            assert (decoded == mask).all()


@pytest.mark.parametrize(
    ("rle", "problem"),
    [
        ("not a dict", 'must be {"size"'),
        ({"size": [48, 64]}, 'must be {"size"'),
        ({"size": [48, 64], "counts": "P", "extra": 1}, 'must be {"size"'),
        ({"size": [24, 64], "counts": "0"}, "is 24x64 but this photo's mask grid is 48x64"),
        ({"size": ["48", 64], "counts": "0"}, "whole pixels"),
        ({"size": [48, 64], "counts": [3072]}, "compressed COCO RLE string"),
        ({"size": [48, 64], "counts": "zz~"}, "cannot occur"),
        ({"size": [48, 64], "counts": "P"}, "ends in the middle of a run"),
        ({"size": [48, 64], "counts": "05"}, "runs cover 5 pixels"),
        ({"size": [48, 64], "counts": "@"}, "negative run"),
    ],
)
def test_decode_mask_refuses_malformed_payloads(rle, problem):
    with pytest.raises(masks.MaskError, match=problem.replace("[", r"\[").replace("{", r"\{")):
        masks.decode_mask(rle, height=48, width=64)


def test_decode_mask_refuses_an_empty_mask():
    rle = mask_to_rle(np.zeros((48, 64), dtype=bool))
    with pytest.raises(masks.MaskError, match="empty"):
        masks.decode_mask(rle, height=48, width=64)


def test_iou_and_bbox_of_boxes():
    a = np.zeros((10, 10), dtype=bool)
    b = np.zeros((10, 10), dtype=bool)
    a[0:4, 0:5] = True  # 20 px
    b[0:4, 0:10] = True  # 40 px, contains a
    assert masks.iou(a, b) == 0.5
    assert masks.bbox(a) == [0, 0, 5, 4]
