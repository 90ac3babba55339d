"""The customer's phone flow in Chromium: register, start a claim, add photos, submit, follow.

No Celery worker runs here, so a submitted claim stays ``submitted`` unless a test moves it.
"""

import hashlib
import re

import pytest
from django.utils import timezone

from claims import images, services
from claims.models import Claim, Photo
from tests.browser.conftest import CUSTOMER_PASSWORD, HOME_URL, screenshot, sign_in, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_LIMIT_BYTES = 300 * 1024
PHOTOS_URL = re.compile(r".*/claims/[0-9a-f-]{36}/photos/$")
STATUS_URL = re.compile(r".*/claims/[0-9a-f-]{36}/$")


def fill_claim_form(page) -> None:
    page.get_by_label("Policy number").fill("POL-2024-7781")
    page.get_by_label("Make").fill("Toyota")
    page.get_by_label("Model").fill("Corolla")
    page.get_by_label("Year").fill("2019")
    page.get_by_label("Date of the incident").fill(timezone.localdate().isoformat())
    page.get_by_label("What happened?").fill("Reversed into a bollard in a car park.")


def card(page, name: str):
    return page.locator(".photo-card", has=page.locator(".photo-card__name", has_text=name))


def assert_small(path) -> None:
    size = path.stat().st_size
    assert size < SCREENSHOT_LIMIT_BYTES, f"{path.name} is {size} bytes"


def test_phone_flow_register_claim_photos_submit_status(phone_page, make_photo, tmp_path):
    page = phone_page
    # given: a new customer registers on a phone
    page.goto("/accounts/register/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Email").fill("sam@example.test")
    page.get_by_label("Password", exact=True).fill(CUSTOMER_PASSWORD)
    page.get_by_label("Password again").fill(CUSTOMER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(HOME_URL)
    assert page.get_by_role("heading", name="Your claims").is_visible()
    assert page.get_by_text("No claims yet").is_visible()

    # when: they start a claim, tapping the button twice
    page.get_by_role("link", name="Start a claim").first.click()
    page.wait_for_url("**/claims/new/")
    fill_claim_form(page)
    assert_small(screenshot(page, "mobile-new-claim.png"))
    page.locator("#create-claim").dblclick()
    page.wait_for_url(PHOTOS_URL)

    # then: exactly one claim exists (the button guard and the Idempotency-Key)
    assert Claim.objects.count() == 1
    claim = Claim.objects.get()
    assert claim.owner.username == "sam"
    assert claim.status == Claim.Status.DRAFT
    assert claim.reference in page.locator(".lead").inner_text()

    # when: two photos are taken at once
    first, second = make_photo("door-front.jpg", seed=1), make_photo("door-rear.jpg", seed=2)
    page.set_input_files("#camera-input", [str(first), str(second)])

    # then: each has a downscaled preview and a progress bar at 100 %
    wait_until(page, "document.querySelectorAll('.photo-card[data-state=done]').length === 2")
    assert page.locator("progress").evaluate_all("els => els.map(e => e.value)") == [100, 100]
    previews = page.locator(".photo-card__img").evaluate_all(
        "els => els.map(e => [e.currentSrc.slice(0, 5), e.naturalWidth, e.complete])"
    )
    for scheme, natural_width, complete in previews:
        assert scheme == "blob:" and complete
        assert 0 < natural_width <= 320  # the preview is downscaled...
    # ...and the server received the original bytes, unchanged.
    stored = {p.original_name: p for p in Photo.objects.filter(claim=claim)}
    assert set(stored) == {"door-front.jpg", "door-rear.jpg"}
    assert stored["door-front.jpg"].sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert (stored["door-rear.jpg"].width, stored["door-rear.jpg"].height) == (1600, 1200)
    assert page.locator("#photo-count").inner_text() == "2 of 12 photos added"

    # when: one is removed
    page.get_by_role("button", name="Remove door-front.jpg").click()
    card(page, "door-front.jpg").wait_for(state="detached")

    # then: it is gone on the server and focus moved to the remaining photo
    assert list(Photo.objects.filter(claim=claim).values_list("original_name", flat=True)) == [
        "door-rear.jpg"
    ]
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Remove door-rear.jpg"
    )

    # when: a PDF renamed .jpg is chosen from the library
    fake = tmp_path / "scan.jpg"
    fake.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    page.set_input_files("#library-input", str(fake))

    # then: the server's rejection is shown on the photo and announced
    rejected = card(page, "scan.jpg")
    message = images.ERR_NOT_IMAGE.format(kind="a PDF document")
    rejected.locator(".photo-card__error", has_text=message).wait_for()
    assert rejected.get_attribute("data-state") == "failed"
    page.locator("#alerter", has_text=f"scan.jpg was not uploaded. {message}").wait_for(
        state="attached"
    )
    assert Photo.objects.filter(claim=claim).count() == 1
    assert_small(screenshot(page, "mobile-photos.png"))

    # when: they review and submit
    page.get_by_role("link", name="Review and submit").click()
    page.wait_for_url("**/review/")
    assert page.locator(".photo-grid img").count() == 1
    assert_small(screenshot(page, "mobile-review.png"))
    page.get_by_role("button", name="Submit claim").click()
    page.wait_for_url(STATUS_URL)

    # then: the status page shows a submitted claim (no worker runs here) and its photo
    assert page.locator("#status-display").inner_text() == "Submitted"
    assert page.locator(".timeline__step[aria-current=step]").inner_text().startswith("Submitted")
    wait_until(
        page,
        "[...document.querySelectorAll('.photo-grid img')]"
        ".every(i => i.complete && i.naturalWidth)",
    )
    claim.refresh_from_db()
    assert claim.status == Claim.Status.SUBMITTED
    assert_small(screenshot(page, "mobile-status.png"))


def test_photo_upload_retry_after_network_failure(phone_page, customer, make_photo):
    page = phone_page
    claim = services.claim_create(
        owner=customer,
        policy_number="POL-1234",
        vehicle_make="Ford",
        vehicle_model="Focus",
        vehicle_year=2018,
        incident_date=timezone.localdate(),
    )
    sign_in(page, customer.username)
    attempts: list[str] = []

    def flaky(route):
        attempts.append(route.request.headers.get("idempotency-key", ""))
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/claims/*/photos/", flaky)
    page.goto(f"/claims/{claim.pk}/photos/")

    # when: the first upload attempt loses its connection
    page.set_input_files("#camera-input", str(make_photo("bumper.jpg", seed=3)))
    failed = card(page, "bumper.jpg")
    failed.locator(".photo-card__error", has_text="No connection").wait_for()
    assert Photo.objects.filter(claim=claim).count() == 0

    # then: Retry uploads it, with the same Idempotency-Key
    page.get_by_role("button", name="Retry bumper.jpg").click()
    page.locator(".photo-card[data-state=done]").wait_for()
    assert len(attempts) == 2 and attempts[0] == attempts[1] != ""
    assert Photo.objects.filter(claim=claim).count() == 1


def test_status_page_updates_itself(phone_page, customer, make_photo):
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = phone_page
    claim = services.claim_create(
        owner=customer,
        policy_number="POL-5678",
        vehicle_make="Kia",
        vehicle_model="Ceed",
        vehicle_year=2021,
        incident_date=timezone.localdate(),
    )
    photo = make_photo("wing.jpg", seed=4)
    services.photo_ingest(
        claim=claim, upload=SimpleUploadedFile("wing.jpg", photo.read_bytes(), "image/jpeg")
    )
    services.claim_submit(claim=claim)
    sign_in(page, customer.username)
    page.goto(f"/claims/{claim.pk}/")
    assert page.locator("#status-display").inner_text() == "Submitted"

    # when: a worker starts the assessment
    services.claim_transition(claim=Claim.objects.get(pk=claim.pk), to=Claim.Status.ASSESSING)

    # then: the page shows it without a reload
    page.locator("#status-display", has_text="Being assessed").wait_for(timeout=15_000)
    current = page.locator(".timeline__step[aria-current=step] .timeline__label")
    assert current.inner_text() == "Being assessed"
    assert page.locator(".timeline__step--done").count() == 2


def test_quality_warning_suggests_retake_and_replaces_photo(phone_page, customer, make_photo):
    from PIL import Image

    page = phone_page
    claim = services.claim_create(
        owner=customer,
        policy_number="POL-2468",
        vehicle_make="Skoda",
        vehicle_model="Octavia",
        vehicle_year=2016,
        incident_date=timezone.localdate(),
    )
    dark = make_photo("dark.jpg").with_name("night.jpg")
    Image.new("RGB", (500, 400), (12, 12, 14)).save(dark, "JPEG")
    sign_in(page, customer.username)
    page.goto(f"/claims/{claim.pk}/photos/")

    # when: a small, dark photo is uploaded
    page.set_input_files("#library-input", str(dark))
    warned = card(page, "night.jpg")
    warned.locator(".photo-card__warnings").wait_for()

    # then: it is kept, with the server's reasons and a retake suggestion
    warnings = warned.locator(".photo-card__warnings li").all_inner_texts()
    assert f"⚠ {images.WARN_TOO_SMALL.format(width=500, height=400)}" in warnings
    assert f"⚠ {images.WARN_TOO_DARK}" in warnings
    assert warned.get_attribute("data-state") == "done"
    retake = page.get_by_role("button", name="Retake night.jpg")
    assert retake.is_visible()

    # when: they retake it
    with page.expect_file_chooser() as chooser:
        retake.click()
    assert chooser.value.element.get_attribute("id") == "camera-input"
    chooser.value.set_files(str(make_photo("day.jpg", seed=6)))

    # then: the new photo replaces the dark one
    card(page, "day.jpg").locator(".photo-card__status", has_text="Uploaded").wait_for()
    warned.wait_for(state="detached")
    names = list(Photo.objects.filter(claim=claim).values_list("original_name", flat=True))
    assert names == ["day.jpg"]


def test_claim_form_errors_clear_as_each_field_is_fixed(phone_page, customer):
    # given: the customer sends the claim form with three fields empty
    page = phone_page
    sign_in(page, customer.username)
    page.goto("/claims/new/")
    page.get_by_label("Make").fill("Toyota")
    page.get_by_label("Year").fill("2019")
    page.get_by_label("Date of the incident").fill(timezone.localdate().isoformat())
    page.locator("#create-claim").click()
    summary = page.locator("#form-errors")
    summary.wait_for()
    assert summary.locator("li").count() == 2
    policy = page.get_by_label("Policy number")
    assert policy.get_attribute("aria-invalid") == "true"

    # when: one field is fixed, its message and its line in the summary go at once
    policy.fill("POL-2024-7781")
    assert policy.get_attribute("aria-invalid") is None
    assert page.locator("#policy_number_error").is_hidden()
    assert summary.locator("li").all_inner_texts() == ["Enter the model."]
    # a value that is still wrong keeps its error
    model = page.get_by_label("Model")
    model.fill("   ")
    model.dispatch_event("change")
    assert model.get_attribute("aria-invalid") == "true"
    model.fill("Corolla")

    # then: with every error fixed the summary is gone
    assert summary.is_hidden()
    assert page.locator(".field--invalid").count() == 0


def test_registration_shows_all_errors_at_once_and_each_clears_when_fixed(phone_page, customer):
    # given: a taken name, a bad e-mail, an all-digit common password typed differently twice
    page = phone_page
    page.goto("/accounts/register/")
    page.get_by_label("Username").fill(customer.username.upper())
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password", exact=True).fill("12345678")
    page.get_by_label("Password again").fill("87654321")
    page.get_by_role("button", name="Create account").click()

    # then: one answer names every field's problem
    page.locator("#form-errors").wait_for()
    errors = page.locator(".field__error")
    assert errors.count() == 4
    assert "taken" in page.locator("#id_username_error").inner_text()
    assert "entirely numeric" in page.locator("#id_password_error").inner_text()
    page.screenshot(path="/tmp/customer-register-errors.png", full_page=True)

    # when: each field is fixed its message goes, and the summary with the last one
    page.get_by_label("Username").fill("sam.new")
    assert page.locator("#id_username_error").count() == 0
    assert page.get_by_label("Username").get_attribute("aria-invalid") is None
    page.get_by_label("Email").fill("sam@example.test")
    page.get_by_label("Password", exact=True).fill(CUSTOMER_PASSWORD)
    assert page.locator(".field__error").count() == 1  # the second password still differs
    assert page.locator("#form-errors").is_visible()
    page.get_by_label("Password again").fill(CUSTOMER_PASSWORD)
    assert page.locator(".field__error").count() == 0
    assert page.locator("#form-errors").is_hidden()

    # and the account is made
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(HOME_URL)
