"""What the customer API shows of an assessment: the decided model's regions, never a shadow's,
and nothing before a decision."""

import pytest

from assessment import services
from assessment.models import Decision, ModelVersion, PhotoAssessment, Region
from assessment.tests.conftest import region
from claims.models import Claim
from ml.labels import PRODUCT_LABEL_MAP

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

    # then every photo shows the active model's single dent (the shadow read a crack and a
    # scratch)
    for shown in [*(p["assessment"] for p in claim["photos"]), one["assessment"]]:
        assert [r["label"] for r in shown["regions"]] == ["dent"]


def test_claim_api_shows_no_regions_while_still_assessing(
    segmenter, assessing_claim, customer, api_client_for
):
    # given one photo read by the active model and by a shadow, the claim not yet decided
    segmenter.regions = [region("dent", 0.95, "minor")]
    first = assessing_claim.photos.order_by("created_at").first()
    services.photo_assess(photo_id=first.pk)
    _shadow_assessment(first)
    assert Region.objects.filter(assessment__photo=first).count() == 3

    # when the customer reads the claim
    claim = api_client_for(customer).get(f"/api/v1/claims/{assessing_claim.pk}/").json()

    # then nothing is shown before the claim is decided (review.customer_selectors)
    assert claim["status"] == "assessing"
    assert [p["assessment"] for p in claim["photos"]] == [None] * len(claim["photos"])
    assert claim["assessment"] is None


def test_claim_api_shows_damage_v2_display_names_parts_and_prices(
    product_segmenter, assessing_claim, customer, api_client_for
):
    # given the damage-v2 model reading a broken bumper part and a dent no named part covers
    v2 = PRODUCT_LABEL_MAP
    product_segmenter.regions = [
        region("broken_part", 0.97, "moderate", label_map=v2, part="front_bumper", part_share=0.8),
        region("dent", 0.95, "minor", label_map=v2, box=(40, 5, 8, 8), part=None, part_share=0.2),
    ]
    for photo in assessing_claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    # a broken part always goes to a person: an adjuster approves it as assessed
    assessing_claim.refresh_from_db()
    assert assessing_claim.status == "in_review"
    routed = Decision.objects.filter(claim=assessing_claim).first()
    # and the dent on no named part is never priced (assessment.parts): a person places it
    assert [r["code"] for r in routed.reasons] == [
        "always_human_type",
        "no_price_rule",
        "unknown_part",
    ]
    Decision.objects.create(claim=assessing_claim, outcome="approved", automatic=False)
    Claim.objects.filter(pk=assessing_claim.pk).update(status="decided")

    # when the customer reads the claim
    claim = api_client_for(customer).get(f"/api/v1/claims/{assessing_claim.pk}/").json()

    # then types read as the label map names them, and each region keeps its part
    assert claim["assessment"]["label_names"] == {
        "dent": "Dent",
        "scratch": "Scratch",
        "broken_part": "Broken or missing part",
        "glass_crack": "Cracked glass",
        "lamp_broken": "Broken lamp",
        "paint_damage": "Paint damage",
    }
    regions = claim["photos"][0]["assessment"]["regions"]
    assert [(r["label"], r["part"], r["part_share"]) for r in regions] == [
        ("broken_part", "front_bumper", 0.8),
        ("dent", None, 0.2),
    ]
    # and the bumper seen on every photo is one damaged part, replaced and refinished by the
    # part's own rows; the dent on no named part is its own entry, not priced
    photo_ids = [p["id"] for p in claim["photos"]]
    parts = claim["assessment"]["damaged_parts"]
    assert [(p["part"], p["damage_types"], p["severity"]) for p in parts] == [
        ("front_bumper", ["broken_part"], "moderate"),
        ("", ["dent"], "minor"),
    ]
    assert parts[0]["photo_ids"] == photo_ids
    assert parts[0]["confidence"] == pytest.approx(0.97 * 0.8, abs=1e-4)
    lines = claim["assessment"]["lines"]
    assert [(line["part"], line["operation"], line["description"]) for line in lines] == [
        ("front_bumper", "replace", "Front bumper — replace"),
        ("front_bumper", "refinish", "Front bumper — refinish"),
    ]
    assert [e["photo_id"] for e in lines[0]["evidence"]] == photo_ids
    # EUR 380 cover + 1.2 h at 62; 2.5 paint hours at 68 + 55 materials
    assert [line["total"] for line in lines] == ["454.40", "225.00"]


def test_regions_of_a_model_without_a_part_head_have_no_part(
    segmenter, assessing_claim, customer, api_client_for
):
    # given the old model's regions, which carry no part keys
    segmenter.regions = [region("dent", 0.95, "minor")]
    assert "part" not in segmenter.regions[0]
    photo = assessing_claim.photos.first()

    for each in assessing_claim.photos.all():  # a confident dent: decided automatically
        services.photo_assess(photo_id=each.pk)

    stored = Region.objects.get(assessment__photo=photo)
    assert (stored.part, stored.part_share) == ("", None)
    shown = api_client_for(customer).get(f"/api/v1/claims/{assessing_claim.pk}/").json()
    assessed = next(p for p in shown["photos"] if p["id"] == str(photo.pk))["assessment"]
    assert (assessed["regions"][0]["part"], assessed["regions"][0]["part_share"]) == (None, None)


INTERNAL_DECISION_FIELDS = {"model_version", "policy_version"}


def _keys(value) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


def test_claim_api_decision_hides_the_policy_and_model_versions(
    segmenter, assessing_claim, customer, api_client_for
):
    # given a claim the policy decided, with its policy and model version recorded
    segmenter.regions = [region("dent", 0.95, "minor")]
    for photo in assessing_claim.photos.all():
        services.photo_assess(photo_id=photo.pk)
    decided = Decision.objects.get(claim=assessing_claim)
    assert decided.policy_id is not None and decided.model_version.version == "test-v1"

    # when the customer reads the claim and the list of claims
    client = api_client_for(customer)
    one = client.get(f"/api/v1/claims/{assessing_claim.pk}/").json()
    listed = client.get("/api/v1/claims/").json()["results"]

    # then no decision says which policy or model version decided it (staff read those), nor
    # does the claim's assessment or a photo's, anywhere in the claim or the list
    decisions = [one["decision"], *(c["decision"] for c in listed)]
    assert [d["outcome"] for d in decisions] == [decided.outcome] * 2
    assert one["assessment"] is not None and one["photos"][0]["assessment"] is not None
    assert not _keys(one) & INTERNAL_DECISION_FIELDS
    assert not _keys(listed) & INTERNAL_DECISION_FIELDS
