"""The shipped model on held-out real photos: intact cars stay clean, damage is found.

Bounds are loose on purpose (these are not the model card's numbers, which come from
``python -m ml.evaluate`` on the whole test split): they catch a model that was shipped broken
or a pipeline change that ruins it. Skips where ../shared/datasets is absent.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from ml import sources
from ml.calibration import load_split_items
from ml.evaluate import auroc
from ml.inference import DEFAULT_MODEL_DIR, Segmenter

pytestmark = pytest.mark.realdata
N = 24


@pytest.fixture(scope="module")
def seg():
    root = sources.datasets_root()
    if not all(sources.available(f, root) for f in sources.SOURCE_FOLDERS.values()):
        if os.environ.get("CLAIMVISION_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"real data sets required but not all found in {root}")
        pytest.skip(f"real data sets not found in {root}")
    return Segmenter.load(DEFAULT_MODEL_DIR)


def _predict(seg, split: str):
    items = load_split_items(split, seg.label_map)[:N]
    return [seg.predict_array(it.image) for it in items]


def test_bundled_model_leaves_most_intact_cars_without_regions(seg):
    preds = _predict(seg, "wiki_test") + _predict(seg, "dsmlr_test")
    clean = np.mean([not p.regions for p in preds])
    assert clean >= 0.8, f"only {clean:.0%} of intact test photos had no region"


def test_bundled_model_tells_damaged_from_intact_photos(seg):
    damaged = _predict(seg, "bilgi_test")
    intact = _predict(seg, "wiki_test")
    scores = [p.damage_score for p in damaged + intact]
    labels = [True] * len(damaged) + [False] * len(intact)
    assert auroc(scores, labels) >= 0.85
    assert np.mean([bool(p.regions) for p in damaged]) >= 0.7
    parts = [r.part for p in damaged for r in p.regions]
    assert any(parts), "no damage region was placed on a car part"
