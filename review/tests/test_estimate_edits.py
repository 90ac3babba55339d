"""The adjuster edits the estimate by part before the decision: the part of a region (with its
override-ledger entry), and lines added, removed or changed (each an EstimateAdjustment), seen
by the live estimate and applied by the decision."""

from decimal import Decimal

import pytest
from django.urls import reverse

from assessment.models import AuditRecord, ClaimAssessment
from review.models import EstimateAdjustment, LabelRegion, OverrideLedgerEntry
from review.tests.factories import SCRATCH_BOX, region_payload
from review.tests.test_apis import decision_url, detail_url, put_labels
from review.tests.test_estimate_api import estimate_url
from review.tests.test_estimate_by_part import part_claim  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def adjust_url(claim_id) -> str:
    return reverse("api-review-estimate-adjustments", kwargs={"claim_id": claim_id})


def _lines(estimate) -> dict:
    return {(line["part"], line["operation"]): line for line in estimate["lines"]}


def _preview(client, claim, photos=()) -> dict:
    response = client.post(estimate_url(claim.pk), {"photos": list(photos)}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["corrected"]


def _adjust(client, claim, **body):
    return client.post(adjust_url(claim.pk), body, format="json")


def test_region_part_change_is_saved_priced_and_in_the_ledger(adjuster_client, part_claim):
    # given: photo 1's bonnet scratch (model region 1) put on the front bumper
    first = part_claim.photos.order_by("created_at").first()

    # when
    saved = put_labels(
        adjuster_client,
        part_claim,
        first,
        [
            region_payload("dent", "moderate", 0),
            region_payload("scratch", "minor", 1, box=SCRATCH_BOX, part="front_bumper"),
        ],
    )

    # then: the label keeps the part, the accepted dent keeps the model's (stored blank)
    assert saved.status_code == 200, saved.json()
    parts = {r.index: r.part for r in LabelRegion.objects.filter(labels__photo=first)}
    assert parts == {0: "", 1: "front_bumper"}
    ledger = {
        (e.region_index, e.action): e
        for e in OverrideLedgerEntry.objects.filter(photo=first, labels_version=1)
    }
    changed = ledger[(1, OverrideLedgerEntry.Action.PART_CHANGED)]
    assert (changed.from_part, changed.to_part) == ("hood", "front_bumper")
    accepted = ledger[(0, OverrideLedgerEntry.Action.ACCEPTED)]
    assert (accepted.from_part, accepted.to_part) == ("front_door", "front_door")
    assert saved.json()["labels"]["regions"][1]["part"] == "front_bumper"
    assert saved.json()["labels"]["regions"][1]["origin"] == "edited"
    # and the live estimate puts it on the bumper (the bonnet still on photo 2)
    corrected = _preview(adjuster_client, part_claim)
    by_part = {p["part"]: p for p in corrected["parts"]}
    assert by_part["front_bumper"]["photo_ids"] == [str(first.pk)]
    assert ("front_bumper", "refinish") in _lines(corrected)


def test_region_part_on_screen_moves_it_in_the_live_estimate(adjuster_client, part_claim):
    first = part_claim.photos.order_by("created_at").first()
    corrected = _preview(
        adjuster_client,
        part_claim,
        [
            {
                "photo_id": str(first.pk),
                "regions": [{"label": "dent", "severity": "moderate", "part": "rear_door"}],
            }
        ],
    )
    assert "rear_door" in {p["part"] for p in corrected["parts"]}


def test_region_part_outside_the_part_map_is_refused(adjuster_client, part_claim):
    first = part_claim.photos.order_by("created_at").first()
    saved = put_labels(
        adjuster_client, part_claim, first, [region_payload("dent", "moderate", 0, part="roof")]
    )
    assert saved.status_code == 400
    assert saved.json()["error"]["code"] == "invalid_part"


def test_line_change_of_hours_is_recorded_and_changes_the_total(adjuster_client, part_claim):
    # given
    before = _preview(adjuster_client, part_claim)
    line = _lines(before)[("front_door", "repair")]

    # when: the door repair set to 1 hour more
    hours = Decimal(line["labour_hours"]) + 1
    response = _adjust(
        adjuster_client,
        part_claim,
        action="change",
        part="front_door",
        operation="repair",
        labour_hours=str(hours),
        reason="two dents",
    )

    # then: the edit is the ledger entry, with the part and what the line was
    assert response.status_code == 201, response.json()
    adjustment = EstimateAdjustment.objects.get(claim=part_claim)
    assert (adjustment.part, adjustment.action, adjustment.labour_hours) == (
        "front_door",
        "change",
        hours,
    )
    assert adjustment.before["labour_hours"] == line["labour_hours"]
    after = _preview(adjuster_client, part_claim)
    changed = _lines(after)[("front_door", "repair")]
    assert Decimal(changed["labour_hours"]) == hours
    rate = Decimal(changed["hourly_rate"])
    assert Decimal(after["total"]) == Decimal(before["total"]) + rate
    # and the review detail lists the edit
    detail = adjuster_client.get(detail_url(part_claim.pk)).json()
    assert [a["part"] for a in detail["estimate_adjustments"]] == ["front_door"]
    assert {"name": "front_bumper", "display_name": "Front bumper"} in detail["parts"]


def test_line_remove_and_add_and_operation_change(adjuster_client, part_claim):
    before = _lines(_preview(adjuster_client, part_claim))
    hood = before[("hood", "refinish")]

    assert ("front_door", "replace") not in before
    # when: the bonnet refinish removed, the door repair made a replacement, a door R&I added
    assert (
        _adjust(
            adjuster_client, part_claim, action="remove", part="hood", operation="refinish"
        ).status_code
        == 201
    )
    assert (
        _adjust(
            adjuster_client,
            part_claim,
            action="change",
            part="front_door",
            operation="repair",
            to_operation="replace",
            labour_hours="0.50",
        ).status_code
        == 201
    )
    added = _adjust(
        adjuster_client,
        part_claim,
        action="add",
        part="front_door",
        operation="r_and_i",
        labour_hours="0.80",
        # an R&I row may exist in the table: the given figures win
        parts_cost="12.00",
    )
    assert added.status_code == 201, added.json()

    # then
    corrected = _preview(adjuster_client, part_claim)
    lines = _lines(corrected)
    assert ("hood", "refinish") not in lines
    assert ("front_door", "repair") not in lines, corrected["skipped_adjustments"]
    replaced = lines[("front_door", "replace")]
    assert Decimal(replaced["labour_hours"]) == Decimal("0.50")
    assert replaced["description"] == "Front door — replace"
    randi = lines[("front_door", "r_and_i")]
    assert Decimal(randi["parts_cost"]) == Decimal("12.00")
    assert randi["evidence"]  # on the door's regions
    assert Decimal(corrected["total"]) == sum(Decimal(x["total"]) for x in lines.values())
    assert Decimal(hood["total"]) > 0
    assert corrected["skipped_adjustments"] == []


def test_line_edit_on_a_part_without_damage_is_skipped(adjuster_client, part_claim):
    _adjust(
        adjuster_client,
        part_claim,
        action="add",
        part="wheel",
        operation="replace",
        parts_cost="90",
    )
    corrected = _preview(adjuster_client, part_claim)
    assert "wheel" not in {line["part"] for line in corrected["lines"]}
    assert corrected["skipped_adjustments"][0]["part"] == "wheel"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "change", "part": "front_door", "operation": "repair"}, "invalid_adjustment"),
        ({"action": "add", "part": "roof", "operation": "repair"}, "invalid_part"),
        ({"action": "add", "part": "other", "operation": "repair"}, "invalid_part"),
        ({"action": "add", "part": "hood", "operation": "polish"}, "invalid"),
        (
            {"action": "remove", "part": "hood", "operation": "refinish", "labour_hours": "1"},
            "invalid_adjustment",
        ),
    ],
)
def test_line_edit_invalid_is_refused(adjuster_client, part_claim, body, code):
    response = _adjust(adjuster_client, part_claim, **body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not EstimateAdjustment.objects.exists()


def test_line_edit_needs_the_lock(other_adjuster, api_client_for, part_claim):
    client = api_client_for(other_adjuster)
    response = _adjust(client, part_claim, action="remove", part="hood", operation="refinish")
    assert response.status_code == 409
    assert not EstimateAdjustment.objects.exists()


def test_decision_applies_the_line_edits(adjuster_client, part_claim):
    # given: only line edits, no saved labels
    _adjust(adjuster_client, part_claim, action="remove", part="hood", operation="refinish")
    preview = _preview(adjuster_client, part_claim)

    # when
    response = adjuster_client.post(
        decision_url(part_claim.pk),
        {"outcome": "approve_with_corrections", "reason": "bonnet was old damage"},
        format="json",
    )

    # then: the stored estimate is the preview's, without the bonnet line
    assert response.status_code == 200, response.json()
    assessment = ClaimAssessment.objects.get(claim=part_claim)
    assert assessment.source == "adjuster"
    assert assessment.estimate_total == Decimal(preview["total"])
    assert not assessment.lines.filter(part="hood", operation="refinish").exists()
    record = AuditRecord.objects.get(claim_id=part_claim.pk, outcome="estimate_adjusted")
    assert record.detail["adjustments"][0]["part"] == "hood"
