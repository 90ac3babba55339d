"""Playwright fixtures for the browser tests: Debian's Chromium, phone and desktop pages.

Chromium is found from ``CHROMIUM_PATH``, ``/usr/bin/chromium`` or the ``PATH``; no browser is
downloaded. Where none is installed the tests skip with how to get one, except under
``CLAIMVISION_REQUIRE_BROWSER=1`` (CI), where a missing browser fails the run.
"""

import contextlib
import io
import os
import re
import shutil
import time
from pathlib import Path

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told that this (test-only) use is fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import numpy as np
import pytest
from PIL import Image, ImageDraw

SKIP_MESSAGE = (
    "Chromium not found: install Debian's chromium (apt-get install chromium) or set "
    "CHROMIUM_PATH; `make test` installs it when run as root"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 375, "height": 812},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 860}, "device_scale_factor": 1}
# Two shared cores run the server, the browser and the test: generous, but finite, waits.
DEFAULT_TIMEOUT_MS = 20_000
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CUSTOMER_PASSWORD = "correct-horse-battery-42"
HOME_URL = re.compile(r"^https?://[^/]+/$")


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CLAIMVISION_REQUIRE_BROWSER") == "1":
            pytest.fail(SKIP_MESSAGE + " (CLAIMVISION_REQUIRE_BROWSER=1: a browser is required)")
        pytest.skip(SKIP_MESSAGE)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser, live_server, options: dict):
    context = browser.new_context(base_url=live_server.url, **options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Anything the Content-Security-Policy refused (an inline script, a style attribute, a
    # foreign origin) fails the test like a JavaScript error.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.js_errors = errors
    # Requests the server has not answered yet: closing waits for them (see _close).
    in_flight: set = set()
    context.on("request", lambda request: in_flight.add(request))
    context.on("requestfinished", lambda request: in_flight.discard(request))
    context.on("requestfailed", lambda request: in_flight.discard(request))
    context.in_flight = in_flight
    return context, page


# Closing a page fires its pagehide handlers (the review screen releases its lock with a
# keepalive request). The live server answers that request on its own thread; if the test
# database is flushed meanwhile, a TRUNCATE races its transaction (a deadlock in CI) or the
# request finds the database closed to it. So every page first leaves for about:blank, which
# fires pagehide, and closing waits until the server answered everything (a loaded machine can
# take seconds), then a short grace for the server thread to finish its transaction.
# The page fixtures take ``transactional_db`` so that they are set up after it and torn down
# before its flush, whatever order a test names its fixtures in.
UNLOAD_GRACE_S = 0.3
UNLOAD_WAIT_S = 15


def _close(context) -> None:
    from playwright.sync_api import Error as PlaywrightError

    for page in context.pages:
        with contextlib.suppress(PlaywrightError):  # a page that cannot navigate sends nothing
            page.goto("about:blank")
    deadline = time.monotonic() + UNLOAD_WAIT_S
    while getattr(context, "in_flight", None) and time.monotonic() < deadline:
        time.sleep(0.05)
    context.close()
    time.sleep(UNLOAD_GRACE_S)


@pytest.fixture
def phone_page(browser, live_server, transactional_db):
    context, page = _page(browser, live_server, PHONE)
    yield page
    _close(context)
    assert page.js_errors == [], f"JavaScript errors on the page: {page.js_errors}"


@pytest.fixture
def new_page(browser, live_server, transactional_db):
    """A factory of pages, each in its own browser context (one signed-in person each), with
    ``options`` for the context (viewport, downloads); closed like the page fixtures above, so
    a page's last requests are answered before the test database is flushed."""
    opened = []

    def make(options: dict = DESKTOP):
        context, page = _page(browser, live_server, options)
        opened.append((context, page))
        return page

    yield make
    for context, _ in opened:
        _close(context)
    for _, page in opened:
        assert page.js_errors == [], f"JavaScript errors on the page: {page.js_errors}"


@pytest.fixture
def desktop_page(browser, live_server, transactional_db):
    context, page = _page(browser, live_server, DESKTOP)
    yield page
    _close(context)
    assert page.js_errors == [], f"JavaScript errors on the page: {page.js_errors}"


@pytest.fixture
def customer(transactional_db):
    from claims import services

    return services.user_register(
        username="alex", email="alex@example.test", password=CUSTOMER_PASSWORD
    )


def sign_in(page, username: str, password: str = CUSTOMER_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(HOME_URL)


def damage_photo_bytes(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A JPEG that looks like a damaged car door: sharp edges and sensor-like noise, so the
    server's blur check (variance of the Laplacian) does not flag it."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # sky to tarmac
        t = y / height
        draw.line(
            [(0, y), (width, y)],
            fill=(int(150 - 90 * t), int(180 - 110 * t), int(210 - 130 * t)),
        )
    body = tuple(int(c) for c in rng.integers(40, 200, 3))
    w, h = width, height
    draw.rounded_rectangle([w * 0.06, h * 0.38, w * 0.94, h * 0.78], radius=80, fill=body)
    draw.polygon(
        [(w * 0.25, h * 0.40), (w * 0.36, h * 0.2), (w * 0.66, h * 0.2), (w * 0.78, h * 0.40)],
        fill=body,
    )
    draw.polygon(
        [(w * 0.31, h * 0.39), (w * 0.39, h * 0.24), (w * 0.5, h * 0.24), (w * 0.5, h * 0.39)],
        fill=(40, 60, 80),
    )
    draw.polygon(
        [(w * 0.52, h * 0.39), (w * 0.52, h * 0.24), (w * 0.64, h * 0.24), (w * 0.73, h * 0.39)],
        fill=(40, 60, 80),
    )
    for cx in (0.24, 0.76):
        draw.ellipse([w * cx - 120, h * 0.68, w * cx + 120, h * 0.68 + 240], fill=(20, 20, 22))
        draw.ellipse(
            [w * cx - 60, h * 0.68 + 60, w * cx + 60, h * 0.68 + 180], fill=(150, 150, 155)
        )
    # The damage: a dent and scratches across the door.
    cx, cy = w * rng.uniform(0.35, 0.6), h * rng.uniform(0.5, 0.62)
    darker = tuple(max(0, c - 50) for c in body)
    draw.ellipse([cx - 110, cy - 60, cx + 110, cy + 60], fill=darker)
    for _ in range(7):
        x0, y0 = cx + rng.uniform(-260, 60), cy + rng.uniform(-90, 90)
        draw.line(
            [(x0, y0), (x0 + rng.uniform(150, 380), y0 + rng.uniform(-40, 40))],
            fill=(225, 225, 225),
            width=int(rng.integers(2, 6)),
        )
    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0, 7, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
    return out.getvalue()


@pytest.fixture
def make_photo(tmp_path):
    def make(name: str, seed: int = 0) -> Path:
        path = tmp_path / name
        path.write_bytes(damage_photo_bytes(seed))
        return path

    return make


def wait_until(page, expression: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
    """Wait until ``expression`` is true in the page.

    Playwright's ``wait_for_function`` evaluates its string with ``eval`` inside the page, which
    the Content-Security-Policy (no 'unsafe-eval') refuses; ``evaluate`` goes through the
    DevTools protocol, outside the page's policy.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(50)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / name
    page.mouse.move(0, 0)  # no hover state left on whatever the last click was over
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="initial")
    return path
