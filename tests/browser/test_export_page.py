"""The data team's export page in Chromium at 1366x768: sign in, start an export, see it queued,
then ready, download the zip through the link; errors shown beside their fields.

No broker runs here: the export task's ``delay`` is recorded and its body run by the test, as
assessment/tests/test_exports.py does (a real worker runs it in tests/integration), so the page
sees the job queued first and then finished, as it would with a worker.
"""

import hashlib
import zipfile

import pytest

from assessment.tests.conftest import model_version, segmenter  # noqa: F401 - shared fixtures
from claims.tests.conftest import customer, enqueued, media_root  # noqa: F401 - shared fixtures
from claims.tests.factories import PASSWORD, DataTeamFactory
from learning import exports, tasks
from learning.models import ExportJob
from review import labels as review_labels
from review import locks as review_locks
from review.tests.conftest import adjuster, make_in_review_claim  # noqa: F401 - shared fixtures
from review.tests.factories import DENT_BOX, region_payload
from tests.browser.conftest import PHONE, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1}
SCREENSHOT = "/tmp/claimvision-export-page-1366.png"


@pytest.fixture
def desk(new_page):
    return new_page({**VIEWPORT, "accept_downloads": True})


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Export jobs sent to the queue (after commit), in order."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.export_labels_task, "delay", lambda pk: sent.append(pk))
    return sent


@pytest.fixture
def reviewed_photo(make_in_review_claim, adjuster):
    claim = make_in_review_claim(photos=1)
    review_locks.review_lock_take(claim=claim, adjuster=adjuster)
    photo = claim.photos.get()
    review_labels.photo_labels_save(
        claim=claim,
        photo=photo,
        adjuster=adjuster,
        base_version=0,
        regions=[region_payload("dent", "moderate", 0, DENT_BOX)],
    )
    return photo


def sign_in(page, username: str) -> None:
    """Sign in from the sign-in page with no ``next``: where the data team lands by default."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/data/exports/")


def test_export_page_starts_follows_and_downloads_an_export(desk, reviewed_photo, sent, tmp_path):
    # given: a data-team member, and another member's export they must not see
    member = DataTeamFactory(username="dana")
    other = DataTeamFactory()
    theirs = exports.export_job_create(
        user=other, formats=["csv"], query=exports.ExportQuery(), polygons=False
    )
    sign_in(desk, member.username)
    desk.locator("#export-rows", has_text="No exports yet").wait_for()
    assert desk.locator(f"#export-{theirs.pk}").count() == 0

    # when: COCO and YOLO only, reviewed photos with a dent, started from the keyboard
    for name in ("voc", "labelstudio", "csv"):
        desk.locator(f"#format-{name}").uncheck()
    desk.get_by_label("Dent", exact=True).check()
    desk.get_by_role("button", name="Start export").focus()
    desk.keyboard.press("Enter")

    # then: the job is listed as queued, with no download yet
    wait_until(
        desk, "document.querySelectorAll('#export-rows tr[data-status=queued]').length === 1"
    )
    job = ExportJob.objects.filter(requested_by=member).get()
    assert sent == [theirs.pk, job.pk]
    assert job.formats == ["coco", "yolo"] and job.filters["include_predictions"] is False
    assert job.filters["damage_types"] == ["dent"]
    row = desk.locator(f"#export-{job.pk}")
    assert "Queued" in row.inner_text() and row.get_by_role("link").count() == 0
    assert "reviewed photos · Dent" in row.inner_text()  # the display name, as on the form
    wait_until(desk, "document.getElementById('export-live').textContent.includes('started')")

    # when: the exports worker runs it
    tasks.export_labels_task(job.pk)

    # then: the page follows it to ready, says so, and links the zip
    wait_until(desk, f"document.querySelector('#export-{job.pk}').dataset.status === 'succeeded'")
    job.refresh_from_db()
    link = row.get_by_role("link", name=f"Download export {job.pk}")
    assert link.get_attribute("href") == f"/api/v1/exports/{job.pk}/download/"
    assert "1" in row.locator("td.num").inner_text()
    wait_until(desk, "document.getElementById('export-live').textContent.includes('is ready')")
    # and: at 1366x768 the table fits its card, the download column is not cut off at its edge
    card = desk.locator(".dx-list .rv-table-card")
    widths = card.evaluate(
        "c => { const t = c.querySelector('table');"
        " return [c.scrollWidth, c.clientWidth, t.scrollWidth, t.clientWidth]; }"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    box, link_box = card.bounding_box(), link.bounding_box()
    assert box["x"] <= link_box["x"], (box, link_box)
    assert link_box["x"] + link_box["width"] <= box["x"] + box["width"], (box, link_box)
    assert box["x"] + box["width"] <= VIEWPORT["viewport"]["width"]
    desk.evaluate("window.scrollTo(0, 0)")
    desk.mouse.move(0, 0)
    desk.screenshot(path=SCREENSHOT, full_page=False, animations="disabled")
    desk.screenshot(path=SCREENSHOT.replace(".png", "-full.png"), full_page=True)

    with desk.expect_download() as info:
        link.click()
    path = tmp_path / "download.zip"
    info.value.save_as(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == job.sha256
    names = zipfile.ZipFile(path).namelist()
    assert "coco/instances.json" in names and "data.yaml" in names
    assert f"images/{next(s for s, n in job.counts['splits'].items() if n)}/" in "".join(names)
    assert not any(n.startswith(("voc/", "label_studio/", "csv/")) for n in names)
    # the finished export is offered as the base of an incremental one
    assert desk.locator(f"#since-export option[value='{job.pk}']").count() == 1


def test_export_page_shows_errors_beside_their_fields(desk, sent):
    # given
    member = DataTeamFactory()
    sign_in(desk, member.username)
    desk.locator("#export-rows", has_text="No exports yet").wait_for()

    # when: no format chosen
    for box in desk.locator("input[name=formats]").all():
        box.uncheck()
    desk.get_by_role("button", name="Start export").click()

    # then: the summary takes focus and the message sits at the formats
    summary = desk.get_by_role("alert").filter(has_text="could not be started")
    summary.wait_for()
    assert desk.evaluate("document.activeElement.id") == "export-errors"
    assert desk.locator("#formats-error").inner_text() == "Choose at least one format."

    # when: a date range the API refuses (to before from)
    desk.locator("#format-csv").check()
    desk.get_by_label("Labels saved from").fill("2026-03-02")
    desk.get_by_label("to (inclusive, UTC)").fill("2026-03-01")
    desk.get_by_role("button", name="Start export").click()

    # then: the API's message, at the field it is about, and nothing was started
    desk.locator("#date_to-error", has_text=exports.ERR_DATES).wait_for()
    assert desk.locator("#date-to").get_attribute("aria-invalid") == "true"
    assert desk.locator("#export-error-list a").inner_text().startswith("Labels saved to:")
    assert sent == [] and not ExportJob.objects.exists()


def test_export_page_exports_a_labelling_project_chosen_on_the_form(desk, sent):
    # given: a data-team member and a labelling project
    from labelling.tests.factories import ProjectFactory

    member = DataTeamFactory()
    project = ProjectFactory(name="Garage archive")
    sign_in(desk, member.username)
    desk.locator("#export-rows", has_text="No exports yet").wait_for()

    # when: CSV of the project's items
    for name in ("coco", "voc", "yolo", "labelstudio"):
        desk.locator(f"#format-{name}").uncheck()
    desk.get_by_label("Photos from").select_option(label="Labelling project: Garage archive")
    desk.get_by_role("button", name="Start export").click()

    # then: the job carries the project, as the API's filter, and its row names it
    wait_until(
        desk, "document.querySelectorAll('#export-rows tr[data-status=queued]').length === 1"
    )
    job = ExportJob.objects.filter(requested_by=member).get()
    assert sent == [job.pk] and job.filters["project"] == project.pk
    row = desk.locator(f"#export-{job.pk}")
    assert "Labelling project: Garage archive · reviewed photos" in row.inner_text()
    assert desk.js_errors == []


def test_export_page_on_a_phone_scrolls_the_table_not_the_page(new_page, sent, model_version):
    # given: a finished export of a data-team member, seen at 375 px
    member = DataTeamFactory()
    job = exports.export_job_create(
        user=member, formats=["csv"], query=exports.ExportQuery(), polygons=False
    )
    tasks.export_labels_task(job.pk)
    page = new_page(PHONE)
    sign_in(page, member.username)
    link = page.get_by_role("link", name=f"Download export {job.pk}")
    link.wait_for()

    # then: nothing sticks out of the page, and the link can be scrolled to and used
    width = page.evaluate("document.documentElement.scrollWidth")
    overflowing = page.evaluate(
        "[...document.querySelectorAll('main *')]"
        ".filter((n) => !n.closest('.rv-table-card'))"  # the table scrolls in its card
        ".filter((n) => n.getBoundingClientRect().right > innerWidth + 1)"
        ".map((n) => n.tagName + '#' + n.id)"
    )
    assert width <= PHONE["viewport"]["width"], (width, overflowing)
    link.scroll_into_view_if_needed()
    box = link.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["viewport"]["width"]
    page.screenshot(path=SCREENSHOT.replace("1366", "375"), full_page=True)
    assert page.js_errors == []
