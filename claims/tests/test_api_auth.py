"""Accounts over the API: registration, tokens, and who may call the customer endpoints."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from claims import services
from claims.roles import Role, user_roles
from claims.tests.factories import PASSWORD, CustomerFactory
from claims.tests.helpers import claims_url, customer_endpoints

pytestmark = pytest.mark.django_db

User = get_user_model()


def register(client: APIClient, **overrides):
    body = {"username": "erin", "email": "erin@example.com", "password": PASSWORD, **overrides}
    return client.post(reverse("api-register"), body, format="json")


def test_register_creates_a_customer_and_returns_a_working_token():
    client = APIClient()

    response = register(client)

    assert response.status_code == 201
    body = response.json()
    assert (body["username"], body["email"], body["roles"]) == (
        "erin",
        "erin@example.com",
        ["customer"],
    )
    assert "password" not in body
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get(claims_url()).status_code == 200


def test_register_cannot_grant_staff_roles():
    response = register(
        APIClient(),
        is_staff=True,
        is_superuser=True,
        groups=["adjuster", "data_team"],
        roles=["admin"],
    )

    assert response.status_code == 201
    assert response.json()["roles"] == ["customer"]
    user = User.objects.get(username="erin")
    assert not user.is_staff and not user.is_superuser
    assert user_roles(user) == [Role.CUSTOMER.value]
    assert list(user.groups.values_list("name", flat=True)) == ["customer"]


def test_register_rejects_a_weak_password():
    response = register(APIClient(), password="password")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "weak_password"
    assert response.json()["error"]["message"] == services.ERR_WEAK_PASSWORD
    assert not User.objects.exists()


def test_register_rejects_a_taken_username():
    CustomerFactory(username="erin")

    response = register(APIClient())

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", "a b"), ("username", "ab"), ("email", "not-an-email"), ("password", "")],
)
def test_register_rejects_invalid_fields(field, value):
    response = register(APIClient(), **{field: value})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]["fields"]) == [field]
    assert not User.objects.exists()


def test_token_is_issued_for_valid_credentials(customer):
    response = APIClient().post(
        reverse("api-token"), {"username": customer.username, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["roles"] == ["customer"]
    assert len(response.json()["token"]) == 40


def test_token_is_refused_for_a_wrong_password(customer):
    response = APIClient().post(
        reverse("api-token"), {"username": customer.username, "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "token" not in response.json()


@pytest.mark.parametrize("index", range(8))
def test_customer_endpoints_require_authentication(photo, snapshot, index):
    method, url = customer_endpoints(photo.claim_id, photo.pk)[index]
    before = snapshot()

    response = getattr(APIClient(), method)(url)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
    assert snapshot() == before


def test_customer_endpoints_refuse_an_unknown_token(photo):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = client.get(claims_url())

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("role_fixture", ["adjuster", "data_team_member"])
@pytest.mark.parametrize("index", range(8))
def test_customer_endpoints_refuse_staff_tokens(
    request, api_client_for, photo, snapshot, role_fixture, index
):
    client = api_client_for(request.getfixturevalue(role_fixture))
    method, url = customer_endpoints(photo.claim_id, photo.pk)[index]
    before = snapshot()

    response = getattr(client, method)(url)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert snapshot() == before
