"""An adjuster's decision seen from both sides, in Chromium: the adjuster asks for more photos
and the customer sends them; the adjuster denies a claim with a reason.

The claims are built with the review screen tests' data builders (assessed photos, predicted
regions, a routing decision); no worker runs here, so a claim submitted again stays
``submitted``.
"""

import hashlib

import pytest

from assessment.models import AuditRecord, Decision
from claims.models import Claim, Photo
from claims.tests.factories import AdjusterFactory
from review.models import ReviewLock
from tests.browser import drawings
from tests.browser.conftest import PHONE
from tests.browser.test_review_screen import (
    PHOTO_SIZE,
    PHOTOS,
    VIEWPORT,
    claim_in_review,
    open_screen,
    sign_in_to,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "The rear bumper is not visible in any photo."
MESSAGE = "Please add a photo of the rear bumper, taken from about two metres away."
DENIAL = "The damage predates the policy start date (photos from the 2025 claim)."


@pytest.fixture
def open_page(new_page):
    """A page in its own browser context (one signed-in person each): desktop or phone."""
    return lambda options=VIEWPORT: new_page(options)


def latest_decision(claim) -> Decision:
    return Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()


def human_audit(claim):
    return AuditRecord.objects.filter(claim_id=claim.pk, kind=AuditRecord.Kind.HUMAN_DECISION)


def test_adjuster_requests_more_photos_and_customer_sends_them(open_page, tmp_path):
    # given: a claim in review with two assessed photos
    adjuster = AdjusterFactory(username="alice")
    claim, photos = claim_in_review(waiting_hours=5, estimate="640.00")
    desk = open_page()
    sign_in_to(desk, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(desk)

    # when: the adjuster asks for more photos, with a reason and a message to the customer
    desk.get_by_role("button", name="Request more photos…").click()
    dialog = desk.get_by_role("dialog", name="Ask the customer for more photos")
    assert dialog.is_visible()
    dialog.get_by_label("Reason (for the file)").fill(REASON)
    message = dialog.get_by_label("What the customer will read")
    # the standard sentence is there to start from; the adjuster writes their own
    message.wait_for()
    dialog.locator("#decision-submit:enabled").wait_for()
    assert "more photos" in message.input_value()
    message.fill(MESSAGE)
    dialog.get_by_role("button", name="Send request").click()
    desk.wait_for_url("**/review/?*decided=*")
    desk.locator("#queue-flash", has_text=claim.reference).wait_for()

    # then: the claim waits for photos, with the adjuster's decision and its audit record
    claim.refresh_from_db()
    assert claim.status == Claim.Status.MORE_PHOTOS_REQUESTED
    decision = latest_decision(claim)
    assert decision.outcome == Decision.Outcome.MORE_PHOTOS
    assert decision.automatic is False
    assert decision.decided_by == adjuster
    assert decision.reasons[0]["message"] == MESSAGE
    assert decision.reasons[0]["detail"] == REASON
    audit = human_audit(claim).get()
    assert audit.outcome == Decision.Outcome.MORE_PHOTOS
    assert audit.detail["action"] == "request_photos"
    assert audit.detail["reason"] == REASON
    assert audit.detail["message_to_customer"] == MESSAGE
    assert not ReviewLock.objects.filter(claim=claim).exists()

    # when: the customer, on their phone, opens the claim's status page
    phone = open_page(PHONE)
    sign_in_to(phone, claim.owner.username, f"/claims/{claim.pk}/")

    # then: they read the adjuster's message and are offered to add photos
    assert phone.locator("#status-display").inner_text() == "More photos requested"
    result = phone.locator("#claim-decision")
    result.get_by_role("heading", name="More photos needed").wait_for()
    reasons = result.locator(".reasons")
    assert reasons.get_by_role("heading", name="What the adjuster asks for").is_visible()
    assert reasons.locator("li").all_inner_texts() == [MESSAGE]
    assert REASON not in result.inner_text()  # the note for the file stays with the insurer
    add_photos = result.get_by_role("link", name="Add photos")
    assert add_photos.is_visible()

    # when: they follow it and upload one more photo
    add_photos.click()
    phone.wait_for_url(f"**/claims/{claim.pk}/photos/")
    new_photo = tmp_path / "rear-bumper.jpg"
    new_photo.write_bytes(
        drawings.car_photo(PHOTO_SIZE, [("dent", (800, 700, 140, 80))], seed=11, wheel=130)
    )
    phone.set_input_files("#camera-input", str(new_photo))
    name = phone.locator(".photo-card__name", has_text="rear-bumper.jpg")
    phone.locator(".photo-card[data-state=done]", has=name).wait_for()
    assert Photo.objects.filter(claim=claim).count() == len(photos) + 1
    stored = Photo.objects.get(claim=claim, original_name="rear-bumper.jpg")
    assert stored.sha256 == hashlib.sha256(new_photo.read_bytes()).hexdigest()

    # and: review and submit the claim again
    phone.get_by_role("link", name="Review and submit").click()
    phone.wait_for_url(f"**/claims/{claim.pk}/review/")
    assert phone.locator(".photo-grid img").count() == len(PHOTOS) + 1
    phone.get_by_role("button", name="Submit claim").click()
    phone.wait_for_url(f"**/claims/{claim.pk}/")

    # then: the claim is submitted again, with one more photo
    assert phone.locator("#status-display").inner_text() == "Submitted"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.SUBMITTED
    assert Photo.objects.filter(claim=claim).count() == len(photos) + 1
    assert set(Photo.objects.filter(claim=claim).values_list("original_name", flat=True)) == {
        "side-1.jpg",
        "side-2.jpg",
        "rear-bumper.jpg",
    }


def test_adjuster_denies_with_reason(open_page):
    # given: a claim in review, opened by the adjuster
    adjuster = AdjusterFactory(username="alice")
    claim, _ = claim_in_review(waiting_hours=2, estimate="410.00")
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # when: the adjuster opens the denial dialog and confirms without a reason
    page.get_by_role("button", name="Deny…").click()
    dialog = page.get_by_role("dialog", name="Deny the claim")
    assert dialog.is_visible()
    assert dialog.get_by_label("What the customer will read").is_visible()
    # the confirm step says what the denial pays before anything is decided
    dialog.locator("#confirm-total").wait_for()
    assert dialog.locator("#confirm-total").inner_text() == "Nothing"
    dialog.get_by_role("button", name="Deny claim").click()

    # then: a visible error asks for one, the dialog stays open and nothing is stored
    error = dialog.get_by_role("alert")
    error.wait_for()
    assert error.inner_text() == "Give a reason."
    assert dialog.is_visible()
    reason_box = dialog.get_by_label("Reason for the denial")
    assert page.evaluate("document.activeElement.id") == "decision-reason"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    assert latest_decision(claim).outcome == Decision.Outcome.ROUTED_TO_REVIEW
    assert not human_audit(claim).exists()

    # when: the adjuster gives a reason and confirms
    reason_box.fill(DENIAL)
    dialog.get_by_role("button", name="Deny claim").click()

    # then: the screen returns to the queue, which names the decided claim
    page.wait_for_url("**/review/?*decided=*")
    flash = page.locator("#queue-flash", has_text=claim.reference)
    flash.wait_for()
    assert "Denied" in flash.inner_text()

    # and: the claim is decided, denied with the reason, and the decision is audited
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DECIDED
    decision = latest_decision(claim)
    assert decision.outcome == Decision.Outcome.DENIED
    assert decision.decided_by == adjuster
    assert decision.reasons[0]["code"] == "adjuster_denied"
    assert decision.reasons[0]["detail"] == DENIAL
    audit = human_audit(claim).get()
    assert audit.outcome == Decision.Outcome.DENIED
    assert audit.actor == adjuster.username
    assert audit.detail["reason"] == DENIAL
    assert audit.detail["summary"] == DENIAL
    assert not ReviewLock.objects.filter(claim=claim).exists()
