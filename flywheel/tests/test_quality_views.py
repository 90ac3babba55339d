"""The quality dashboard's page and CSV: who may see them, filters, charts, the download."""

import csv
import io

import pytest
from django.urls import reverse

from claims.models import Claim
from claims.tests.factories import (
    AdjusterFactory,
    ClaimFactory,
    CustomerFactory,
    DataTeamFactory,
    PhotoFactory,
)
from flywheel.quality_selectors import CSV_HEADER, ERR_DATES_ORDER
from flywheel.tests.quality_factories import (
    WEEK_1,
    WEEK_2,
    entry,
    labels_save,
    model_version_create,
    policy_decision_create,
)
from flywheel.tests.test_quality_selectors import scenario  # noqa: F401 - shared fixture

pytestmark = pytest.mark.django_db

PAGE = "/data/quality/"
CSV_URL = "/data/quality/quality.csv"


def test_quality_urls_are_mounted_under_data():
    assert reverse("data-quality") == PAGE
    assert reverse("data-quality-csv") == CSV_URL


@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_quality_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_quality_customer_gets_403(client, url):
    client.force_login(CustomerFactory())
    response = client.get(url)
    assert response.status_code == 403
    assert b"This page is for staff" in response.content
    assert b"tile-auto-rate" not in response.content


@pytest.mark.parametrize("make_user", [DataTeamFactory, AdjusterFactory])
def test_quality_staff_see_the_page(client, make_user):
    client.force_login(make_user())
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b"Quality dashboard" in response.content


def test_quality_page_without_data_says_so(client):
    client.force_login(DataTeamFactory())
    response = client.get(PAGE)
    html = response.content.decode()
    assert 'id="quality-empty"' in html
    assert "No data yet" in html
    assert "<svg" not in html.split('id="tiles-title"')[1]  # no chart drawn from nothing
    assert 'id="tile-auto-rate"' in html


def test_quality_page_shows_figures_and_inline_svg(client, scenario):
    client.force_login(DataTeamFactory())
    html = client.get(PAGE).content.decode()
    assert 'id="quality-empty"' not in html
    tile = html.split('id="tile-auto-rate"')[1].split("</li>")[0]
    assert "42.9%" in tile  # 3 of 7
    assert "3 of 7 policy decisions" in tile
    assert html.count('<svg class="qd-chart"') == 5  # trend, reliability, coverage, type, part
    assert "<script" not in html.split("</header>")[1]
    assert "qd-v1" in html and "qd-v2" in html
    assert " style=" not in html.split('class="qd-tiles"')[1]  # CSP: no inline styles


def test_quality_page_filters_by_model_version_and_dates(client, scenario):
    client.force_login(DataTeamFactory())
    html = client.get(PAGE, {"model_version": "qd-v2"}).content.decode()
    tile = html.split('id="tile-auto-rate"')[1].split("</li>")[0]
    assert "0 of 2 policy decisions" in tile
    html = client.get(PAGE, {"date_to": "2026-11-08"}).content.decode()
    tile = html.split('id="tile-auto-rate"')[1].split("</li>")[0]
    assert "3 of 5 policy decisions" in tile


def test_quality_page_refuses_reversed_dates(client, scenario):
    client.force_login(DataTeamFactory())
    response = client.get(PAGE, {"date_from": "2026-11-09", "date_to": "2026-11-01"})
    assert response.status_code == 400
    assert ERR_DATES_ORDER in response.content.decode()
    assert b"tile-auto-rate" not in response.content


def test_quality_page_refuses_an_unknown_model_version(client, scenario):
    client.force_login(DataTeamFactory())
    response = client.get(PAGE, {"model_version": "nope"})
    assert response.status_code == 400


def test_quality_page_escapes_names_in_charts(client):
    # given: a damage type and a model version whose names hold markup
    version = model_version_create("<b>v</b>")
    claim = ClaimFactory(submitted=True, status=Claim.Status.IN_REVIEW)
    labels_save(
        claim=claim,
        photo=PhotoFactory(claim=claim),
        version=version,
        adjuster=AdjusterFactory(),
        when=WEEK_1,
        entries=[entry("deleted", 0, from_label="<i>dent</i>")],
        final_regions=0,
    )
    client.force_login(DataTeamFactory())
    html = client.get(PAGE).content.decode()
    chart = html.split('id="types-title"')[1].split("</svg>")[0]
    assert "&lt;i&gt;dent&lt;/i&gt;" in chart
    assert "<i>" not in html and "<b>v</b>" not in html


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_quality_csv_downloads_the_figures(client, scenario):
    client.force_login(DataTeamFactory())
    response = client.get(CSV_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert tuple(rows[0]) == CSV_HEADER
    auto = {(r[0], r[1]): r for r in rows if r[2] == "auto_rate"}
    assert auto[("2026-11-02", "qd-v1")][4:6] == ["0.6", "5"]
    assert auto[("all", "all")][4:6] == ["0.428571", "7"]
    saved = [r for r in rows if r[:3] == ["all", "all", "time_saved"]]
    assert len(saved) == 1 and 0 < float(saved[0][4]) < 1


def test_quality_csv_follows_the_filters(client, scenario):
    client.force_login(DataTeamFactory())
    rows = _csv(client.get(CSV_URL, {"model_version": "qd-v1"}))
    assert {r[1] for r in rows[1:]} == {"qd-v1", "all"}
    assert {r[0] for r in rows[1:]} == {"2026-11-02", "all"}


def test_quality_csv_refuses_bad_filters(client, db):
    client.force_login(DataTeamFactory())
    response = client.get(CSV_URL, {"date_from": "2026-11-09", "date_to": "2026-11-01"})
    assert response.status_code == 400
    assert ERR_DATES_ORDER in response.content.decode()


def test_quality_csv_of_nothing_is_the_header_and_empty_figures(client, db):
    client.force_login(DataTeamFactory())
    rows = _csv(client.get(CSV_URL))
    assert tuple(rows[0]) == CSV_HEADER
    auto = [r for r in rows if r[2] == "auto_rate"]
    assert auto == [["all", "all", "auto_rate", "", "", "0", ""]]


def test_quality_csv_names_types_and_parts_as_the_page_does(client):
    # given a broken part the adjuster deleted and a glass crack the adjuster drew on a door
    version = model_version_create("qd-names")
    claim = ClaimFactory(submitted=True, status=Claim.Status.IN_REVIEW)
    labels_save(
        claim=claim,
        photo=PhotoFactory(claim=claim),
        version=version,
        adjuster=AdjusterFactory(),
        when=WEEK_1,
        entries=[
            entry("deleted", 0, from_label="broken_part", from_part="front_bumper"),
            entry("added", None, region_index=0, to_label="glass_crack", to_part="front_door"),
        ],
        final_regions=1,
    )
    client.force_login(DataTeamFactory())

    # when the CSV is downloaded
    rows = _csv(client.get(CSV_URL))

    # then each type and part keeps its code and has the label and part maps' display name
    header = rows[0]
    named = {
        (r[header.index("figure")], r[header.index("group")]): r[header.index("group_name")]
        for r in rows[1:]
        if r[:2] == ["all", "all"]
    }
    assert named[("override_rate_by_type", "broken_part")] == "Broken or missing part"
    assert named[("added_by_type", "glass_crack")] == "Cracked glass"
    assert named[("override_rate_by_part", "front_bumper")] == "Front bumper"
    assert named[("added_by_part", "front_door")] == "Front door"
    # and the page names them the same way
    html = client.get(PAGE).content.decode()
    assert "Broken or missing part" in html and "broken_part" not in html


def test_quality_page_link_in_the_data_team_nav(client):
    client.force_login(DataTeamFactory())
    html = client.get("/data/exports/").content.decode()
    assert 'href="/data/quality/"' in html


def test_quality_random_audit_routing_counts_as_review(client, db):
    version = model_version_create("qd-audit")
    claim = ClaimFactory(submitted=True, status=Claim.Status.IN_REVIEW)
    policy_decision_create(
        claim=claim, version=version, when=WEEK_2, outcome="routed_to_review", audited=True
    )
    client.force_login(DataTeamFactory())
    html = client.get(PAGE).content.decode()
    tile = html.split('id="tile-review-rate"')[1].split("</li>")[0]
    assert "100.0%" in tile and "1 random audits" in tile


def test_quality_page_names_types_and_parts_as_every_other_page(client):
    # given overrides of a broken part on the front bumper
    version = model_version_create("v-names")
    claim = ClaimFactory(submitted=True, status=Claim.Status.IN_REVIEW)
    labels_save(
        claim=claim,
        photo=PhotoFactory(claim=claim),
        version=version,
        adjuster=AdjusterFactory(),
        when=WEEK_1,
        entries=[entry("deleted", 0, from_label="broken_part", from_part="front_bumper")],
        final_regions=0,
    )
    client.force_login(DataTeamFactory())
    html = client.get(PAGE).content.decode()
    types = html.split('id="types-title"')[1].split("</table>")[0]
    parts = html.split('id="parts-title"')[1].split("</table>")[0]
    # then the label map's and part map's display names, not the stored keys
    from ml.labels import DEFAULT_PART_MAP, PRODUCT_LABEL_MAP

    assert PRODUCT_LABEL_MAP.by_name("broken_part").display_name in types
    assert ">broken_part<" not in types
    assert DEFAULT_PART_MAP.display("front_bumper") in parts
    assert ">front_bumper<" not in parts
