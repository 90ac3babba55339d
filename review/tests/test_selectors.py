"""The review queue (priority, filters, counts) and the claim on the review screen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from assessment.models import Decision
from review import estimate_selectors, queue_selectors, selectors, services
from review import labels as review_labels
from review.models import PhotoLabels
from review.tests.factories import ClaimNoteFactory, ReviewLockFactory, region_payload

pytestmark = pytest.mark.django_db


def _waiting(claim, hours: float) -> None:
    Decision.objects.filter(claim=claim).update(created_at=timezone.now() - timedelta(hours=hours))


def test_review_priority_weighs_time_estimate_and_uncertainty():
    common = {"sla_hours": 24, "estimate_ref": 1000}
    # 12 h of 24, estimate equal to the reference, confidence 0.4: 0.6*0.5 + 0.25*0.5 + 0.15*0.6
    assert queue_selectors.review_priority(
        waiting_hours=12, estimate_total=1000, min_photo_confidence=0.4, **common
    ) == pytest.approx(0.515)
    assert (
        queue_selectors.review_priority(
            waiting_hours=0, estimate_total=0, min_photo_confidence=1.0, **common
        )
        == 0.0
    )
    assert (
        queue_selectors.review_priority(
            waiting_hours=0, estimate_total=0, min_photo_confidence=None, **common
        )
        == 0.15
    )
    assert (
        queue_selectors.review_priority(
            waiting_hours=24, estimate_total=0, min_photo_confidence=1.0, **common
        )
        == 1.0
    )
    assert (
        queue_selectors.review_priority(
            waiting_hours=23.9, estimate_total=10**9, min_photo_confidence=0.0, **common
        )
        < 1.0
    )


def test_review_queue_list_orders_by_priority_and_counts(
    make_in_review_claim, adjuster, other_adjuster, settings
):
    settings.CLAIMVISION_REVIEW_SLA_HOURS = 24
    fresh, old, breached = make_in_review_claim(), make_in_review_claim(), make_in_review_claim()
    _waiting(fresh, 1)
    _waiting(old, 10)
    _waiting(breached, 30)
    ReviewLockFactory(claim=old, adjuster=adjuster)
    ReviewLockFactory(claim=breached, adjuster=other_adjuster)

    queue = queue_selectors.review_queue_list(user=adjuster)

    assert [r["reference"] for r in queue.rows] == [
        breached.reference,
        old.reference,
        fresh.reference,
    ]
    top = queue.rows[0]
    assert (top["priority"], top["sla_breached"], top["sla_hours"]) == (1.0, True, 24)
    assert top["lock"]["adjuster"] == other_adjuster.username and top["lock"]["mine"] is False
    assert queue.rows[1]["lock"]["mine"] is True
    assert queue.rows[2]["waiting_hours"] == pytest.approx(1, abs=0.01)
    assert queue.rows[2]["damage_types"] == ["dent", "scratch"]
    assert queue.rows[2]["photo_count"] == 2
    assert queue.rows[2]["min_photo_confidence"] == 0.4
    assert queue.counts["total"] == 3
    assert (queue.counts["mine"], queue.counts["locked_by_others"]) == (1, 1)
    assert queue.counts["by_reason"]["low_photo_confidence"] == 3


def test_review_queue_list_filters(make_in_review_claim, adjuster, locked_claim):
    other = make_in_review_claim()
    _waiting(other, 5)
    _waiting(locked_claim, 0.5)

    def refs(**filters):
        return [
            r["reference"] for r in queue_selectors.review_queue_list(user=adjuster, **filters).rows
        ]

    assert refs(mine=True) == [locked_claim.reference]
    assert refs(min_age_hours=2) == [other.reference]
    assert refs(reason="low_photo_confidence", damage_type="dent") == [
        other.reference,
        locked_claim.reference,
    ]
    assert refs(reason="duplicate_photo") == []
    assert refs(damage_type="glass_shatter") == []
    # an adjuster's added region counts as the claim's damage type
    photo = locked_claim.photos.first()
    review_labels.photo_labels_save(
        claim=locked_claim,
        photo=photo,
        adjuster=adjuster,
        base_version=0,
        regions=[region_payload("glass_shatter", "severe", None)],
    )
    assert refs(damage_type="glass_shatter") == [locked_claim.reference]
    # counts cover the whole queue whatever the filter
    assert queue_selectors.review_queue_list(user=adjuster, mine=True).counts["total"] == 2


def test_review_claim_detail_has_photos_predictions_labels_history_notes(
    locked_claim, first_photo, adjuster, other_adjuster
):
    review_labels.photo_labels_save(
        claim=locked_claim,
        photo=first_photo,
        adjuster=adjuster,
        base_version=0,
        regions=[region_payload("dent", "moderate", 0)],
        active_ms=700,
    )
    ClaimNoteFactory(claim=locked_claim, author=other_adjuster, text="Garage called")

    detail = selectors.review_claim_detail(claim=locked_claim, user=other_adjuster)

    photo = detail["photos"][0]
    assert (photo["id"], photo["mask_width"], photo["mask_height"]) == (first_photo.pk, 64, 48)
    assert (photo["width"], photo["height"]) == (96, 64)  # the working copy's pixels
    assert [(r["index"], r["label"], r["confidence"]) for r in photo["predicted"]] == [
        (0, "dent", 0.5),
        (1, "scratch", 0.6),
    ]
    assert photo["labels"]["version"] == 1
    assert [(r["label"], r["severity"]) for r in photo["labels"]["regions"]] == [
        ("dent", "moderate")
    ]
    assert photo["active_ms"] == 700
    assert detail["photos"][1]["labels"] is None
    assert detail["lock"]["adjuster"] == adjuster.username and detail["lock"]["mine"] is False
    assert [n["text"] for n in detail["notes"]] == ["Garage called"]
    assert detail["history"][0]["kind"] == "automated_decision"
    assert "not sure enough" in detail["history"][0]["summary"]
    assert "dent" in [c["name"] for c in detail["label_map"]["classes"]]
    assert detail["severities"] == ["minor", "moderate", "severe"]


# --------------------------------------------------------------------------- reasons


def test_reason_groups_count_each_code_and_put_the_contest_first():
    reasons = [
        {"code": "low_region_confidence", "message": "Unsure about a dent on photo 1."},
        {"code": "low_region_confidence", "message": "Unsure about a scratch on photo 2."},
        {"code": "low_region_confidence", "message": "Unsure about a dent on photo 1."},
        {"code": "estimate_over_limit", "message": "Over the limit."},
        {"code": "customer_contest", "message": "The customer contests.", "detail": "Too low"},
        {"code": "some_new_rule", "message": "New."},
    ]

    groups = queue_selectors.reason_groups(reasons)

    assert [(g["code"], g["count"]) for g in groups] == [
        ("customer_contest", 1),
        ("estimate_over_limit", 1),
        ("low_region_confidence", 3),
        ("some_new_rule", 1),
    ]
    assert groups[0]["detail"] == "Too low"
    assert groups[2]["title"] == "Model unsure about a region"
    assert groups[2]["messages"] == [
        "Unsure about a dent on photo 1.",
        "Unsure about a scratch on photo 2.",
    ]
    assert groups[3]["title"] == "Some new rule"


def test_review_queue_rows_carry_grouped_reasons(in_review_claim, adjuster):
    row = queue_selectors.review_queue_list(user=adjuster).rows[0]

    codes = [r["code"] for r in row["reasons"]]
    assert sum(g["count"] for g in row["reason_groups"]) == len(codes)
    assert len(row["reason_groups"]) == len(set(codes))


# --------------------------------------------------------------------------- estimates


def _photos(claim):
    return list(claim.photos.order_by("created_at"))


def test_review_estimate_preview_prices_edits_as_the_decision_will(locked_claim, adjuster):
    # given: unsaved edits on photo 1 (dent made severe, scratch deleted, a crack drawn)
    first, second = _photos(locked_claim)
    edits = [
        {"label": "dent", "severity": "severe"},
        {"label": "crack", "severity": "moderate"},
    ]
    model_total = locked_claim.assessment.estimate_total

    # when: the screen asks for the live estimate, then saves the same edits and decides
    preview = estimate_selectors.review_estimate_preview(
        claim=locked_claim, overrides={str(first.pk): edits}
    )
    review_labels.photo_labels_save(
        claim=locked_claim,
        photo=first,
        adjuster=adjuster,
        base_version=0,
        regions=[
            region_payload("dent", "severe", 0),
            region_payload("crack", "moderate", None, (0, 40, 5, 5)),
        ],
    )
    services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="approve_with_corrections", reason="x"
    )

    # then: the preview's lines and total are what the decision recorded
    locked_claim.refresh_from_db()
    decided = locked_claim.assessment
    assert preview["corrected"]["total"] == decided.estimate_total != model_total
    assert sorted(
        (line["photo_id"], line["region_index"], line["damage_type"], line["severity"])
        for line in preview["corrected"]["lines"]
    ) == sorted(
        (str(line.photo_id), line.region_index, line.damage_type, line.severity)
        for line in decided.lines.all()
    )
    assert str(second.pk) in {line["photo_id"] for line in preview["corrected"]["lines"]}
    assert preview["model"]["total"] == model_total
    outcomes = {o["outcome"]: o for o in preview["outcomes"]}
    assert outcomes["approve_with_corrections"]["reason_required"] is True
    assert outcomes["approve"]["reason_required"] is False
    assert outcomes["deny"]["reason_required"] is True
    assert outcomes["approve"]["estimate_total"] == model_total
    assert outcomes["approve"]["customer_message"] == services.CUSTOMER_MESSAGES["approve"]


def test_review_estimate_preview_without_edits_is_the_model_estimate(locked_claim):
    preview = estimate_selectors.review_estimate_preview(claim=locked_claim, overrides={})

    assert preview["corrected"]["total"] == locked_claim.assessment.estimate_total
    outcomes = {o["outcome"]: o for o in preview["outcomes"]}
    assert outcomes["approve_with_corrections"]["reason_required"] is False


def test_review_estimate_preview_refuses_a_type_outside_the_label_map(locked_claim):
    first = _photos(locked_claim)[0]
    from config.errors import ApplicationError

    with pytest.raises(ApplicationError) as caught:
        estimate_selectors.review_estimate_preview(
            claim=locked_claim,
            overrides={str(first.pk): [{"label": "alien_probe", "severity": "minor"}]},
        )
    assert caught.value.code == "invalid_label"


# --------------------------------------------------------------------------- history


def test_review_history_shows_a_label_save_at_its_save_time(locked_claim, adjuster):
    # given: labels saved an hour before the decision
    first = _photos(locked_claim)[0]
    saved = timezone.now() - timedelta(hours=1)
    review_labels.photo_labels_save(
        claim=locked_claim,
        photo=first,
        adjuster=adjuster,
        base_version=0,
        regions=[region_payload("dent", "severe", 0)],
    )
    PhotoLabels.objects.filter(photo=first).update(saved_at=saved)
    services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="approve_with_corrections", reason="x"
    )

    history = selectors.review_claim_detail(claim=locked_claim, user=adjuster)["history"]

    override = next(h for h in history if h["kind"] == "human_override")
    decision = next(h for h in history if h["kind"] == "human_decision")
    assert override["at"] == saved
    assert decision["at"] - override["at"] >= timedelta(minutes=59)
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)


def test_review_history_words_a_decision_for_staff_and_marks_the_customer_message(
    locked_claim, adjuster
):
    services.review_decide(claim=locked_claim, adjuster=adjuster, action="approve")

    history = selectors.review_claim_detail(claim=locked_claim, user=adjuster)["history"]

    decision = next(h for h in history if h["kind"] == "human_decision")
    assert decision["summary"] == (
        f"No reason given. Customer told: “{services.CUSTOMER_MESSAGES['approve']}”"
    )
