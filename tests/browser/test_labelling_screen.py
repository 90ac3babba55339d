"""The labelling screen in Chromium: a labeller takes a pre-labelled project item from the
queue, keeps the model's region, draws another with the keyboard and the brush, submits with
Ctrl+Enter and lands on the next item (one drawn from scratch, which starts empty); a reviewer
then accepts it in QA. The same mask editor as the review screen (review/static/review/editor.js).

Items are imported through the real import service; their pre-labels are written in the shape
the pre-labelling worker stores (no worker runs here).
"""

import numpy as np
import pytest

from claims.tests.factories import PASSWORD, UserFactory
from labelling import services, tasks
from labelling.models import ItemLock, ItemPrediction, ProjectItem, ProjectMember, QAReview
from labelling.tests.factories import MemberFactory, ProjectFactory, item_make
from ml.coco import mask_to_rle
from ml.labels import DEFAULT_LABEL_MAP
from review import masks
from review.models import REGION_ORIGINS
from tests.browser import drawings
from tests.browser.conftest import screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1}
SCREENSHOT_LIMIT_BYTES = 400 * 1024
PHOTO_SIZE = (1536, 1024)
DENT = (700, 640, 130, 70)  # photo pixels: cx, cy, rx, ry
SCRATCH = (1080, 560, 170, 24)


def _prediction(item, model_version) -> ItemPrediction:
    """The model found the dent (an ellipse on the item's mask grid) and missed the scratch."""
    sx, sy = item.mask_width / PHOTO_SIZE[0], item.mask_height / PHOTO_SIZE[1]
    cx, cy, rx, ry = DENT
    ys, xs = np.mgrid[0 : item.mask_height, 0 : item.mask_width]
    mask = ((xs + 0.5 - cx * sx) / (rx * sx)) ** 2 + ((ys + 0.5 - cy * sy) / (ry * sy)) ** 2 <= 1
    box = masks.bbox(mask)
    ProjectItem.objects.filter(pk=item.pk).update(status=ProjectItem.Status.PRELABELLED)
    return ItemPrediction.objects.create(
        item=item,
        model_version=model_version,
        regions=[
            {
                "index": 0,
                "label": "dent",
                "label_id": 1,
                "severity": "moderate",
                "score": 0.86,
                "mask_rle": mask_to_rle(mask),
                "bbox": list(box),
                "area": int(mask.sum()),
                "part": "",
            }
        ],
        photo_confidence=0.86,
        mask_width=item.mask_width,
        mask_height=item.mask_height,
    )


@pytest.fixture
def labelling_project(monkeypatch):
    """A project (every submitted item goes to QA) with a pre-labelled item and one drawn to
    be labelled from scratch; lena labels, rui reviews."""
    from assessment.models import ModelVersion

    monkeypatch.setattr(tasks.prelabel_item_task, "delay", lambda item_id: None)
    model_version = ModelVersion.objects.create(
        version="test-labelling",
        path="/nonexistent",
        artifact_sha256="0" * 64,
        label_map=DEFAULT_LABEL_MAP.to_dict(),
        status=ModelVersion.Status.ACTIVE,
    )
    project = ProjectFactory(
        name="Garage archive, spring",
        instructions="Outline every dent and scratch on the body; ignore reflections.",
        qa_share=1.0,
    )
    labeller = UserFactory(username="lena")
    reviewer = UserFactory(username="rui")
    MemberFactory(project=project, user=labeller, role=ProjectMember.Role.LABELLER)
    MemberFactory(project=project, user=reviewer, role=ProjectMember.Role.REVIEWER)
    photo = drawings.car_photo(PHOTO_SIZE, [("dent", DENT), ("scratch", SCRATCH)], 3, wheel=120)
    first = item_make(project, name="garage-0412.jpg", data=photo)
    _prediction(first, model_version)
    scratch_photo = drawings.car_photo(PHOTO_SIZE, [("dent", (500, 600, 90, 50))], 4, wheel=120)
    second = item_make(project, name="garage-0413.jpg", data=scratch_photo)
    _prediction(second, model_version)
    ProjectItem.objects.filter(pk=second.pk).update(show_prelabels=False)
    return project, labeller, reviewer, first, second


def sign_in_to(page, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_url}")


def screen_eval(page, script: str, arg=None):
    return page.evaluate(
        f"(arg) => {{ const {{ S, editor }} = window.labellingScreen; {script} }}", arg
    )


def screen_point(page, mx: float, my: float) -> tuple[float, float]:
    box = page.locator("#canvas").bounding_box()
    x, y = screen_eval(page, "return editor.toScreen(arg[0], arg[1]);", [mx, my])
    return box["x"] + x, box["y"] + y


def ready(page) -> None:
    page.locator("#item-app[data-state=ready]").wait_for()


def test_labelling_screen_label_submit_and_qa_accept(new_page, labelling_project):
    project, labeller, _reviewer, first, second = labelling_project
    page = new_page(VIEWPORT)

    # when: lena opens the project and starts labelling
    sign_in_to(page, "lena", f"/labelling/{project.pk}/")
    assert "2 items to label" in page.locator("#label-waiting").inner_text()
    page.get_by_role("button", name="Start labelling").click()
    page.wait_for_url(f"**/labelling/{project.pk}/items/{first.pk}/")
    ready(page)

    # then: the model's dent is there, with its confidence, and the item is hers
    regions = page.locator("#regions > li")
    assert regions.count() == 1
    assert "Dent" in regions.nth(0).inner_text() and "86%" in regions.nth(0).inner_text()
    assert "The model found 1 region" in page.locator("#source-text").inner_text()
    assert first.lock.user == labeller

    # when: she adds a region with the keyboard (N: a new region, the brush), paints the
    # missed scratch, makes it a scratch (2) of moderate severity (Alt+2)
    page.locator("#canvas").focus()
    page.keyboard.press("n")
    assert screen_eval(page, "return editor.tool;") == "brush"
    page.keyboard.press("]")
    mw, mh = first.mask_width, first.mask_height
    cx, cy, rx, _ = SCRATCH
    sx, sy = mw / PHOTO_SIZE[0], mh / PHOTO_SIZE[1]
    stroke = [((cx - rx + i * 2 * rx / 7) * sx, cy * sy) for i in range(8)]
    page.mouse.move(*screen_point(page, *stroke[0]))
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*screen_point(page, *point), steps=2)
    page.mouse.up()
    page.keyboard.press("2")
    page.keyboard.press("Alt+2")
    assert regions.count() == 2
    assert "Scratch" in regions.nth(1).inner_text() and "Moderate" in regions.nth(1).inner_text()
    assert page.locator("#save-state").inner_text() == "Unsaved changes"
    # undo takes the severity back, redo puts it back
    page.keyboard.press("Control+z")
    assert screen_eval(page, "return editor.selected.severity;") == "minor"
    page.keyboard.press("Control+Shift+z")
    assert screen_eval(page, "return editor.selected.severity;") == "moderate"
    page.wait_for_timeout(1600)  # at least one tick of active time
    wait_until(page, "Number(document.getElementById('item-app').dataset.activeMs) >= 1000")
    path = screenshot(page, "labelling-screen.png", full_page=False)
    assert path.stat().st_size < SCREENSHOT_LIMIT_BYTES

    # when: Ctrl+Enter submits and opens the next item, drawn to be labelled from scratch
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/labelling/{project.pk}/items/{second.pk}/")
    ready(page)

    # then: it starts empty (its pre-labels never reach the page) ...
    assert regions.count() == 0
    assert "From scratch" in page.locator("#source-text").inner_text()
    assert screen_eval(page, "return S.item.prediction;") is None
    # ... and the first item went to QA with the dent kept and the scratch added
    first.refresh_from_db()
    assert first.status == ProjectItem.Status.IN_QA
    assert first.time_on_task_ms >= 1000
    stored = first.labels.regions
    assert [(r["label"], r["severity"], r["origin"]) for r in stored] == [
        ("dent", "moderate", "accepted"),
        ("scratch", "moderate", "added"),
    ]
    assert {r["origin"] for r in stored} <= set(REGION_ORIGINS)
    assert stored[1]["area"] > 50

    # when: rui starts QA and accepts lena's labels with Ctrl+Enter
    qa = new_page(VIEWPORT)
    sign_in_to(qa, "rui", f"/labelling/{project.pk}/")
    assert "1 item waiting for your check" in qa.locator("#qa-waiting").inner_text()
    qa.get_by_role("button", name="Start QA").click()
    qa.wait_for_url(f"**/labelling/{project.pk}/qa/{first.pk}/")
    ready(qa)
    qa_regions = qa.locator("#regions > li")
    assert qa_regions.count() == 2
    assert "kept" in qa_regions.nth(0).inner_text() and "drawn" in qa_regions.nth(1).inner_text()
    qa.locator("#canvas").focus()
    qa.keyboard.press("Control+Enter")

    # then: the queue is empty, the item accepted, and agreement shown for lena
    qa.wait_for_url(f"**/labelling/{project.pk}/?empty=qa")
    assert "Nothing is waiting for your QA check" in qa.locator("#queue-empty").inner_text()
    first.refresh_from_db()
    assert first.status == ProjectItem.Status.ACCEPTED
    review = QAReview.objects.get(item=first)
    assert (review.outcome, review.mean_iou, review.type_agreement) == ("accepted", 1.0, 1.0)
    row = qa.locator("#agreement-labellers tbody tr").first
    assert "lena" in row.inner_text() and "1.00" in row.inner_text()
    path = screenshot(qa, "labelling-project.png", full_page=True)
    assert path.stat().st_size < SCREENSHOT_LIMIT_BYTES


def test_labelling_screen_qa_next_with_unsent_corrections_asks_first(new_page, labelling_project):
    # given: lena submitted both items (every submitted item goes to QA), each with the dent
    project, labeller, _reviewer, first, second = labelling_project
    for item in (first, second):
        dent = item.predictions.get().regions[0]
        region = {k: dent[k] for k in ("label", "severity", "mask_rle")}
        services.item_labels_save(
            item=item, user=labeller, base_version=0, regions=[region], submit=True
        )
    qa = new_page(VIEWPORT)
    sign_in_to(qa, "rui", f"/labelling/{project.pk}/")
    qa.get_by_role("button", name="Start QA").click()
    qa.wait_for_url(f"**/labelling/{project.pk}/qa/{first.pk}/")
    ready(qa)

    # when: rui corrects the dent's severity (select it, Alt+3: severe) and presses F
    qa.locator("#canvas").focus()
    qa.keyboard.press("ArrowDown")
    qa.keyboard.press("Alt+3")
    regions = qa.locator("#regions > li")
    assert "Severe" in regions.nth(0).inner_text()
    assert qa.locator("#save-state").inner_text() == "Corrected (sent with your decision)"
    asked: list[tuple[str, str]] = []

    def refuse(dialog) -> None:
        asked.append((dialog.type, dialog.message))
        dialog.dismiss()

    qa.once("dialog", refuse)  # the question opens inside the key's handler: answer it there
    qa.keyboard.press("f")
    wait_until(qa, "!window.labellingScreen.S.busy")

    # then: he was asked; refused, the screen stays on the item with his correction and lock
    assert len(asked) == 1 and asked[0][0] == "confirm"
    assert "not sent" in asked[0][1]
    assert qa.url.endswith(f"/labelling/{project.pk}/qa/{first.pk}/")
    assert "Severe" in regions.nth(0).inner_text()
    assert screen_eval(qa, "return S.st.dirty && S.haveLock;") is True
    assert ItemLock.objects.get(item=first).user.username == "rui"

    # when: he accepts with Ctrl+Enter, the correction goes with his decision
    qa.keyboard.press("Control+Enter")
    qa.wait_for_url(f"**/labelling/{project.pk}/qa/{second.pk}/")
    first.refresh_from_db()
    assert first.status == ProjectItem.Status.ACCEPTED
    assert [(r["label"], r["severity"]) for r in first.labels.regions] == [("dent", "severe")]


def test_labelling_screen_skip_keeps_the_labellers_unsaved_work(new_page, labelling_project):
    # given: lena opens the first item and makes the model's dent severe (not saved yet)
    project, _labeller, _reviewer, first, _second = labelling_project
    page = new_page(VIEWPORT)
    sign_in_to(page, "lena", f"/labelling/{project.pk}/")
    page.get_by_role("button", name="Start labelling").click()
    page.wait_for_url(f"**/labelling/{project.pk}/items/{first.pk}/")
    ready(page)
    page.locator("#canvas").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Alt+3")
    assert page.locator("#save-state").inner_text() == "Unsaved changes"

    # when: she puts the item aside (Ctrl+Space)
    page.keyboard.press("Control+Space")
    page.wait_for_url(lambda url: f"/items/{first.pk}/" not in url)

    # then: the item is skipped and her correction is stored with it, for when she comes back
    first.refresh_from_db()
    assert first.status == ProjectItem.Status.SKIPPED
    assert [(r["label"], r["severity"]) for r in first.labels.regions] == [("dent", "severe")]
