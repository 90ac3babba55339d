"""What the customer API shows of an assessment: the decided model's regions, never a shadow's."""

import pytest

from assessment import services
from assessment.models import ModelVersion, PhotoAssessment, Region
from assessment.tests.conftest import region

pytestmark = pytest.mark.django_db


def _shadow_assessment(photo) -> PhotoAssessment:
    shadow, _ = ModelVersion.objects.get_or_create(
        version="test-shadow",
        defaults={
            "path": "/x",
            "artifact_sha256": "2" * 64,
            "label_map": {},
            "status": ModelVersion.Status.SHADOW,
        },
    )
    return services.photo_assessment_store(
        photo=photo,
        model_version=shadow,
        prediction={
            "photo_confidence": 0.5,
            "image_width": 640,
            "image_height": 480,
            "mask_width": 64,
            "mask_height": 48,
            "timings_ms": {},
            "regions": [region("crack", 0.6), region("scratch", 0.6, box=(30, 5, 10, 10))],
        },
    )


def test_claim_api_shows_the_decided_models_regions_not_a_newer_shadows(
    segmenter, assessing_claim, customer, api_client_for
):
    # given a claim decided with the active model, and a shadow model's (newer) reading
    segmenter.regions = [region("dent", 0.95, "minor")]
    for photo in assessing_claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
        _shadow_assessment(photo)
    assert Region.objects.filter(assessment__model_version__version="test-shadow").count() == 4

    # when the customer reads the claim and one photo
    client = api_client_for(customer)
    claim = client.get(f"/api/v1/claims/{assessing_claim.pk}/").json()
    photo_id = claim["photos"][0]["id"]
    one = client.get(f"/api/v1/claims/{assessing_claim.pk}/photos/{photo_id}/").json()

    # then every photo shows the active model's single dent
    for shown in [*(p["assessment"] for p in claim["photos"]), one["assessment"]]:
        assert shown["model_version"] == "test-v1"
        assert [r["label"] for r in shown["regions"]] == ["dent"]


def test_claim_api_shows_the_active_models_regions_while_still_assessing(
    segmenter, assessing_claim, customer, api_client_for
):
    # given one photo read by the active model and by a shadow, the claim not yet decided
    segmenter.regions = [region("dent", 0.95, "minor")]
    first = assessing_claim.photos.order_by("created_at").first()
    services.photo_assess(photo_id=first.pk)
    _shadow_assessment(first)

    # when the customer reads the claim
    claim = api_client_for(customer).get(f"/api/v1/claims/{assessing_claim.pk}/").json()

    # then the assessed photo shows the active model's reading and the other photo none yet
    shown = {p["id"]: p["assessment"] for p in claim["photos"]}
    assert shown[str(first.pk)]["model_version"] == "test-v1"
    assert [a for a in shown.values() if a is None] != []
