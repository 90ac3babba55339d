"""Sign-in limits per account and per address, on the pages, the admin site and the API."""

import time

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from claims import login_limits
from claims.tests.factories import PASSWORD, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

LOCKED_15 = login_limits.ERR_LOGIN_LOCKED.format(minutes=15)


def page_sign_in(client: Client, username: str, password: str, path: str = "/accounts/login/"):
    return client.post(path, {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_login_page_after_100_wrong_passwords_refuses_the_right_one(customer):
    client = Client()
    for _ in range(100):
        page_sign_in(client, customer.username, "wrong-password")

    response = page_sign_in(client, customer.username, PASSWORD)

    assert response.status_code == 429
    assert not signed_in(client)
    assert LOCKED_15 in response.content.decode()


def test_login_page_locks_the_account_after_its_limit(customer, settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    client = Client()
    failures = [page_sign_in(client, customer.username, "wrong").status_code for _ in range(3)]

    response = page_sign_in(client, customer.username, PASSWORD)

    assert failures == [200, 200, 200]  # the form again, with "enter a correct username"
    assert response.status_code == 429
    assert not signed_in(client)


def test_login_lock_holds_from_another_address(customer, settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        page_sign_in(Client(REMOTE_ADDR="198.51.100.1"), customer.username, "wrong")
    client = Client(REMOTE_ADDR="198.51.100.2")

    response = page_sign_in(client, customer.username, PASSWORD)

    assert response.status_code == 429
    assert not signed_in(client)


def test_login_lock_counts_case_variants_of_a_name_as_one_account(customer, settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    for name in (customer.username.upper(), customer.username.title(), customer.username):
        page_sign_in(Client(), name, "wrong")

    response = page_sign_in(Client(), customer.username, PASSWORD)

    assert response.status_code == 429


def test_login_per_address_limit_covers_guesses_across_accounts(settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ADDRESS = 4
    victim = CustomerFactory()
    client = Client(REMOTE_ADDR="198.51.100.9")
    for n in range(4):
        page_sign_in(client, f"someone-{n}", "guess")

    response = page_sign_in(client, victim.username, PASSWORD)
    elsewhere = Client(REMOTE_ADDR="198.51.100.10")
    page_sign_in(elsewhere, victim.username, PASSWORD)

    assert response.status_code == 429
    assert not signed_in(client)
    assert signed_in(elsewhere)  # the account itself is not locked


def test_login_success_below_the_limit_clears_the_accounts_count(customer, settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(2):
        page_sign_in(Client(), customer.username, "wrong")
    page_sign_in(Client(), customer.username, PASSWORD)
    for _ in range(2):
        page_sign_in(Client(), customer.username, "wrong")
    client = Client()

    page_sign_in(client, customer.username, PASSWORD)

    assert signed_in(client)


def test_login_successes_do_not_use_up_an_addresss_attempts(settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ADDRESS = 2
    users = CustomerFactory.create_batch(4)  # an office behind one address
    clients = [Client(REMOTE_ADDR="198.51.100.20") for _ in users]

    for user, client in zip(users, clients, strict=True):
        page_sign_in(client, user.username, PASSWORD)

    assert all(signed_in(client) for client in clients)


def test_login_lock_lifts_when_its_window_ends(customer, settings, monkeypatch):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    for _ in range(3):
        page_sign_in(Client(), customer.username, "wrong")
    assert page_sign_in(Client(), customer.username, PASSWORD).status_code == 429

    # when: the lockout window (15 minutes) has passed
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(time, "time", lambda: later)
    client = Client()
    page_sign_in(client, customer.username, PASSWORD)

    assert signed_in(client)


def test_admin_login_after_100_wrong_passwords_refuses_the_right_one():
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(100):
        page_sign_in(client, admin.username, "wrong-password", path="/admin/login/")

    response = page_sign_in(client, admin.username, PASSWORD, path="/admin/login/")

    assert not signed_in(client)
    assert LOCKED_15 in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still sent to the sign-in page


def test_admin_login_shares_the_accounts_count_with_the_pages(settings):
    settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    admin = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(3):
        page_sign_in(Client(), admin.username, "wrong")
    client = Client()

    page_sign_in(client, admin.username, PASSWORD, path="/admin/login/")

    assert not signed_in(client)


def test_token_api_after_100_wrong_passwords_refuses_the_right_one(customer):
    client = APIClient()
    url = reverse("api-token")
    for _ in range(100):
        client.post(url, {"username": customer.username, "password": "wrong"}, format="json")

    response = client.post(
        url, {"username": customer.username, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "login_locked"
    assert error["message"] == LOCKED_15
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert "token" not in response.json()


def test_token_api_wrong_password_below_the_limit_is_a_plain_400(customer):
    response = APIClient().post(
        reverse("api-token"), {"username": customer.username, "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
