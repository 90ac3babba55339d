"""The OpenAPI schema generates cleanly and lists every endpoint; the docs need no CDN."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

CLAIMS_PATHS = {
    "/api/v1/auth/register/": {"post"},
    "/api/v1/auth/token/": {"post"},
    "/api/v1/claims/": {"get", "post"},
    "/api/v1/claims/{claim_id}/": {"get"},
    "/api/v1/claims/{claim_id}/submit/": {"post"},
    "/api/v1/claims/{claim_id}/photos/": {"post"},
    "/api/v1/claims/{claim_id}/photos/{photo_id}/": {"get", "delete"},
    "/api/v1/claims/{claim_id}/photos/{photo_id}/image/": {"get"},
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # --fail-on-warn turns every generator warning or error into a failure; --validate checks
    # the result against the OpenAPI 3 specification.
    call_command("spectacular", "--file", str(path), "--fail-on-warn", "--validate")
    return yaml.safe_load(path.read_text())


def test_schema_lists_every_claims_endpoint(schema):
    paths = schema["paths"]

    for path, methods in CLAIMS_PATHS.items():
        assert path in paths, path
        assert set(paths[path]) & {"get", "post", "put", "patch", "delete"} == methods, path


def test_schema_documents_the_idempotency_key_on_create_and_upload(schema):
    for path in ("/api/v1/claims/", "/api/v1/claims/{claim_id}/photos/"):
        names = {p["name"] for p in schema["paths"][path]["post"].get("parameters", [])}
        assert "Idempotency-Key" in names


def test_schema_upload_is_multipart_with_an_image_field(schema):
    body = schema["paths"]["/api/v1/claims/{claim_id}/photos/"]["post"]["requestBody"]
    ref = body["content"]["multipart/form-data"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert component["properties"]["image"]["format"] == "binary"


def test_schema_endpoint_serves_the_schema():
    response = APIClient().get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/v1/claims/" in response.json()["paths"]


def test_docs_page_renders_without_any_external_url():
    response = APIClient().get(reverse("api-docs"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []
    assert "/static/drf_spectacular_sidecar/" in html


def _error_ref(operation: dict, status: str) -> str:
    return operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]


def test_schema_documents_the_shared_error_answers(schema):
    create = schema["paths"]["/api/v1/claims/"]["post"]
    upload = schema["paths"]["/api/v1/claims/{claim_id}/photos/"]["post"]
    register = schema["paths"]["/api/v1/auth/register/"]["post"]
    detail = schema["paths"]["/api/v1/claims/{claim_id}/"]["get"]

    for operation in (create, upload):
        assert {"400", "401", "403", "413", "429"} <= set(operation["responses"])
    assert {"400", "413", "429"} <= set(register["responses"])
    assert "401" not in register["responses"]
    assert {"401", "403", "404"} <= set(detail["responses"])
    assert "413" not in detail["responses"] and "429" not in detail["responses"]
    assert _error_ref(create, "400") == "#/components/schemas/Error"
    assert "unknown_field" in create["responses"]["400"]["description"]
    assert "Retry-After" in create["responses"]["429"]["headers"]
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"code", "message", "details"}


def test_schema_shows_customers_the_customer_decision(schema):
    claim = schema["components"]["schemas"]["ClaimOutput"]
    decision = claim["properties"]["decision"]

    refs = [item.get("$ref") for item in decision.get("allOf", decision.get("oneOf", []))] + [
        decision.get("$ref")
    ]
    assert "#/components/schemas/CustomerDecision" in refs
