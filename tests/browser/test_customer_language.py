"""The customer pages in the phone's language (issue 11): a German phone sees German, from the
server's pages, the scripts' own messages and the API's errors, and a switch to English is kept
on the account, past signing out and in on a browser that forgot its language cookie."""

import re

import pytest
from django.utils import timezone

from claims.models import AccountPreference
from tests.browser.conftest import CUSTOMER_PASSWORD, HOME_URL, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS_URL = re.compile(r".*/claims/[0-9a-f-]{36}/photos/$")


@pytest.fixture
def german_phone(new_page):
    page = new_page({**PHONE, "locale": "de-DE"})
    return page.context, page


def sign_in_german(page, username: str) -> None:
    page.goto("/accounts/login/")
    assert page.get_by_role("heading", name="Anmelden").is_visible()
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(CUSTOMER_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(HOME_URL)


def test_german_phone_sees_german_and_a_switch_to_english_sticks(
    german_phone, customer, make_photo, tmp_path
):
    context, page = german_phone
    # given: a customer on a phone set to German
    sign_in_german(page, customer.username)
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("heading", name="Ihre Schadenmeldungen").is_visible()

    # when: they start a claim and send the form empty
    page.get_by_role("link", name="Schaden melden").first.click()
    page.wait_for_url("**/claims/new/")
    page.locator("#create-claim").click()

    # then: the script's own messages are German
    summary = page.locator("#form-errors")
    summary.get_by_text("Bitte korrigieren Sie diese Felder:").wait_for()
    assert page.locator("#policy_number_error").inner_text() == (
        "Geben Sie die Versicherungsnummer ein."
    )

    # when: they fill it in by its German labels and add a photo and a PDF renamed .jpg
    page.get_by_label("Versicherungsnummer").fill("POL-2024-7781")
    page.get_by_label("Marke").fill("Toyota")
    page.get_by_label("Modell").fill("Corolla")
    page.get_by_label("Baujahr").fill("2019")
    page.get_by_label("Datum des Schadens").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Weiter zu den Fotos").click()
    page.wait_for_url(PHOTOS_URL)
    assert page.get_by_role("heading", name="Fotos hinzufügen").is_visible()
    page.set_input_files("#camera-input", str(make_photo("tuer.jpg", seed=3)))
    fake = tmp_path / "scan.jpg"
    fake.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    page.set_input_files("#library-input", str(fake))

    # then: the upload status (script) and the server's refusal (API) are German
    done = page.locator(".photo-card[data-state=done] .photo-card__status")
    done.wait_for()
    assert done.inner_text() in ("Hochgeladen", "Hochgeladen, aber bitte prüfen Sie dieses Foto:")
    page.locator("#photo-count", has_text="1 von 12 Fotos hinzugefügt").wait_for()
    page.locator(".photo-card__error", has_text="sie sieht aus wie ein PDF-Dokument").wait_for()
    assert page.locator(".photo-card[data-state=failed] .photo-card__status").inner_text() == (
        "Nicht hochgeladen"
    )
    page.locator("#alerter", has_text="scan.jpg wurde nicht hochgeladen.").wait_for(
        state="attached"
    )

    # when: they switch to English
    page.get_by_role("button", name="English", exact=True).click()

    # then: the same page is English, and the choice is saved on the account
    page.wait_for_url(PHOTOS_URL)
    assert page.get_by_role("heading", name="Add photos").is_visible()
    assert page.locator("html").get_attribute("lang") == "en-gb"
    page.locator("#photo-count", has_text="1 of 12 photos added").wait_for()
    assert AccountPreference.objects.get(user=customer).language == "en-gb"

    # when: they sign out, the browser forgets its language cookie, and they sign in again
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    context.clear_cookies()
    sign_in_german(page, customer.username)  # the sign-in page follows the phone: German

    # then: the account's choice wins over the phone's language
    assert page.get_by_role("heading", name="Your claims").is_visible()
    assert page.get_by_role("button", name="Deutsch", exact=True).is_visible()
    page.get_by_role("link", name=re.compile("Continue this claim")).click()
    page.wait_for_url(PHOTOS_URL)
    assert page.locator(".photo-card__status").first.inner_text().startswith("Uploaded")
