"""Random audits of automatic decisions, and the claim-confidence rule (issue 13)."""

import math
import uuid

import pytest

from assessment import configuration, policy, selectors, services
from assessment.models import AuditRecord, Decision
from assessment.policy import ClaimFacts, PhotoFacts, PolicyRules, RegionFacts, decide
from assessment.tests.conftest import region
from claims.models import Claim


def _claim(confidence=0.95, claim_confidence=None, **kwargs) -> ClaimFacts:
    photo = PhotoFacts(
        photo="1", confidence=confidence, regions=[RegionFacts("dent", 0.9, "minor")]
    )
    return ClaimFacts(
        photos=[photo], estimate_total=300.0, claim_confidence=claim_confidence, **kwargs
    )


def _binomial_interval(n: int, p: float, coverage: float) -> tuple[int, int]:
    """The central ``coverage`` interval of Binomial(n, p), from its exact probabilities."""
    pmf = [
        math.exp(
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )
        for k in range(n + 1)
    ]
    tail = (1 - coverage) / 2
    low, cumulative = 0, 0.0
    while cumulative + pmf[low] < tail:
        cumulative += pmf[low]
        low += 1
    high, cumulative = n, 0.0
    while cumulative + pmf[high] < tail:
        cumulative += pmf[high]
        high -= 1
    return low, high


# ----------------------------------------------------------------------------- the draw


def test_audit_draw_is_fixed_by_claim_and_policy_version(real_audit_draws):
    claim_id = str(uuid.uuid4())

    first = policy.audit_draw(claim_id=claim_id, policy_version=3)
    again = policy.audit_draw(claim_id=claim_id, policy_version=3)  # a re-delivered task
    other_version = policy.audit_draw(claim_id=claim_id, policy_version=4)

    assert first == again
    assert 0 <= first < 1
    assert other_version != first


def test_audit_sample_honours_share_within_binomial_bound(real_audit_draws):
    # given 2,000 synthetic claims the other rules would decide automatically
    rules = PolicyRules(audit_sample_share=0.05)
    n = 2000
    automatic = decide(rules, _claim())
    assert automatic.automatic is True

    # when each is drawn
    audited = sum(
        not policy.audit_sample(
            rules,
            automatic,
            draw=policy.audit_draw(claim_id=str(uuid.UUID(int=i)), policy_version=1),
        ).automatic
        for i in range(n)
    )

    # then the count lies within the 99.9% interval of Binomial(2000, 0.05): [69, 133]
    low, high = _binomial_interval(n, 0.05, 0.999)
    assert low <= audited <= high, (audited, low, high)
    assert (low, high) == (69, 133)


def test_audit_sample_samples_only_automatic_outcomes():
    rules = PolicyRules(audit_sample_share=1.0)
    routed = decide(rules, _claim(confidence=0.4))

    sampled = policy.audit_sample(rules, routed, draw=0.0)

    assert sampled is routed
    assert "random_audit" not in [r.code for r in sampled.reasons]


def test_audit_sample_routes_with_reason_and_would_be_outcome():
    rules = PolicyRules(audit_sample_share=0.05)
    automatic = decide(rules, _claim())

    audited = policy.audit_sample(rules, automatic, draw=0.0123)
    kept = policy.audit_sample(rules, automatic, draw=0.05)  # the share is exclusive

    assert (audited.automatic, audited.outcome) == (False, "routed_to_review")
    assert [r.to_dict() for r in audited.reasons] == [
        {
            "code": "random_audit",
            "message": policy.REASON_MESSAGES["random_audit"],
            "value": 0.0123,
            "threshold": 0.05,
            "would_be": "auto_approved",
        }
    ]
    assert kept is automatic


def test_random_audit_message_does_not_give_the_outcome_away():
    message = policy.REASON_MESSAGES["random_audit"].lower()
    assert "approv" not in message and "automatic decision would" not in message
    assert "random_audit" in policy.STAFF_ONLY_REASONS


def test_policy_rules_default_audit_share_and_stored_versions_without_it():
    assert PolicyRules().audit_sample_share == 0.05
    assert PolicyRules.from_dict(PolicyRules().to_dict()).audit_sample_share == 0.05
    stored_before = {k: v for k, v in PolicyRules().to_dict().items() if k != "audit_sample_share"}
    assert PolicyRules.from_dict(stored_before).audit_sample_share == 0.0


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ({"audit_sample_share": -0.01}, "audit_sample_share must be within [0, 1]"),
        ({"audit_sample_share": 1.5}, "audit_sample_share must be within [0, 1]"),
        ({"min_claim_confidence": 1.2}, "min_claim_confidence must be within [0, 1]"),
        ({"min_claim_confidence": -0.1}, "min_claim_confidence must be within [0, 1]"),
    ],
)
def test_policy_rules_refuse_bad_audit_share_and_claim_confidence(rules, error):
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        PolicyRules.from_dict(rules)


# ------------------------------------------------------------------ the claim confidence rule


def test_min_claim_confidence_routes_claim_below_it():
    rules = PolicyRules(min_claim_confidence=0.8)

    outcome = decide(rules, _claim(claim_confidence=0.62))

    assert outcome.automatic is False
    assert [r.to_dict() for r in outcome.reasons] == [
        {
            "code": "low_claim_confidence",
            "message": "The model is not sure enough about the claim's line items (0.62 < 0.80).",
            "value": 0.62,
            "threshold": 0.8,
        }
    ]


@pytest.mark.parametrize(
    ("threshold", "claim_confidence"),
    [(0.8, 0.8), (0.8, 0.95), (0.8, None), (None, 0.1), (0.0, 0.1)],
)
def test_min_claim_confidence_does_not_fire_at_or_above_missing_or_off(threshold, claim_confidence):
    rules = PolicyRules(min_claim_confidence=threshold)

    outcome = decide(rules, _claim(claim_confidence=claim_confidence))

    assert outcome.automatic is True


def test_min_claim_confidence_is_off_by_default():
    assert PolicyRules().min_claim_confidence is None
    assert decide(PolicyRules(), _claim(claim_confidence=0.01)).automatic is True


def test_low_claim_confidence_has_customer_words_without_numbers():
    words = str(policy.CUSTOMER_REASON_MESSAGES["low_claim_confidence"])
    assert (
        words
        == "Our system is not sure enough about the damage in your photos to decide on its own."
    )


# ------------------------------------------------------------------------- in the decision


def _audit_everything(share: float = 1.0):
    rules = {**PolicyRules().to_dict(), "audit_sample_share": share}
    return configuration.decision_policy_create(rules=rules, note="audit test", activate=True)


@pytest.mark.django_db
def test_audited_claim_goes_to_review_with_reason_and_audit_record(
    segmenter, assessing_claim, real_audit_draws
):
    # given a policy that audits every automatic decision, and a confident claim
    active = _audit_everything()
    segmenter.regions = [region("dent", 0.95, "minor")]

    # when it is assessed
    for photo in assessing_claim.photos.all():
        services.photo_assess(photo_id=photo.pk)

    # then it waits for an adjuster, marked as an audit, with the outcome it would have had
    assessing_claim.refresh_from_db()
    assert assessing_claim.status == Claim.Status.IN_REVIEW
    decision = Decision.objects.get(claim=assessing_claim)
    assert (decision.outcome, decision.automatic) == ("routed_to_review", False)
    draw = policy.audit_draw(claim_id=str(assessing_claim.pk), policy_version=active.version)
    assert decision.reasons == [
        {
            "code": "random_audit",
            "message": policy.REASON_MESSAGES["random_audit"],
            "value": round(draw, 6),
            "threshold": 1.0,
            "would_be": "auto_approved",
        }
    ]
    audit = AuditRecord.objects.get(claim_id=assessing_claim.pk)
    assert audit.outcome == "routed_to_review"
    assert audit.rules_fired == decision.reasons
    assert audit.thresholds["audit_sample_share"] == 1.0
    # and the customer reads the routine check, not that it is an audit
    shown = selectors.decision_reasons_for_customer(decision=decision)
    assert shown == [
        {
            "code": "routine_check",
            "message": "An adjuster checks some claims before they are decided.",
        }
    ]


@pytest.mark.django_db
def test_claim_routed_by_another_rule_is_not_marked_as_audit(
    segmenter, assessing_claim, real_audit_draws
):
    _audit_everything()
    segmenter.photo_confidence = 0.4
    segmenter.regions = [region("dent", 0.95, "minor")]

    for photo in assessing_claim.photos.all():
        services.photo_assess(photo_id=photo.pk)

    codes = {r["code"] for r in Decision.objects.get(claim=assessing_claim).reasons}
    assert "low_photo_confidence" in codes
    assert "random_audit" not in codes


@pytest.mark.django_db
def test_no_audit_at_share_zero(segmenter, assessing_claim, real_audit_draws):
    _audit_everything(share=0.0)
    segmenter.regions = [region("dent", 0.95, "minor")]

    for photo in assessing_claim.photos.all():
        services.photo_assess(photo_id=photo.pk)

    decision = Decision.objects.get(claim=assessing_claim)
    assert (decision.outcome, decision.automatic) == ("auto_approved", True)
