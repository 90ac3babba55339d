"""Customer pages: who may see them, 404 for another customer's claim, web registration."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from claims import services
from claims.forms import ERR_PASSWORDS_DIFFER
from claims.models import Claim
from claims.roles import Role, user_has_role

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-42"


def _customer(username: str = "alex"):
    return services.user_register(
        username=username, email=f"{username}@example.test", password=PASSWORD
    )


def _claim(owner) -> Claim:
    return services.claim_create(
        owner=owner,
        policy_number="POL-1234",
        vehicle_make="Ford",
        vehicle_model="Focus",
        vehicle_year=2018,
        incident_date=timezone.localdate(),
    )


def _claim_urls(claim) -> list[str]:
    return [
        reverse(name, kwargs={"claim_id": claim.pk})
        for name in ("claim-status", "claim-photos", "claim-review")
    ]


def test_home_anonymous_redirects_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_customer_pages_adjuster_gets_403_page(client):
    # given: a staff account without the customer role
    adjuster = get_user_model().objects.create_user("ada", password=PASSWORD, is_staff=True)
    adjuster.groups.add(Group.objects.get_or_create(name=Role.ADJUSTER.value)[0])
    client.force_login(adjuster)
    claim = _claim(_customer())

    # when / then: the start page sends them to their own area (review/tests/test_views.py),
    # every other customer page explains instead of crashing
    assert client.get(reverse("home"))["Location"] == reverse("review-queue")
    for url in [reverse("claim-new"), *_claim_urls(claim)]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"These pages are for customers" in response.content
        assert f'href="{reverse("review-queue")}"'.encode() in response.content


def test_customer_pages_show_a_data_team_member_the_way_to_their_exports(client):
    member = get_user_model().objects.create_user("dana", password=PASSWORD)
    member.groups.add(Group.objects.get_or_create(name=Role.DATA_TEAM.value)[0])
    client.force_login(member)

    response = client.get(reverse("claim-new"))

    assert response.status_code == 403
    assert f'href="{reverse("data-exports")}"'.encode() in response.content
    assert reverse("admin:index").encode() not in response.content  # not staff: no admin link


def test_claim_pages_other_customers_claim_is_404(client):
    theirs = _claim(_customer("owner"))
    client.force_login(_customer("intruder"))
    for url in _claim_urls(theirs):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Claim not found" in response.content
        assert theirs.reference.encode() not in response.content


def test_claim_pages_owner_sees_draft_pages(client):
    owner = _customer()
    claim = _claim(owner)
    client.force_login(owner)
    home = client.get(reverse("home"))
    assert claim.reference.encode() in home.content
    photos = client.get(reverse("claim-photos", kwargs={"claim_id": claim.pk}))
    assert photos.status_code == 200
    assert b'capture="environment"' in photos.content
    assert b'id="claim-data"' in photos.content
    review = client.get(reverse("claim-review", kwargs={"claim_id": claim.pk}))
    assert b"Add at least one photo" in review.content


def test_photo_and_review_pages_redirect_once_submitted(client):
    owner = _customer()
    claim = _claim(owner)
    services.claim_transition(claim=claim, to=Claim.Status.SUBMITTED, submitted_at=timezone.now())
    client.force_login(owner)
    status_url = reverse("claim-status", kwargs={"claim_id": claim.pk})
    for name in ("claim-photos", "claim-review"):
        response = client.get(reverse(name, kwargs={"claim_id": claim.pk}))
        assert response.status_code == 302
        assert response["Location"] == status_url
    status = client.get(status_url)
    assert status.context["polling"] is True
    assert [s["state"] for s in status.context["steps"]] == ["done", "current", "todo", "todo"]


def test_register_creates_customer_and_signs_in(client):
    response = client.post(
        reverse("register"),
        {
            "username": "sam",
            "email": "sam@example.test",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    user = get_user_model().objects.get(username="sam")
    assert user_has_role(user, Role.CUSTOMER)
    assert not user.is_staff
    assert client.get(reverse("home")).status_code == 200


def test_register_rejects_weak_password_mismatch_and_taken_name(client):
    _customer("taken")
    weak = client.post(
        reverse("register"),
        {"username": "sam", "email": "s@example.test", "password": "123", "password_again": "123"},
    )
    assert weak.status_code == 200
    assert weak.context["form"].errors["password"]
    differ = client.post(
        reverse("register"),
        {"username": "sam", "email": "s@example.test", "password": PASSWORD, "password_again": "x"},
    )
    assert differ.context["form"].errors["password_again"] == [ERR_PASSWORDS_DIFFER]
    taken = client.post(
        reverse("register"),
        {
            "username": "taken",
            "email": "t@example.test",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert taken.context["form"].errors["username"] == [services.ERR_USERNAME_TAKEN]
    assert not get_user_model().objects.filter(username="sam").exists()


def test_register_shows_every_problem_at_once(client):
    # given a taken name, and a form with a common, all-digit password typed differently twice
    _customer("taken")

    # when
    response = client.post(
        reverse("register"),
        {
            "username": "Taken",
            "email": "not-an-email",
            "password": "12345678",
            "password_again": "87654321",
        },
    )

    # then one answer names every field's problem
    errors = response.context["form"].errors
    assert response.status_code == 200
    assert errors["username"] == [services.ERR_USERNAME_TAKEN]
    assert errors["email"]
    assert "This password is entirely numeric." in errors["password"]
    assert "This password is too common." in errors["password"]
    assert errors["password_again"] == [ERR_PASSWORDS_DIFFER]
    html = response.content.decode()
    assert str(services.ERR_USERNAME_TAKEN) in html and "entirely numeric" in html
    assert get_user_model().objects.filter(username__iexact="taken").count() == 1
