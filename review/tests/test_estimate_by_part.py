"""The adjuster's estimate by car part: the review API shows the damaged parts, and the live
estimate puts corrected regions on the part of the model region they came from."""

import pytest

from assessment import services as assessment_services
from claims.models import Claim, Photo
from claims.tests.factories import ClaimFactory, PhotoFactory
from ml.labels import PRODUCT_LABEL_MAP
from review import locks
from review.tests.conftest import region
from review.tests.factories import DENT_BOX, SCRATCH_BOX, region_payload
from review.tests.test_apis import detail_url, put_labels
from review.tests.test_estimate_api import estimate_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def part_claim(product_segmenter, customer, adjuster) -> Claim:
    """Two photos from a model with a part head, each with a moderate dent on the front door (0)
    and a minor scratch on the bonnet (1); photo confidence 0.4 sends it to review."""
    product_segmenter.photo_confidence = 0.4
    v2 = PRODUCT_LABEL_MAP
    product_segmenter.regions = [
        region(
            "dent", 0.9, "moderate", box=DENT_BOX, label_map=v2, part="front_door", part_share=0.9
        ),
        region("scratch", 0.8, "minor", box=SCRATCH_BOX, label_map=v2, part="hood", part_share=0.8),
    ]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    for _ in range(2):
        PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    for photo in claim.photos.all():
        assessment_services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    locks.review_lock_take(claim=claim, adjuster=adjuster)
    return claim


def _parts(estimate) -> dict:
    return {p["part"]: p for p in estimate["parts"]}


def test_review_detail_shows_the_damage_record_by_part(adjuster_client, part_claim):
    assessment = adjuster_client.get(detail_url(part_claim.pk)).json()["assessment"]

    parts = {p["part"]: p for p in assessment["damaged_parts"]}
    assert set(parts) == {"front_door", "hood"}
    assert len(parts["front_door"]["photo_ids"]) == 2
    assert {(line["part"], line["operation"]) for line in assessment["lines"]} >= {
        ("front_door", "repair"),
        ("front_door", "refinish"),
        ("hood", "refinish"),
    }


def test_review_estimate_puts_an_edited_region_on_its_source_part(adjuster_client, part_claim):
    # given: on photo 1 the door dent made severe on screen (from model region 0), unsaved
    first = part_claim.photos.order_by("created_at").first()
    body = {
        "photos": [
            {
                "photo_id": str(first.pk),
                "regions": [{"label": "dent", "severity": "severe", "source_index": 0}],
            }
        ]
    }

    # when
    preview = adjuster_client.post(estimate_url(part_claim.pk), body, format="json").json()

    # then: the door is still one part, seen on both photos, now severe; the bonnet only on 2
    parts = _parts(preview["corrected"])
    assert parts["front_door"]["severity"] == "severe"
    assert len(parts["front_door"]["photo_ids"]) == 2
    assert parts["hood"]["photo_ids"] == [str(part_claim.photos.order_by("created_at")[1].pk)]
    assert all(line["part"] for line in preview["corrected"]["lines"])


def test_review_estimate_prices_a_region_without_a_source_per_region(adjuster_client, part_claim):
    first = part_claim.photos.order_by("created_at").first()
    body = {
        "photos": [
            {"photo_id": str(first.pk), "regions": [{"label": "scratch", "severity": "severe"}]}
        ]
    }

    preview = adjuster_client.post(estimate_url(part_claim.pk), body, format="json").json()

    loose = [line for line in preview["corrected"]["lines"] if not line["part"]]
    assert {line["damage_type"] for line in loose} == {"scratch"}
    assert preview["corrected"]["unpriced"] == []


def test_saved_labels_keep_the_model_part_and_drawn_regions_are_priced_per_region(
    adjuster_client, part_claim
):
    # given: photo 1's labels saved: the door dent accepted as is, and a dent the adjuster drew
    first = part_claim.photos.order_by("created_at").first()
    saved = put_labels(
        adjuster_client,
        part_claim,
        first,
        [
            region_payload("dent", "moderate", 0),
            region_payload("dent", "minor", None, box=SCRATCH_BOX),
        ],
    )
    assert saved.status_code == 200, saved.json()

    # when the live estimate is asked with no unsaved edits
    preview = adjuster_client.post(estimate_url(part_claim.pk), {"photos": []}, format="json")

    # then the accepted dent is still on the door, with evidence from both photos
    corrected = preview.json()["corrected"]
    door = _parts(corrected)["front_door"]
    assert len(door["evidence"]) == 2
    assert door["evidence"][0]["confidence"] == pytest.approx(0.9, abs=1e-3)
    # and the drawn dent is priced per region by damage type
    assert [line["damage_type"] for line in corrected["lines"] if not line["part"]] == ["dent"]
