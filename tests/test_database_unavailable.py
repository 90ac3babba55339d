"""A database that is down or restarting: a 503 with ``Retry-After`` in the API's error shape
for API clients and a plain page for people, wherever the error is raised; never a 500. Other
errors keep their 500."""

import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError
from django.test import Client
from rest_framework.test import APIClient

from claims import services
from claims.tests.factories import CustomerFactory
from config.errors import DATABASE_RETRY_AFTER_S, ERR_DATABASE_UNAVAILABLE, error_body

pytestmark = pytest.mark.django_db

DOWN = [
    OperationalError("connection to server at 127.0.0.1 failed: Connection refused"),
    OperationalError("terminating connection due to administrator command"),
    InterfaceError("connection already closed"),
]
DOWN_IDS = ["refused", "terminated", "closed"]

EXPECTED_BODY = error_body(
    "service_unavailable",
    ERR_DATABASE_UNAVAILABLE.format(wait=DATABASE_RETRY_AFTER_S),
    {"retry_after": DATABASE_RETRY_AFTER_S},
)


def _raise(exc: Exception):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def token_client(customer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {services.api_token_issue(user=customer)}")
    return client


@pytest.fixture
def session_client(customer) -> Client:
    # The test client re-raises what Django reported as uncaught; the middleware answers after it.
    client = Client(raise_request_exception=False)
    client.force_login(customer)
    client.get("/")  # the session's first request settles its expiry (claims.sessions)
    return client


def _assert_api_503(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == EXPECTED_BODY
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_S)


def _assert_page_503(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_S)
    page = response.content.decode()
    assert "Back in a moment" in page
    assert f"try again in {DATABASE_RETRY_AFTER_S} seconds" in page
    assert "Traceback" not in page and "OperationalError" not in page


@pytest.mark.parametrize("exc", DOWN, ids=DOWN_IDS)
def test_api_database_error_in_the_view_is_a_503_in_the_error_shape(token_client, monkeypatch, exc):
    monkeypatch.setattr("claims.apis.selectors.claim_list_for_owner", _raise(exc))

    response = token_client.get("/api/v1/claims/")

    _assert_api_503(response)


def test_api_database_error_while_authenticating_is_a_503(token_client, monkeypatch):
    # given the token lookup, the request's first query, cannot reach the database
    monkeypatch.setattr("claims.authentication.selectors.api_token_get", _raise(DOWN[0]))

    response = token_client.get("/api/v1/claims/")

    _assert_api_503(response)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_api_database_error_in_a_middleware_is_a_503_in_the_error_shape(
    session_client, monkeypatch, settings, debug
):
    # given the session store, read by middleware before any view runs, cannot reach it
    settings.DEBUG = debug
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _raise(DOWN[1]))

    response = session_client.get("/api/v1/claims/")

    _assert_api_503(response)


@pytest.mark.parametrize("exc", DOWN, ids=DOWN_IDS)
def test_page_database_error_in_the_view_is_a_friendly_503_page(session_client, monkeypatch, exc):
    monkeypatch.setattr("claims.views.selectors.claim_list_for_owner", _raise(exc))

    response = session_client.get("/")

    _assert_page_503(response)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_page_database_error_in_a_middleware_is_a_friendly_503_page(
    session_client, monkeypatch, settings, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _raise(DOWN[0]))

    response = session_client.get("/")

    _assert_page_503(response)


def test_page_503_carries_the_content_security_policy(session_client, monkeypatch, settings):
    monkeypatch.setattr("claims.views.selectors.claim_list_for_owner", _raise(DOWN[0]))

    response = session_client.get("/")

    assert response.status_code == 503
    assert response["Content-Security-Policy"] == settings.CLAIMVISION_CONTENT_SECURITY_POLICY


def test_api_programming_error_stays_a_500(token_client, monkeypatch):
    # a bug (a missing column, bad SQL) is not an outage: no Retry-After that would never help
    monkeypatch.setattr(
        "claims.apis.selectors.claim_list_for_owner", _raise(ProgrammingError("no such column"))
    )
    client = token_client
    client.raise_request_exception = False

    response = client.get("/api/v1/claims/")

    assert response.status_code == 500
    assert "Retry-After" not in response


def test_page_error_in_a_middleware_that_is_not_the_database_stays_a_500(
    session_client, monkeypatch
):
    monkeypatch.setattr(
        "django.contrib.sessions.backends.db.SessionStore.load", _raise(RuntimeError("bug"))
    )

    response = session_client.get("/")

    assert response.status_code == 500
    assert "Retry-After" not in response


def test_request_after_the_database_error_works(token_client, monkeypatch):
    # given one request that met the outage
    monkeypatch.setattr("claims.apis.selectors.claim_list_for_owner", _raise(DOWN[1]))
    assert token_client.get("/api/v1/claims/").status_code == 503

    # when the database is back
    monkeypatch.undo()
    response = token_client.get("/api/v1/claims/")

    # then the next request is answered normally
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_schema_documents_the_503_with_retry_after_on_every_operation():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    assert operations
    for path, method, operation in operations:
        answer = operation["responses"].get("503")
        assert answer is not None, f"{method} {path}"
        assert "service_unavailable" in answer["description"]
        assert "Retry-After" in answer["headers"]
