"""The decision policy as a pure function: every rule fires alone, and all of them together."""

import pytest

from assessment.policy import ClaimFacts, PhotoFacts, PolicyRules, RegionFacts, decide


def _claim(*photos, total=300.0, contested=False) -> ClaimFacts:
    return ClaimFacts(photos=list(photos), estimate_total=total, contested=contested)


def _photo(confidence=0.95, regions=None, **kwargs) -> PhotoFacts:
    if regions is None:
        regions = [RegionFacts("dent", 0.9, "minor")]
    return PhotoFacts(photo="1", confidence=confidence, regions=regions, **kwargs)


def _codes(outcome) -> list[str]:
    return [r.code for r in outcome.reasons]


def test_decide_confident_small_claim_is_automatic():
    outcome = decide(PolicyRules(), _claim(_photo()))
    assert outcome.automatic is True
    assert outcome.outcome == "auto_approved"
    assert outcome.reasons == []


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (_claim(_photo(confidence=0.5)), "low_photo_confidence"),
        (_claim(_photo(regions=[RegionFacts("dent", 0.4, "minor")])), "low_region_confidence"),
        (_claim(_photo(regions=[RegionFacts("scratch", 0.72, "minor")])), "low_region_confidence"),
        (_claim(_photo(regions=[RegionFacts("tire_flat", 0.99, "moderate")])), "always_human_type"),
        (
            _claim(_photo(regions=[RegionFacts("glass_crack", 0.99, "moderate")])),
            "always_human_type",
        ),
        (
            _claim(_photo(regions=[RegionFacts("broken_part", 0.99, "moderate")])),
            "always_human_type",
        ),
        (
            _claim(_photo(regions=[RegionFacts("paint_damage", 0.72, "minor")])),
            "low_region_confidence",
        ),
        (_claim(_photo(regions=[RegionFacts("dent", 0.99, "severe")])), "always_human_severity"),
        (_claim(_photo(), total=2500.0), "estimate_over_limit"),
        (_claim(_photo(quality_warnings=["too_blurry"])), "photo_quality"),
        (_claim(_photo(duplicate=True)), "duplicate_photo"),
        (_claim(_photo(regions=[])), "no_damage_found"),
        (_claim(_photo(confidence=None, regions=[], error="boom")), "assessment_failed"),
        (
            _claim(_photo(regions=[RegionFacts("dent", 0.9, "minor", priced=False)])),
            "no_price_rule",
        ),
        (_claim(_photo(), contested=True), "customer_contested"),
    ],
)
def test_decide_each_rule_routes_to_review_with_its_reason(facts, code):
    outcome = decide(PolicyRules(), facts)
    assert outcome.automatic is False
    assert outcome.outcome == "routed_to_review"
    assert _codes(outcome) == [code]
    assert outcome.reasons[0].message  # plain words for people


def test_decide_reports_every_reason_not_just_the_first():
    facts = _claim(
        _photo(confidence=0.3, regions=[RegionFacts("glass_shatter", 0.2, "severe")]),
        total=9000.0,
    )
    codes = set(_codes(decide(PolicyRules(), facts)))
    assert codes == {
        "low_photo_confidence",
        "low_region_confidence",
        "always_human_type",
        "always_human_severity",
        "estimate_over_limit",
    }


def test_decide_no_damage_auto_close_when_policy_says_so():
    rules = PolicyRules(no_damage="auto_close")
    outcome = decide(rules, _claim(_photo(regions=[])))
    assert (outcome.automatic, outcome.outcome) == (True, "no_damage")


def test_decide_thresholds_are_data_a_laxer_policy_decides_more():
    facts = _claim(_photo(confidence=0.6, regions=[RegionFacts("dent", 0.6, "minor")]))
    assert decide(PolicyRules(), facts).automatic is False
    lax = PolicyRules(min_photo_confidence=0.5, min_region_confidence=0.5)
    assert decide(lax, facts).automatic is True


def test_policy_rules_from_dict_rejects_unknown_and_out_of_range():
    with pytest.raises(ValueError, match="unknown policy rules: bogus"):
        PolicyRules.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="min_photo_confidence"):
        PolicyRules.from_dict({"min_photo_confidence": 1.5})
    with pytest.raises(ValueError, match="unknown severities"):
        PolicyRules.from_dict({"always_human_severities": ["catastrophic"]})
    assert PolicyRules.from_dict(PolicyRules().to_dict()) == PolicyRules()


def test_decide_damage_v2_types_that_need_no_person_are_automatic():
    # given confident, minor paint damage and a broken lamp (neither glass nor a part)
    facts = _claim(
        _photo(
            regions=[
                RegionFacts("paint_damage", 0.8, "minor"),
                RegionFacts("lamp_broken", 0.9, "moderate"),
            ]
        )
    )

    outcome = decide(PolicyRules(), facts)

    assert (outcome.automatic, outcome.outcome) == (True, "auto_approved")


def test_default_policy_keeps_the_cardd_types_it_had():
    rules = PolicyRules()
    assert rules.always_human_types[:2] == ["glass_shatter", "tire_flat"]
    assert rules.min_region_confidence_by_type["crack"] == 0.85


def test_reasons_name_damage_types_as_the_pages_do():
    facts = ClaimFacts(
        photos=[
            PhotoFacts(
                photo="1",
                confidence=0.99,
                regions=[
                    RegionFacts(label="glass_crack", confidence=0.2, severity="minor"),
                    RegionFacts(
                        label="broken_part", confidence=0.99, severity="minor", priced=False
                    ),
                ],
            )
        ],
        estimate_total=100.0,
    )

    outcome = decide(PolicyRules(), facts, names={"glass_crack": "Cracked glass"})

    messages = " ".join(r.message for r in outcome.reasons)
    assert "a cracked glass on photo 1" in messages
    assert "Damage of type broken part is always checked" in messages
    assert "No price rule covers broken part" in messages
    assert "glass_crack" not in messages and "broken_part" not in messages
