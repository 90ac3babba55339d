"""Fixtures for review tests: a claim the scripted model routed to review, adjusters, clients.

The claim goes through the real assessment services (scripted segmenter, real policy, real
pricing), so it looks exactly like one the workers produce.
"""

import pytest

from assessment import services as assessment_services
from assessment.tests.conftest import (  # noqa: F401 - shared fixtures
    ScriptedSegmenter,
    model_version,
    product_model_version,
    product_segmenter,
    region,
    segmenter,
)
from claims.models import Claim, Photo
from claims.tests.conftest import (  # noqa: F401 - shared fixtures
    _fast_and_isolated,
    api_client_for,
    customer,
    customer_client,
    data_team_member,
    enqueued,
    media_root,
    other_customer,
)
from claims.tests.factories import (
    AdjusterFactory,
    ClaimFactory,
    PhotoFactory,
    SeniorAdjusterFactory,
)
from review import locks
from review.tests.factories import DENT_BOX, SCRATCH_BOX


@pytest.fixture
def adjuster(db):
    return AdjusterFactory(first_name="Alice", last_name="Adams")


@pytest.fixture
def other_adjuster(db):
    return AdjusterFactory(first_name="Bob", last_name="Brown")


@pytest.fixture
def senior_adjuster(db):
    """An adjuster who also decides contested claims (the senior queue)."""
    return SeniorAdjusterFactory(first_name="Carol", last_name="Clark")


@pytest.fixture
def make_in_review_claim(segmenter, customer):
    """Build a claim the model was unsure about: two photos, each with a minor dent (0) and a
    moderate scratch (1), photo confidence 0.4."""

    def make(*, photos: int = 2, owner=None) -> Claim:
        segmenter.photo_confidence = 0.4
        segmenter.regions = [
            region("dent", 0.5, "minor", box=DENT_BOX),
            region("scratch", 0.6, "moderate", box=SCRATCH_BOX),
        ]
        claim = ClaimFactory(owner=owner or customer, submitted=True, status="assessing")
        for _ in range(photos):
            PhotoFactory(claim=claim, status=Photo.Status.PREPARED)  # as claim_prepare leaves it
        for photo in claim.photos.all():
            assessment_services.photo_assess(photo_id=photo.pk)
        claim.refresh_from_db()
        assert claim.status == Claim.Status.IN_REVIEW
        return claim

    return make


@pytest.fixture
def in_review_claim(make_in_review_claim) -> Claim:
    return make_in_review_claim()


@pytest.fixture
def first_photo(in_review_claim):
    return in_review_claim.photos.order_by("created_at").first()


@pytest.fixture
def locked_claim(in_review_claim, adjuster) -> Claim:
    """The in-review claim, taken by ``adjuster``."""
    locks.review_lock_take(claim=in_review_claim, adjuster=adjuster)
    return in_review_claim


@pytest.fixture
def adjuster_client(api_client_for, adjuster):
    return api_client_for(adjuster)


@pytest.fixture
def other_adjuster_client(api_client_for, other_adjuster):
    return api_client_for(other_adjuster)


@pytest.fixture
def senior_client(api_client_for, senior_adjuster):
    return api_client_for(senior_adjuster)
