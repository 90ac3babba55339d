"""Fixtures for learning tests: those of the assessment tests (an active model version, a
scripted segmenter, the claims fixtures), since the learning stage starts from assessed claims."""

from assessment.tests.conftest import (  # noqa: F401 - shared fixtures
    ScriptedSegmenter,
    _fast_and_isolated,
    api_client_for,
    assessing_claim,
    claim,
    customer,
    enqueued,
    media_root,
    model_version,
    other_customer,
    photo,
    product_model_version,
    product_segmenter,
    region,
    segmenter,
)
from claims.tests.conftest import customer_client, data_team_member  # noqa: F401
