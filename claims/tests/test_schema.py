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


def _component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.parametrize("path", ["/api/v1/claims/", "/api/v1/exports/", "/api/v1/review/queue/"])
def test_schema_documents_lists_as_pages(schema, path):
    operation = schema["paths"][path]["get"]
    page = _component(
        schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )

    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert page["properties"]["results"]["type"] == "array"
    assert "page" in {p["name"] for p in operation["parameters"]}
    assert "404" in operation["responses"]


def test_schema_refuses_fields_a_body_does_not_name(schema):
    create = schema["paths"]["/api/v1/claims/"]["post"]["requestBody"]["content"]
    labels = schema["paths"]["/api/v1/review/claims/{claim_id}/photos/{photo_id}/labels/"]
    body = _component(
        schema, labels["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    )
    region = _component(schema, body["properties"]["regions"]["items"]["$ref"])
    claim = _component(schema, create["application/json"]["schema"]["$ref"])

    assert claim["additionalProperties"] is False
    assert body["additionalProperties"] is False
    assert region["additionalProperties"] is False  # nested bodies too


def test_schema_takes_json_only_where_only_json_works(schema):
    labels = "/api/v1/review/claims/{claim_id}/photos/{photo_id}/labels/"

    assert set(schema["paths"][labels]["put"]["requestBody"]["content"]) == {"application/json"}
    exports = schema["paths"]["/api/v1/exports/"]["post"]["requestBody"]["content"]
    assert set(exports) == {"application/json"}


def test_schema_documents_the_export_download_as_a_zip(schema):
    download = schema["paths"]["/api/v1/exports/{export_id}/download/"]["get"]

    assert set(download["responses"]["200"]["content"]) == {"application/zip"}


def test_schema_states_the_password_and_idempotency_key_rules(schema):
    register = schema["paths"]["/api/v1/auth/register/"]["post"]["requestBody"]["content"]
    password = _component(schema, register["application/json"]["schema"]["$ref"])["properties"][
        "password"
    ]
    create = schema["paths"]["/api/v1/claims/"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")

    assert password["minLength"] == 8
    assert password["pattern"] == r"^[^\x00]*[^\x00\d][^\x00]*$"
    assert "common password" in password["description"]
    assert key["schema"]["maxLength"] == 255
    assert "422" in create["responses"]


def test_schema_shows_customers_the_customer_decision(schema):
    claim = schema["components"]["schemas"]["ClaimOutput"]
    decision = claim["properties"]["decision"]

    refs = [item.get("$ref") for item in decision.get("allOf", decision.get("oneOf", []))] + [
        decision.get("$ref")
    ]
    assert "#/components/schemas/CustomerDecision" in refs
    # without the policy and model versions, which the staff decision keeps
    customer = schema["components"]["schemas"]["CustomerDecision"]["properties"]
    staff = schema["components"]["schemas"]["Decision"]["properties"]
    assert not {"policy_version", "model_version"} & set(customer)
    assert {"policy_version", "model_version"} <= set(staff)
