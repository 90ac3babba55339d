"""The Content-Security-Policy on every page, pages that need no inline script or style, and
sessions that end sooner for staff than for customers."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims import urls as claim_pages
from claims.tests.factories import (
    PASSWORD,
    AdjusterFactory,
    ClaimFactory,
    CustomerFactory,
    DataTeamFactory,
    PhotoFactory,
    UserFactory,
)
from review import urls as review_pages

pytestmark = pytest.mark.django_db

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
STYLE_TAG = re.compile(r"<style\b", re.IGNORECASE)


def inline_code(html: str) -> list[str]:
    """Inline scripts, event handlers and styles: what the policy would refuse to run."""
    found = []
    for attrs, body in SCRIPT_TAG.findall(html):
        if "src=" in attrs:
            continue
        if re.search(r'type="application/(ld\+)?json"', attrs):
            continue  # a JSON data island (json_script): never executed
        found.append(f"<script{attrs}>{body[:60]}")
    found += EVENT_ATTRIBUTE.findall(html) + STYLE_ATTRIBUTE.findall(html)
    found += STYLE_TAG.findall(html)
    return found


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def every_page() -> list[tuple[str, str]]:
    """(who, url) for every page of the product, the admin's and the API's docs."""
    customer = CustomerFactory()
    adjuster = AdjusterFactory()
    draft = ClaimFactory(owner=customer)
    PhotoFactory(claim=draft)
    in_review = ClaimFactory(submitted=True, status="in_review")
    pages = [("anonymous", reverse("login")), ("anonymous", reverse("register"))]
    for pattern in claim_pages.urlpatterns:
        if pattern.name in ("login", "logout", "register"):
            continue
        kwargs = {"claim_id": draft.pk} if "claim_id" in pattern.pattern.converters else {}
        pages.append((customer, reverse(pattern.name, kwargs=kwargs)))
    for pattern in review_pages.urlpatterns:
        kwargs = {"claim_id": in_review.pk} if "claim_id" in pattern.pattern.converters else {}
        pages.append((adjuster, reverse(pattern.name, kwargs=kwargs)))
    pages += [
        ("anonymous", "/admin/login/"),
        (UserFactory(is_staff=True, is_superuser=True), "/admin/"),
        ("anonymous", reverse("api-docs")),
    ]
    return pages


def test_every_page_has_the_policy_and_needs_no_inline_code():
    results = {}
    for who, url in every_page():
        client = Client() if who == "anonymous" else signed_in(who)
        response = client.get(url)
        assert response.status_code == 200, url
        results[url] = (response["Content-Security-Policy"], inline_code(response.content.decode()))

    policy = settings.CLAIMVISION_CONTENT_SECURITY_POLICY
    assert {url: header for url, (header, _) in results.items() if header != policy} == {}
    assert {url: code for url, (_, code) in results.items() if code} == {}
    assert len(results) >= 12


def test_the_policy_allows_own_scripts_only():
    policy = dict(
        part.strip().split(" ", 1)
        for part in settings.CLAIMVISION_CONTENT_SECURITY_POLICY.split(";")
        if part.strip()
    )

    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in settings.CLAIMVISION_CONTENT_SECURITY_POLICY


def test_error_pages_and_api_answers_carry_the_policy_too(client):
    for url in ("/no-such-page/", reverse("api-claims")):
        response = client.get(url)

        assert response.status_code in (401, 404)
        assert response["Content-Security-Policy"] == settings.CLAIMVISION_CONTENT_SECURITY_POLICY


def test_api_docs_script_is_served_as_a_file():
    response = Client().get(reverse("api-docs") + "?script=")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content


# --- session lengths by role ------------------------------------------------------------


def session_ends_in(client: Client) -> timedelta:
    client.get(reverse("login"))  # the first request of the signed-in session fixes its end
    return client.session.get_expiry_date() - timezone.now()


def page_sign_in(user, path: str = "/accounts/login/") -> Client:
    client = Client()
    client.post(path, {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" in client.session
    return client


@pytest.mark.parametrize(
    "make_staff",
    [AdjusterFactory, DataTeamFactory, lambda: UserFactory(is_staff=True)],
    ids=["adjuster", "data_team", "admin_site_user"],
)
def test_staff_sessions_end_after_the_staff_session_length(make_staff):
    client = page_sign_in(make_staff())

    assert session_ends_in(client) == pytest.approx(
        timedelta(hours=settings.CLAIMVISION_STAFF_SESSION_HOURS), abs=timedelta(minutes=1)
    )


def test_customer_sessions_last_longer_than_staff_sessions():
    client = page_sign_in(CustomerFactory())

    ends = session_ends_in(client)

    assert ends == pytest.approx(
        timedelta(hours=settings.CLAIMVISION_CUSTOMER_SESSION_HOURS), abs=timedelta(minutes=1)
    )
    assert ends > timedelta(hours=settings.CLAIMVISION_STAFF_SESSION_HOURS)


def test_admin_login_gets_the_staff_session_length():
    client = page_sign_in(UserFactory(is_staff=True, is_superuser=True), path="/admin/login/")

    assert session_ends_in(client) == pytest.approx(
        timedelta(hours=settings.CLAIMVISION_STAFF_SESSION_HOURS), abs=timedelta(minutes=1)
    )


def test_a_staff_session_does_not_slide_with_activity():
    client = page_sign_in(AdjusterFactory())
    first = client.session.get_expiry_date() if session_ends_in(client) else None

    client.get(reverse("review-queue"))
    client.get(reverse("review-queue"))

    assert client.session.get_expiry_date() == first


def test_page_scripts_set_styles_through_the_cssom_only():
    """A style attribute written by a script is refused by the policy like one in the markup;
    ``element.style.setProperty`` (the CSSOM) is not."""
    from pathlib import Path

    root = Path(settings.BASE_DIR)
    scripts = [*root.glob("claims/static/**/*.js"), *root.glob("review/static/**/*.js")]
    writes_attribute = re.compile(
        # ``style: "currency"`` (Intl.NumberFormat) and ``style: "long"`` / "short" / "narrow"
        # (Intl.ListFormat, Intl.RelativeTimeFormat) are options, not style attributes
        r"""setAttribute\(\s*["']style["']|style:\s*[`'"](?!currency|long|short|narrow)"""
        r"""|\.innerHTML\s*=|\.cssText\s*="""
    )

    offenders = {
        f"{path.relative_to(root)}:{number}": line.strip()
        for path in scripts
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if writes_attribute.search(line)
    }

    assert len(scripts) >= 10
    assert offenders == {}
