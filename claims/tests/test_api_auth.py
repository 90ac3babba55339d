"""Accounts over the API: registration, tokens, and who may call the customer endpoints."""

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from claims import authentication, services
from claims.models import ApiToken
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

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "read_only_field"
    assert error["details"] == {"fields": ["groups", "is_staff", "is_superuser", "roles"]}
    assert not User.objects.exists()


def test_register_without_extra_fields_creates_only_a_customer():
    response = register(APIClient())

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
    assert len(response.json()["token"]) == 64


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


# --- passwords as typed, one name per person ----------------------------------------------

SPACED = "  " + PASSWORD + "  "


def sign_in_for_token(username: str, password: str):
    return APIClient().post(
        reverse("api-token"), {"username": username, "password": password}, format="json"
    )


def test_register_keeps_the_password_exactly_as_typed():
    assert register(APIClient(), password=SPACED).status_code == 201

    with_spaces = sign_in_for_token("erin", SPACED)
    trimmed = sign_in_for_token("erin", PASSWORD)

    assert with_spaces.status_code == 200
    assert trimmed.status_code == 400
    assert User.objects.get(username="erin").check_password(SPACED)


def test_register_and_page_sign_in_agree_on_a_spaced_password(client):
    assert register(APIClient(), password=SPACED).status_code == 201

    client.post(reverse("login"), {"username": "erin", "password": SPACED})

    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("taken", ["Erin", "ERIN", "erin"])
def test_register_refuses_a_name_differing_only_by_case(taken):
    CustomerFactory(username="erin")

    response = register(APIClient(), username=taken)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"
    assert response.json()["error"]["message"] == services.ERR_USERNAME_TAKEN
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "lookalike",
    ["\u0430dmin", "p\u0430ypal", "\u0435rin", "\u03bfscar"],
    ids=["cyrillic-a", "cyrillic-a-inside", "cyrillic-e", "greek-omicron"],
)
def test_register_refuses_look_alike_letters(lookalike):
    response = register(APIClient(), username=lookalike)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "username_confusable"
    assert response.json()["error"]["message"] == services.ERR_USERNAME_CONFUSABLE
    assert not User.objects.exists()


def test_register_folds_full_width_letters_into_plain_ones():
    CustomerFactory(username="erin")

    response = register(APIClient(), username="\uff25\uff52\uff49\uff4e")  # full-width "Erin"

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


def test_register_page_refuses_look_alike_letters(client):
    response = client.post(
        reverse("register"),
        {
            "username": "\u0430dmin",
            "email": "a@example.com",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == [services.ERR_USERNAME_CONFUSABLE]
    assert not User.objects.exists()


def test_usernames_are_unique_regardless_of_case_in_the_database():
    from django.db import IntegrityError, transaction

    CustomerFactory(username="erin")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="ERIN", password=PASSWORD)


# --- API tokens: hashed, expiring, rotated ------------------------------------------------


def test_api_tokens_are_stored_only_as_hashes(customer):
    from django.db import connection

    token = sign_in_for_token(customer.username, PASSWORD).json()["token"]

    stored = ApiToken.objects.get(user=customer)
    assert stored.key_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM claims_apitoken")
        rows = [str(value) for row in cursor.fetchall() for value in row]
    assert not any(token in value for value in rows)


def test_api_token_expires_after_the_roles_session_length(customer, adjuster, settings):
    customer_token = sign_in_for_token(customer.username, PASSWORD).json()
    adjuster_token = sign_in_for_token(adjuster.username, PASSWORD).json()

    def hours_left(body) -> float:
        from django.utils.dateparse import parse_datetime

        return (parse_datetime(body["expires_at"]) - timezone.now()).total_seconds() / 3600

    assert hours_left(customer_token) == pytest.approx(
        settings.CLAIMVISION_CUSTOMER_SESSION_HOURS, abs=0.1
    )
    assert hours_left(adjuster_token) == pytest.approx(
        settings.CLAIMVISION_STAFF_SESSION_HOURS, abs=0.1
    )


def test_an_expired_api_token_is_refused(customer):
    token = sign_in_for_token(customer.username, PASSWORD).json()["token"]
    ApiToken.objects.filter(user=customer).update(expires_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get(claims_url())

    assert response.status_code == 401
    assert response.json()["error"]["message"] == authentication.ERR_TOKEN_EXPIRED


def test_each_sign_in_rotates_in_a_new_token_and_revokes_the_oldest(customer, settings):
    settings.CLAIMVISION_API_TOKENS_PER_USER = 2
    first, second, third = (
        sign_in_for_token(customer.username, PASSWORD).json()["token"] for _ in range(3)
    )

    def status_with(token: str) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.get(claims_url()).status_code

    assert len({first, second, third}) == 3
    assert [status_with(t) for t in (first, second, third)] == [401, 200, 200]


def test_migration_turns_drfs_plain_tokens_into_hashes(customer):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = import_module("claims.migrations.0004_api_tokens_hashed")
    plain = "f" * 40
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, "
            "user_id integer)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)", [plain, "2026-01-01", customer.pk]
        )

    migration.hash_plain_tokens(apps, SimpleNamespace(connection=connection))

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # no usable token left in the database
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    assert client.get(claims_url()).status_code == 200  # the client's token still works
    assert (
        ApiToken.objects.get(user=customer).key_hash == hashlib.sha256(plain.encode()).hexdigest()
    )
