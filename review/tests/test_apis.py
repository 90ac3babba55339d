"""The review API end to end: every endpoint, every rejection, and the more-photos round trip
through the customer API."""

import pytest
from django.urls import reverse

from assessment import services as assessment_services
from assessment.models import AuditRecord, ClaimAssessment, Decision
from claims import services as claims_services
from claims.models import Claim, Photo
from claims.tests.factories import ClaimFactory, jpeg_bytes
from claims.tests.helpers import claim_url, photo_url, submit_url, upload
from review.models import ClaimNote, LabelRegion, OverrideLedgerEntry, PhotoLabels, ReviewLock
from review.tests.factories import DENT_BOX, SCRATCH_BOX, box_rle, region_payload

pytestmark = pytest.mark.django_db


def queue_url() -> str:
    return reverse("api-review-queue")


def detail_url(claim_id) -> str:
    return reverse("api-review-claim", kwargs={"claim_id": claim_id})


def lock_url(claim_id) -> str:
    return reverse("api-review-lock", kwargs={"claim_id": claim_id})


def notes_url(claim_id) -> str:
    return reverse("api-review-notes", kwargs={"claim_id": claim_id})


def decision_url(claim_id) -> str:
    return reverse("api-review-decision", kwargs={"claim_id": claim_id})


def image_url(claim_id, photo_id) -> str:
    return reverse("api-review-photo-image", kwargs={"claim_id": claim_id, "photo_id": photo_id})


def labels_url(claim_id, photo_id) -> str:
    return reverse("api-review-photo-labels", kwargs={"claim_id": claim_id, "photo_id": photo_id})


def review_endpoints(claim_id, photo_id) -> list[tuple[str, str]]:
    return [
        ("get", queue_url()),
        ("get", detail_url(claim_id)),
        ("post", lock_url(claim_id)),
        ("delete", lock_url(claim_id)),
        ("post", notes_url(claim_id)),
        ("post", decision_url(claim_id)),
        ("get", image_url(claim_id, photo_id)),
        ("put", labels_url(claim_id, photo_id)),
    ]


def stored() -> dict:
    return {
        "labels": sorted(PhotoLabels.objects.values_list("photo_id", "version")),
        "regions": sorted(LabelRegion.objects.values_list("id", "label", "severity")),
        "ledger": OverrideLedgerEntry.objects.count(),
        "lock": list(ReviewLock.objects.values_list("claim_id", "adjuster_id", "expires_at")),
        "statuses": sorted(Claim.objects.values_list("id", "status")),
        "decisions": Decision.objects.count(),
        "audit": AuditRecord.objects.count(),
        "notes": ClaimNote.objects.count(),
    }


def put_labels(client, claim, photo, regions, base_version=0, **extra):
    body = {"base_version": base_version, "active_ms": 1200, "regions": regions, **extra}
    return client.put(labels_url(claim.pk, photo.pk), body, format="json")


# --------------------------------------------------------------------------- who may call


@pytest.mark.parametrize("who", ["customer", "data_team_member"])
def test_review_endpoints_refuse_customers_and_data_team(
    request, api_client_for, in_review_claim, first_photo, who
):
    client = api_client_for(request.getfixturevalue(who))
    before = stored()
    for method, url in review_endpoints(in_review_claim.pk, first_photo.pk):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 403, (method, url)
        assert response.json()["error"]["code"] == "permission_denied", (method, url)
    assert stored() == before


def test_review_endpoints_refuse_anonymous(client, in_review_claim, first_photo):
    for method, url in review_endpoints(in_review_claim.pk, first_photo.pk):
        response = getattr(client, method)(url)
        assert response.status_code in (401, 403), (method, url)


def test_review_detail_is_404_for_drafts_and_malformed_ids(adjuster_client, customer):
    draft = ClaimFactory(owner=customer)
    for url in (detail_url(draft.pk), detail_url("not-a-uuid")):
        response = adjuster_client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


# --------------------------------------------------------------------------- queue and screen


def test_review_queue_lists_claims_in_review(adjuster_client, in_review_claim, adjuster):
    adjuster_client.post(lock_url(in_review_claim.pk))

    response = adjuster_client.get(queue_url(), {"mine": "1", "reason": "low_photo_confidence"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["counts"]["total"] == 1 and body["counts"]["mine"] == 1
    row = body["results"][0]
    assert row["id"] == str(in_review_claim.pk)
    assert row["lock"]["mine"] is True and row["lock"]["adjuster"] == adjuster.username
    assert 0 <= row["priority"] <= 1
    assert row["estimate_total"] == str(ClaimAssessment.objects.get().estimate_total)
    assert {r["code"] for r in row["reasons"]} >= {"low_photo_confidence"}
    assert adjuster_client.get(queue_url(), {"damage_type": "crack"}).json()["count"] == 0
    assert adjuster_client.get(queue_url(), {"min_age_hours": "-1"}).status_code == 400


def test_review_queue_refuses_an_empty_or_non_boolean_yes_no_filter(adjuster_client):
    # the schema says boolean: an empty value is not "absent", it is not a boolean
    for name in ("mine", "senior_review"):
        for value in ("", "maybe"):
            response = adjuster_client.get(queue_url(), {name: value})
            assert response.status_code == 400, (name, value)
            assert response.json()["error"]["details"]["fields"][name]
        assert adjuster_client.get(queue_url(), {name: "0"}).status_code == 200


def test_review_detail_shows_the_claim(adjuster_client, in_review_claim, first_photo):
    response = adjuster_client.get(detail_url(in_review_claim.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == in_review_claim.reference
    assert body["status"] == "in_review"
    assert body["decision"]["outcome"] == "routed_to_review"
    # staff, unlike customers, see which policy and model version decided
    decided = Decision.objects.get(claim=in_review_claim)
    assert body["decision"]["policy_version"] == decided.policy.version
    assert body["decision"]["model_version"] == decided.model_version.version
    assert body["assessment"]["source"] == "model"
    assert body["lock"] is None
    photo = body["photos"][0]
    assert photo["image_url"] == image_url(in_review_claim.pk, first_photo.pk)
    assert photo["predicted"][0]["mask_rle"] == box_rle(DENT_BOX)
    assert photo["labels"] is None


def test_review_photo_image_serves_working_copy_to_adjusters(
    adjuster_client, in_review_claim, first_photo
):
    response = adjuster_client.get(image_url(in_review_claim.pk, first_photo.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    with first_photo.working.open("rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()
    other_claim = ClaimFactory(submitted=True)
    assert adjuster_client.get(image_url(other_claim.pk, first_photo.pk)).status_code == 404


def test_review_photo_image_rebuilds_a_missing_working_copy_from_the_original(
    adjuster_client, in_review_claim, first_photo
):
    first_photo.working.storage.delete(first_photo.working.name)

    response = adjuster_client.get(image_url(in_review_claim.pk, first_photo.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xff\xd8\xff")
    assert first_photo.working.storage.exists(first_photo.working.name)
    first_photo.refresh_from_db()
    assert first_photo.status == Photo.Status.PREPARED  # as it was: only the file came back


def test_review_photo_image_without_any_stored_file_is_a_404_without_a_path(
    adjuster_client, in_review_claim, first_photo, settings
):
    for field in (first_photo.working, first_photo.original):
        field.storage.delete(field.name)

    response = adjuster_client.get(image_url(in_review_claim.pk, first_photo.pk))

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "photo_file_missing"
    assert error["message"] == claims_services.ERR_PHOTO_FILES_MISSING
    assert str(settings.MEDIA_ROOT) not in response.content.decode()


# --------------------------------------------------------------------------- locks


def test_two_adjusters_on_one_claim_second_gets_409_and_saves_nothing(
    adjuster_client, other_adjuster_client, in_review_claim, first_photo
):
    # given: the first adjuster opened the claim
    taken = adjuster_client.post(lock_url(in_review_claim.pk))
    assert taken.status_code == 200 and taken.json()["mine"] is True
    before = stored()

    # when: the second one tries to take it, save labels and decide
    lock = other_adjuster_client.post(lock_url(in_review_claim.pk))
    save = put_labels(other_adjuster_client, in_review_claim, first_photo, [region_payload()])
    decide = other_adjuster_client.post(
        decision_url(in_review_claim.pk), {"outcome": "approve"}, format="json"
    )
    release = other_adjuster_client.delete(lock_url(in_review_claim.pk))

    # then
    for response in (lock, save, decide, release):
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "claim_locked"
        assert error["message"].startswith("Alice Adams is reviewing this claim (until ")
    assert stored() == before


def test_review_lock_release_lets_another_adjuster_take_it(
    adjuster_client, other_adjuster_client, in_review_claim, other_adjuster
):
    adjuster_client.post(lock_url(in_review_claim.pk))

    assert adjuster_client.delete(lock_url(in_review_claim.pk)).status_code == 204
    response = other_adjuster_client.post(lock_url(in_review_claim.pk), {"active_ms": 5000})

    assert response.status_code == 200
    assert ReviewLock.objects.get().adjuster == other_adjuster


# --------------------------------------------------------------------------- labels


def test_review_labels_save_returns_labels_and_ledger(adjuster_client, locked_claim, first_photo):
    regions = [
        region_payload("dent", "minor", 0, DENT_BOX),
        region_payload("crack", "moderate", None, (0, 0, 4, 4)),
    ]
    response = put_labels(adjuster_client, locked_claim, first_photo, regions)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["labels"]["version"] == 1
    assert [r["label"] for r in body["labels"]["regions"]] == ["dent", "crack"]
    assert body["labels"]["regions"][1]["mask_rle"] == box_rle((0, 0, 4, 4))
    assert sorted(e["action"] for e in body["ledger"]) == ["accepted", "added", "deleted"]
    detail = adjuster_client.get(detail_url(locked_claim.pk)).json()
    assert detail["photos"][0]["labels"]["version"] == 1


def test_review_labels_stale_save_is_409_and_changes_nothing(
    adjuster_client, locked_claim, first_photo
):
    assert (
        put_labels(adjuster_client, locked_claim, first_photo, [region_payload()]).status_code
        == 200
    )
    before = stored()

    response = put_labels(adjuster_client, locked_claim, first_photo, [], base_version=0)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale_labels"
    assert "Reload" in response.json()["error"]["message"]
    assert stored() == before


@pytest.mark.parametrize(
    ("region", "code"),
    [
        ({"mask_rle": box_rle(SCRATCH_BOX, height=96, width=128)}, "invalid_mask"),  # wrong size
        ({"mask_rle": {"size": [48, 64], "counts": "\u00e9t\u00e9"}}, "invalid_mask"),  # not ASCII
        ({"mask_rle": {"size": [48, 64], "counts": "PPPP"}}, "invalid_mask"),  # truncated
        ({"mask_rle": {"size": [48, 64], "counts": "0:1"}}, "invalid_mask"),  # short runs
        ({"mask_rle": "iVBORw0KGgo="}, "invalid_mask"),  # a PNG, not RLE
        ({"mask_rle": {"size": [48, 64], "counts": [0, 3072]}}, "invalid_mask"),  # uncompressed
        ({"label": "rust"}, "invalid_label"),  # not in the label map
        ({"label": 99}, "invalid_label"),  # a type id out of range
        ({"severity": "total_loss"}, "invalid_severity"),
        ({"source_index": 5}, "invalid_region"),
    ],
)
def test_review_labels_corrupted_payload_is_400_and_changes_nothing(
    adjuster_client, locked_claim, first_photo, region, code
):
    before = stored()
    regions = [
        region_payload(),
        {**region_payload("scratch", "moderate", 1, SCRATCH_BOX), **region},
    ]

    response = put_labels(adjuster_client, locked_claim, first_photo, regions)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith("Region 1: ")
    assert error["details"]["region"] == 1
    assert stored() == before


@pytest.mark.parametrize(
    "body",
    [
        {"active_ms": 1, "regions": []},  # no base_version
        {"base_version": 0, "regions": "everything"},
        {"base_version": 0, "regions": [["not", "an", "object"]]},
        {"base_version": -1, "regions": []},
        {"base_version": 0, "regions": [], "active_ms": -5},
    ],
)
def test_review_labels_malformed_body_is_400(adjuster_client, locked_claim, first_photo, body):
    before = stored()
    response = adjuster_client.put(labels_url(locked_claim.pk, first_photo.pk), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert stored() == before


# --------------------------------------------------------------------------- notes and decisions


def test_review_note_add(adjuster_client, in_review_claim, adjuster):
    response = adjuster_client.post(notes_url(in_review_claim.pk), {"text": "Called the garage"})
    assert response.status_code == 201
    assert response.json()["author"] == adjuster.username
    assert ClaimNote.objects.get().text == "Called the garage"
    assert adjuster_client.post(notes_url(in_review_claim.pk), {"text": ""}).status_code == 400


def test_review_decision_approve_with_corrections_changes_the_estimate(
    adjuster_client, locked_claim, first_photo
):
    before = adjuster_client.get(detail_url(locked_claim.pk)).json()["assessment"]
    put_labels(adjuster_client, locked_claim, first_photo, [region_payload("dent", "severe", 0)])

    response = adjuster_client.post(
        decision_url(locked_claim.pk),
        {"outcome": "approve_with_corrections", "reason": "Dent is deeper", "active_ms": 60000},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "decided"
    assert body["decision"]["outcome"] == "approved_with_corrections"
    assert body["assessment"]["source"] == "adjuster"
    assert body["assessment"]["estimate_total"] != before["estimate_total"]
    assert body["lock"] is None
    assert [h["kind"] for h in body["history"]][-2:] == ["human_override", "human_decision"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"outcome": "deny"}, "reason_required"),
        ({"outcome": "request_photos", "reason": ""}, "reason_required"),
        ({"outcome": "shrug"}, "invalid"),
    ],
)
def test_review_decision_rejections_change_nothing(adjuster_client, locked_claim, body, code):
    before = stored()
    response = adjuster_client.post(decision_url(locked_claim.pk), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert stored() == before


def test_review_decision_deny(adjuster_client, locked_claim, customer_client):
    response = adjuster_client.post(
        decision_url(locked_claim.pk),
        {"outcome": "deny", "reason": "Old damage", "message_to_customer": "Damage is older."},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["decision"]["outcome"] == "denied"
    seen = customer_client.get(claim_url(locked_claim.pk)).json()
    assert seen["status"] == "decided"
    assert seen["decision"]["reasons"] == [
        {"code": "adjuster_denied", "message": "Damage is older."}
    ]


def test_request_photos_round_trip_through_the_customer_api(
    adjuster_client,
    customer_client,
    locked_claim,
    segmenter,
    enqueued,
    django_capture_on_commit_callbacks,
):
    # given: the adjuster asks for more photos
    response = adjuster_client.post(
        decision_url(locked_claim.pk),
        {
            "outcome": "request_photos",
            "reason": "Rear not visible",
            "message_to_customer": "Please add a photo of the rear bumper.",
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "more_photos_requested"

    # the customer sees the request, cannot remove assessed photos or submit without a new one
    seen = customer_client.get(claim_url(locked_claim.pk)).json()
    assert seen["status"] == "more_photos_requested"
    assert seen["decision"]["reasons"][0]["message"] == "Please add a photo of the rear bumper."
    old_photo = locked_claim.photos.first()
    refused = customer_client.delete(photo_url(locked_claim.pk, old_photo.pk))
    assert refused.status_code == 409
    resubmit = customer_client.post(submit_url(locked_claim.pk))
    assert resubmit.status_code == 409
    assert resubmit.json()["error"]["code"] == "no_new_photos"

    # when: the customer adds a photo and submits again
    uploaded = upload(customer_client, locked_claim.pk, jpeg_bytes())
    assert uploaded.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        submitted = customer_client.post(submit_url(locked_claim.pk))
    assert submitted.status_code == 202
    assert submitted.json()["status"] == "submitted"
    assert enqueued == [str(locked_claim.pk)]

    # the worker prepares the claim (assessing) and assesses only the new photo
    claim = claims_services.claim_prepare(claim_id=locked_claim.pk)
    assert claim.status == Claim.Status.ASSESSING
    calls = segmenter.calls
    for photo in Photo.objects.filter(claim=claim):
        assessment_services.photo_assess(photo_id=photo.pk)
    assert segmenter.calls == calls + 1

    # then: the claim assessment is rebuilt over three photos and the claim is back in the queue
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    assert ClaimAssessment.objects.get(claim=claim).region_count == 6
    routing = Decision.objects.filter(claim=claim).first()
    assert routing.outcome == "routed_to_review"
    assert routing.reasons[0]["code"] == "more_photos_received"
    queue = adjuster_client.get(queue_url(), {"reason": "more_photos_received"}).json()
    assert [r["id"] for r in queue["results"]] == [str(claim.pk)]
    assert queue["results"][0]["photo_count"] == 3


def test_resubmitted_claim_is_never_auto_decided(adjuster, locked_claim, segmenter, customer):
    # given: a confident model this time
    from review import services

    services.review_decide(
        claim=locked_claim, adjuster=adjuster, action="request_photos", reason="Need more"
    )
    segmenter.photo_confidence = 0.99
    segmenter.regions = []
    from claims.tests.factories import PhotoFactory

    PhotoFactory(claim=locked_claim)
    claims_services.claim_submit(claim=locked_claim)
    claim = claims_services.claim_prepare(claim_id=locked_claim.pk)
    for photo in claim.photos.all():
        assessment_services.photo_assess(photo_id=photo.pk)

    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
