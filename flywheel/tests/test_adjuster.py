"""The simulated adjuster's corrections (flywheel.adjuster.corrected_regions)."""

import numpy as np

from flywheel.adjuster import corrected_regions
from flywheel.claim_data import TruthRegion
from ml.coco import mask_to_rle


def _mask(y0, y1, x0, x1, shape=(40, 40)):
    m = np.zeros(shape, dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def _pred(index, label, severity, mask):
    return {
        "index": index,
        "label": label,
        "severity": severity,
        "mask": mask,
        "mask_rle": mask_to_rle(mask),
    }


def _truth(label, severity, mask):
    return TruthRegion(
        label=label, label_id=1, severity=severity, mask=mask, area_share=float(mask.mean())
    )


def test_a_close_right_region_is_let_through_unchanged():
    m = _mask(0, 10, 0, 10)
    out = corrected_regions([_pred(3, "dent", "minor", m)], [_truth("dent", "minor", m)])
    assert out == [
        {"label": "dent", "severity": "minor", "source_index": 3, "mask_rle": mask_to_rle(m)}
    ]


def test_a_loose_or_mistyped_region_is_reshaped_to_the_truth():
    truth = _mask(0, 10, 0, 10)
    loose = _mask(0, 10, 0, 20)  # IoU 0.5: the same damage, a poor outline
    out = corrected_regions([_pred(0, "scratch", "minor", loose)], [_truth("dent", "minor", truth)])
    assert len(out) == 1
    assert out[0]["source_index"] == 0
    assert out[0]["label"] == "dent"
    assert out[0]["mask_rle"] == mask_to_rle(truth)


def test_a_false_region_is_deleted_and_a_missed_one_drawn():
    false = _mask(30, 40, 30, 40)
    missed = _mask(0, 5, 0, 5)
    out = corrected_regions([_pred(0, "dent", "minor", false)], [_truth("dent", "severe", missed)])
    # the model region is not kept; the true one is drawn from scratch
    assert out == [
        {
            "label": "dent",
            "severity": "severe",
            "source_index": None,
            "part": "",
            "mask_rle": mask_to_rle(missed),
        }
    ]


def test_each_model_region_serves_at_most_one_true_region():
    big = _mask(0, 20, 0, 20)
    a, b = _mask(0, 20, 0, 10), _mask(0, 20, 10, 20)
    out = corrected_regions(
        [_pred(0, "dent", "minor", big)], [_truth("dent", "minor", a), _truth("dent", "minor", b)]
    )
    assert sorted(r["source_index"] is None for r in out) == [False, True]
