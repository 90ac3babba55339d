"""The README's screenshots: the whole flow on `make run`'s own stack, with real claim photos.

    python docs/screenshots/tour.py [--out docs/screenshots/tour]

Starts the embedded default exactly as `make run` does (config/supervisord.conf: broker, web,
worker, beat) on a temporary state folder, seeds the demo accounts, then drives Chromium
(Debian's, through Playwright) as each user: the customer files a claim with three photos on a
phone, the model assesses it, the adjuster reviews and decides on a desktop, the customer reads
the decision, the data team opens its export page, the customer contests the decision and a
senior adjuster finds it in the senior queue. Every page is saved as a PNG.

The photos come from ``../shared/datasets/bilgi-car-damage`` (CC BY 4.0, "Bilgi University Car
Damage v1" on Roboflow; PROVENANCE.md there), chosen by hand for showing no licence plate; the
script refuses to run without them. Nothing is downloaded; it talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BILGI = REPO.parent / "shared" / "datasets" / "bilgi-car-damage"
# Door dent (overview), door scratch (close-up), rear quarter dent and scratch: no plate shows.
PHOTOS = (
    "images/1055600528_731_jpg.rf.7dfd9cd99e8bedee84f315b464b43c2e.jpg",
    "images/0677353543_2896_jpg.rf.18c9d96f55c84e192e351854201f02c3.jpg",
    "images/1047494320_5334_jpg.rf.0e1f73045f117f8eb0a337aaf6d0db36.jpg",
)
CREDIT = (
    'Photos: "Bilgi University Car Damage v1" (Roboflow, CC BY 4.0), '
    "https://universe.roboflow.com/het-m73ej/bilgi-university-car-damage"
)
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1366, "height": 768}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """`make run`'s processes under supervisord, on a state folder of their own."""

    def __init__(self, var: Path) -> None:
        self.var, self.port = var, free_port()
        self.env = {
            **os.environ,
            "CLAIMVISION_ROOT": str(REPO),
            "CLAIMVISION_PY": sys.executable,
            "CLAIMVISION_VAR_DIR": str(var),
            "CLAIMVISION_EMBEDDED_BROKER": "true",
            "CLAIMVISION_RUN_WEB": "true",
            "CLAIMVISION_RUN_BACKGROUND": "true",  # the exports queue
            "CLAIMVISION_WORKERS": "1",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("DATABASE_URL", "REDIS_URL", "CLAIMVISION_BROKER_SOCKET"):
            self.env.pop(name, None)

    def __enter__(self) -> Stack:
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env, check=True)
        subprocess.run([*manage, "seed_demo"], cwd=REPO, env=self.env, check=True)
        self.log = open(self.var / "stack.log", "wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "supervisord"), "-c", "config/supervisord.conf"],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = (self.var / "stack.log").read_text(errors="replace")
            if "ready." in text and "Starting development server" in text:
                return self
            time.sleep(0.5)
        raise RuntimeError("the stack did not start:\n" + text[-3000:])

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def password(self, user: str) -> str:
        for line in (self.var / "demo-credentials.txt").read_text().splitlines():
            name, _, password = line.partition(" ")
            if name == user:
                return password
        raise KeyError(user)


def shoot(page, out: Path, name: str, *, full_page: bool = True) -> None:
    page.mouse.move(0, 0)
    page.screenshot(path=str(out / name), full_page=full_page, animations="disabled")
    print(f"  {out / name}")


def sign_in(page, stack: Stack, user: str) -> None:
    page.goto(f"{stack.base}/accounts/login/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(stack.password(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def customer_files_a_claim(browser, stack: Stack, out: Path) -> str:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    sign_in(page, stack, "customer")
    page.get_by_role("link", name="Start a claim").first.click()
    page.wait_for_url("**/claims/new/")
    page.get_by_label("Policy number").fill("POL-2026-0415")
    page.get_by_label("Make").fill("Peugeot")
    page.get_by_label("Model").fill("208")
    page.get_by_label("Year").fill("2019")
    page.get_by_label("Date of the incident").fill(time.strftime("%Y-%m-%d"))
    page.get_by_label("What happened?").fill("Scraped along a pillar in a car park.")
    shoot(page, out, "1-customer-new-claim.png")
    page.locator("#create-claim").click()
    page.wait_for_url(re.compile(r".*/claims/[0-9a-f-]{36}/photos/$"))
    claim_url = page.url.removesuffix("photos/")
    page.set_input_files("#camera-input", [str(BILGI / p) for p in PHOTOS])
    _wait_cards(page, len(PHOTOS))
    shoot(page, out, "2-customer-photos.png")
    page.get_by_role("link", name=re.compile("Review|Continue|Next", re.I)).first.click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name=re.compile("Submit", re.I)).first.click()
    page.wait_for_url(re.compile(r".*/claims/[0-9a-f-]{36}/$"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the worker assesses; the page updates itself
        if page.locator("[data-status=auto_decided], [data-status=in_review]").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    shoot(page, out, "3-customer-status.png")
    context.close()
    return claim_url


def _wait_cards(page, count: int) -> None:
    deadline = time.monotonic() + 60
    selector = ".photo-card[data-state=done]"
    while page.locator(selector).count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError("photos did not finish uploading")
        page.wait_for_timeout(200)


def adjuster_reviews(browser, stack: Stack, out: Path) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, stack, "adjuster")
    page.goto(f"{stack.base}/review/")
    page.wait_for_load_state("networkidle")
    shoot(page, out, "4-adjuster-queue.png", full_page=False)
    page.locator("a[href*='/review/claims/']").first.click()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # masks drawn on the canvas
    shoot(page, out, "5-adjuster-review.png", full_page=False)
    for _ in PHOTOS:  # Ctrl+Enter: this photo's regions are right as they are; next photo
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(700)
    page.get_by_role(
        "button", name=re.compile("Approve with corrections|Approve as assessed")
    ).first.click()
    page.wait_for_timeout(500)
    shoot(page, out, "6-adjuster-confirm.png", full_page=False)
    page.get_by_role("button", name=re.compile("^(Approve claim|Confirm)", re.I)).first.click()
    page.wait_for_load_state("networkidle")
    context.close()


def customer_reads_the_decision(browser, stack: Stack, out: Path, claim_url: str) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    sign_in(page, stack, "customer")
    page.goto(claim_url)
    page.wait_for_load_state("networkidle")
    shoot(page, out, "7-customer-decision.png")
    context.close()


def customer_contests(browser, stack: Stack, out: Path, claim_url: str) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    sign_in(page, stack, "customer")
    page.goto(claim_url)
    page.wait_for_load_state("networkidle")
    page.locator("#contest-open").click()
    page.locator("#contest-reason").fill(
        "The scratch on the rear door is missing from the estimate."
    )
    page.locator("#contest-send").click()
    page.locator("#contest-state").wait_for()
    shoot(page, out, "9-customer-contested.png")
    context.close()


def senior_adjuster_queue(browser, stack: Stack, out: Path) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, stack, "senior")
    page.goto(f"{stack.base}/review/?senior_review=1")
    page.locator("#queue-rows a[href*='/review/claims/']").first.wait_for()
    shoot(page, out, "10-senior-queue.png", full_page=False)
    page.locator("#queue-rows a[href*='/review/claims/']").first.click()
    page.locator("#screen-app[data-state=ready]").wait_for()
    page.wait_for_timeout(1500)  # masks drawn on the canvas
    shoot(page, out, "11-senior-review.png", full_page=False)
    context.close()


def data_team_exports(browser, stack: Stack, out: Path) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, stack, "datateam")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Start export").click()
    download = page.get_by_role("link", name=re.compile("Download", re.I)).first
    download.wait_for(timeout=120_000)  # the background worker writes the zip
    shoot(page, out, "8-data-team-exports.png", full_page=False)
    context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "tour")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    missing = [p for p in PHOTOS if not (BILGI / p).is_file()]
    if missing:
        sys.exit(f"the tour needs {BILGI} (missing {missing[0]})")
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    var = Path(tempfile.mkdtemp(prefix=f"cv-tour-{secrets.token_hex(2)}-"))
    try:
        with Stack(var) as stack, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium)
            claim_url = customer_files_a_claim(browser, stack, args.out)
            adjuster_reviews(browser, stack, args.out)
            customer_reads_the_decision(browser, stack, args.out, claim_url)
            data_team_exports(browser, stack, args.out)
            customer_contests(browser, stack, args.out, claim_url)
            senior_adjuster_queue(browser, stack, args.out)
            browser.close()
        (args.out / "CREDITS.txt").write_text(CREDIT + "\n")
    finally:
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
