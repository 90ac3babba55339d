"""The OpenAPI schema declares how to authenticate, so Swagger's "Authorize" and its copied
curl commands carry the token."""

import yaml
from django.core.management import call_command


def _schema(tmp_path) -> dict:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate")
    return yaml.safe_load(out.read_text())


def test_the_token_scheme_is_declared_and_every_signed_in_operation_uses_it(tmp_path):
    schema = _schema(tmp_path)

    token = schema["components"]["securitySchemes"]["tokenAuth"]
    assert token == {**token, "type": "apiKey", "in": "header", "name": "Authorization"}
    assert "Token" in token["description"]
    claims = schema["paths"]["/api/v1/claims/"]
    for operation in (claims["get"], claims["post"]):
        assert {"tokenAuth": []} in operation["security"]
