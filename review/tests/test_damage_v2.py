"""The review screen's data and pages with the damage-v2 model: display names from its label
map, and the car part of each predicted region."""

import pytest
from django.urls import reverse

from assessment import services as assessment_services
from claims.models import Claim, Photo
from claims.tests.factories import ClaimFactory, PhotoFactory
from ml.labels import PRODUCT_LABEL_MAP
from review.tests.conftest import region
from review.tests.factories import DENT_BOX, SCRATCH_BOX

pytestmark = pytest.mark.django_db


@pytest.fixture
def v2_claim(product_segmenter, customer) -> Claim:
    """A claim the damage-v2 model sent to review: a broken part on the front bumper and
    paint damage on no named part."""
    product_segmenter.regions = [
        region(
            "broken_part",
            0.9,
            "moderate",
            box=DENT_BOX,
            label_map=PRODUCT_LABEL_MAP,
            part="front_bumper",
            part_share=0.76,
        ),
        region(
            "paint_damage",
            0.8,
            "minor",
            box=SCRATCH_BOX,
            label_map=PRODUCT_LABEL_MAP,
            part=None,
            part_share=0.31,
        ),
    ]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    for photo in claim.photos.all():
        assessment_services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW  # broken parts always go to a person
    return claim


def test_review_detail_sends_display_names_and_parts(adjuster_client, v2_claim):
    body = adjuster_client.get(reverse("api-review-claim", kwargs={"claim_id": v2_claim.pk}))

    classes = body.json()["label_map"]["classes"]
    assert [(c["name"], c["display"]) for c in classes] == [
        ("dent", "Dent"),
        ("scratch", "Scratch"),
        ("broken_part", "Broken or missing part"),
        ("glass_crack", "Cracked glass"),
        ("lamp_broken", "Broken lamp"),
        ("paint_damage", "Paint damage"),
    ]
    predicted = body.json()["photos"][0]["predicted"]
    assert [(p["label"], p["part"], p["part_share"]) for p in predicted] == [
        ("broken_part", "front_bumper", 0.76),
        ("paint_damage", None, 0.31),
    ]


def test_review_detail_names_types_without_display_in_words(adjuster_client, in_review_claim):
    # given a claim decided by a CarDD-6 model: display names for some types, not for dent
    body = adjuster_client.get(reverse("api-review-claim", kwargs={"claim_id": in_review_claim.pk}))

    names = {c["name"]: c["display"] for c in body.json()["label_map"]["classes"]}
    assert names["glass_shatter"] == "Broken glass"  # the label map's display name
    assert names["dent"] == "Dent"  # no display name: the name in words
    assert body.json()["photos"][0]["predicted"][0]["part"] is None


def test_review_queue_filter_offers_the_active_models_types_by_display_name(
    client, adjuster, product_model_version
):
    client.force_login(adjuster)

    html = client.get(reverse("review-queue")).content.decode()

    assert '<option value="broken_part">Broken or missing part</option>' in html
    assert '<option value="glass_crack">Cracked glass</option>' in html
    assert "glass_shatter" not in html


def test_review_queue_filter_before_any_model_shows_the_bundled_models_types(
    client, adjuster, tmp_path, monkeypatch
):
    # given no registered model and a bundled model with its own label map
    import ml.inference
    from assessment.tests.conftest import model_dir_make

    folder = model_dir_make(tmp_path / "bundled", "bundled-1")
    monkeypatch.setattr(ml.inference, "DEFAULT_MODEL_DIR", folder)
    client.force_login(adjuster)

    html = client.get(reverse("review-queue")).content.decode()

    assert '<option value="paint_damage">Paint damage</option>' in html
