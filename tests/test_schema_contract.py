"""The OpenAPI schema tells the truth: schemathesis drives the live app with every check, from
valid and invalid data, operation by operation and along the schema's links, once per role.

The app runs in-process (WSGI) inside each test's database transaction, so no server, broker or
worker is needed: tasks are sent on commit, and these tests never commit. Each role signs in
through ``POST /api/v1/auth/token/`` as a client would and sends ``Authorization: Token ...``.
Generation is derandomised with a fixed seed, so a failure reproduces, in CI as here.
"""

import io
import itertools
import logging
import zipfile
from datetime import date

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from claims.models import Claim
from claims.tests.factories import (
    PASSWORD,
    AdjusterFactory,
    ClaimFactory,
    CustomerFactory,
    DataTeamFactory,
    PhotoFactory,
    UserFactory,
    jpeg_bytes,
    png_bytes,
    webp_bytes,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ROLES = ("anonymous", "customer", "adjuster", "data_team", "admin")
SEED = 20261201
# Cases per operation and generation phase (examples, coverage and fuzzing, valid and invalid
# data), and scenarios of the stateful run: about a minute a role on 2 cores.
MAX_EXAMPLES = 25
STATEFUL_SCENARIOS = 20
STATEFUL_STEPS = 8

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "checks": {"enabled": True},
        "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
        "operations": [
            {
                # A schema can say what a sign-in looks like, not which username and password
                # exist: wrong credentials are a 400 (DRF's convention for this endpoint), as
                # schemathesis itself allows for token URLs it knows of. Every other check, and
                # every other status, still applies.
                "include-path": "/api/v1/auth/token/",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["200", "400", "429"],
                    },
                },
            },
            {
                # A schema can say a labels file is JSON, not that it is COCO or Label Studio
                # tasks: a well-formed upload of another JSON is the documented 422. And
                # schemathesis sends a JSON-encoded part as a form value without a file name,
                # which no multipart parser takes for a file: the documented 400
                # `file_missing` (the input is checked before the project is looked up).
                "include-path": "/api/v1/labelling/projects/{project_id}/import/labels/",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["200", "400", "401", "403", "404", "422", "429"],
                    },
                },
            },
        ],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)


# Valid photos are real ones (the schema's encoding names the types); invalid data still sends
# anything at all.
_seeds = st.integers(min_value=0, max_value=2**16)
_sides = st.integers(min_value=1, max_value=64)
_ENCODERS = {"image/jpeg": jpeg_bytes, "image/png": png_bytes, "image/webp": webp_bytes}
for _name, _encode in _ENCODERS.items():
    schemathesis.openapi.media_type(
        _name, st.builds(lambda w, h, seed, f=_encode: f(w, h, seed=seed), _sides, _sides, _seeds)
    )


def _zip_of_photo(seed: int) -> bytes:
    """A zip holding one real photo: the labelling zip import's valid upload."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", jpeg_bytes(8, 8, seed=seed))
    return out.getvalue()


schemathesis.openapi.media_type("application/zip", st.builds(_zip_of_photo, _seeds))

# The signed-in role's token, for the test that runs now (set by ``app_in_transaction``).
_signed_in: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class RoleToken:
    """Sends the role's token on every request; schemathesis knows it for real credentials, so
    ``ignored_auth`` retries without them and with made-up ones and expects a refusal."""

    def get(self, case, context):
        return _signed_in.get("token")

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


_keys = itertools.count()


@schema.hook("map_case")
def _rules_beyond_json_schema(context, case):
    """Valid data also keeps the rules a JSON Schema cannot state, each one written in the
    schema's descriptions: dates relative to today or to each other, references to what
    exists, a fresh ``Idempotency-Key`` for new work. Invalid data is left as generated."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    key = (case.headers or {}).get("Idempotency-Key")
    if key:
        case.headers["Idempotency-Key"] = f"{key[:200]}-{next(_keys)}"
    body = case.body
    if not isinstance(body, dict):
        return case
    operation = f"{case.method.upper()} {case.operation.path}"
    if operation == "POST /api/v1/auth/register/" and _weak(body):
        body["password"] = PASSWORD  # a common one, or one like the name (documented 400)
    elif operation == "POST /api/v1/claims/":
        today = timezone.localdate()
        if (_day(body.get("incident_date")) or today) > today:
            body["incident_date"] = today.isoformat()
    elif operation == "POST /api/v1/labelling/projects/":
        # A label map's rules (contiguous class ids, reserved names) are ml.labels', beyond a
        # JSON Schema: valid data takes the default, the active model's.
        body.pop("label_map", None)
    elif operation == "POST /api/v1/exports/":
        first, last = _day(body.get("date_from")), _day(body.get("date_to"))
        if first and last and first > last:
            body["date_from"], body["date_to"] = body["date_to"], body["date_from"]
        # References to what exists (a model version, its label names, an earlier export, a
        # labelling project): valid data leaves them out, as "any" is a valid filter and a
        # generator cannot know which names exist. Hooks also run while tests are collected,
        # without a database.
        for name in ("model_version", "damage_types", "since_export", "project"):
            body.pop(name, None)
    return case


def _weak(body: dict) -> bool:
    user = get_user_model()(username=str(body.get("username")), email=str(body.get("email")))
    try:
        validate_password(str(body.get("password")), user=user)
    except ValidationError:
        return True
    return False


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


FACTORIES = {
    "customer": CustomerFactory,
    "adjuster": AdjusterFactory,
    "data_team": DataTeamFactory,
    "admin": lambda: UserFactory(is_staff=True, is_superuser=True),
}


@pytest.fixture
def role_credentials(role, db, settings, monkeypatch, caplog) -> dict:
    """The role's world (a claim of its own, the review queue), its sign-in, its headers."""
    # Hashing with PBKDF2 costs ~100 ms a registration; the contract is not about its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Quotas would answer 429 (documented) long before the examples run out.
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {scope: "100000/hour" for scope in ("anon", "claims", "uploads", "exports")},
    )
    caplog.set_level(logging.ERROR, logger="django.request")  # every 4xx is logged
    ClaimFactory(status=Claim.Status.IN_REVIEW, submitted_at=timezone.now())
    if role == "anonymous":
        return {}
    user = FACTORIES[role]()
    if role == "customer":
        PhotoFactory(claim=ClaimFactory(owner=user))
    response = APIClient().post(
        reverse("api-token"), {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return {"token": response.json()["token"]}


@pytest.fixture
def app_in_transaction(role_credentials):
    """Requests run in the test's transaction: Django must not close the connection after
    each one, as it does for a real server. Its test client does the same around each of its
    requests (and connects the handlers again after it, hence after the sign-in)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _signed_in.update(role_credentials)
    yield
    _signed_in.clear()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_schema_contract_operation(case, app_in_transaction):
    # given a role's world; when schemathesis sends valid and invalid requests to one
    # operation; then every response is what the schema says (status, headers, body)
    case.call_and_validate()


@pytest.mark.parametrize("role", ROLES)
def test_schema_contract_stateful(app_in_transaction):
    # given a role's world; when schemathesis follows the schema's links (a new claim's id to
    # its photos, submit and detail; the queue's ids to the review screen); then every step's
    # response is what the schema says
    schema.as_state_machine().run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
