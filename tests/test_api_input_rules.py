"""One set of rules for every write endpoint of the API, checked on all of them.

The endpoints are found in the URL configuration, so a new endpoint is covered without being
listed: hostile JSON (too deep, too large) is a 400 or 413 in the API's error shape, unknown
fields are refused by name, and every list and string of a request body has a cap that is
checked before its elements are.
"""

import json
import time
import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework import serializers
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient
from rest_framework.views import APIView

from claims import services as claims_services
from claims.permissions import IsAdjuster, IsCustomer, IsDataTeam
from claims.tests.factories import AdjusterFactory, CustomerFactory, DataTeamFactory, jpeg_bytes
from config import parsers
from config import serializers as input_rules
from config.errors import ERR_BODY_TOO_LARGE
from labelling.apis import IsLabellingUser
from review import apis as review_apis

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
ROLE_FACTORIES = {
    IsCustomer: CustomerFactory,
    IsAdjuster: AdjusterFactory,
    IsDataTeam: DataTeamFactory,
    IsLabellingUser: DataTeamFactory,  # the data team manages every labelling project
}
# Values for the ids in paths: the rules hold before any object is looked up.
PATH_VALUES = {
    "claim_id": uuid.UUID(int=1),
    "photo_id": uuid.UUID(int=2),
    "export_id": "1",
    "project_id": "1",
    "item_id": uuid.UUID(int=3),
    "user_id": "1",
    "role": "labeller",
}


def _api_patterns(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from _api_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "view_class", None)
            if view is not None and issubclass(view, APIView) and entry.name:
                yield prefix + str(entry.pattern), entry


def write_endpoints() -> list[tuple[str, str, type[APIView]]]:
    """(url name, method, view class) of every API write action."""
    found = []
    for _, entry in _api_patterns():
        view = entry.callback.view_class
        for method in WRITE_METHODS:
            if hasattr(view, method):
                found.append((entry.name, method, view))
    return sorted(found, key=lambda item: (item[0], item[1]))


WRITE_ENDPOINTS = write_endpoints()
ENDPOINT_IDS = [f"{method.upper()} {name}" for name, method, _ in WRITE_ENDPOINTS]


def takes_json(view: type[APIView]) -> bool:
    return any(isinstance(parser, DRFJSONParser) for parser in view().get_parsers())


def client_for(view: type[APIView]) -> APIClient:
    """A client with the role the endpoint asks for (anonymous for sign-up and sign-in)."""
    client = APIClient()
    permission = view.permission_classes[0]
    if permission is AllowAny:
        return client
    user = ROLE_FACTORIES[permission]()
    client.credentials(HTTP_AUTHORIZATION=f"Token {claims_services.api_token_issue(user=user)}")
    return client


def url_of(name: str) -> str:
    pattern = dict(_api_patterns())
    route = next(route for route, entry in pattern.items() if entry.name == name)
    kwargs = {key: value for key, value in PATH_VALUES.items() if f"<str:{key}>" in route}
    return reverse(name, kwargs=kwargs)


def file_field(view: type[APIView]) -> str:
    """The name of the file an upload endpoint takes (its input serializer's file field)."""
    serializer = getattr(view, "InputSerializer", None)
    fields = serializer().fields if serializer else {}
    names = [n for n, f in fields.items() if isinstance(f, serializers.FileField)]
    return names[0] if names else "image"


def send_json(client: APIClient, method: str, url: str, body: str):
    return client.generic(method.upper(), url, body, content_type="application/json")


def test_the_contract_sees_every_write_endpoint():
    names = {(name, method) for name, method, _ in WRITE_ENDPOINTS}

    # a sample from each app: a new app's endpoints appear without being listed here
    assert {
        ("api-register", "post"),
        ("api-token", "post"),
        ("api-claims", "post"),
        ("api-claim-submit", "post"),
        ("api-photo-upload", "post"),
        ("api-photo-detail", "delete"),
        ("api-claim-contest", "post"),
        ("api-review-lock", "delete"),
        ("api-review-photo-labels", "put"),
        ("api-exports", "post"),
    } <= names
    assert len(names) >= 13


# --- hostile JSON -----------------------------------------------------------------------


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


# Multipart-only endpoints (photo uploads) answer JSON with a 415 before any parsing.
JSON_ENDPOINTS = [e for e in WRITE_ENDPOINTS if takes_json(e[2])]


@pytest.mark.parametrize(
    ("name", "method", "view"),
    JSON_ENDPOINTS,
    ids=[f"{method.upper()} {name}" for name, method, _ in JSON_ENDPOINTS],
)
def test_every_write_endpoint_refuses_deeply_nested_json(name, method, view):
    client = client_for(view)

    response = send_json(client, method, url_of(name), '{"a": ' + deep_json(1000) + "}")

    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "malformed_request"
    assert error["message"] == parsers.ERR_TOO_DEEP.format(limit=parsers.MAX_JSON_DEPTH)


@pytest.mark.parametrize(("name", "method", "view"), WRITE_ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_write_endpoint_answers_an_oversized_json_body_with_413(name, method, view):
    client = client_for(view)
    body = json.dumps({"text": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})

    response = send_json(client, method, url_of(name), body)

    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert error["message"] == ERR_BODY_TOO_LARGE.format(
        limit_kb=settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
    )


def test_json_over_the_cap_is_refused_by_the_parser_without_the_middleware(settings):
    # A body whose length was not declared up front is cut off by the parser itself.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "RequestSizeLimit" not in m]
    body = json.dumps({"text": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})

    response = send_json(APIClient(), "post", reverse("api-register"), body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_json_depth_counts_brackets_outside_strings_only():
    assert parsers.json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert parsers.json_depth('"\\"[[[["') == 0
    assert parsers.json_depth("[]" * 1000) == 1
    assert parsers.json_depth(deep_json(21)) == 21


@pytest.mark.parametrize(
    "text",
    [
        '"' + 'a\\"' * 600_000,  # an unterminated string full of escaped quotes
        '"' + 'a\\"' * 600_000 + "\\",  # the same, ending in a lone backslash
        '"' * 2_000_000,
        '["' + "[{" * 900_000 + '"]',
    ],
    ids=["unterminated", "trailing-backslash", "quotes", "brackets-in-a-string"],
)
def test_json_depth_is_linear_on_hostile_text(text):
    started = time.process_time()

    parsers.json_depth(text)

    # about 0.1 s here; a rescan per escaped quote (quadratic) would take hours
    assert time.process_time() - started < 3


def test_json_nested_to_the_limit_is_parsed():
    response = send_json(
        APIClient(), "post", reverse("api-register"), '{"username": ' + deep_json(19) + "}"
    )

    # parsed: the answer is about the field, not about the JSON
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


# --- unknown fields ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "method", "view"), WRITE_ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_write_endpoint_refuses_unknown_fields_by_name(name, method, view):
    client = client_for(view)
    url = url_of(name)
    if takes_json(view):
        response = send_json(client, method, url, json.dumps({"bogus_field": 1, "is_staff": True}))
    else:
        image = SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")
        response = getattr(client, method)(
            url, {file_field(view): image, "bogus_field": "1", "is_staff": "1"}, format="multipart"
        )

    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "unknown_field"
    assert error["details"] == {"fields": ["bogus_field", "is_staff"]}
    assert error["message"] == input_rules.ERR_UNKNOWN_FIELDS.format(fields="bogus_field, is_staff")


def test_unknown_fields_inside_a_list_are_named_with_their_place():
    view = review_apis.ReviewPhotoLabelsApi
    body = {
        "base_version": 0,
        "regions": [
            {"label": "dent", "severity": "minor", "mask_rle": {}},
            {"label": "dent", "severity": "minor", "mask_rle": {}, "colour": "red"},
        ],
    }

    response = send_json(
        client_for(view), "put", url_of("api-review-photo-labels"), json.dumps(body)
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"fields": ["regions[1].colour"]}


# --- caps on lists and strings, before any element is validated --------------------------


def _fields(serializer, path=""):
    for name, field in serializer.fields.items():
        here = f"{path}{name}"
        yield here, field
        if isinstance(field, serializers.ListSerializer):
            yield from _fields(field.child, here + "[].")
        elif isinstance(field, serializers.Serializer):
            yield from _fields(field, here + ".")
        elif isinstance(field, serializers.ListField):
            yield here + "[]", field.child


def uncapped(serializer) -> list[str]:
    """Fields of a request body that could hold any amount of data."""
    found = []
    for path, field in _fields(serializer):
        if field.read_only:
            continue
        if (
            (isinstance(field, serializers.ListSerializer) and field.max_length is None)
            or (
                isinstance(field, serializers.ListField)
                and not isinstance(field, input_rules.CappedListField)
            )
            or (isinstance(field, serializers.CharField) and field.max_length is None)
            or (
                isinstance(field, serializers.JSONField)
                and not isinstance(field, input_rules.CappedJSONField)
            )
            or isinstance(field, serializers.DictField | serializers.HStoreField)
        ):
            found.append(path)
    return found


def input_serializers() -> list[tuple[str, type]]:
    found = {}
    for _, entry in _api_patterns():
        view = entry.callback.view_class
        for attr in ("InputSerializer", "FilterSerializer"):
            if hasattr(view, attr):
                found[f"{view.__name__}.{attr}"] = getattr(view, attr)
    return sorted(found.items())


INPUT_SERIALIZERS = input_serializers()


@pytest.mark.parametrize(
    ("name", "serializer_class"), INPUT_SERIALIZERS, ids=[n for n, _ in INPUT_SERIALIZERS]
)
def test_every_request_serializer_caps_its_lists_and_strings(name, serializer_class):
    assert uncapped(serializer_class()) == []


@pytest.mark.parametrize(
    ("name", "serializer_class"),
    [(n, s) for n, s in INPUT_SERIALIZERS if n.endswith("InputSerializer")],
    ids=[n for n, _ in INPUT_SERIALIZERS if n.endswith("InputSerializer")],
)
def test_every_request_body_follows_the_input_rules(name, serializer_class):
    assert issubclass(serializer_class, input_rules.InputSerializer)


def test_labels_put_with_450000_regions_is_refused_before_any_region_is_validated(monkeypatch):
    view = review_apis.ReviewPhotoLabelsApi
    region_class = view.InputSerializer.RegionSerializer
    monkeypatch.setattr(
        region_class, "run_validation", lambda *a, **k: pytest.fail("a region was validated")
    )
    body = '{"base_version": 0, "regions": [' + ",".join(["{}"] * 450_000) + "]}"

    response = send_json(client_for(view), "put", url_of("api-review-photo-labels"), body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]["fields"]) == ["regions"]


def test_export_with_400000_damage_types_is_refused_before_any_is_validated(monkeypatch):
    from learning.export_apis import ExportCollectionApi

    validated = []
    original = serializers.CharField.run_validation
    monkeypatch.setattr(
        serializers.CharField,
        "run_validation",
        lambda self, data=serializers.empty: (
            (validated.append(data) if data == "d" else None) or original(self, data)
        ),
    )
    body = json.dumps({"damage_types": ["d"] * 400_000}, separators=(",", ":"))  # 1.6 MB

    response = send_json(client_for(ExportCollectionApi), "post", reverse("api-exports"), body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"]["fields"] == {
        "damage_types": [input_rules.ERR_LIST_TOO_LONG.format(max_length=50)]
    }
    assert validated == []


def test_capped_json_field_refuses_a_mask_over_its_size():
    field = input_rules.CappedJSONField(max_bytes=100)

    assert field.run_validation({"counts": "x" * 50}) == {"counts": "x" * 50}
    with pytest.raises(serializers.ValidationError) as raised:
        field.run_validation({"counts": "x" * 200})
    assert raised.value.detail == [input_rules.ERR_JSON_TOO_LARGE.format(max_bytes=100)]
