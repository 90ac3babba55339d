"""The quality dashboard in Chromium (desktop): a data-team member signs in, opens it, filters by
model version, and the page shows the figures and charts drawn on the server (no script runs).
The screenshot is docs/screenshots/quality-dashboard.png."""

import pytest

from claims.tests.factories import PASSWORD, DataTeamFactory
from flywheel.tests.test_quality_selectors import scenario  # noqa: F401 - shared fixture
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_quality_dashboard_shows_figures_charts_and_filters(desktop_page, scenario):
    # given: a data-team member, signed in
    page = desktop_page
    member = DataTeamFactory(username="dana")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/data/exports/")

    # when: the data team's nav leads to the dashboard
    page.get_by_role("link", name="Quality").first.click()
    page.wait_for_url("**/data/quality/")

    # then: figures, five server-drawn charts and the per-version table
    assert page.get_by_role("heading", name="Quality dashboard").is_visible()
    assert "42.9%" in page.locator("#tile-auto-rate").inner_text()
    assert page.locator("svg.qd-chart").count() == 5
    assert page.locator("#quality-versions tbody tr").count() == 2
    assert page.locator("#quality-empty").count() == 0
    csv_link = page.locator("#quality-csv")
    assert csv_link.get_attribute("href") == "/data/quality/quality.csv"
    screenshot(page, "quality-dashboard.png")

    # when: filtered to one model version
    page.get_by_label("Model version", exact=True).select_option("qd-v2")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/data/quality/?*model_version=qd-v2*")

    # then: that version's figures only, and the CSV link keeps the filter
    assert "0 of 2 policy decisions" in page.locator("#tile-auto-rate").inner_text()
    assert page.locator("#quality-versions tbody tr").count() == 1
    assert "model_version=qd-v2" in page.locator("#quality-csv").get_attribute("href")
