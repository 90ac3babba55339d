"""Back-test records from the database: claims that went through the real assessment and
review services, so the records are what production would give."""

import pytest

from assessment import contests, policy, services
from assessment.models import Decision
from assessment.tests.conftest import region
from claims.models import Claim, Photo
from claims.tests.factories import (
    AdjusterFactory,
    ClaimFactory,
    PhotoFactory,
    SeniorAdjusterFactory,
)
from learning.calibration_data import calibration_records_list
from ml.labels import PRODUCT_LABEL_MAP
from review import labels as review_labels
from review import locks as review_locks
from review import services as review_services
from review.tests.factories import DENT_BOX, SCRATCH_BOX, region_payload

pytestmark = pytest.mark.django_db

DARK = [{"code": "too_dark", "message": "The photo is too dark."}]


@pytest.fixture
def adjuster(db):
    return AdjusterFactory()


@pytest.fixture
def routed_claim(segmenter, customer):
    """A claim the scripted model was unsure about (photo 0.4; a minor dent at 0.5 and a
    moderate scratch at 0.6), decided by the real services."""

    def make(*, quality_warnings=None) -> Claim:
        segmenter.photo_confidence = 0.4
        segmenter.regions = [
            region("dent", 0.5, "minor", box=DENT_BOX),
            region("scratch", 0.6, "moderate", box=SCRATCH_BOX),
        ]
        claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
        PhotoFactory(
            claim=claim, status=Photo.Status.PREPARED, quality_warnings=quality_warnings or []
        )
        for photo in claim.photos.all():
            services.photo_assess(photo_id=photo.pk)
        claim.refresh_from_db()
        assert claim.status == Claim.Status.IN_REVIEW
        return claim

    return make


def _review(claim, adjuster, action, *, labels=None, reason=""):
    review_locks.review_lock_take(claim=claim, adjuster=adjuster)
    if labels is not None:
        review_labels.photo_labels_save(
            claim=claim,
            photo=claim.photos.get(),
            adjuster=adjuster,
            base_version=0,
            regions=labels,
        )
    review_services.review_decide(claim=claim, adjuster=adjuster, action=action, reason=reason)


AS_PREDICTED = [
    region_payload("dent", "minor", 0, DENT_BOX),
    region_payload("scratch", "moderate", 1, SCRATCH_BOX),
]


def test_calibration_records_list_from_reviewed_claims(routed_claim, adjuster):
    # given four reviewed claims and one still waiting
    approved = routed_claim(quality_warnings=DARK)
    _review(approved, adjuster, "approve")
    accepted = routed_claim()
    _review(accepted, adjuster, "approve", labels=AS_PREDICTED)
    relabelled = routed_claim()
    _review(
        relabelled,
        adjuster,
        "approve",
        labels=[AS_PREDICTED[0], region_payload("dent", "minor", 1, SCRATCH_BOX)],
    )
    corrected = routed_claim()
    _review(
        corrected,
        adjuster,
        "approve_with_corrections",
        labels=AS_PREDICTED[:1],
        reason="The scratch was a reflection.",  # the corrections change the amount
    )
    denied = routed_claim()
    _review(denied, adjuster, "deny", reason="Old damage.")
    routed_claim()  # in review: no outcome yet

    # when
    data = calibration_records_list()

    # then one record per reviewed claim, changed from the outcome or the ledger
    by_ref = {r.claim: r for r in data.records}
    assert set(by_ref) == {c.reference for c in (approved, accepted, relabelled, corrected, denied)}
    changed = {ref: (r.changed, r.detail["ledger_changes"]) for ref, r in by_ref.items()}
    assert changed == {
        approved.reference: (False, 0),
        accepted.reference: (False, 0),
        relabelled.reference: (True, 2),  # approved, but a region relabelled and re-graded
        corrected.reference: (True, 1),  # the scratch deleted
        denied.reference: (True, 0),
    }
    assert data.skipped == {}

    # and the facts are those the policy saw: decide() gives the same reasons again
    record = by_ref[approved.reference]
    photo = record.facts.photos[0]
    assert photo.confidence == 0.4
    assert photo.quality_warnings == ["too_dark"]
    assert [(r.label, r.confidence, r.severity) for r in photo.regions] == [
        ("dent", 0.5, "minor"),
        ("scratch", 0.6, "moderate"),
    ]
    automated = Decision.objects.get(claim=approved, outcome=Decision.Outcome.ROUTED_TO_REVIEW)
    replayed = policy.decide(policy.PolicyRules.from_dict(automated.policy.rules), record.facts)
    assert [r.to_dict() for r in replayed.reasons] == automated.reasons
    assert approved.assessment.source == "model"  # approving keeps the model's estimate
    assert record.facts.estimate_total == float(approved.assessment.estimate_total)


def test_calibration_records_list_keeps_contested_automatic_decisions(segmenter, customer):
    # given a claim decided automatically, contested by the customer, then denied
    segmenter.photo_confidence = 0.95
    segmenter.regions = [region("dent", 0.9, "minor", box=DENT_BOX)]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    photo = PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.AUTO_DECIDED
    contests.claim_contest(claim=claim, user=customer, reason="The dent was there before.")
    _review(claim, SeniorAdjusterFactory(), "deny", reason="Pre-existing damage.")  # contested

    # when
    (record,) = calibration_records_list().records

    # then it is an observed automatic error: the facts still decide automatically
    assert record.changed is True
    assert record.detail["automated_outcome"] == "auto_approved"
    assert policy.decide(policy.PolicyRules(), record.facts).automatic is True


def test_calibration_records_list_uses_the_last_automated_decision_before_review(
    routed_claim, adjuster, segmenter
):
    # given a claim the adjuster asked more photos for, then approved on the new ones
    claim = routed_claim()
    _review(claim, adjuster, "request_photos", reason="Show the whole bumper.")
    segmenter.photo_confidence = 0.9
    PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.ASSESSING)
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW  # more photos are always reviewed
    _review(claim, adjuster, "approve")

    # when
    (record,) = calibration_records_list().records

    # then the facts are the second assessment's: both photos, the new one at 0.9
    assert sorted(p.confidence for p in record.facts.photos) == [0.4, 0.9]
    assert record.changed is False
    assert record.detail["outcome"] == Decision.Outcome.APPROVED


def test_calibration_records_list_finds_unpriced_regions_named_by_the_label_map(
    product_segmenter, customer, adjuster
):
    # given a broken part on no known part, which the decision left to a person to price, its
    # reason naming the type as the label map does ("broken or missing part")
    product_segmenter.regions = [
        region(
            "broken_part", 0.97, "moderate", label_map=PRODUCT_LABEL_MAP, part=None, part_share=0.2
        )
    ]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    routed = Decision.objects.get(claim=claim)
    assert "No price rule covers broken or missing part (moderate); an adjuster prices it." in {
        r["message"] for r in routed.reasons
    }
    _review(claim, adjuster, "approve")

    # when the back-test records are read
    (record,) = calibration_records_list().records

    # then the region replays as unpriced, as the policy saw it
    assert [(r.label, r.priced) for r in record.facts.photos[0].regions] == [("broken_part", False)]
