"""OpenAPI schema tweaks: nested ``InputSerializer``/``OutputSerializer`` get their view's name,
and every operation lists the error answers the whole API shares (config.errors): bad input and
unknown fields, oversized bodies, missing credentials or role, unknown objects, throttles, and a
database out of reach. Request bodies refuse the fields they do not name (config.serializers),
and lists are documented as pages. tests/test_schema_contract.py checks all of it against the
running API with schemathesis."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from config.serializers import InputSerializer

_GENERIC = {"InputSerializer": "Input", "OutputSerializer": "Output"}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable; clients branch on it (docs/api.md).")
    message = serializers.CharField(help_text="For people.")
    details = serializers.DictField(help_text="e.g. `fields`, `retry_after`.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": (
        "Invalid request: `invalid` (see `details.fields`), `unknown_field` or "
        "`read_only_field` (fields this endpoint does not take, named in `details.fields`), "
        "`malformed_request` (not JSON, or nested too deep), or a rule of the endpoint."
    ),
    "401": "`not_authenticated` or `authentication_failed` (unknown or expired token).",
    "403": "`permission_denied`: the caller's role may not use this endpoint.",
    "404": "`not_found`: no such object, or not the caller's.",
    "413": "`request_too_large` (a JSON body over 2 MiB) or `file_too_large` (a photo).",
    "415": "`unsupported_media_type`: a body in a format this endpoint does not read.",
    "429": (
        "`throttled` (too many requests, or a per-user quota used up) or `login_locked` "
        "(too many failed sign-ins); wait `Retry-After` seconds."
    ),
    "503": (
        "`service_unavailable`: the database is briefly out of reach (restarting, failing "
        "over). Send the request again after `Retry-After` seconds, with the same "
        "`Idempotency-Key` where the operation takes one."
    ),
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds until the limit lifts, or until the service is worth retrying.",
    }
}


def error_response(description: str) -> OpenApiResponse:
    """An answer in the API's error shape, for the statuses one endpoint adds (e.g. 409)."""
    return OpenApiResponse(ErrorSerializer, description=description)


PAGE_PARAMETER = OpenApiParameter(
    "page",
    {"type": "integer", "minimum": 1},  # config.pagination
    OpenApiParameter.QUERY,
    required=False,
    description="Page number, from 1; past the last page is a 404 `not_found`.",
)
PAGE_NOT_FOUND = error_response("`not_found`: no such page (`?page=` past the last one).")


def page_of(name: str, serializer: serializers.Serializer, **extra) -> serializers.Serializer:
    """A page of ``serializer`` as DRF's ``PageNumberPagination`` answers it (``extra``: fields a
    view adds next to ``results``, such as the review queue's ``counts``)."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(help_text="Items on all pages."),
            "next": serializers.URLField(allow_null=True, help_text="The next page, if any."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page."),
            **extra,
            "results": serializer,
        },
    )


# What ``str.strip()`` (DRF's trimming) removes, spelt out: ``\s`` differs between Python and
# the ECMA regexes of JSON Schema (``\x1c``-``\x1f``, ``\x85``; ``\ufeff``).
_SPACE = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())
_ANY_TEXT = r"^[^\x00]*$"
_NOT_BLANK = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"


def _text_rules(field, prop: dict) -> None:
    """What DRF's ``CharField`` refuses beyond its lengths: a NUL character, and a value that
    is blank once trimmed where blanks are not allowed. A field's ``schema_overrides`` (rules
    only its own validators know, e.g. a password's) come on top."""
    if not isinstance(field, serializers.CharField) or prop.get("type") != "string":
        return
    if "pattern" not in prop and "format" not in prop and "enum" not in prop:
        blank_ok = field.allow_blank or not field.trim_whitespace
        prop["pattern"] = _ANY_TEXT if blank_ok else _NOT_BLANK
    prop.update(getattr(field, "schema_overrides", {}))


class AutoSchema(BaseAutoSchema):
    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        suffix = _GENERIC.get(type(serializer).__name__)
        if suffix is None:
            return name
        view_name = type(self.view).__name__.removesuffix("Api")
        return f"{view_name}{suffix}"

    def get_serializer_name(self, serializer, direction) -> str:
        # A serializer nested in a view (``ReviewPhotoLabelsApi...RegionSerializer``) is named
        # after its view: two views' ``RegionSerializer``s are two components, not one that
        # silently stands for both.
        outer, _, _ = type(serializer).__qualname__.partition(".")
        name = super().get_serializer_name(serializer, direction)
        if outer != type(serializer).__name__ and outer.endswith("Api"):
            return outer.removesuffix("Api") + name
        return name

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction != "request":
            return schema
        # Every request body refuses names it does not list (400 ``unknown_field``).
        if isinstance(serializer, InputSerializer):
            schema["additionalProperties"] = False
        fields = getattr(serializer, "fields", {})
        for name, prop in schema.get("properties", {}).items():
            field = fields.get(name)
            if isinstance(field, serializers.ListField):
                field, prop = field.child, prop.get("items", {})
            _text_rules(field, prop)
        return schema

    def _error_statuses(self) -> list[str]:
        view = self.view
        anonymous = any(p is AllowAny for p in view.permission_classes)
        statuses = []
        if self.method in _WRITES:
            statuses += ["400", "413", "415"]
        if not anonymous:
            statuses += ["401", "403"]
        if "{" in self.path:
            statuses.append("404")
        quota = getattr(view, "quota_scope", None) and self.method in _WRITES
        if anonymous or quota:
            statuses.append("429")
        statuses.append("503")  # every operation reads the database (config.availability)
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self.path.startswith("/api/v1/"):
            return responses
        for status in self._error_statuses():
            if status in responses:
                continue
            described = OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
            responses[status] = self._get_response_for_code(described, status)
            if status in ("429", "503"):
                responses[status]["headers"] = RETRY_AFTER
        return responses
