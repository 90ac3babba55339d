"""The adjuster edits the estimate by part on the review screen (Chromium, 1366x768): a line's
hours changed and a line removed from the keyboard, the live total following each edit, a
part's evidence outlined on the photo when the part is focused, and each operation's name shown
whole in the closed operation select."""

from decimal import Decimal

import pytest

from claims.tests.factories import AdjusterFactory
from ml.labels import PRODUCT_LABEL_MAP
from review.models import EstimateAdjustment
from tests.browser.test_review_screen import (
    DENT,
    SCRATCH,
    claim_in_review,
    open_page,  # noqa: F401 - fixture
    open_screen,
    sign_in_to,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOTAL_IS = "(want) => Number(document.getElementById('screen-app').dataset.estimateTotal) === want"
SCREENSHOT = "/tmp/claimvision-review-estimate-operations-1366.png"
# For each operation select on the screen and each of its options chosen (without a change
# event, so nothing is saved): the select's rendered width and the width Chromium gives a copy
# of it sized to its content (widest option, padding, arrow, border), in the same table cell.
OPERATION_FITS = """() => [...document.querySelectorAll('select.rv-line__op')].flatMap((select) => {
  const chosen = select.value;
  const sized = select.cloneNode(true);
  sized.removeAttribute('id');
  for (const [name, value] of [['position', 'absolute'], ['visibility', 'hidden'],
                               ['width', 'max-content'], ['max-width', 'none']]) {
    sized.style.setProperty(name, value, 'important');
  }
  select.parentElement.append(sized);
  const rows = [...select.options].map((option) => {
    select.value = option.value;
    sized.value = option.value;
    return {id: select.id, text: option.text, width: select.getBoundingClientRect().width,
            needed: sized.getBoundingClientRect().width};
  });
  sized.remove();
  select.value = chosen;
  return rows;
})"""


def _lines(claim) -> dict:
    """The server's live estimate lines by (part, operation) (review.estimate_selectors)."""
    from review import estimate_selectors

    quote, _, _ = estimate_selectors.claim_corrected_quote(claim=claim)
    return {(line.part, line.operation): line for line in quote.lines}, quote.total


def _live_total(page) -> Decimal:
    page.locator("#screen-app[data-estimate-state=ready]").wait_for()
    return Decimal(page.locator("#screen-app").get_attribute("data-estimate-total"))


def test_review_estimate_line_hours_and_removal_change_the_total(open_page):
    # given: a dent on the front door and a scratch on the bonnet, from a model with a part head
    adjuster = AdjusterFactory(username="dora")
    claim, _ = claim_in_review(
        photos=[
            [
                ("dent", DENT, 0.9, "moderate", "front_door", 0.9),
                ("scratch", SCRATCH, 0.8, "minor", "hood", 0.8),
            ]
        ],
        waiting_hours=2,
        estimate="500.00",
        label_map=PRODUCT_LABEL_MAP,
    )
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)
    lines, total = _lines(claim)
    assert _live_total(page) == total
    door = page.locator("#part-front_door")
    assert "Front door" in door.locator(".rv-part__title").inner_text()

    # when: she focuses the door's part: its region is outlined on the photo
    door.locator(".rv-part__show").focus()
    page.wait_for_function(
        "() => document.getElementById('screen-app').dataset.highlightCount === '1'"
    )
    assert page.locator("#screen-app").get_attribute("data-highlight-part") == "front_door"

    # when: she sets the door repair one hour more, with the keyboard
    repair = lines[("front_door", "repair")]
    hours = page.get_by_label("Labour hours of Front door, Repair")
    hours.fill(str(repair.labour_hours + 1))
    hours.press("Tab")

    # then: the total grows by one hour at the body rate, and the edit is recorded
    grown = total + repair.hourly_rate
    page.wait_for_function(TOTAL_IS, arg=float(grown))
    edit = EstimateAdjustment.objects.get(claim=claim)
    assert (edit.action, edit.part, edit.operation) == ("change", "front_door", "repair")
    assert edit.labour_hours == repair.labour_hours + 1
    assert "Front door" in page.locator("#estimate").inner_text()

    # when: she removes the hood's refinish line
    refinish = lines[("hood", "refinish")]
    page.get_by_role("button", name="Remove the line Hood, Refinish").click()

    # then: the line is gone and the total drops by its amount
    page.wait_for_function(TOTAL_IS, arg=float(grown - refinish.total))
    assert page.locator("#line-hours-hood-refinish").count() == 0
    assert list(
        EstimateAdjustment.objects.filter(claim=claim).values_list("action", flat=True)
    ) == ["change", "remove"]
    assert _live_total(page) == grown - refinish.total


def test_review_estimate_operation_select_shows_the_longest_operation_whole(open_page):
    # given: a dent on the front door, priced with repair, remove and refit, refinish and blend
    adjuster = AdjusterFactory(username="dora")
    claim, _ = claim_in_review(
        photos=[[("dent", DENT, 0.9, "moderate", "front_door", 0.9)]],
        waiting_hours=2,
        estimate="500.00",
        label_map=PRODUCT_LABEL_MAP,
    )

    # when: she opens the claim at 1366x768
    page = open_page()
    sign_in_to(page, adjuster.username, f"/review/claims/{claim.pk}/")
    open_screen(page)
    page.locator("#screen-app[data-estimate-state=ready]").wait_for()
    page.locator("#line-op-front_door-repair").wait_for()
    page.locator("#estimate").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.screenshot(path=SCREENSHOT, animations="disabled")

    # then: every operation, "Remove and refit" the longest, fits its select when chosen
    fits = page.evaluate(OPERATION_FITS)
    assert {row["id"] for row in fits} >= {"line-op-front_door-repair", "add-op-front_door"}
    assert "Remove and refit" in {row["text"] for row in fits}
    clipped = [row for row in fits if row["width"] + 0.5 < row["needed"]]
    assert clipped == []
    # and: the wider select still leaves the part's lines and its add form inside the sidebar
    part = page.locator("#part-front_door")
    assert part.evaluate("(el) => el.scrollWidth <= el.clientWidth")
    box, remove = part.bounding_box(), page.locator("#line-remove-front_door-repair").bounding_box()
    assert box and remove and remove["x"] + remove["width"] <= box["x"] + box["width"]
