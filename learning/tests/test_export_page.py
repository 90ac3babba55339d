"""The data team's export page: who gets it, where sign-in sends the data team, what it offers.

The page is a shell over the export API; the API's own rules (one member never sees another's
jobs) are tested in test_exports.py and, through the page, in tests/browser/test_export_page.py.
"""

import re

import pytest
from django.urls import reverse

from assessment.models import ModelVersion
from claims.tests.factories import AdjusterFactory, CustomerFactory, DataTeamFactory
from learning.export_views import FORMAT_CHOICES, POLL_INTERVAL_MS
from ml.label_export import FORMATS

pytestmark = pytest.mark.django_db

PAGE = "/data/exports/"


def test_export_page_url_is_named():
    assert reverse("data-exports") == PAGE


def test_export_page_anonymous_is_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "factory", [CustomerFactory, AdjusterFactory], ids=["customer", "adjuster"]
)
def test_export_page_refuses_customers_and_adjusters_with_a_403_page(client, factory):
    # given
    client.force_login(factory())

    # when
    response = client.get(PAGE)

    # then: a page saying why, without the form or the API root
    assert response.status_code == 403
    assert b"This page is for the data team" in response.content
    assert b'id="export-form"' not in response.content
    assert b"/api/v1/exports/" not in response.content


def test_export_page_for_adjuster_links_back_to_the_review_queue(client):
    client.force_login(AdjusterFactory())

    response = client.get(PAGE)

    assert reverse("review-queue").encode() in response.content


def test_export_page_offers_every_format_the_api_takes(client):
    # given: a data-team member and two registered model versions
    ModelVersion.objects.create(
        version="cardd-v3", path="x", artifact_sha256="0" * 64, label_map={"classes": []}
    )
    client.force_login(DataTeamFactory())

    # when
    response = client.get(PAGE)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    boxes = re.findall(
        r'<input type="checkbox" id="format-(\w+)" name="formats" value="(\w+)"', html
    )
    assert [value for _, value in boxes] == list(FORMATS) == list(FORMAT_CHOICES)
    assert 'name="coco_polygons"' in html and 'name="include_predictions"' in html
    for name in ("date_from", "date_to", "model_version", "split", "since_export"):
        assert f'name="{name}"' in html, name
    assert '<option value="cardd-v3">cardd-v3 (candidate)</option>' in html
    assert f'data-api-root="{reverse("api-exports")}"' in html
    assert f'data-poll-ms="{POLL_INTERVAL_MS}"' in html


def test_export_page_runs_under_the_content_security_policy(client):
    # given
    client.force_login(DataTeamFactory())

    # when
    response = client.get(PAGE)

    # then: scripts are files (no inline script, no inline style attribute)
    html = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(" src=" in tag for tag in scripts)
    assert " style=" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_home_sends_the_data_team_to_the_export_page(client):
    client.force_login(DataTeamFactory())

    response = client.get(reverse("home"))

    assert response.status_code == 302 and response["Location"] == PAGE


def test_home_of_a_customer_who_is_also_data_team_stays_the_claim_list(client):
    from claims.roles import Role

    client.force_login(DataTeamFactory(roles=[Role.CUSTOMER, Role.DATA_TEAM]))

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert "claims/home.html" in [t.name for t in response.templates]


def test_sign_in_as_data_team_lands_on_the_export_page(client):
    # given
    member = DataTeamFactory()
    member.set_password("a-long-enough-pass-42")
    member.save()

    # when
    response = client.post(
        reverse("login"),
        {"username": member.username, "password": "a-long-enough-pass-42"},
        follow=True,
    )

    # then
    assert response.redirect_chain[-1][0] == PAGE
    assert response.status_code == 200 and b"Label exports" in response.content


def test_export_page_offers_the_labelling_projects_as_a_filter(client):
    # given: two projects, the newer one last created
    from labelling.tests.factories import ProjectFactory

    older = ProjectFactory(name="Garage archive")
    newer = ProjectFactory(name="New market <NL>")
    client.force_login(DataTeamFactory())

    # when
    response = client.get(PAGE)

    # then: "Claims" first (no filter), then the projects newest first, names escaped
    html = response.content.decode()
    select = re.search(r'<select id="project" name="project"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\d*)">([^<]*)</option>', select.group(1))
    assert options == [
        ("", "Claims"),
        (str(newer.pk), "Labelling project: New market &lt;NL&gt;"),
        (str(older.pk), "Labelling project: Garage archive"),
    ]


def test_export_page_without_labelling_projects_has_no_project_filter(client):
    client.force_login(DataTeamFactory())

    response = client.get(PAGE)

    assert response.status_code == 200 and b'name="project"' not in response.content


def test_export_projects_lists_only_the_projects_a_user_may_see():
    # given: a labeller of one project, and another project they are not in
    from claims.tests.factories import UserFactory
    from labelling.models import ProjectMember
    from labelling.tests.factories import MemberFactory, ProjectFactory
    from learning.export_selectors import export_projects

    theirs, other = ProjectFactory(), ProjectFactory()
    labeller = UserFactory()
    MemberFactory(project=theirs, user=labeller, role=ProjectMember.Role.LABELLER)

    # when / then: the data team sees every project, the labeller only theirs
    assert [p["id"] for p in export_projects(user=DataTeamFactory())] == [other.pk, theirs.pk]
    assert export_projects(user=labeller) == [{"id": theirs.pk, "name": theirs.name}]
