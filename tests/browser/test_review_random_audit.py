"""A random audit on the review screen, in Chromium: the adjuster reads "Random audit", sees
and can correct the model's masks, and nowhere reads what the model would have decided."""

import pytest

from assessment.policy import REASON_MESSAGES
from claims.tests.factories import AdjusterFactory
from tests.browser.test_review_screen import (  # noqa: F401 - the screen's fixtures and data
    DENT,
    claim_in_review,
    editor_eval,
    open_page,
    open_screen,
    sign_in_to,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AUDIT_REASONS = [
    {
        "code": "random_audit",
        "message": REASON_MESSAGES["random_audit"],
        "value": 0.0123,
        "threshold": 0.05,
        "would_be": "auto_approved",
    }
]


def test_review_screen_shows_random_audit_blind(open_page):
    # given a claim every other rule had approved, drawn for a random audit
    claim, _ = claim_in_review(
        photos=[[("dent", DENT, 0.96, "minor")]],
        waiting_hours=1,
        estimate="186.00",
        reasons=AUDIT_REASONS,
    )
    adjuster = AdjusterFactory()
    page = open_page()

    # when the adjuster opens it
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # then the reason is the audit, in words that give nothing away
    reasons = page.locator("#reasons li")
    assert reasons.count() == 1
    assert reasons.nth(0).get_attribute("data-code") == "random_audit"
    text = reasons.nth(0).inner_text()
    assert "Random audit" in text and REASON_MESSAGES["random_audit"] in text
    body = page.locator("body").inner_text()
    for hidden in ("Approved automatically", "Auto approved", "auto_approved", "would have"):
        assert hidden not in body, hidden
    # and the model's masks are there to correct
    assert editor_eval(page, "return editor.regions.length;") == 1
