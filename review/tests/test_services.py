"""Review services: locks, labels with their ledger, notes, and the human decision."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from assessment.models import AuditRecord, ClaimAssessment, Decision
from claims.models import Claim
from config.errors import ApplicationError, ConflictError
from review import labels as review_labels
from review import locks, services
from review.models import (
    ActiveTime,
    ClaimNote,
    LabelRegion,
    OverrideLedgerEntry,
    PhotoLabels,
    ReviewLock,
)
from review.tests.factories import (
    DENT_BOX,
    SCRATCH_BOX,
    ReviewLockFactory,
    box_mask,
    box_rle,
    region_payload,
)

pytestmark = pytest.mark.django_db


def _save(claim, photo, adjuster, regions, base_version=0, active_ms=1000):
    return review_labels.photo_labels_save(
        claim=claim,
        photo=photo,
        adjuster=adjuster,
        base_version=base_version,
        regions=regions,
        active_ms=active_ms,
    )


def _ledger(entries) -> list[tuple]:
    return sorted(
        (
            e.action,
            e.source_index,
            e.region_index,
            e.from_label,
            e.to_label,
            e.from_severity,
            e.to_severity,
        )
        for e in entries
    )


def _review_state(claim) -> dict:
    """Everything a refused review request must leave as it was."""
    return {
        "claim": Claim.objects.filter(pk=claim.pk).values_list("status", "updated_at").get(),
        "labels": sorted(PhotoLabels.objects.values_list("photo_id", "version")),
        "regions": LabelRegion.objects.count(),
        "ledger": OverrideLedgerEntry.objects.count(),
        "decisions": Decision.objects.filter(claim=claim).count(),
        "audit": AuditRecord.objects.filter(claim_id=claim.pk).count(),
        "time": ActiveTime.objects.count(),
        "lock": list(ReviewLock.objects.values_list("claim_id", "adjuster_id")),
    }


# --------------------------------------------------------------------------- locks


def test_review_lock_take_gives_a_lock_that_expires(in_review_claim, adjuster, settings):
    settings.CLAIMVISION_REVIEW_LOCK_MINUTES = 15
    now = timezone.now()

    lock = locks.review_lock_take(claim=in_review_claim, adjuster=adjuster, now=now)

    assert (lock.adjuster, lock.expires_at) == (adjuster, now + timedelta(minutes=15))


def test_review_lock_take_renews_own_lock(locked_claim, adjuster):
    later = timezone.now() + timedelta(minutes=10)
    lock = locks.review_lock_take(claim=locked_claim, adjuster=adjuster, now=later)
    assert lock.expires_at == later + timedelta(minutes=15)
    assert ReviewLock.objects.count() == 1


def test_review_lock_take_refuses_someone_elses_live_lock(locked_claim, other_adjuster):
    with pytest.raises(ConflictError) as caught:
        locks.review_lock_take(claim=locked_claim, adjuster=other_adjuster)

    assert caught.value.code == "claim_locked"
    assert caught.value.message.startswith("Alice Adams is reviewing this claim (until ")
    assert ReviewLock.objects.get().adjuster.first_name == "Alice"


def test_review_lock_take_takes_over_a_lapsed_lock(in_review_claim, other_adjuster):
    ReviewLockFactory(claim=in_review_claim, lapsed=True)

    lock = locks.review_lock_take(claim=in_review_claim, adjuster=other_adjuster)

    assert ReviewLock.objects.get().adjuster == other_adjuster
    assert lock.expires_at > timezone.now()


def test_review_lock_take_refuses_claim_not_in_review(adjuster, customer):
    from claims.tests.factories import ClaimFactory

    decided = ClaimFactory(owner=customer, submitted=True, status="decided")
    with pytest.raises(ConflictError) as caught:
        locks.review_lock_take(claim=decided, adjuster=adjuster)
    assert caught.value.code == "claim_not_in_review"


def test_review_lock_release_frees_own_and_refuses_others(locked_claim, adjuster, other_adjuster):
    with pytest.raises(ConflictError):
        locks.review_lock_release(claim=locked_claim, adjuster=other_adjuster)
    assert ReviewLock.objects.exists()

    locks.review_lock_release(claim=locked_claim, adjuster=adjuster)

    assert not ReviewLock.objects.exists()


def test_review_lock_release_of_a_deleted_claim_is_a_no_op(locked_claim, adjuster):
    # given: a screen still open on a claim staff deleted (its unload handler releases the lock)
    claim = Claim.objects.get(pk=locked_claim.pk)
    Claim.objects.filter(pk=claim.pk).delete()

    locks.review_lock_release(claim=claim, adjuster=adjuster)  # no DoesNotExist, no 500

    assert not ReviewLock.objects.filter(claim_id=claim.pk).exists()


# --------------------------------------------------------------------------- labels and ledger


def test_photo_labels_save_stores_regions_and_ledger_of_every_action(
    locked_claim, first_photo, adjuster
):
    # given: the model predicted a minor dent (0) and a moderate scratch (1)
    grown = (DENT_BOX[0], DENT_BOX[1], DENT_BOX[2] + 10, DENT_BOX[3])  # 240 -> 360 px
    regions = [
        region_payload("scratch", "severe", 0, grown),  # reshaped, relabelled, severity changed
        region_payload("crack", "minor", None, (0, 40, 5, 5)),  # added
    ]  # the scratch (1) is gone: deleted

    # when
    labels, ledger = _save(locked_claim, first_photo, adjuster, regions, active_ms=4200)

    # then
    assert labels.version == 1
    stored = list(labels.regions.values_list("index", "label", "severity", "source_index", "area"))
    assert stored == [(0, "scratch", "severe", 0, 360), (1, "crack", "minor", None, 25)]
    assert labels.regions.get(index=0).mask_rle == box_rle(grown)
    assert _ledger(ledger) == [
        ("added", None, 1, "", "crack", "", "minor"),
        ("deleted", 1, None, "scratch", "", "moderate", ""),
        ("relabelled", 0, 0, "dent", "scratch", "", ""),
        ("reshaped", 0, 0, "", "", "", ""),
        ("severity_changed", 0, 0, "", "", "minor", "severe"),
    ]
    reshaped = next(e for e in ledger if e.action == "reshaped")
    assert reshaped.iou == pytest.approx(240 / 360, abs=1e-4)
    assert reshaped.model_confidence == 0.5
    assert {(e.adjuster, e.active_ms, e.model_version.version) for e in ledger} == {
        (adjuster, 4200, "test-v1")
    }


def test_photo_labels_save_records_accepted_regions_and_time(locked_claim, first_photo, adjuster):
    regions = [
        region_payload("dent", "minor", 0, DENT_BOX),
        region_payload("scratch", "moderate", 1, SCRATCH_BOX),
    ]
    _save(locked_claim, first_photo, adjuster, regions, active_ms=1000)

    labels, ledger = _save(locked_claim, first_photo, adjuster, regions, 1, active_ms=500)

    assert labels.version == 2
    assert labels.active_ms == 1500
    assert _ledger(ledger) == [
        ("accepted", 0, 0, "dent", "dent", "", ""),
        ("accepted", 1, 1, "scratch", "scratch", "", ""),
    ]
    assert [e.iou for e in ledger] == [1.0, 1.0]
    assert OverrideLedgerEntry.objects.filter(labels_version=1).count() == 2  # history kept
    assert (
        sum(ActiveTime.objects.filter(photo=first_photo).values_list("active_ms", flat=True))
        == 1500
    )


def test_photo_labels_save_accepts_a_one_pixel_slip(locked_claim, first_photo, adjuster):
    mask = box_mask(DENT_BOX)
    mask[DENT_BOX[1], DENT_BOX[0]] = False  # IoU 239/240 = 0.996
    from ml.coco import mask_to_rle

    regions = [{**region_payload("dent", "minor", 0), "mask_rle": mask_to_rle(mask)}]
    _, ledger = _save(locked_claim, first_photo, adjuster, regions)

    assert [e.action for e in ledger if e.source_index == 0] == ["accepted"]


def test_photo_labels_save_refuses_stale_base_version(locked_claim, first_photo, adjuster):
    _save(locked_claim, first_photo, adjuster, [region_payload()])
    before = _review_state(locked_claim)

    with pytest.raises(ConflictError) as caught:
        _save(locked_claim, first_photo, adjuster, [], base_version=0)

    assert caught.value.code == "stale_labels"
    assert caught.value.details == {"current_version": 1, "base_version": 0}
    assert _review_state(locked_claim) == before


def test_photo_labels_save_refuses_without_the_lock(locked_claim, first_photo, other_adjuster):
    before = _review_state(locked_claim)
    with pytest.raises(ConflictError) as caught:
        _save(locked_claim, first_photo, other_adjuster, [region_payload()])
    assert caught.value.code == "claim_locked"
    assert "Alice Adams is reviewing" in caught.value.message
    assert _review_state(locked_claim) == before


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"mask_rle": box_rle(DENT_BOX, height=24, width=32)}, "invalid_mask"),
        ({"mask_rle": {"size": [48, 64], "counts": "garbage!"}}, "invalid_mask"),
        ({"mask_rle": {"size": [48, 64], "counts": [3072]}}, "invalid_mask"),
        ({"mask_rle": {"size": [48, 64], "counts": "0`0"}}, "invalid_mask"),
        ({"mask_rle": box_rle((0, 0, 0, 0))}, "invalid_mask"),
        ({"label": "alien_probe"}, "invalid_label"),
        ({"label": "background"}, "invalid_label"),
        ({"severity": "catastrophic"}, "invalid_severity"),
        ({"source_index": 7}, "invalid_region"),
    ],
)
def test_photo_labels_save_refuses_bad_region_and_changes_nothing(
    locked_claim, first_photo, adjuster, bad, code
):
    # given a valid first region and a bad second one
    regions = [region_payload(), {**region_payload("scratch", "moderate", 1, SCRATCH_BOX), **bad}]
    before = _review_state(locked_claim)

    with pytest.raises(ApplicationError) as caught:
        _save(locked_claim, first_photo, adjuster, regions)

    assert (caught.value.status_code, caught.value.code) == (400, code)
    assert caught.value.details["region"] == 1
    assert caught.value.message.startswith("Region 1: ")
    assert _review_state(locked_claim) == before


# --------------------------------------------------------------------------- notes and decisions


def test_review_note_add_stores_trimmed_text(in_review_claim, other_adjuster):
    note = services.review_note_add(claim=in_review_claim, author=other_adjuster, text="  ok  ")
    assert (ClaimNote.objects.get().text, note.author) == ("ok", other_adjuster)


def test_review_decide_approve_writes_decision_audit_and_moves_claim(locked_claim, adjuster):
    estimate = ClaimAssessment.objects.get(claim=locked_claim).estimate_total

    claim = services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="approve", reason="Fine", active_ms=9000
    )

    assert claim.status == Claim.Status.DECIDED
    decision = Decision.objects.filter(claim=claim).first()
    assert (decision.outcome, decision.automatic, decision.decided_by) == (
        "approved",
        False,
        adjuster,
    )
    assert decision.reasons[0]["code"] == "adjuster_approved"
    audit = AuditRecord.objects.filter(claim_id=claim.pk).order_by("-id").first()
    assert (audit.kind, audit.actor, audit.outcome) == (
        "human_decision",
        adjuster.username,
        "approved",
    )
    assert audit.detail["reason"] == "Fine"
    assert audit.detail["active_ms"] == 9000
    assert audit.scores["model"]["outcome"] == "routed_to_review"
    assert audit.scores["model"]["estimate_total"] == str(estimate)
    assert {r["code"] for r in audit.rules_fired} >= {"low_photo_confidence"}
    assert audit.model_version == "test-v1"
    assert ClaimAssessment.objects.get(claim=claim).estimate_total == estimate  # as assessed
    assert not ReviewLock.objects.exists()
    assert ActiveTime.objects.get(photo=None).active_ms == 9000


def test_review_decide_with_corrections_rebuilds_estimate_from_labels(
    locked_claim, first_photo, adjuster
):
    # given: on photo 1 the adjuster deletes the scratch and makes the dent severe
    before = ClaimAssessment.objects.get(claim=locked_claim)
    before_lines = before.lines.count()
    _save(locked_claim, first_photo, adjuster, [region_payload("dent", "severe", 0)])

    # when
    claim = services.review_decide(
        claim=locked_claim,
        adjuster=adjuster,
        action="approve_with_corrections",
        reason="The dent is deeper than the model saw",
    )

    # then: damage record and estimate follow the corrections, priced by the price table
    after = ClaimAssessment.objects.get(claim=claim)
    assert after.source == "adjuster"
    assert after.region_count == 3  # 1 corrected on photo 1 + 2 predicted on photo 2
    assert after.overall_severity == "severe"
    assert after.estimate_total != before.estimate_total
    assert after.estimate_total == sum((line.total for line in after.lines.all()), Decimal(0))
    photo1 = [(line.damage_type, line.severity) for line in after.lines.filter(photo=first_photo)]
    assert set(photo1) == {("dent", "severe")}
    assert after.lines.count() != before_lines
    assert claim.status == Claim.Status.DECIDED
    assert Decision.objects.filter(claim=claim).first().outcome == "approved_with_corrections"
    override = AuditRecord.objects.get(claim_id=claim.pk, kind="human_override")
    assert override.inputs["photo"] == str(first_photo.pk)
    assert {e["action"] for e in override.detail["ledger"]} == {"severity_changed", "deleted"}
    decision_audit = AuditRecord.objects.get(claim_id=claim.pk, kind="human_decision")
    assert decision_audit.detail["estimate_before"]["total"] == str(before.estimate_total)
    assert decision_audit.detail["estimate_after"]["total"] == str(after.estimate_total)


def test_photo_labels_save_keeps_accepted_apart_from_edited_and_added(
    locked_claim, first_photo, adjuster
):
    # given: the dent kept as predicted, the scratch re-typed, and a crack drawn
    regions = [
        region_payload("dent", "minor", 0, DENT_BOX),
        region_payload("crack", "moderate", 1, SCRATCH_BOX),
        region_payload("crack", "minor", None, (0, 40, 5, 5)),
    ]

    labels, _ = _save(locked_claim, first_photo, adjuster, regions)

    assert list(labels.regions.values_list("index", "origin")) == [
        (0, "accepted"),
        (1, "edited"),
        (2, "added"),
    ]


def test_review_decide_with_corrections_that_change_the_amount_needs_a_reason(
    locked_claim, first_photo, adjuster
):
    # given: the dent made severe, which the price table prices higher than the model's minor
    _save(locked_claim, first_photo, adjuster, [region_payload("dent", "severe", 0)])
    before = _review_state(locked_claim)
    estimate = ClaimAssessment.objects.get(claim=locked_claim).estimate_total

    with pytest.raises(ApplicationError) as caught:
        services.review_decide(
            claim=locked_claim, adjuster=adjuster, action="approve_with_corrections"
        )

    assert caught.value.code == "reason_required"
    assert caught.value.message.startswith("Give a reason: the corrected estimate (")
    assert _review_state(locked_claim) == before  # the rebuilt record was rolled back
    assert ClaimAssessment.objects.get(claim=locked_claim).estimate_total == estimate


def test_review_decide_with_corrections_that_keep_the_amount_needs_no_reason(
    locked_claim, first_photo, adjuster
):
    # given: photo 1's regions reshaped only (a reshape does not change the price)
    grown = (DENT_BOX[0], DENT_BOX[1], DENT_BOX[2] + 10, DENT_BOX[3])
    regions = [
        region_payload("dent", "minor", 0, grown),
        region_payload("scratch", "moderate", 1, SCRATCH_BOX),
    ]
    _save(locked_claim, first_photo, adjuster, regions)
    estimate = ClaimAssessment.objects.get(claim=locked_claim).estimate_total

    claim = services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="approve_with_corrections"
    )

    assert claim.status == Claim.Status.DECIDED
    assert ClaimAssessment.objects.get(claim=claim).estimate_total == estimate


def test_review_decide_records_an_unchanged_photo_as_accepted_not_corrected(
    locked_claim, first_photo, adjuster
):
    regions = [
        region_payload("dent", "minor", 0, DENT_BOX),
        region_payload("scratch", "moderate", 1, SCRATCH_BOX),
    ]
    labels, _ = _save(locked_claim, first_photo, adjuster, regions)

    services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve_with_corrections")

    record = AuditRecord.objects.get(claim_id=locked_claim.pk, kind="human_override")
    assert record.outcome == "labels_accepted"
    assert record.detail["summary"] == "Photo 1 accepted as predicted: 2 accepted"
    assert record.detail["saved_at"] == labels.saved_at.isoformat()
    assert [r["origin"] for r in record.detail["regions"]] == ["accepted", "accepted"]


def test_review_decide_with_corrections_needs_saved_labels(locked_claim, adjuster):
    before = _review_state(locked_claim)
    with pytest.raises(ConflictError) as caught:
        services.review_decide(
            claim=locked_claim, adjuster=adjuster, action="approve_with_corrections"
        )
    assert caught.value.code == "no_corrections"
    assert _review_state(locked_claim) == before


@pytest.mark.parametrize("action", ["deny", "request_photos"])
def test_review_decide_requires_a_reason(locked_claim, adjuster, action):
    with pytest.raises(ApplicationError) as caught:
        services.review_decide(claim=locked_claim, adjuster=adjuster, action=action, reason=" ")
    assert caught.value.code == "reason_required"
    assert Claim.objects.get(pk=locked_claim.pk).status == Claim.Status.IN_REVIEW


def test_review_decide_deny_tells_customer_and_keeps_reason_internal(locked_claim, adjuster):
    claim = services.review_decide(
        claim=locked_claim,
        adjuster=adjuster,
        action="deny",
        reason="Damage predates policy",
        message_to_customer="The damage is older than your policy.",
    )
    decision = Decision.objects.filter(claim=claim).first()
    assert decision.outcome == "denied"
    assert decision.reasons == [
        {
            "code": "adjuster_denied",
            "message": "The damage is older than your policy.",
            "detail": "Damage predates policy",
        }
    ]
    assert claim.status == Claim.Status.DECIDED


def test_review_decide_request_photos_moves_claim_to_more_photos_requested(locked_claim, adjuster):
    claim = services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="request_photos", reason="Need the rear"
    )
    assert claim.status == Claim.Status.MORE_PHOTOS_REQUESTED
    decision = Decision.objects.filter(claim=claim).first()
    assert decision.outcome == "more_photos"
    assert decision.reasons[0]["message"] == services.CUSTOMER_MESSAGES["request_photos"]


def test_review_decide_refuses_without_lock_or_outside_review(
    locked_claim, adjuster, other_adjuster
):
    before = _review_state(locked_claim)
    with pytest.raises(ConflictError) as caught:
        services.review_decide(claim=locked_claim, adjuster=other_adjuster, action="approve")
    assert caught.value.code == "claim_locked"
    assert _review_state(locked_claim) == before

    services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve")
    with pytest.raises(ConflictError) as caught:
        services.review_decide(claim=locked_claim, adjuster=adjuster, action="deny", reason="x")
    assert caught.value.code == "claim_not_in_review"


def test_label_region_accepted_without_a_predicted_source_is_refused(
    locked_claim, first_photo, adjuster
):
    from django.db import IntegrityError, transaction

    labels, _ = _save(locked_claim, first_photo, adjuster, [region_payload()])
    region = labels.regions.get()

    region.source_index, region.origin = None, "accepted"
    with pytest.raises(IntegrityError), transaction.atomic():
        region.save()
