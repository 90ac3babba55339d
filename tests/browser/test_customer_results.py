"""The result on the customer's status page, in Chromium on a phone: the summary first, the
damage drawn over the photos and the estimate folded below it, who decided, only what a
confident model or an adjuster stands behind (nothing while in review; the adjuster's record
after their decision), and contesting or asking about any decision.

Assessments, estimate lines and decisions are written straight to the database (no worker
runs here), in the shapes the assessment worker stores.
"""

import io
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from assessment.configuration import decision_policy_active
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Contest,
    Decision,
    EstimateLine,
    ModelVersion,
    PhotoAssessment,
    Region,
)
from assessment.tests.regions import region_from_mask
from claims.models import Claim
from claims.tests.factories import ClaimFactory, PhotoFactory
from ml.labels import DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP
from tests.browser import drawings
from tests.browser.conftest import screenshot, sign_in, wait_until
from tests.browser.drawings import Damage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_LIMIT_BYTES = 300 * 1024
PHOTO_SIZE = (1200, 900)
MASK_SIZE = (160, 120)  # the model's mask: the photo at 1/7.5
SCALE = PHOTO_SIZE[0] / MASK_SIZE[0]
COLOURS = {c.name: c.colour for c in DEFAULT_LABEL_MAP.classes}
# What the customer reads for them: one plain sentence per kind of reason, no model scores,
# and nothing at all for the fraud signal (assessment.policy.CUSTOMER_REASON_MESSAGES).
CUSTOMER_WORDS = [
    "Our system is not sure enough about the damage in your photos to decide on its own.",
    "This kind of damage is always checked by an adjuster.",
]
REVIEW_REASONS = [
    {
        "code": "low_region_confidence",
        "message": "The model is not sure about a crack on photo 2 (0.62 < 0.85).",
    },
    {
        "code": "always_human_type",
        "message": "Damage of type crack is always checked by an adjuster.",
    },
    {
        "code": "low_region_confidence",
        "message": "The model is not sure about a dent on photo 1 (0.41 < 0.70).",
    },
    {  # a fraud signal: the customer is never told what was matched
        "code": "duplicate_photo",
        "message": "Photo 1 also appears in another customer's claim.",
    },
]


# --- data -------------------------------------------------------------------------------


def car_photo(damage: list[Damage], seed: int) -> bytes:
    """The customer's photo, with the damage painted where the regions below say."""
    return drawings.car_photo(PHOTO_SIZE, damage, seed, wheel=110, quality=85)


def ellipse_region(index, label, confidence, severity, ellipse, label_map=DEFAULT_LABEL_MAP):
    """A region as the worker stores it, on the 160x120 mask, for an ellipse in photo pixels."""
    cx, cy, rx, ry = (v / SCALE for v in ellipse)
    ys, xs = np.mgrid[0 : MASK_SIZE[1], 0 : MASK_SIZE[0]]
    mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    region = region_from_mask(mask, label, confidence, severity, label_map=label_map)
    return {"index": index, **region}


DENT = (560, 520, 110, 60)
SCRATCH = (520, 455, 230, 24)
CRACK = (900, 640, 70, 26)
PHOTOS = [
    [("dent", DENT, 0.92, "moderate"), ("scratch", SCRATCH, 0.81, "minor")],
    [("crack", CRACK, 0.62, "minor")],
]
# (photo, region index, type, severity, operation, description, hours, rate, parts)
LINES = [
    (0, 0, "dent", "moderate", "repair", "Panel beating and filling", "3.0", "62.00", "0"),
    (0, 0, "dent", "moderate", "refinish", "Refinish panel", "2.0", "68.00", "45"),
    (0, 1, "scratch", "minor", "refinish", "Polish and spot repair", "1.0", "68.00", "15"),
    (1, 0, "crack", "minor", "repair", "Plastic weld", "1.0", "62.00", "20"),
]
ESTIMATE_TOTAL = Decimal("532.00")
# The damage-v2 model's reading of one photo: a broken part on the bumper and paint damage;
# the drawing paints them as a crack and a scratch (it has no brush for either).
V2_BROKEN = (880, 640, 90, 40)
V2_PAINT = (430, 470, 150, 30)
V2_PHOTOS = [
    [
        ("broken_part", V2_BROKEN, 0.9, "moderate", "front_bumper", 0.82),
        ("paint_damage", V2_PAINT, 0.86, "minor", None, 0.3),
    ]
]
V2_DRAWN = {"broken_part": "crack", "paint_damage": "scratch"}
V2_LINES = [
    (0, 0, "broken_part", "moderate", "replace", "Replace part", "1.5", "62.00", "380"),
    (0, 1, "paint_damage", "minor", "refinish", "Touch-up and polish", "1.0", "68.00", "15"),
]
V2_TOTAL = Decimal("556.00")


def assessed_claim(
    owner,
    *,
    status: str,
    outcome: str,
    automatic: bool = True,
    reasons=None,
    label_map=DEFAULT_LABEL_MAP,
    photo_regions=PHOTOS,
    lines=LINES,
    total=ESTIMATE_TOTAL,
):
    """A claim with assessed photos (two by default), its claim assessment and estimate, and a
    decision. A region is (type, ellipse, confidence, severity[, part, part share])."""
    model_version = ModelVersion.objects.create(
        version=f"test-{label_map.name}",
        path="/nonexistent",
        artifact_sha256="0" * 64,
        label_map=label_map.to_dict(),
        status=ModelVersion.Status.ACTIVE,
    )
    claim = ClaimFactory(owner=owner, submitted=True, status=status)
    photos = []
    for number, regions in enumerate(photo_regions):
        drawn = [(V2_DRAWN.get(r[0], r[0]), r[1]) for r in regions]
        content = car_photo(drawn, seed=number)
        photo = PhotoFactory(
            claim=claim,
            content=content,
            width=PHOTO_SIZE[0],
            height=PHOTO_SIZE[1],
            original_name=f"door-{number + 1}.jpg",
        )
        assessment = PhotoAssessment.objects.create(
            photo=photo,
            model_version=model_version,
            photo_confidence=0.93,
            image_width=PHOTO_SIZE[0],
            image_height=PHOTO_SIZE[1],
            mask_width=MASK_SIZE[0],
            mask_height=MASK_SIZE[1],
        )
        for index, (label, ellipse, confidence, severity, *part) in enumerate(regions):
            region = ellipse_region(index, label, confidence, severity, ellipse, label_map)
            if part:
                region.update(part=part[0] or "", part_share=part[1])
            Region.objects.create(assessment=assessment, **region)
        photos.append(photo)
    record = ClaimAssessment.objects.create(
        claim=claim,
        model_version=model_version,
        overall_severity="moderate",
        region_count=sum(len(r) for r in photo_regions),
        min_photo_confidence=0.93,
        currency="EUR",
        estimate_total=total,
    )
    for photo, index, kind, severity, operation, text, hours, rate, parts in lines:
        hours, rate, parts = Decimal(hours), Decimal(rate), Decimal(parts)
        EstimateLine.objects.create(
            claim_assessment=record,
            photo=photos[photo],
            region_index=index,
            damage_type=kind,
            severity=severity,
            operation=operation,
            description=text,
            labour_hours=hours,
            hourly_rate=rate,
            parts_cost=parts,
            total=hours * rate + parts,
        )
    assert sum(line.total for line in record.lines.all()) == total
    Decision.objects.create(
        claim=claim,
        outcome=outcome,
        automatic=automatic,
        reasons=reasons or [],
        policy=decision_policy_active(),
        model_version=model_version,
    )
    return claim, photos


def unfold(page) -> None:
    """Open every folded card of the result the way a customer does: a tap on its title."""
    folded = page.locator("#claim-decision details.fold:not([open]) > summary")
    for _ in range(folded.count()):
        folded.first.click()


def open_status(page, claim, *, unfolded: bool = True) -> None:
    page.goto(f"/claims/{claim.pk}/")
    page.locator("#claim-decision:not([hidden])").wait_for()
    if unfolded:
        unfold(page)
    wait_until(
        page,
        "[...document.querySelectorAll('.damage-photo__img')]"
        ".every(i => i.complete && i.naturalWidth)",
    )


def euros(page, amount) -> str:
    """The amount as the page's Intl.NumberFormat writes it in this browser's locale."""
    return page.evaluate(
        "n => new Intl.NumberFormat(navigator.languages[0] || navigator.language,"
        " {style: 'currency', currency: 'EUR'}).format(n)",
        float(amount),
    )


def pixel(png: bytes, x: float, y: float) -> np.ndarray:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    x, y = round(x), round(y)
    return image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(axis=0)  # a 5x5 average


def compact(path):
    """The full page at 2x holds two photos: a 256-colour palette keeps it under the limit."""
    image = Image.open(path).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    return path


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


# --- tests ------------------------------------------------------------------------------


def test_auto_decided_claim_shows_damage_over_photos_legend_and_estimate(phone_page, customer):
    page = phone_page
    claim, photos = assessed_claim(
        customer, status=Claim.Status.AUTO_DECIDED, outcome="auto_approved"
    )
    sign_in(page, customer.username)
    open_status(page, claim)

    # the outcome, and that a computer decided it
    assert page.locator("#status-display").inner_text() == "Decided automatically"
    assert page.locator("#result-title").inner_text() == "Approved automatically"
    assert (
        "Decided automatically by our assessment system" in page.locator("#result-who").inner_text()
    )
    current = page.locator(".timeline__step[aria-current=step] .timeline__label")
    assert current.inner_text() == "Decided automatically"
    assert page.locator("#overall-severity").inner_text() == "Moderate"

    # one outlined, tinted polygon per region, in its type's legend colour
    shapes = page.locator(".region__shape")
    assert shapes.count() == 3
    fills = shapes.evaluate_all(
        "els => els.map(e => [e.closest('.region').dataset.label, e.getAttribute('fill'),"
        " e.getAttribute('stroke'), getComputedStyle(e).fillOpacity])"
    )
    for label, fill, stroke, opacity in fills:
        assert fill == stroke == COLOURS[label]
        assert float(opacity) == pytest.approx(0.35)

    # each polygon sits where its region is on the displayed photo (mask -> screen scaling)
    frame = page.locator(".damage-photo__frame").first
    box = frame.bounding_box()
    dent = page.locator(f'.region[data-key="{photos[0].pk}:0"] .region__shape').bounding_box()
    cx, cy, rx, ry = DENT
    k = box["width"] / PHOTO_SIZE[0]
    assert dent["x"] - box["x"] == pytest.approx(
        (cx - rx) * k, abs=box["width"] / MASK_SIZE[0] * 1.5
    )
    assert dent["y"] - box["y"] == pytest.approx(
        (cy - ry) * k, abs=box["width"] / MASK_SIZE[0] * 1.5
    )
    assert dent["width"] == pytest.approx(2 * rx * k, rel=0.1)

    # the pixel at the dent's centre is the photo tinted with the dent colour at 35 %
    with_overlay = frame.screenshot(animations="disabled")
    page.locator(".damage-photo__overlay").first.evaluate("e => e.style.visibility = 'hidden'")
    photo_only = frame.screenshot(animations="disabled")
    page.locator(".damage-photo__overlay").first.evaluate("e => e.style.visibility = ''")
    scale = Image.open(io.BytesIO(with_overlay)).width / box["width"]
    at = (cx * k * scale, cy * k * scale)
    expected = 0.35 * rgb(COLOURS["dent"]) + 0.65 * pixel(photo_only, *at)
    assert np.abs(pixel(with_overlay, *at) - expected).max() < 12

    # the legend names the types present, with their colours
    legend = page.locator(".legend__item").all_inner_texts()
    assert [" ".join(text.split()) for text in legend] == ["Dent (1)", "Scratch (1)", "Crack (1)"]
    swatches = page.locator(".legend__item .swatch").evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)"
    )
    assert swatches == [
        "rgb({}, {}, {})".format(*(int(v) for v in rgb(COLOURS[n])))
        for n in ("dent", "scratch", "crack")
    ]
    # the text alternative under each photo
    items = page.locator(".region-item__text").all_inner_texts()
    assert items == [
        "Dent, moderate, 92% confidence",
        "Scratch, minor, 81% confidence",
        "Crack, minor, 62% confidence",
    ]

    # tapping a legend entry highlights that type; tapping a region highlights that region
    page.locator(".legend__item", has_text="Scratch").click()
    assert page.locator(".legend__item", has_text="Scratch").get_attribute("aria-pressed") == "true"
    active = page.locator(".region.is-active")
    assert active.count() == 1 and active.get_attribute("data-label") == "scratch"
    dent_box = page.locator(f'.region[data-key="{photos[0].pk}:0"] .region__shape').bounding_box()
    page.touchscreen.tap(
        dent_box["x"] + dent_box["width"] / 2, dent_box["y"] + dent_box["height"] / 2
    )
    assert page.locator(".region.is-active").get_attribute("data-key") == f"{photos[0].pk}:0"
    assert (
        page.locator(".region-item[aria-pressed=true] .region-item__text")
        .inner_text()
        .startswith("Dent")
    )
    assert page.locator(".legend__item[aria-pressed=true]").count() == 0
    page.locator(".region-item[aria-pressed=true]").click()  # tap again: nothing highlighted
    assert page.locator(".region.is-active").count() == 0

    # the estimate: one row per line, and the total in euros
    assert page.locator("#estimate tbody tr").count() == len(LINES)
    assert page.locator("#estimate-total").inner_text() == euros(page, ESTIMATE_TOTAL)
    first = page.locator("#estimate tbody tr").first
    assert first.locator(".estimate__amount").inner_text() == euros(page, 186)
    assert "Panel beating and filling" in first.inner_text()
    assert page.locator("#summary-total").inner_text() == euros(page, ESTIMATE_TOTAL)

    # the plain photo grid is not repeated, nothing overflows a 375 px screen
    assert page.locator("#photos-plain").is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.get_by_role("button", name="Ask for a person to review").is_visible()

    path = compact(screenshot(page, "mobile-result.png"))
    assert path.stat().st_size < SCREENSHOT_LIMIT_BYTES, (
        f"{path.name} is {path.stat().st_size} bytes"
    )


def test_damage_v2_types_read_as_the_label_maps_display_names(phone_page, customer):
    # given a claim decided with the damage-v2 model, whose label map names its types
    page = phone_page
    claim, _ = assessed_claim(
        customer,
        status=Claim.Status.AUTO_DECIDED,
        outcome="auto_approved",
        label_map=PRODUCT_LABEL_MAP,
        photo_regions=V2_PHOTOS,
        lines=V2_LINES,
        total=V2_TOTAL,
    )

    # when the customer opens it
    sign_in(page, customer.username)
    open_status(page, claim)

    # then legend, region list and estimate use the display names, never the type names
    legend = [" ".join(t.split()) for t in page.locator(".legend__item").all_inner_texts()]
    assert legend == ["Broken or missing part (1)", "Paint damage (1)"]
    assert page.locator(".region-item__text").all_inner_texts() == [
        "Broken or missing part, moderate, 90% confidence",
        "Paint damage, minor, 86% confidence",
    ]
    meta = page.locator("#estimate tbody tr .estimate__meta").first.inner_text()
    assert meta.startswith("Broken or missing part, moderate")
    assert "broken_part" not in page.locator("body").inner_text()
    colours = {c.name: c.colour for c in PRODUCT_LABEL_MAP.classes}
    fills = page.locator(".region__shape").evaluate_all(
        "els => els.map(e => e.getAttribute('fill'))"
    )
    assert fills == [colours["broken_part"], colours["paint_damage"]]


def test_customer_asks_for_a_person_and_the_claim_goes_to_an_adjuster(phone_page, customer):
    page = phone_page
    claim, _ = assessed_claim(customer, status=Claim.Status.AUTO_DECIDED, outcome="auto_approved")
    sign_in(page, customer.username)
    open_status(page, claim)

    # when: they ask for a person, the form opens with the reason field focused
    ask = page.get_by_role("button", name="Ask for a person to review")
    assert ask.get_attribute("aria-expanded") == "false"
    ask.click()
    reason = page.get_by_label("What should the adjuster look at?")
    assert reason.evaluate("e => e === document.activeElement")
    # Cancel closes it and gives focus back to the button
    page.get_by_role("button", name="Cancel").click()
    assert ask.evaluate("e => e === document.activeElement")
    ask.click()
    reason.fill("The rear door is damaged too; it is not in the estimate.")
    page.locator("#contest").scroll_into_view_if_needed()
    compact(screenshot(page, "mobile-contest-form.png", full_page=False))
    page.get_by_role("button", name="Send to an adjuster").click()

    # then: the page says it is being checked again, focus on the new result, announced as
    # what happened; the model's regions and estimate are gone while a person checks it
    page.locator("#status-display", has_text="With an adjuster").wait_for()
    assert page.locator("#result-title").inner_text() == "Being checked again"
    assert page.evaluate("document.activeElement.id") == "result-title"
    wait_until(
        page,
        "document.getElementById('result-live').textContent === "
        "'Your request was sent. A senior adjuster will look at your claim again.'",
    )
    assert page.locator(".reasons__list li").all_inner_texts() == [
        "You asked for a person to review the decision."
    ]
    assert page.locator("#contest").count() == 0
    assert "rear door" in page.locator("#contest-state").inner_text()
    assert page.locator("#estimate-total, #summary-total, .region__shape").count() == 0
    page.evaluate("window.scrollTo(0, 0)")
    compact(screenshot(page, "mobile-contested.png"))
    steps = page.locator(".timeline__step")
    labels = steps.locator(".timeline__label").all_inner_texts()
    assert labels == [
        "Draft",
        "Submitted",
        "Being assessed",
        "Decided automatically",
        "With an adjuster",
        "Decided",
    ]
    assert (
        page.locator(".timeline__step[aria-current=step] .timeline__label").inner_text()
        == "With an adjuster"
    )

    # and in the database: in review, a routed decision, and the audit record of the contest
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    latest = Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()
    assert latest.outcome == Decision.Outcome.ROUTED_TO_REVIEW and not latest.automatic
    record = AuditRecord.objects.get(claim_id=claim.pk, kind=AuditRecord.Kind.CUSTOMER_CONTEST)
    assert record.actor == customer.username
    assert "rear door" in record.rules_fired[0]["detail"]
    contest = Contest.objects.get(claim=claim)
    assert contest.state == Contest.State.OPEN and "rear door" in contest.reason

    # a reload draws the same timeline and the open request from the server
    page.reload()
    page.locator("#claim-decision:not([hidden])").wait_for()
    assert page.locator(".timeline__label").all_inner_texts() == labels
    assert page.locator("#result-title").inner_text() == "Being checked again"
    assert "A senior adjuster is on it" in page.locator("#contest-state").inner_text()


def test_contest_refused_by_the_server_says_why(phone_page, customer):
    page = phone_page
    claim, _ = assessed_claim(customer, status=Claim.Status.AUTO_DECIDED, outcome="auto_approved")
    sign_in(page, customer.username)
    open_status(page, claim)
    # meanwhile another tab (or an adjuster) moved the claim on
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.IN_REVIEW)

    page.get_by_role("button", name="Ask for a person to review").click()
    page.get_by_role("button", name="Send to an adjuster").click()

    error = page.locator("#contest-error")
    error.wait_for()
    assert "Reload the page" in error.inner_text()
    assert page.get_by_role("button", name="Send to an adjuster").is_enabled()
    assert not AuditRecord.objects.filter(kind=AuditRecord.Kind.CUSTOMER_CONTEST).exists()


def test_claim_routed_to_review_shows_the_reasons_as_it_arrives(phone_page, customer):
    page = phone_page
    claim, _ = assessed_claim(
        customer,
        status=Claim.Status.ASSESSING,
        outcome="routed_to_review",
        reasons=REVIEW_REASONS,
    )
    sign_in(page, customer.username)
    page.goto(f"/claims/{claim.pk}/")
    assert page.locator("#status-display").inner_text() == "Being assessed"
    assert page.locator("#claim-decision").is_hidden()

    # when: the worker finishes and the policy sends the claim to an adjuster
    Claim.objects.filter(pk=claim.pk).update(
        status=Claim.Status.IN_REVIEW, updated_at=timezone.now()
    )

    # then: the poller draws the result without a reload, with every reason in plain words
    page.locator("#status-display", has_text="With an adjuster").wait_for(timeout=15_000)
    page.locator("#claim-decision:not([hidden])").wait_for()
    assert page.locator("#result-title").inner_text() == "Being checked"
    wait_until(
        page,
        "document.getElementById('result-live').textContent === "
        "'Your claim is being checked by an adjuster.'",
    )
    assert page.locator(".reasons__title").inner_text() == "Why a person is checking it"
    assert page.locator(".reasons__list li").all_inner_texts() == CUSTOMER_WORDS
    assert "another customer" not in page.locator("main").inner_text()
    assert page.locator('.reasons__list li[data-code="duplicate_photo"]').count() == 0
    assert "duplicate_photo" not in page.content()
    assert page.locator("#contest").count() == 0
    # none of the model's guesses or its estimate while a person checks them: photos only
    assert page.locator(".region__shape, #estimate, #summary-total, #damage-card").count() == 0
    assert euros(page, ESTIMATE_TOTAL) not in page.locator("main").inner_text()
    assert page.locator("#photos-plain").is_visible()
    assert (
        page.locator(".timeline__step[aria-current=step] .timeline__label").inner_text()
        == "With an adjuster"
    )
    assert "Decided automatically" not in page.locator("#timeline").inner_text()

    # and the same after a reload, rendered from the page itself
    page.reload()
    page.locator("#claim-decision:not([hidden])").wait_for()
    assert page.locator(".reasons__list li").all_inner_texts() == CUSTOMER_WORDS


def test_more_photos_requested_shows_the_request_and_a_link_to_add_photos(phone_page, customer):
    page = phone_page
    request = {
        "code": "more_photos_requested",
        "message": "Please add a close photo of the rear bumper.",
    }
    claim, _ = assessed_claim(
        customer,
        status=Claim.Status.IN_REVIEW,
        outcome="more_photos",
        automatic=False,
        reasons=[request],
    )
    Claim.objects.filter(pk=claim.pk).update(status="more_photos_requested")
    sign_in(page, customer.username)
    open_status(page, claim)

    assert page.locator("#result-title").inner_text() == "More photos needed"
    assert page.locator(".reasons__list li").all_inner_texts() == [request["message"]]
    link = page.get_by_role("link", name="Add photos")
    assert link.get_attribute("href") == f"/claims/{claim.pk}/photos/"
    assert (
        page.locator(".timeline__step[aria-current=step] .timeline__label").inner_text()
        == "More photos needed"
    )


def test_desktop_result_layout(desktop_page, customer):
    page = desktop_page
    claim, _ = assessed_claim(customer, status=Claim.Status.AUTO_DECIDED, outcome="auto_approved")
    sign_in(page, customer.username)
    open_status(page, claim)
    # photos side by side, the estimate's labour and parts columns shown
    first, second = (page.locator(".damage-photo").nth(i).bounding_box() for i in (0, 1))
    assert first["y"] == second["y"] and second["x"] > first["x"]
    assert page.locator("#estimate thead th").all_inner_texts() == [
        "Work",
        "Labour",
        "Parts",
        "Amount",
    ]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    compact(screenshot(page, "desktop-result.png"))


# --- the phone page: summary first, the long parts folded, no internal words -----------


def test_phone_result_puts_the_summary_first_and_folds_photos_and_lines(phone_page, customer):
    # given an automatic approval with two photos and four estimate lines
    page = phone_page
    claim, _ = assessed_claim(customer, status=Claim.Status.AUTO_DECIDED, outcome="auto_approved")
    sign_in(page, customer.username)

    # when the customer opens it on a phone
    open_status(page, claim, unfolded=False)

    # then the summary (outcome, severity, total) comes before the folded photos and lines
    result, damage, estimate = (
        page.locator(sel).bounding_box() for sel in ("#result", "#damage-card", "#estimate-card")
    )
    assert result["y"] < damage["y"] < estimate["y"]
    for fold in ("#damage-card", "#estimate-card", "#photos-plain", "#details-card"):
        assert page.locator(fold).evaluate("d => d.open") is False, fold
    assert page.locator("#summary-total").is_visible()
    assert not page.locator(".region__shape").first.is_visible()
    assert not page.locator("#estimate").is_visible()
    assert (
        page.locator("#damage-card summary").inner_text().split("\n")[-1] == "3 areas on 2 photos"
    )
    folded_height = page.evaluate("document.documentElement.scrollHeight")
    assert folded_height < 2 * 812, folded_height
    page.screenshot(path="/tmp/customer-phone-folded.png", full_page=True)

    # and a tap on a fold's title opens it
    page.locator("#estimate-card > summary").click()
    assert page.locator("#estimate").is_visible()
    assert page.locator("#estimate tbody tr").count() == len(LINES)

    # no internal words: model versions, policy versions, severity jargon
    text = page.locator("main").inner_text()
    for internal in ("test-", "decision rules", "assessment model", "parts need replacing"):
        assert internal not in text, internal


def test_region_number_badges_never_overlap(phone_page, customer):
    # given three regions whose boxes start at almost the same corner of the photo
    page = phone_page
    close = [
        [
            ("dent", (400, 300, 120, 60), 0.9, "moderate"),
            ("scratch", (420, 290, 200, 20), 0.85, "minor"),
            ("crack", (395, 320, 60, 40), 0.8, "minor"),
        ]
    ]
    lines = [
        (0, i, kind, "minor", "repair", "Repair", "1.0", "62.00", "0")
        for i, kind in enumerate(("dent", "scratch", "crack"))
    ]
    claim, _ = assessed_claim(
        customer,
        status=Claim.Status.AUTO_DECIDED,
        outcome="auto_approved",
        photo_regions=close,
        lines=lines,
        total=Decimal("186.00"),
    )
    sign_in(page, customer.username)
    open_status(page, claim)

    # then no two number badges cover each other
    boxes = [m.bounding_box() for m in page.locator(".damage-photo__marker").all()]
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, (a, b)
    page.locator(".damage-photo__frame").first.screenshot(path="/tmp/customer-badges.png")


# --- after an adjuster's decision: the adjuster's record, and contesting it ------------

# The adjuster's correction of photo 1: the scratch deleted, the dent made severe and larger.
ADJUSTED_DENT = (560, 520, 150, 80)
ADJUSTED_LINES = [
    (0, 0, "dent", "severe", "replace", "Replace door panel", "4.0", "62.00", "420"),
    (1, 0, "crack", "minor", "repair", "Plastic weld", "1.0", "62.00", "20"),
]
ADJUSTED_TOTAL = Decimal("750.00")


def adjuster_decided_claim(owner):
    """Approved with corrections: photo 1 relabelled by an adjuster, photo 2 as the model saw
    it; the estimate priced from those regions (as review.services does)."""
    from claims.tests.factories import AdjusterFactory
    from review.models import LabelRegion, PhotoLabels

    claim, photos = assessed_claim(
        owner,
        status=Claim.Status.DECIDED,
        outcome="approved_with_corrections",
        automatic=False,
        lines=ADJUSTED_LINES,
        total=ADJUSTED_TOTAL,
        reasons=[{"code": "adjuster_corrected", "message": "We corrected the damage on photo 1."}],
    )
    adjuster = AdjusterFactory(username="sam.adjuster")
    Decision.objects.filter(claim=claim).update(decided_by=adjuster)
    ClaimAssessment.objects.filter(claim=claim).update(
        source="adjuster", overall_severity="severe", region_count=2
    )
    labels = PhotoLabels.objects.create(
        photo=photos[0],
        claim=claim,
        photo_assessment=PhotoAssessment.objects.get(photo=photos[0]),
        version=1,
        adjuster=adjuster,
        saved_at=timezone.now(),
    )
    dent = ellipse_region(0, "dent", 1.0, "severe", ADJUSTED_DENT)
    LabelRegion.objects.create(
        labels=labels,
        index=0,
        label="dent",
        label_id=dent["label_id"],
        severity="severe",
        source_index=0,
        mask_rle=dent["mask_rle"],
        area=round(dent["area_share"] * MASK_SIZE[0] * MASK_SIZE[1]),
        bbox=dent["bbox"],
    )
    return claim, photos, adjuster


def test_decided_claim_shows_the_adjusters_regions_and_estimate(phone_page, customer):
    page = phone_page
    claim, photos, adjuster = adjuster_decided_claim(customer)
    sign_in(page, customer.username)
    open_status(page, claim)

    # the outcome and who decided it
    assert page.locator("#result-title").inner_text() == "Approved with corrections"
    assert page.locator("#result-who").inner_text().startswith("Decided by an adjuster")
    assert page.locator("#overall-severity").inner_text() == "Severe"
    assert page.locator("#summary-total").inner_text() == euros(page, ADJUSTED_TOTAL)

    # the overlay is the adjuster's: photo 1 has their one severe dent, the scratch is gone
    first = page.locator(f'.damage-photo[data-photo="{photos[0].pk}"]')
    assert first.locator(".region__shape").count() == 1
    assert first.locator(".region-item__text").all_inner_texts() == [
        "Dent, severe, checked by an adjuster"
    ]
    second = page.locator(f'.damage-photo[data-photo="{photos[1].pk}"]')
    assert second.locator(".region-item__text").all_inner_texts() == [
        "Crack, minor, 62% confidence"
    ]
    # the drawn dent is the adjuster's larger one, not the model's
    frame = first.locator(".damage-photo__frame").bounding_box()
    dent = first.locator(".region__shape").bounding_box()
    k = frame["width"] / PHOTO_SIZE[0]
    assert dent["width"] == pytest.approx(2 * ADJUSTED_DENT[2] * k, rel=0.1)

    # every estimate line points at a region drawn, with the same type and severity
    rows = page.locator("#estimate tbody tr")
    assert rows.count() == len(ADJUSTED_LINES)
    drawn = set(page.locator(".region").evaluate_all("els => els.map(e => e.dataset.key)"))
    keys = set(rows.evaluate_all("els => els.map(e => e.dataset.key)"))
    assert keys == drawn
    assert rows.first.locator(".estimate__meta").first.inner_text().startswith("Dent, severe")
    assert page.locator("#estimate-total").inner_text() == euros(page, ADJUSTED_TOTAL)
    assert "Checked by an adjuster" in page.locator("#estimate-card .card__hint").inner_text()
    assert adjuster.username not in page.locator("main").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/customer-decided-by-adjuster.png", full_page=True)


def test_customer_contests_an_adjusters_decision(phone_page, customer):
    # given a claim an adjuster decided
    page = phone_page
    claim, _, adjuster = adjuster_decided_claim(customer)
    sign_in(page, customer.username)
    open_status(page, claim, unfolded=False)

    # when they ask about it, write why, and send it
    page.get_by_role("button", name="Ask about or contest this decision").click()
    reason = page.get_by_label("What do you disagree with, or want to ask?")
    assert reason.evaluate("e => e === document.activeElement")
    reason.fill("Why is the door replaced and not repaired?")
    page.locator("#contest").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/customer-contest-human-form.png")
    page.get_by_role("button", name="Send to a senior adjuster").click()

    # then the page says it is being checked again, and shows their question
    page.locator("#status-display", has_text="With an adjuster").wait_for()
    assert page.locator("#result-title").inner_text() == "Being checked again"
    state = page.locator("#contest-state")
    assert "A senior adjuster is on it" in state.inner_text()
    assert "door replaced" in state.locator("blockquote").inner_text()
    assert page.locator("#contest, .region__shape, #estimate").count() == 0
    wait_until(
        page, "document.getElementById('result-live').textContent.includes('senior adjuster')"
    )
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/customer-contested-human.png", full_page=True)

    # and in the database: an open contest of the adjuster's decision, the claim in review
    # with the customer's words first and marked for a senior, and the audit record
    contest = Contest.objects.get(claim=claim)
    assert contest.state == Contest.State.OPEN
    assert contest.decision.outcome == "approved_with_corrections"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    routed = Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()
    assert [r["code"] for r in routed.reasons] == ["customer_contested", "senior_review"]
    assert "door replaced" in routed.reasons[0]["message"]
    record = AuditRecord.objects.get(claim_id=claim.pk, kind=AuditRecord.Kind.CUSTOMER_CONTEST)
    assert record.detail["previous_decided_by"] == adjuster.username
    assert record.actor == customer.username


def test_denied_claim_shows_the_adjusters_words_and_no_estimate(phone_page, customer):
    page = phone_page
    claim, _ = assessed_claim(
        customer,
        status=Claim.Status.DECIDED,
        outcome="denied",
        automatic=False,
        reasons=[{"code": "adjuster_denied", "message": "The damage predates your policy."}],
    )
    sign_in(page, customer.username)
    open_status(page, claim)

    assert page.locator("#result-title").inner_text() == "Denied"
    assert page.locator(".reasons__list li").all_inner_texts() == [
        "The damage predates your policy."
    ]
    assert page.locator("#summary-total, #estimate, .region__shape").count() == 0
    assert page.get_by_role("button", name="Ask about or contest this decision").is_visible()


# Two photos of one front bumper (an overview and a close-up of the same dent) and a scratch
# the model put on no part: the bumper is priced once, by operation, the scratch per region.
BUMPER_DENT = (600, 640, 120, 50)
BUMPER_CLOSE_UP = (600, 450, 380, 170)
BUMPER_PHOTOS = [
    [
        ("dent", BUMPER_DENT, 0.93, "moderate", "front_bumper", 0.9),
        ("scratch", SCRATCH, 0.88, "minor", None, 0.3),
    ],
    [("dent", BUMPER_CLOSE_UP, 0.95, "moderate", "front_bumper", 0.85)],
]
# (part, operation, description, hours, rate, parts cost)
BUMPER_LINES = [
    ("front_bumper", "repair", "Front bumper — repair", "1.5", "62.00", "0"),
    ("front_bumper", "refinish", "Front bumper — refinish", "2.5", "68.00", "40"),
]
BUMPER_TOTAL = Decimal("303.00")  # 93 + 210
SCRATCH_LINE_TOTAL = Decimal("83.00")  # 1.0 h x 68 + 15


def bumper_claim(owner):
    """An automatic approval whose estimate is by part: one bumper seen on both photos."""
    claim, photos = assessed_claim(
        owner,
        status=Claim.Status.AUTO_DECIDED,
        outcome="auto_approved",
        photo_regions=BUMPER_PHOTOS,
        lines=[],
        total=Decimal("0"),
    )
    record = claim.assessment
    evidence = [
        {"photo_id": str(photos[0].pk), "region_index": 0},
        {"photo_id": str(photos[1].pk), "region_index": 0},
    ]
    for part, operation, text, hours, rate, parts in BUMPER_LINES:
        hours, rate, parts = Decimal(hours), Decimal(rate), Decimal(parts)
        EstimateLine.objects.create(
            claim_assessment=record,
            photo=photos[1],  # the best evidence: the close-up
            region_index=0,
            part=part,
            evidence=evidence,
            damage_type="dent",
            severity="moderate",
            operation=operation,
            description=text,
            labour_hours=hours,
            hourly_rate=rate,
            parts_cost=parts,
            total=hours * rate + parts,
        )
    EstimateLine.objects.create(
        claim_assessment=record,
        photo=photos[0],
        region_index=1,
        damage_type="scratch",
        severity="minor",
        operation="refinish",
        description="Polish and spot repair",
        labour_hours=Decimal("1.0"),
        hourly_rate=Decimal("68.00"),
        parts_cost=Decimal("15"),
        total=SCRATCH_LINE_TOTAL,
    )
    record.estimate_total = BUMPER_TOTAL + SCRATCH_LINE_TOTAL
    record.damaged_parts = [
        {
            "part": "front_bumper",
            "damage_types": ["dent"],
            "severity": "moderate",
            "size": 0.12,
            "size_band": "large",
            "confidence": 0.81,
            "photo_ids": [e["photo_id"] for e in evidence],
            "evidence": [
                {
                    **e,
                    "label": "dent",
                    "severity": "moderate",
                    "confidence": c,
                    "part_share": s,
                    "area_share": a,
                }
                for e, c, s, a in zip(
                    evidence, (0.93, 0.95), (0.9, 0.85), (0.02, 0.12), strict=True
                )
            ],
        }
    ]
    record.save(update_fields=["estimate_total", "damaged_parts"])
    return claim, photos


def test_estimate_by_part_shows_one_bumper_with_both_photos_and_its_evidence(phone_page, customer):
    # given: two photos of one front bumper, priced by part, and a scratch priced per region
    page = phone_page
    claim, photos = bumper_claim(customer)
    sign_in(page, customer.username)
    open_status(page, claim)

    # then: one bumper entry, its two operations, both photos and the bumper's total
    groups = page.locator("#estimate tbody.estimate__group")
    assert groups.count() == 1
    bumper = groups.first
    head = bumper.locator(".estimate__part-row")
    assert head.locator(".estimate__part").inner_text() == "Front bumper"
    assert "seen on photos 1 and 2" in head.locator(".estimate__meta").inner_text()
    assert head.locator(".estimate__part-total").inner_text() == euros(page, BUMPER_TOTAL)
    ops = bumper.locator(".estimate__op")
    assert ops.locator(".estimate__desc").all_inner_texts() == ["Repair", "Paint"]
    assert ops.locator("td:last-child").all_inner_texts() == [euros(page, 93), euros(page, 210)]
    # the scratch on no part stays a line of its own, and the total is the sum of both
    single = page.locator("#estimate tbody:not(.estimate__group) tr")
    assert single.count() == 1
    assert single.locator(".estimate__amount").inner_text() == euros(page, SCRATCH_LINE_TOTAL)
    assert page.locator("#estimate-total").inner_text() == euros(
        page, BUMPER_TOTAL + SCRATCH_LINE_TOTAL
    )
    assert "1 part, 1 line" in page.locator("#estimate-card > summary").inner_text()

    # when: the customer taps "Show on photos" for the bumper
    show = head.get_by_role("button", name="Show Front bumper on the photos")
    assert show.get_attribute("aria-pressed") == "false"
    show.click()

    # then: both photos are marked, the bumper's two regions highlighted, the scratch not
    assert show.get_attribute("aria-pressed") == "true"
    marked = page.locator(".damage-photo.is-evidence").evaluate_all(
        "els => els.map(e => e.dataset.photo)"
    )
    assert marked == [str(p.pk) for p in photos]
    active = page.locator(".region.is-active").evaluate_all("els => els.map(e => e.dataset.key)")
    assert active == [f"{photos[0].pk}:0", f"{photos[1].pk}:0"]
    assert page.locator(f'.region[data-key="{photos[0].pk}:1"].is-active').count() == 0
    wait_until(page, "document.getElementById('result-live').textContent.length > 0")
    live = page.locator("#result-live").inner_text()
    assert live == "Front bumper is shown on photos 1 and 2."
    page.locator("#estimate-card").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/customer-estimate-by-part.png", full_page=True)

    # when: tapped again, the highlight goes
    show.click()
    assert show.get_attribute("aria-pressed") == "false"
    assert page.locator(".damage-photo.is-evidence, .region.is-active").count() == 0


def test_estimate_by_part_reads_german_on_a_german_phone(new_page, customer):
    # given: the bumper claim, opened on a phone set to German
    from tests.browser.conftest import PHONE
    from tests.browser.test_customer_language import sign_in_german

    claim, _ = bumper_claim(customer)
    page = new_page({**PHONE, "locale": "de-DE"})
    sign_in_german(page, customer.username)
    open_status(page, claim)

    # then: the part, its operations, the photos and the button are German
    head = page.locator(".estimate__part-row")
    assert head.locator(".estimate__part").inner_text() == "Stoßfänger vorne"
    assert "auf den Fotos 1 und 2 zu sehen" in head.locator(".estimate__meta").inner_text()
    assert page.locator(".estimate__op .estimate__desc").all_inner_texts() == [
        "Instandsetzen",
        "Lackieren",
    ]
    head.get_by_role("button", name="Stoßfänger vorne auf den Fotos zeigen").click()
    wait_until(page, "document.getElementById('result-live').textContent.length > 0")
    assert page.locator("#result-live").inner_text() == (
        "Stoßfänger vorne ist auf den Fotos 1 und 2 markiert."
    )
