"""The adjuster's queue and review screen in Chromium at 1366x768, end to end against the review
API and the database; and the screen's COCO RLE (review/static/review/rle.js) against
pycocotools.

Claims, assessments and predicted regions are written straight to the database in the shapes
the assessment worker stores (no worker runs here).
"""

import json
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone
from pycocotools import mask as mask_utils

from assessment.claim_confidence import ClaimConfidence
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Decision,
    EstimateLine,
    ModelVersion,
    PhotoAssessment,
    Region,
)
from assessment.policy import REASON_MESSAGES
from assessment.tests.regions import region_from_mask
from claims.models import Claim
from claims.tests.factories import (
    PASSWORD,
    AdjusterFactory,
    ClaimFactory,
    CustomerFactory,
    PhotoFactory,
)
from ml.coco import rle_to_mask
from ml.labels import DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP
from review import locks as review_locks
from review.models import LabelRegion, OverrideLedgerEntry, PhotoLabels, ReviewLock
from tests.browser import drawings
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1}
SCREENSHOT_LIMIT_BYTES = 400 * 1024
PHOTO_SIZE = (1600, 1200)
MASK_SIZE = (256, 192)  # (w, h): the model's mask grid, the photo at 1/6.25
SCALE = PHOTO_SIZE[0] / MASK_SIZE[0]
# Opening a claim shows the photo and its masks within a second on a quiet machine; the test
# runs server, browser and test on two shared cores, so it allows a margin over that.
FIRST_PAINT_LIMIT_MS = 3000

ROUTING_REASONS = [
    {
        "code": "low_region_confidence",
        "message": "The model is not sure about a crack on photo 1 (0.31 < 0.60).",
    },
    {"code": "always_human_type", "message": "Cracks are always checked by an adjuster."},
]
# Photo 1: a dent (right), a scratch (to relabel), a crack the model imagined (false positive).
DENT = (760, 690, 120, 70)  # ellipse in photo pixels: cx, cy, rx, ry
SCRATCH = (560, 600, 200, 26)
FALSE_CRACK = (1240, 420, 90, 40)
PHOTOS = [
    [
        ("dent", DENT, 0.88, "moderate"),
        ("scratch", SCRATCH, 0.55, "minor"),
        ("crack", FALSE_CRACK, 0.31, "minor"),
    ],
    [("dent", (900, 640, 150, 80), 0.9, "minor")],
]


# --- data -----------------------------------------------------------------------------------


def car_photo(seed: int) -> bytes:
    """A car side with a dent and scratches (small JPEG and screenshot)."""
    return drawings.car_photo(
        PHOTO_SIZE, [("dent", DENT), ("scratch", SCRATCH)], seed, wheel=130, quality=82
    )


def ellipse_mask(ellipse) -> np.ndarray:
    cx, cy, rx, ry = (v / SCALE for v in ellipse)
    ys, xs = np.mgrid[0 : MASK_SIZE[1], 0 : MASK_SIZE[0]]
    return ((xs + 0.5 - cx) / rx) ** 2 + ((ys + 0.5 - cy) / ry) ** 2 <= 1.0


def region_row(index, label, confidence, severity, ellipse, label_map=DEFAULT_LABEL_MAP) -> dict:
    mask = ellipse_mask(ellipse)
    region = region_from_mask(mask, label, confidence, severity, label_map=label_map)
    return {"index": index, **region}


def model_version(label_map=DEFAULT_LABEL_MAP) -> ModelVersion:
    return ModelVersion.objects.get_or_create(
        version=f"test-{label_map.name}",
        defaults={
            "path": "/nonexistent",
            "artifact_sha256": "0" * 64,
            "label_map": label_map.to_dict(),
            "status": ModelVersion.Status.ACTIVE,
        },
    )[0]


def claim_in_review(
    *,
    photos=PHOTOS,
    waiting_hours: float,
    estimate: str,
    reasons=ROUTING_REASONS,
    label_map=DEFAULT_LABEL_MAP,
    **claim_fields,
):
    """A claim routed to review: assessed photos with predicted regions, an estimate, the
    routing decision (dated ``waiting_hours`` ago) and its automated audit record. A region
    is (type, ellipse, confidence, severity[, part, part share])."""
    mv = model_version(label_map)
    claim = ClaimFactory(
        owner=CustomerFactory(), submitted=True, status=Claim.Status.IN_REVIEW, **claim_fields
    )
    stored = []
    for number, regions in enumerate(photos):
        photo = PhotoFactory(
            claim=claim,
            content=car_photo(seed=number),
            width=PHOTO_SIZE[0],
            height=PHOTO_SIZE[1],
            original_name=f"side-{number + 1}.jpg",
        )
        assessment = PhotoAssessment.objects.create(
            photo=photo,
            model_version=mv,
            photo_confidence=min(r[2] for r in regions) if regions else 0.9,
            image_width=PHOTO_SIZE[0],
            image_height=PHOTO_SIZE[1],
            mask_width=MASK_SIZE[0],
            mask_height=MASK_SIZE[1],
        )
        for index, (label, ellipse, confidence, severity, *part) in enumerate(regions):
            row = region_row(index, label, confidence, severity, ellipse, label_map)
            if part:
                row.update(part=part[0] or "", part_share=part[1])
            Region.objects.create(assessment=assessment, **row)
        stored.append(photo)
    record = ClaimAssessment.objects.create(
        claim=claim,
        model_version=mv,
        overall_severity="moderate",
        region_count=sum(len(r) for r in photos),
        min_photo_confidence=0.31,
        currency="EUR",
        estimate_total=Decimal(estimate),
    )
    EstimateLine.objects.create(
        claim_assessment=record,
        photo=stored[0],
        region_index=0,
        damage_type="dent",
        severity="moderate",
        operation="repair",
        description="Panel beating and filling",
        labour_hours=Decimal("3.0"),
        hourly_rate=Decimal("62.00"),
        parts_cost=Decimal("0"),
        total=Decimal(estimate),
    )
    decision = Decision.objects.create(
        claim=claim,
        outcome=Decision.Outcome.ROUTED_TO_REVIEW,
        automatic=True,
        reasons=reasons,
        model_version=mv,
    )
    Decision.objects.filter(pk=decision.pk).update(
        created_at=timezone.now() - timedelta(hours=waiting_hours)
    )
    AuditRecord.objects.create(
        claim_id=claim.pk,
        claim_reference=claim.reference,
        kind=AuditRecord.Kind.AUTOMATED_DECISION,
        actor="system",
        model_version=mv.version,
        scores={"estimate_total": estimate, "currency": "EUR"},
        rules_fired=reasons,
        outcome=Decision.Outcome.ROUTED_TO_REVIEW,
        detail={"summary": "Sent to an adjuster"},
    )
    return claim, stored


# --- browser helpers ----------------------------------------------------------------------------


@pytest.fixture
def open_page(new_page):
    """Pages at 1366x768, one browser context (one signed-in person) each."""
    return lambda: new_page(VIEWPORT)


def sign_in_to(page, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_url}")


def open_screen(page) -> None:
    page.locator("#screen-app[data-state=ready]").wait_for()


def editor_eval(page, script: str, arg=None):
    return page.evaluate(
        f"(arg) => {{ const {{ S, editor }} = window.reviewScreen; {script} }}", arg
    )


def screen_point(page, mx: float, my: float) -> tuple[float, float]:
    """Page coordinates of a point on the mask grid."""
    box = page.locator("#canvas").bounding_box()
    x, y = editor_eval(page, "return editor.toScreen(arg[0], arg[1]);", [mx, my])
    return box["x"] + x, box["y"] + y


def region_area(page, index: int) -> int:
    return editor_eval(page, "return editor.regions[arg].mask.reduce((a, b) => a + b, 0);", index)


def assert_small(path) -> None:
    size = path.stat().st_size
    assert size < SCREENSHOT_LIMIT_BYTES, f"{path.name} is {size} bytes"


# --- tests ------------------------------------------------------------------------------------


def test_review_rle_js_matches_pycocotools(open_page):
    page = open_page()
    page.goto("/accounts/login/")
    rng = np.random.default_rng(7)
    masks = [
        np.zeros((5, 7), dtype=np.uint8),
        np.ones((5, 7), dtype=np.uint8),
        np.ones((1, 1), dtype=np.uint8),
        (rng.random((13, 11)) > 0.5).astype(np.uint8),
        ellipse_mask(DENT).astype(np.uint8) | ellipse_mask(SCRATCH).astype(np.uint8),
        (rng.random((192, 256)) > 0.97).astype(np.uint8),  # many short runs, negative deltas
        np.ones((600, 800), dtype=np.uint8),  # one run of 480000: five 5-bit chunks
    ]
    masks[-1][:, 400:] = 0
    cases = [
        {
            "h": int(m.shape[0]),
            "w": int(m.shape[1]),
            "rowMajor": m.reshape(-1).tolist(),
            "coco": mask_utils.encode(np.asfortranarray(m))["counts"].decode("ascii"),
        }
        for m in masks
    ]
    # when: the page encodes each mask and decodes pycocotools' strings
    results = page.evaluate(
        """async (cases) => {
            const rle = await import('/static/review/rle.js');
            return cases.map(c => {
                const encoded = rle.encode(Uint8Array.from(c.rowMajor), c.h, c.w);
                const decoded = rle.decode({size: [c.h, c.w], counts: c.coco});
                return {counts: encoded.counts, size: encoded.size, decoded: Array.from(decoded)};
            });
        }""",
        cases,
    )
    # then: byte-identical strings, and the same pixels back
    for case, result, mask in zip(cases, results, masks, strict=True):
        assert result["size"] == [case["h"], case["w"]]
        assert result["counts"] == case["coco"]
        assert result["decoded"] == case["rowMajor"]
        back = mask_utils.decode({"size": result["size"], "counts": result["counts"].encode()})
        assert np.array_equal(back, mask)
    # and: a corrupt string is refused, not silently misread
    error = page.evaluate(
        """async () => {
            const rle = await import('/static/review/rle.js');
            try { rle.decode({size: [4, 4], counts: "9"}); return null; }
            catch (e) { return e.message; }
        }"""
    )
    assert error and "RLE" in error


def test_review_queue_and_screen_correct_and_approve(open_page):
    # given: two claims in review; the older one is taken by a colleague
    adjuster = AdjusterFactory(username="alice")
    colleague = AdjusterFactory(username="bob")
    claim, photos = claim_in_review(waiting_hours=20, estimate="812.40")
    other, _ = claim_in_review(photos=[PHOTOS[1]], waiting_hours=2, estimate="240.00")
    review_locks.review_lock_take(claim=other, adjuster=colleague)
    page = open_page()

    # when: alice opens the queue
    sign_in_to(page, adjuster.username, "/review/")
    page.locator("#queue-app[data-state=ready]").wait_for()

    # then: highest priority first, with its reasons, and the colleague's lock visible
    rows = page.locator("#queue-rows tr")
    assert rows.count() == 2
    assert claim.reference in rows.nth(0).inner_text()
    assert "Model unsure about a region" in rows.nth(0).inner_text()
    # the filter chips name reasons as the rows do
    assert "Model unsure about a region" in page.locator("#reason-chips").inner_text()
    assert "bob" in rows.nth(1).inner_text()
    assert "2 in review" in page.locator("#queue-counts").inner_text()
    # a filter narrows it (and the address keeps it)
    page.get_by_label("Assigned to me").check()
    page.locator("#queue-rows", has_text="No claims match").wait_for()
    assert "mine=1" in page.url
    page.get_by_role("button", name="Clear filters").click()
    page.locator("#queue-rows tr", has_text=other.reference).wait_for()
    assert_small(screenshot(page, "review-queue.png", full_page=False))

    # when: she opens the first claim
    page.get_by_role("link", name=claim.reference).click()
    page.wait_for_url(f"**/review/claims/{claim.pk}/")
    open_screen(page)

    # then: she holds its lock, the photo and its masks are drawn quickly, and the regions
    # are listed with their confidence
    lock = ReviewLock.objects.get(claim=claim)
    assert lock.adjuster == adjuster
    first_paint = int(page.locator("#screen-app").get_attribute("data-first-paint-ms"))
    assert first_paint < FIRST_PAINT_LIMIT_MS, f"first paint took {first_paint} ms"
    regions = page.locator("#regions > li")
    assert regions.count() == 3
    assert "88%" in regions.nth(0).inner_text() and "31%" in regions.nth(2).inner_text()
    assert "Model unsure about a region" in page.locator("#reasons").inner_text()
    dent_area = region_area(page, 0)
    assert dent_area == int(ellipse_mask(DENT).sum())

    # when: she selects the dent and paints a stroke with the brush, right of it
    regions.nth(0).locator(".rv-region__pick").click()
    page.keyboard.press("b")
    stroke = [(150.0 + i * 6, 105.0) for i in range(8)]  # mask pixels, outside the dent
    page.mouse.move(*screen_point(page, *stroke[0]))
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*screen_point(page, *point), steps=2)
    page.mouse.up()
    painted = region_area(page, 0)
    assert painted > dent_area + 8 * 6

    # and: undo takes the stroke back, redo puts it back
    page.keyboard.press("Control+z")
    assert region_area(page, 0) == dent_area
    page.keyboard.press("Control+Shift+z")
    assert region_area(page, 0) == painted

    # when: with the keyboard, the scratch becomes a crack of moderate severity
    page.locator("#canvas").focus()
    page.keyboard.press("ArrowDown")
    assert editor_eval(page, "return editor.regions.indexOf(editor.selected);") == 1
    page.keyboard.press("3")
    page.keyboard.press("Alt+2")
    assert "Crack" in regions.nth(1).inner_text() and "Moderate" in regions.nth(1).inner_text()

    # and: the crack the model imagined is deleted
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Delete")
    assert regions.count() == 2
    page.keyboard.press("ArrowUp")  # show the relabelled region selected in the screenshot
    assert page.locator("#save-state").inner_text() == "Unsaved changes"

    # the shortcut list is one key away
    page.keyboard.press("?")
    assert page.locator("#help-dialog").is_visible()
    assert "Alt+H" in page.locator("#help-list").inner_text()
    page.keyboard.press("Escape")
    assert_small(screenshot(page, "review-screen.png", full_page=False))

    # when: she approves with corrections, giving the reason the changed amount needs
    page.get_by_role("button", name="Approve with corrections").click()
    dialog = page.get_by_role("dialog", name="Approve with corrections")
    dialog.locator("#decision-reason[required]").wait_for()
    dialog.get_by_label("Reason for the corrections").fill("Scratch is a crack")
    dialog.get_by_role("button", name="Approve with corrections").click()
    page.wait_for_url("**/review/?*decided=*")
    page.locator("#queue-flash", has_text=claim.reference).wait_for()

    # then: the claim is decided by her, with corrections, and the lock is gone
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DECIDED
    decision = Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()
    assert decision.outcome == Decision.Outcome.APPROVED_WITH_CORRECTIONS
    assert decision.decided_by == adjuster
    assert not ReviewLock.objects.filter(claim=claim).exists()
    human = AuditRecord.objects.filter(claim_id=claim.pk, kind=AuditRecord.Kind.HUMAN_DECISION)
    assert human.count() == 1

    # and: the stored dent mask holds every painted pixel along the stroke
    labels = PhotoLabels.objects.get(photo=photos[0])
    stored = {r.source_index: r for r in LabelRegion.objects.filter(labels=labels)}
    assert set(stored) == {0, 1}
    dent = rle_to_mask(stored[0].mask_rle)
    assert dent.shape == (MASK_SIZE[1], MASK_SIZE[0])
    for x, y in stroke:
        assert dent[int(y), int(x)], f"painted pixel ({x}, {y}) missing"
    assert dent.sum() == painted
    assert np.array_equal(dent & ellipse_mask(DENT), ellipse_mask(DENT))
    assert (stored[1].label, stored[1].severity) == ("crack", "moderate")
    assert np.array_equal(rle_to_mask(stored[1].mask_rle), ellipse_mask(SCRATCH))

    # and: the ledger records each change against the model's prediction
    ledger = OverrideLedgerEntry.objects.filter(photo=photos[0], labels_version=labels.version)
    actions = {(e.action, e.source_index) for e in ledger}
    assert ("reshaped", 0) in actions
    assert ("relabelled", 1) in actions and ("severity_changed", 1) in actions
    assert ("deleted", 2) in actions
    relabelled = ledger.get(action="relabelled")
    assert (relabelled.from_label, relabelled.to_label) == ("scratch", "crack")
    assert all(e.adjuster == adjuster for e in ledger)
    reshaped = ledger.get(action="reshaped")
    assert 0 < reshaped.iou < 0.98
    # the second photo, never opened, was not turned into labels (nor accepted) on her behalf
    assert not PhotoLabels.objects.filter(photo=photos[1]).exists()
    assert not OverrideLedgerEntry.objects.filter(photo=photos[1]).exists()
    # the estimate follows the corrections
    assert ClaimAssessment.objects.get(claim=claim).source == "adjuster"


def test_review_second_adjuster_sees_lock_and_reads_only(open_page):
    # given: alice has the claim open
    alice = AdjusterFactory(username="alice")
    bob = AdjusterFactory(username="bob")
    claim, _ = claim_in_review(waiting_hours=3, estimate="500.00")
    first = open_page()
    sign_in_to(first, alice.username, f"/review/claims/{claim.pk}/")
    open_screen(first)
    until = timezone.localtime(ReviewLock.objects.get(claim=claim).expires_at).strftime("%H:%M")

    # when: bob opens the same claim
    second = open_page()
    sign_in_to(second, bob.username, f"/review/claims/{claim.pk}/")
    open_screen(second)

    # then: he is told who has it and until when, and the screen is read-only
    banner = second.locator("#lock-banner")
    assert banner.is_visible()
    assert f"alice is reviewing this claim (until {until})" in banner.inner_text()
    assert second.get_by_role("button", name="Approve with corrections").is_disabled()
    assert second.locator(".rv-tool[data-tool=brush]").is_disabled()
    second.locator("#canvas").focus()
    second.keyboard.press("Delete")  # ignored: nothing selected, and nothing editable
    second.locator("#regions > li").first.locator(".rv-region__pick").click()
    second.keyboard.press("Delete")
    assert second.locator("#regions > li").count() == 3
    assert ReviewLock.objects.get(claim=claim).adjuster == alice
    assert not PhotoLabels.objects.filter(photo__claim=claim).exists()


def test_review_pages_are_for_adjusters_only(open_page):
    customer = CustomerFactory()
    claim, _ = claim_in_review(waiting_hours=1, estimate="100.00")
    page = open_page()
    sign_in_to(page, customer.username, "/review/")
    assert page.get_by_role("heading", name="These pages are for adjusters").is_visible()
    response = page.goto(f"/review/claims/{claim.pk}/")
    assert response.status == 403
    page.context.clear_cookies()
    response = page.goto("/review/")
    assert "/accounts/login/" in page.url


def test_review_screen_polygon_add_region_and_hide(open_page):
    adjuster = AdjusterFactory()
    claim, photos = claim_in_review(photos=[PHOTOS[1]], waiting_hours=1, estimate="300.00")
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)
    # when: a new region is drawn as a polygon (Esc first: nothing selected)
    page.locator("#canvas").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("p")
    square = [(20, 20), (60, 20), (60, 50), (20, 50)]
    for x, y in square:
        page.mouse.click(*screen_point(page, x, y))
    page.keyboard.press("Enter")
    # then: it is a new region holding the square
    assert page.locator("#regions > li").count() == 2
    area = region_area(page, 1)
    assert 40 * 30 * 0.9 <= area <= 41 * 31
    page.keyboard.press("5")  # lamp_broken
    # and: the model's masks (before) hold only the predicted region; M toggles back
    page.keyboard.press("m")
    assert page.locator("#regions > li").count() == 1
    assert "model's masks" in page.locator("#stage-hint").inner_text()
    page.keyboard.press("m")
    assert page.locator("#regions > li").count() == 2
    # and: choosing a region from the list with the keyboard keeps the focus there
    pick = page.locator("#regions > li").nth(1).locator(".rv-region__pick")
    pick.focus()
    page.keyboard.press("Enter")
    assert pick.get_attribute("aria-pressed") == "true"
    assert page.evaluate("document.activeElement.classList.contains('rv-region__pick')")
    # and: Alt+H hides and shows it
    page.keyboard.press("Alt+h")
    assert editor_eval(page, "return editor.regions[1].hidden;") is True
    page.keyboard.press("Alt+h")
    assert editor_eval(page, "return editor.regions[1].hidden;") is False
    # when: saved with Ctrl+S
    page.keyboard.press("Control+s")
    page.locator("#save-state", has_text="Saved (version 1").wait_for()
    # then: the added region and its ledger entry are stored
    labels = PhotoLabels.objects.get(photo=photos[0])
    added = LabelRegion.objects.get(labels=labels, source_index=None)
    assert added.label == "lamp_broken"
    assert rle_to_mask(added.mask_rle)[35, 40]
    assert OverrideLedgerEntry.objects.filter(photo=photos[0], action="added").count() == 1
    assert json.loads(json.dumps(added.mask_rle))["size"] == [MASK_SIZE[1], MASK_SIZE[0]]


def test_review_names_damage_v2_types_and_parts_from_the_label_map(open_page):
    # given: a claim the damage-v2 model read as a broken part on the front bumper and paint
    # damage on no named part
    adjuster = AdjusterFactory(username="carol")
    v2_photos = [
        [
            ("broken_part", DENT, 0.9, "moderate", "front_bumper", 0.82),
            ("paint_damage", SCRATCH, 0.8, "minor", None, 0.3),
        ]
    ]
    reasons = [{"code": "always_human_type", "message": "Broken parts are always checked."}]
    claim, _ = claim_in_review(
        photos=v2_photos,
        waiting_hours=3,
        estimate="620.00",
        reasons=reasons,
        label_map=PRODUCT_LABEL_MAP,
    )
    page = open_page()

    # when: the adjuster opens the queue
    sign_in_to(page, adjuster.username, "/review/")
    page.locator("#queue-app[data-state=ready]").wait_for()

    # then: the type filter and the row name the types as the label map does
    options = page.locator("#filter-type option").all_inner_texts()
    assert options == ["Any type", *(c.display_name for c in PRODUCT_LABEL_MAP.classes)]
    row = page.locator("#queue-rows tr").first.inner_text()
    assert "Broken or missing part" in row and "broken_part" not in row.lower()

    # when: she opens the claim
    page.get_by_role("link", name=claim.reference).click()
    open_screen(page)

    # then: each region reads as its display name and the part the model put it on
    regions = page.locator("#regions > li .rv-region__label")
    assert regions.all_inner_texts() == ["Broken or missing part · Front bumper", "Paint damage"]
    # and: the type picker offers the label map's types by display name
    page.locator("#regions > li .rv-region__pick").first.click()
    picker = page.locator(".rv-region__type option").all_inner_texts()
    assert picker[:4] == [
        "1 · Dent",
        "2 · Scratch",
        "3 · Broken or missing part",
        "4 · Cracked glass",
    ]
    # and: relabelling keeps the part, named by the model's region it started from
    page.locator("#canvas").focus()
    page.keyboard.press("4")
    assert regions.first.inner_text() == "Cracked glass · Front bumper"


def _server_total(claim, overrides=None) -> Decimal:
    """The estimate the server's own pricing gives for ``overrides`` (review.estimate_selectors)."""
    from assessment import configuration
    from review import estimate_selectors

    regions = estimate_selectors.claim_priced_regions(claim=claim, overrides=overrides or {})
    return configuration.price_quote(regions).total


def _live_total(page) -> Decimal:
    page.locator("#screen-app[data-estimate-state=ready]").wait_for()
    return Decimal(page.locator("#screen-app").get_attribute("data-estimate-total"))


def test_review_live_estimate_and_the_confirm_step(open_page):
    # given: a claim in review whose model estimate (812.40) is not what the price table gives
    adjuster = AdjusterFactory(username="alice")
    claim, photos = claim_in_review(waiting_hours=4, estimate="812.40")
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # then: the sidebar shows the server's price of the regions on screen, beside the model's
    assert _live_total(page) == _server_total(claim)
    assert "Model's estimate" in page.locator("#estimate-model").inner_text()

    # when: the adjuster makes the dent severe with the keyboard (not saved yet)
    page.locator("#regions > li").nth(0).locator(".rv-region__pick").click()
    before = _live_total(page)
    page.keyboard.press("Alt+3")

    # then: the estimate follows before any decision, priced as the server prices it
    edits = {
        str(photos[0].pk): [
            {"label": "dent", "severity": "severe"},
            {"label": "scratch", "severity": "minor"},
            {"label": "crack", "severity": "minor"},
        ]
    }
    expected = _server_total(claim, edits)
    assert expected != before
    page.wait_for_function(
        "(want) => Number(document.getElementById('screen-app').dataset.estimateTotal) === want",
        arg=float(expected),
    )
    assert _live_total(page) == expected
    assert not PhotoLabels.objects.filter(photo__claim=claim).exists()  # nothing saved yet

    # when: "Approve as assessed" is clicked
    page.get_by_role("button", name="Approve as assessed").click()

    # then: nothing is decided; a dialog says what it pays and warns about the corrections
    dialog = page.get_by_role("dialog", name="Approve as assessed")
    dialog.locator("#confirm-total").wait_for()
    assert "812.40" in dialog.locator("#confirm-total").inner_text()
    assert "You made corrections on photo 1: they are kept" in dialog.inner_text()
    assert dialog.get_by_label("Reason").get_attribute("aria-required") == "false"
    assert (
        dialog.get_by_label("What the customer will read").input_value()
        == "An adjuster checked the assessment and approved your claim."
    )
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert not Decision.objects.filter(claim=claim, automatic=False).exists()

    # when: "Approve with corrections", confirmed with Ctrl+Enter and no reason
    page.get_by_role("button", name="Approve with corrections").click()
    dialog = page.get_by_role("dialog", name="Approve with corrections")
    dialog.locator("#decision-reason[required]").wait_for()
    assert page.evaluate("document.activeElement.id") == "decision-reason"
    total_text = dialog.locator("#confirm-total").inner_text()
    assert f"{expected:,.2f}" in total_text.replace("\u202f", ",").replace("\xa0", "")
    screenshot_path = f"/tmp/review-confirm-{claim.reference}.png"
    page.screenshot(path=screenshot_path)
    page.keyboard.press("Control+Enter")

    # then: the change of amount needs a reason, and nothing is stored
    error = dialog.get_by_role("alert")
    error.wait_for()
    assert "the corrections change the amount" in error.inner_text()
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW

    # when: the reason is typed and a message written for the customer; Ctrl+Enter again
    page.keyboard.type("Dent deeper than the model saw")
    message = dialog.get_by_label("What the customer will read")
    message.fill("We checked your photos and approved the repair of the dent.")
    message.press("Control+Enter")
    page.wait_for_url("**/review/?*decided=*")

    # then: the decision pays exactly what the sidebar and the dialog showed
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DECIDED
    assert ClaimAssessment.objects.get(claim=claim).estimate_total == expected
    decision = Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()
    assert decision.outcome == Decision.Outcome.APPROVED_WITH_CORRECTIONS
    assert decision.reasons[0]["message"] == (
        "We checked your photos and approved the repair of the dent."
    )
    assert decision.reasons[0]["detail"] == "Dent deeper than the model saw"
    # the untouched second photo was not saved as labels at decision time
    assert not PhotoLabels.objects.filter(photo=photos[1]).exists()


def test_review_confirm_step_tells_accepting_from_correcting(open_page):
    # given: a claim in review, every photo accepted as the model read it (Ctrl+Enter)
    adjuster = AdjusterFactory()
    claim, photos = claim_in_review(
        photos=[
            [("dent", DENT, 0.9, "moderate", "front_door", 0.9)],
            [("scratch", SCRATCH, 0.8, "minor", "hood", 0.8)],
        ],
        waiting_hours=2,
        estimate="300.00",
        label_map=PRODUCT_LABEL_MAP,
    )
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)
    page.locator("#canvas").focus()
    for index in range(len(photos)):  # one photo at a time: each press saves, then moves on
        page.keyboard.press("Control+Enter")
        page.wait_for_function(
            "(i) => window.reviewScreen.S.photos[i].version > 0 && "
            "(window.reviewScreen.S.current > i || i === window.reviewScreen.S.photos.length - 1)",
            arg=index,
        )
    assert PhotoLabels.objects.filter(photo__claim=claim).count() == len(photos)

    # when: approve as assessed: accepting is a check, not a correction, so no warning
    page.get_by_role("button", name="Approve as assessed").click()
    dialog = page.get_by_role("dialog", name="Approve as assessed")
    dialog.locator("#confirm-total").wait_for()
    assert "You made" not in dialog.inner_text()
    page.keyboard.press("Escape")

    # and: approve with corrections has nothing to pay differently: blocked, saying why
    page.get_by_role("button", name="Approve with corrections").click()
    dialog = page.get_by_role("dialog", name="Approve with corrections")
    dialog.get_by_text("Nothing differs from the model's assessment").wait_for()
    page.keyboard.press("Escape")

    # when: one estimate line is edited (no region changed)
    hours = page.get_by_label("Labour hours of Front door, Repair")
    hours.fill("5")
    hours.press("Tab")
    page.wait_for_function("() => window.reviewScreen.S.claim.estimate_adjustments.length === 1")

    # then: that is a correction: both dialogs say so, and the corrected approval is open
    page.get_by_role("button", name="Approve as assessed").click()
    dialog = page.get_by_role("dialog", name="Approve as assessed")
    dialog.get_by_text("You made 1 estimate line edit: they are kept").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Approve with corrections").click()
    dialog = page.get_by_role("dialog", name="Approve with corrections")
    dialog.locator("#confirm-total").wait_for()
    assert "1 estimate line edit" in dialog.inner_text()
    assert "Nothing differs" not in dialog.inner_text()


def test_review_retyped_region_has_no_model_confidence_and_tags_toggle(open_page):
    adjuster = AdjusterFactory()
    claim, _ = claim_in_review(waiting_hours=1, estimate="300.00")
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)
    regions = page.locator("#regions > li")
    assert "55%" in regions.nth(1).inner_text()

    # when: the scratch (55%) is re-typed as a crack
    regions.nth(1).locator(".rv-region__pick").click()
    page.keyboard.press("3")

    # then: the model's 55% was for a scratch: the crack shows no model confidence
    assert "Crack" in regions.nth(1).inner_text()
    assert "55%" not in regions.nth(1).inner_text()
    assert "re-typed" in regions.nth(1).inner_text()
    assert editor_eval(page, "return editor.regions[1].confidenceText();") == "re-typed"
    page.keyboard.press("1")  # back to the model's type: its confidence is back
    page.keyboard.press("2")
    assert "55%" in regions.nth(1).inner_text()

    # and: T hides the tags on the photo, and shows them again
    toggle = page.locator("#tags-toggle")
    assert toggle.get_attribute("aria-pressed") == "true"
    page.locator("#canvas").focus()
    page.keyboard.press("t")
    assert toggle.get_attribute("aria-pressed") == "false"
    assert editor_eval(page, "return editor.showTags;") is False
    toggle.click()
    assert editor_eval(page, "return editor.showTags;") is True


def test_review_screen_is_never_taller_than_the_window(open_page):
    # given: a photo with 27 regions (a long list in the sidebar), as the model sends them
    many = [
        [
            (
                "scratch",
                (100 + 40 * (i % 12), 200 + 60 * (i // 12), 30, 20),
                0.01 + i / 1000,
                "minor",
            )
            for i in range(27)
        ]
    ]
    claim, _ = claim_in_review(photos=many, waiting_hours=1, estimate="300.00")
    page = open_page()
    sign_in_to(page, AdjusterFactory().username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # when: the adjuster walks down the list to its last region
    page.locator("#canvas").focus()
    for _ in range(26):
        page.keyboard.press("ArrowDown")

    # then: the sidebar scrolls, the page does not: nothing reaches past the window, so no
    # focus, find or scrollIntoView can move the screen up into blank space
    height, window = page.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
    assert height <= window
    assert page.locator(".rv-side__scroll").evaluate("e => e.scrollTop") > 0
    page.evaluate("document.getElementById('history').scrollIntoView()")
    assert page.evaluate("scrollY") == 0
    page.screenshot(path="/tmp/review-many-regions.png")

    # and: the 27 tags on the photo never cover one another, the selected one included
    page.wait_for_timeout(100)  # the next animation frame has drawn
    rects = editor_eval(page, "return editor.tagRects;")
    assert len(rects) > 10
    for a, (x, y, w) in enumerate(rects):
        for bx, by, bw in rects[a + 1 :]:
            assert x + w <= bx or bx + bw <= x or y + 19 <= by or by + 19 <= y, (x, y, bx, by)
    selected = editor_eval(page, "return editor.regions.indexOf(editor.selected) + 1;")
    assert selected == 26  # the first ArrowDown selects region 1


def _with_claim_confidence(claim, *, value, prior, source, reviews=0):
    """Store a claim confidence on the claim's assessment, as the claim finish records it."""
    ClaimAssessment.objects.filter(claim=claim).update(
        claim_confidence=value,
        claim_confidence_prior=prior,
        claim_confidence_source=source,
        claim_confidence_reviews=reviews,
    )
    return ClaimConfidence(value=value, prior=prior, source=source, reviews=reviews).meaning


def _meaning_shown(meaning: str) -> str:
    """The meaning sentence as the screen shows it: without the leading number (the line above
    it shows the number), first letter capitalised."""
    text = meaning.split(": ", 1)[1]
    return text[0].upper() + text[1:]


def test_review_screen_shows_the_claim_confidence_with_its_meaning(open_page):
    # given: a claim whose assessment has a prior claim confidence of 0.72
    claim, _ = claim_in_review(waiting_hours=2, estimate="186.00")
    meaning = _with_claim_confidence(claim, value=0.72, prior=0.72, source="prior")
    page = open_page()

    # when: the adjuster opens it
    sign_in_to(page, AdjusterFactory().username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # then: the estimate panel reads "Claim confidence 0.72 (prior)" in words, not colour alone,
    # with the meaning sentence as the group's description
    box = page.locator("#claim-confidence")
    assert box.is_visible()
    assert box.get_attribute("data-state") == "prior"
    head = page.get_by_role("group", name="Claim confidence")
    assert " ".join(head.inner_text().split()) == "Claim confidence 0.72 (prior)"
    shown = page.locator("#claim-confidence-meaning")
    assert shown.inner_text() == _meaning_shown(meaning)
    assert "not yet measured against adjusters' reviews" in shown.inner_text()
    assert head.get_attribute("aria-describedby") == "claim-confidence-meaning"
    # and: the sidebar still fits the window (the screen never scrolls)
    height, window = page.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
    assert height <= window
    page.locator("#claim-confidence").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/review-cc.png")

    # given: the same claim read through a map fitted on 214 reviews
    meaning = _with_claim_confidence(claim, value=0.88, prior=0.8, source="fitted", reviews=214)

    # when: the screen is opened again
    page.reload()
    open_screen(page)

    # then: it says the number is fitted and on how many reviews, and what it measured
    assert box.get_attribute("data-state") == "fitted"
    assert " ".join(head.inner_text().split()) == "Claim confidence 0.88 (fitted on 214 reviews)"
    assert shown.inner_text() == _meaning_shown(meaning)
    assert "about 9 in 10 had their line items" in shown.inner_text()


def test_review_screen_hides_the_claim_confidence_in_a_random_audit(open_page):
    # given: a claim drawn for a random audit (every other rule had decided it automatically),
    # whose claim confidence cleared the automatic gate
    claim, _ = claim_in_review(
        photos=[[("dent", DENT, 0.96, "minor")]],
        waiting_hours=1,
        estimate="186.00",
        reasons=[
            {
                "code": "random_audit",
                "message": REASON_MESSAGES["random_audit"],
                "value": 0.0123,
                "threshold": 0.05,
                "would_be": "auto_approved",
            }
        ],
    )
    meaning = _with_claim_confidence(claim, value=0.93, prior=0.9, source="fitted", reviews=300)
    page = open_page()

    # when: the adjuster opens it
    sign_in_to(page, AdjusterFactory().username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # then: the screen says the claim confidence is not shown, and shows neither number nor meaning
    box = page.locator("#claim-confidence")
    assert box.get_attribute("data-state") == "audit"
    assert page.locator("#claim-confidence-hidden").inner_text() == (
        "Claim confidence is not shown in a random audit."
    )
    assert page.locator("#claim-confidence-value").count() == 0
    body = page.locator("body").inner_text()
    assert "0.93" not in body
    assert _meaning_shown(meaning) not in body
    # and: the region confidences stay, as on every claim
    assert editor_eval(page, "return editor.regions.length;") == 1


def test_review_region_list_shows_every_type_name_whole(open_page):
    # given: a photo with one region of each type of the bundled label map, the longest display
    # name once more on a part, with the widest severity chip and a two-digit confidence
    longest = max(PRODUCT_LABEL_MAP.classes, key=lambda c: len(c.display_name))
    regions = [
        (c.name, (200 + 220 * k, 300, 60, 40), 0.55, "moderate")
        for k, c in enumerate(PRODUCT_LABEL_MAP.classes)
    ]
    regions.append((longest.name, (700, 800, 90, 50), 0.55, "moderate", "front_bumper", 0.8))
    claim, _ = claim_in_review(
        photos=[regions],
        waiting_hours=1,
        estimate="400.00",
        label_map=PRODUCT_LABEL_MAP,
    )
    page = open_page()

    # when: the adjuster opens the claim at 1366x768
    sign_in_to(page, AdjusterFactory().username, f"/review/claims/{claim.pk}/")
    open_screen(page)

    # then: every row's type name shows whole, no ellipsis, the longest one included
    rows = page.locator("#regions > li")
    assert rows.count() == len(regions)
    names = rows.locator(".rv-region__label")
    texts = names.all_inner_texts()
    assert longest.display_name in texts and f"{longest.display_name} · Front bumper" in texts
    clipped = names.evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth)"
        ".map(e => [e.textContent, e.scrollWidth, e.clientWidth])"
    )
    assert clipped == []
    # and: the severity chip, the confidence and both icon buttons stay inside their row
    outside = rows.evaluate_all(
        """lis => lis.flatMap(li => {
          const box = li.getBoundingClientRect();
          return [...li.querySelectorAll('.rv-sev, .rv-conf, .rv-iconbtn')]
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.left < box.left || r.right > box.right; })
            .map(e => e.className);
        })"""
    )
    assert outside == []
    page.locator(".rv-side").screenshot(path="/tmp/review-region-names.png")
