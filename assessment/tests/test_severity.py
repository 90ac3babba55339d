"""Learned severity: the threshold, the fit, the comparison with the rules and the switch."""

import numpy as np
import pytest

from assessment.severity import (
    RegionGeometry,
    SeverityClassifier,
    severity_apply,
    severity_compare,
    severity_fit,
)
from learning import severity, training_data
from ml.labels import DEFAULT_LABEL_MAP

DAMAGE = list(DEFAULT_LABEL_MAP.names[1:])


def _insurer_severity(area: float) -> str:
    """This insurer's adjusters: cut-offs far below the default dent rule (2% / 10%)."""
    return "minor" if area < 0.004 else "moderate" if area < 0.012 else "severe"


def _regions(n: int, seed: int) -> list[RegionGeometry]:
    rng = np.random.default_rng(seed)
    out = []
    for area in np.exp(rng.uniform(np.log(0.001), np.log(0.05), size=n)):
        side = float(np.sqrt(area))
        x0, y0 = rng.uniform(0.1, 0.8 - side, size=2)
        box = (float(x0), float(y0), float(x0) + side, float(y0) + side)
        out.append(RegionGeometry("dent", _insurer_severity(area), float(area), box))
    return out


def test_severity_fit_learns_the_insurers_cut_offs_better_than_the_rules():
    # given
    clf = severity_fit(_regions(300, seed=1), DAMAGE)
    # when
    result = severity_compare(clf, _regions(100, seed=2), DEFAULT_LABEL_MAP)
    # then
    assert result["n"] == 100
    assert result["learned_accuracy"] > 0.85
    assert result["learned_accuracy"] > result["rules_accuracy"] + 0.2


def test_severity_apply_relabels_only_with_a_classifier():
    # given a classifier that calls everything severe
    weights = np.zeros((3, 6 + len(DAMAGE)))
    weights[2, 0] = 5.0
    clf = SeverityClassifier(labels=DAMAGE, weights=weights)
    prediction = {
        "mask_width": 100,
        "mask_height": 50,
        "regions": [
            {"label": "dent", "severity": "minor", "area_share": 0.01, "bbox": [1, 1, 5, 5]}
        ],
    }

    class WithMeta:
        meta = {"severity_classifier": clf.to_dict()}

    class WithoutMeta:
        meta = {"severity_classifier": None}

    # when / then
    assert severity_apply(WithoutMeta(), prediction)["regions"][0]["severity"] == "minor"
    assert severity_apply(WithMeta(), prediction)["regions"][0]["severity"] == "severe"


def _sample(regions: list[RegionGeometry], split: str) -> training_data.ReviewedSample:
    h, w = 100, 100
    reviewed = []
    for r in regions:
        x0, y0, x1, y1 = (round(v * 100) for v in r.bbox_norm)
        mask = np.zeros((h, w), dtype=bool)
        mask[y0:y1, x0:x1] = True
        reviewed.append(
            training_data.ReviewedRegion(
                r.label, r.severity, mask, float(mask.mean()), [x0, y0, x1 - x0, y1 - y0]
            )
        )
    return training_data.ReviewedSample(
        "p", "c", split, 1, "", np.zeros((h, w, 3), np.uint8), reviewed
    )


def test_severity_learn_waits_for_the_threshold_then_switches_when_better(settings):
    # given reviewed regions of the insurer, one per sample
    train = [_sample([r], "train") for r in _regions(200, seed=3)]
    evaluation = [_sample([r], "eval") for r in _regions(60, seed=4)]
    # when below the threshold
    settings.CLAIMVISION_SEVERITY_MIN_REVIEWED = 300
    report, clf = severity.severity_learn(train, evaluation, DEFAULT_LABEL_MAP)
    # then the rules stay
    assert report["ready"] is False
    assert report["used"] == "rules"
    assert clf is None
    # when the threshold is reached
    settings.CLAIMVISION_SEVERITY_MIN_REVIEWED = 150
    report, clf = severity.severity_learn(train, evaluation, DEFAULT_LABEL_MAP)
    # then the learned classifier replaces them, being better on the evaluation regions
    assert report["ready"] is True
    assert report["used"] == "learned"
    assert report["learned_accuracy"] > report["rules_accuracy"]
    assert clf["kind"] == "logistic"


@pytest.mark.django_db
def test_photo_assess_uses_the_versions_learned_severity(segmenter, assessing_claim):
    # given a model version whose model.json carries a classifier that calls everything severe
    from assessment import services
    from assessment.tests.conftest import region

    weights = np.zeros((3, 6 + len(DAMAGE)))
    weights[2, 0] = 5.0
    segmenter.regions = [region("dent", 0.9, "minor")]
    segmenter.meta = {"severity_classifier": SeverityClassifier(DAMAGE, weights).to_dict()}
    photo = assessing_claim.photos.first()
    # when
    assessment = services.photo_assess(photo_id=photo.pk)
    # then
    assert [r.severity for r in assessment.regions.all()] == ["severe"]
