"""The claim confidence prior, the calibrator's map and the fallback (no database)."""

import json
import re

import pytest

from assessment.claim_confidence import (
    CALIBRATOR_KIND,
    ERROR_CALIBRATOR_KIND,
    ERROR_CONFIDENCE_RANGE,
    ERROR_EMPTY_PART,
    ERROR_SLOPE,
    FITTED,
    PRIOR,
    PRIOR_CEILING,
    PRIOR_FLOOR,
    UNKNOWN_PART_FACTOR,
    ClaimConfidenceCalibrator,
    claim_confidence,
    claim_confidence_prior,
    claim_confidence_prior_from_record,
    part_prior,
)
from assessment.parts import PartRegion, damaged_parts, unplaced


def test_part_prior_is_best_single_evidence():
    # two views of one part: the best confidence x part share, not a sum of witnesses
    assert part_prior([(0.6, 0.5), (0.8, None)]) == pytest.approx(0.8)
    assert part_prior([(0.9, 0.5), (0.6, 0.9)]) == pytest.approx(0.54)


def test_part_prior_more_views_of_the_same_quality_add_nothing():
    assert part_prior([(0.7, 0.9)] * 5) == pytest.approx(part_prior([(0.7, 0.9)]))


def test_part_prior_without_part_head_counts_share_as_one():
    assert part_prior([(0.42, None)]) == pytest.approx(0.42)


def test_claim_confidence_prior_is_product_across_parts():
    # given: two parts well inside the bounds
    parts = [[(0.9, 1.0)], [(0.8, 0.5), (0.5, None)]]
    # then
    expected = 0.9 * 0.5
    assert claim_confidence_prior(parts) == pytest.approx(expected)


@pytest.mark.parametrize("index", [0, 1])
def test_claim_confidence_prior_monotone_in_each_confidence(index):
    # raising one region's confidence or part share never lowers the prior
    levels = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0]
    for field in (0, 1):
        values = []
        for level in levels:
            evidence = [[0.7, 0.6], [0.5, 0.8]]
            evidence[index][field] = level
            parts = [[tuple(e) for e in evidence], [(0.85, 0.9)]]
            values.append(claim_confidence_prior(parts))
        assert values == sorted(values)
        assert values[0] < values[-1]


def test_claim_confidence_prior_more_parts_lower_it():
    one = claim_confidence_prior([[(0.9, 0.95)]])
    two = claim_confidence_prior([[(0.9, 0.95)], [(0.9, 0.95)]])
    assert two == pytest.approx(one * 0.9 * 0.95)
    assert two < one


def test_claim_confidence_prior_unknown_parts_lower_it():
    parts = [[(0.9, 1.0)]]
    base = claim_confidence_prior(parts)
    one = claim_confidence_prior(parts, unknown_part_regions=1)
    two = claim_confidence_prior(parts, unknown_part_regions=2)
    assert one == pytest.approx(base * UNKNOWN_PART_FACTOR)
    assert two == pytest.approx(base * UNKNOWN_PART_FACTOR**2)


def test_claim_confidence_prior_only_unknown_parts_is_not_no_damage():
    # regions found but none on a named part: not the "no damage" case
    value = claim_confidence_prior([], unknown_part_regions=1, photo_confidences=[0.99])
    assert value == pytest.approx(UNKNOWN_PART_FACTOR)


def test_claim_confidence_prior_bounds():
    assert claim_confidence_prior([[(1.0, 1.0)]]) == PRIOR_CEILING
    assert claim_confidence_prior([[(0.0, 1.0)]]) == PRIOR_FLOOR
    assert claim_confidence_prior([[(0.3, 0.3)]] * 10) == PRIOR_FLOOR
    assert claim_confidence_prior([[(0.99, 1.0)]], unknown_part_regions=20) == PRIOR_FLOOR


def test_claim_confidence_prior_no_damage_is_least_sure_photo():
    assert claim_confidence_prior([], photo_confidences=[0.93, 0.71, 0.88]) == pytest.approx(0.71)
    assert claim_confidence_prior([], photo_confidences=[0.99]) == PRIOR_CEILING
    assert claim_confidence_prior([], photo_confidences=[]) == PRIOR_FLOOR


def test_claim_confidence_prior_photo_confidences_ignored_when_damage_found():
    parts = [[(0.8, 1.0)]]
    assert claim_confidence_prior(parts, photo_confidences=[0.1]) == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("parts", "message"),
    [([[(1.2, 1.0)]], ERROR_CONFIDENCE_RANGE), ([[(0.5, -0.1)]], ERROR_CONFIDENCE_RANGE)],
)
def test_claim_confidence_prior_refuses_values_outside_unit(parts, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        claim_confidence_prior(parts)


def test_claim_confidence_prior_refuses_part_without_evidence():
    with pytest.raises(ValueError, match=ERROR_EMPTY_PART):
        claim_confidence_prior([[]])


def test_calibrator_identity_at_slope_one_intercept_zero():
    identity = ClaimConfidenceCalibrator(slope=1.0, intercept=0.0, reviews=300, kept=150)
    for p in (0.01, 0.3, 0.5, 0.77, 0.95):
        assert identity.apply(p) == pytest.approx(p)


def test_calibrator_output_monotone():
    calibrator = ClaimConfidenceCalibrator(slope=1.7, intercept=-0.8, reviews=300, kept=120)
    grid = [i / 100 for i in range(101)]
    out = [calibrator.apply(p) for p in grid]
    assert out == sorted(out)
    assert out[0] < 0.01 and out[-1] > 0.99


def test_calibrator_refuses_negative_slope():
    with pytest.raises(ValueError, match=re.escape(ERROR_SLOPE)):
        ClaimConfidenceCalibrator(slope=-0.1, intercept=0.0, reviews=10, kept=5)


def test_calibrator_json_round_trip():
    calibrator = ClaimConfidenceCalibrator(slope=1.3, intercept=-0.42, reviews=412, kept=301)
    data = json.loads(json.dumps(calibrator.to_dict()))
    assert data["kind"] == CALIBRATOR_KIND
    back = ClaimConfidenceCalibrator.from_dict(data)
    assert back == calibrator
    assert back.apply(0.8) == calibrator.apply(0.8)


def test_calibrator_from_dict_refuses_other_kinds():
    with pytest.raises(ValueError, match=ERROR_CALIBRATOR_KIND):
        ClaimConfidenceCalibrator.from_dict({"kind": "logistic", "slope": 1, "intercept": 0})


def test_claim_confidence_falls_back_to_prior():
    result = claim_confidence(0.64, None)
    assert (result.value, result.prior, result.source, result.reviews) == (0.64, 0.64, PRIOR, 0)
    assert "not yet measured" in result.meaning


def test_claim_confidence_fitted_says_what_it_means():
    calibrator = ClaimConfidenceCalibrator(slope=1.0, intercept=1.0, reviews=412, kept=300)
    result = claim_confidence(0.64, calibrator)
    assert result.source == FITTED
    assert result.prior == 0.64
    assert result.value == pytest.approx(calibrator.apply(0.64))
    assert result.value > 0.64
    assert "about 8 in 10" in result.meaning
    assert "412 reviews" in result.meaning


def _region(photo, index, confidence, part, part_share):
    return PartRegion(
        photo_id=photo,
        region_index=index,
        label="dent",
        severity="minor",
        confidence=confidence,
        area_share=0.02,
        part=part,
        part_share=part_share,
    )


def test_claim_confidence_prior_from_part_record():
    # given: a bumper seen twice, a door once, one region on no named part
    regions = [
        _region("p1", 0, 0.8, "front_bumper", 0.9),
        _region("p2", 0, 0.6, "front_bumper", 1.0),
        _region("p1", 1, 0.9, "front_door", 0.8),
        _region("p2", 1, 0.7, "other", 0.6),
    ]
    # when
    value = claim_confidence_prior_from_record(damaged_parts(regions))
    # then
    assert value == pytest.approx(0.72 * 0.72 * UNKNOWN_PART_FACTOR)


def test_claim_confidence_prior_from_record_unplaced_regions_are_lines():
    # a model without a part head: each region is priced, so each is a line item
    regions = [_region("p1", 0, 0.8, "", None), _region("p1", 1, 0.9, "", None)]
    value = claim_confidence_prior_from_record(
        damaged_parts(regions), unplaced=unplaced(regions), photo_confidences=[0.99]
    )
    assert value == pytest.approx(0.8 * 0.9)


def test_claim_confidence_prior_from_record_no_damage_uses_photos():
    assert claim_confidence_prior_from_record([], photo_confidences=[0.9, 0.8]) == 0.8
