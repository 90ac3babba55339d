"""The senior adjusters' queue in Chromium: a claim whose customer contests a decision is
listed to senior adjusters (with its own filter), and a plain adjuster who opens it anyway gets
a read-only screen saying why, not a screen whose decision would be refused."""

import pytest

from assessment.models import Contest, Decision
from claims.tests.factories import AdjusterFactory, SeniorAdjusterFactory
from tests.browser.test_review_screen import (  # noqa: F401 - the screen's fixtures and data
    DENT,
    claim_in_review,
    open_page,
    open_screen,
    sign_in_to,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTEST_REASONS = [
    {
        "code": "customer_contested",
        "message": "The customer contests first's decision (approved).",
        "detail": "The rear door is missing.",
    },
    {"code": "senior_review", "message": "Contested decision: a senior adjuster decides."},
]


def _contested_claim(first_decider):
    claim, _ = claim_in_review(
        photos=[[("dent", DENT, 0.8, "minor")]],
        waiting_hours=2,
        estimate="240.00",
        reasons=CONTEST_REASONS,
    )
    contested = Decision.objects.create(
        claim=claim, outcome=Decision.Outcome.APPROVED, automatic=False, decided_by=first_decider
    )
    Contest.objects.create(
        claim=claim, decision=contested, customer=claim.owner, reason="The rear door is missing."
    )
    return claim


def test_plain_adjusters_do_not_get_contested_claims_and_seniors_do(open_page):
    # given: a contested claim, its first decider (a plain adjuster) and a senior adjuster
    adjuster, senior = AdjusterFactory(), SeniorAdjusterFactory()
    contested = _contested_claim(adjuster)
    fresh, _ = claim_in_review(waiting_hours=1, estimate="120.00")

    # when the plain adjuster opens the queue: the fresh claim only, and the count of the rest
    page = open_page()
    sign_in_to(page, adjuster.username, "/review/")
    page.locator("#queue-rows tr", has_text=fresh.reference).wait_for()
    assert page.locator("#queue-rows tr", has_text=contested.reference).count() == 0
    assert (
        "1 contested, waiting for a senior adjuster" in page.locator("#queue-counts").inner_text()
    )
    assert page.locator("#filter-senior").count() == 0

    # and opens the contested claim by its address: read-only, saying it is a senior's
    page.goto(f"/review/claims/{contested.pk}/")
    banner = page.locator("#lock-banner")
    banner.wait_for()
    assert "senior adjuster" in banner.inner_text()
    assert page.locator("#decide-approve").is_disabled()

    # then the senior sees both, keeps the contested one with the filter, and may decide it
    page = open_page()
    sign_in_to(page, senior.username, "/review/")
    page.locator("#queue-rows tr", has_text=contested.reference).wait_for()
    page.locator("#queue-rows tr", has_text=fresh.reference).wait_for()
    page.get_by_label("Senior queue (contested)").check()
    page.wait_for_url("**senior_review=1**")
    page.locator("#queue-rows tr", has_text=fresh.reference).wait_for(state="detached")
    assert page.locator("#queue-rows tr", has_text=contested.reference).count() == 1
    page.locator("#queue-rows tr", has_text=contested.reference).click()
    open_screen(page)
    assert page.locator("#lock-banner").is_hidden()
    assert page.locator("#decide-approve").is_enabled()
