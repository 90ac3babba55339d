"""Customers read only customer-facing reasons, in every API response and on every page.

A claim goes through the real assessment with a photo that duplicates another customer's, low
confidence and an estimate over the limit, so its decision holds the fraud signal and the
policy's thresholds. Every customer endpoint and page (found in the URL configuration, so new
ones are covered) is then read for what only staff may see.
"""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from assessment import policy
from assessment import services as assessment_services
from assessment.models import Decision
from assessment.tests.conftest import (  # noqa: F401 - shared fixtures
    model_version,
    region,
    segmenter,
)
from claims import urls as page_urls
from claims.models import Claim, Photo
from claims.permissions import IsCustomer
from claims.tests.conftest import (  # noqa: F401 - shared fixtures
    _fast_and_isolated,
    api_client_for,
    customer,
    enqueued,
    media_root,
)
from claims.tests.factories import PASSWORD, ClaimFactory, PhotoFactory

pytestmark = pytest.mark.django_db

IDS = {"claim_id", "photo_id"}


def customer_api_reads() -> list[str]:
    """Names of the customer API's GET endpoints."""

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                view = getattr(entry.callback, "view_class", None)
                if (
                    view
                    and issubclass(view, APIView)
                    and hasattr(view, "get")
                    and IsCustomer in view.permission_classes
                ):
                    yield entry.name

    return sorted(set(walk(get_resolver().url_patterns)))


def customer_pages() -> list[tuple[str, set[str]]]:
    return [(p.name, set(p.pattern.converters)) for p in page_urls.urlpatterns]


@pytest.fixture
def flagged_claim(segmenter, customer) -> Claim:
    """In review for low confidence, an estimate over the limit and a duplicate photo."""
    segmenter.photo_confidence = 0.41
    segmenter.regions = [region("dent", 0.5, "severe")]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    stranger_photo = PhotoFactory()
    photo = PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    Photo.objects.filter(pk=photo.pk).update(duplicate_of=stranger_photo)
    assessment_services.photo_assess(photo_id=photo.pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    return claim


def staff_only_texts(claim: Claim) -> list[str]:
    """What the decision says for staff: its reason messages and every staff-only code."""
    decision = Decision.objects.filter(claim=claim).latest("created_at")
    texts = {r["message"] for r in decision.reasons if r["message"]}
    texts -= set(policy.CUSTOMER_REASON_MESSAGES.values())
    return sorted(texts | set(policy.STAFF_ONLY_REASONS))


def read_everything(customer, claim: Claim, api_client) -> dict[str, str]:
    """Every customer response about ``claim``: API reads and pages, by name."""
    photo = claim.photos.first()
    values = {"claim_id": claim.pk, "photo_id": photo.pk}
    bodies = {}
    for name in customer_api_reads():
        route_ids = {k for k in IDS if f"{k}>" in str(_route_of(name))}
        response = api_client.get(reverse(name, kwargs={k: values[k] for k in route_ids}))
        assert response.status_code == 200, name
        content = b"".join(response.streaming_content) if response.streaming else response.content
        bodies[f"api {name}"] = content.decode(errors="replace")
    browser = Client()
    assert browser.login(username=customer.username, password=PASSWORD)
    for name, converters in customer_pages():
        if name in ("logout", "login", "register"):
            continue
        response = browser.get(reverse(name, kwargs={k: values[k] for k in converters}))
        if response.status_code == 302:  # a page for another status: the one it points to
            response = browser.get(response["Location"])
        assert response.status_code == 200, name
        bodies[f"page {name}"] = response.content.decode()
    return bodies


def _route_of(name: str):
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.name == name:
                yield prefix + str(entry.pattern)

    return next(walk(get_resolver().url_patterns))


def test_the_flagged_claims_decision_holds_staff_only_reasons(flagged_claim):
    codes = {r["code"] for r in Decision.objects.get(claim=flagged_claim).reasons}

    assert {"duplicate_photo", "low_photo_confidence", "always_human_severity"} <= codes
    assert any("0.85" in text for text in staff_only_texts(flagged_claim))


def test_customer_responses_never_show_staff_only_reasons(customer, flagged_claim, api_client_for):
    bodies = read_everything(customer, flagged_claim, api_client_for(customer))
    staff_texts = staff_only_texts(flagged_claim)

    assert {"api api-claim-detail", "api api-claims", "page claim-status"} <= set(bodies)
    leaks = {
        where: [text for text in staff_texts if text in body or text.replace("'", "&#x27;") in body]
        for where, body in bodies.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}


def test_customer_reads_the_reasons_in_customer_words(customer, flagged_claim, api_client_for):
    claim = api_client_for(customer).get(reverse("api-claim-detail", args=[flagged_claim.pk]))

    reasons = claim.json()["decision"]["reasons"]

    assert [r["code"] for r in reasons] == ["low_photo_confidence", "always_human_severity"]
    assert [r["message"] for r in reasons] == [
        policy.CUSTOMER_REASON_MESSAGES["low_photo_confidence"],
        policy.CUSTOMER_REASON_MESSAGES["always_human_severity"],
    ]


def test_adjusters_still_read_every_reason(flagged_claim, api_client_for):
    from claims.tests.factories import AdjusterFactory

    adjuster = api_client_for(AdjusterFactory())

    detail = adjuster.get(reverse("api-review-claim", args=[flagged_claim.pk])).json()

    codes = [r["code"] for r in detail["decision"]["reasons"]]
    assert "duplicate_photo" in codes


def test_a_claim_routed_for_the_fraud_signal_alone_gets_a_neutral_reason(
    segmenter, customer, api_client_for
):
    segmenter.photo_confidence = 0.99
    segmenter.regions = [region("dent", 0.99, "minor")]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    photo = PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    Photo.objects.filter(pk=photo.pk).update(duplicate_of=PhotoFactory())
    assessment_services.photo_assess(photo_id=photo.pk)
    assert [r["code"] for r in Decision.objects.get(claim=claim).reasons] == ["duplicate_photo"]

    shown = api_client_for(customer).get(reverse("api-claim-detail", args=[claim.pk])).json()

    assert shown["decision"]["reasons"] == [policy.CUSTOMER_ROUTINE_CHECK]


def test_contesting_answers_with_customer_reasons_only(segmenter, customer, api_client_for):
    segmenter.photo_confidence = 0.99
    segmenter.regions = [region("dent", 0.99, "minor")]
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim, status=Photo.Status.PREPARED)
    assessment_services.photo_assess(photo_id=claim.photos.get().pk)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.AUTO_DECIDED

    response = api_client_for(customer).post(
        reverse("api-claim-contest", args=[claim.pk]), {"reason": "look again"}, format="json"
    )

    assert response.status_code == 202
    assert response.json()["decision"]["reasons"] == [
        {
            "code": "customer_contested",
            "message": policy.CUSTOMER_REASON_MESSAGES["customer_contested"],
        }
    ]
