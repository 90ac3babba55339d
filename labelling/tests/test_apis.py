"""The labelling API: permissions (customers 403, non-members 404), items, labels, imports."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assessment.tests.conftest import region
from claims.tests.factories import AdjusterFactory, jpeg_bytes, pdf_bytes
from labelling import services
from labelling.models import ItemLabels, LabellingProject, ProjectItem
from labelling.tests.factories import ProjectFactory, item_make, region_in

S = ProjectItem.Status


def _url(name, **kwargs):
    return reverse(name, kwargs=kwargs)


@pytest.fixture
def client_for(api_client_for):
    return api_client_for


def test_projects_api_refuses_customers_and_anonymous(client_for, customer, project):
    from rest_framework.test import APIClient

    assert client_for(customer).get(_url("api-labelling-projects")).status_code == 403
    assert APIClient().get(_url("api-labelling-projects")).status_code == 401
    detail = _url("api-labelling-project", project_id=project.pk)
    assert client_for(customer).get(detail).status_code == 403


def test_projects_api_data_team_creates_with_the_active_label_map(
    client_for, data_team_member, model_version
):
    response = client_for(data_team_member).post(
        _url("api-labelling-projects"),
        {"name": "Garage", "instructions": "Dents only", "qa_share": 0.5},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label_map"] == model_version.label_map
    assert (body["qa_share"], body["scratch_share"]) == (0.5, 0.1)
    assert body["my_roles"] == ["labeller", "reviewer"]


@pytest.mark.parametrize("label_map", [[1, 2], {"classes": "dent"}, "dent"])
def test_projects_api_refuses_a_label_map_that_is_not_one(
    client_for, data_team_member, model_version, label_map
):
    response = client_for(data_team_member).post(
        _url("api-labelling-projects"), {"name": "Garage", "label_map": label_map}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_label_map"


def test_projects_api_a_labeller_cannot_create(client_for, labeller):
    response = client_for(labeller).post(
        _url("api-labelling-projects"), {"name": "Mine"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert LabellingProject.objects.count() == 1


def test_projects_api_members_see_only_their_projects(
    client_for, labeller, project, data_team_member
):
    other = ProjectFactory(created_by=data_team_member)
    client = client_for(labeller)

    listed = client.get(_url("api-labelling-projects")).json()["results"]
    assert [p["id"] for p in listed] == [project.pk]
    assert listed[0]["my_roles"] == ["labeller"]
    assert client.get(_url("api-labelling-project", project_id=other.pk)).status_code == 404
    assert client.get(_url("api-labelling-items", project_id=other.pk)).status_code == 404


def test_projects_api_an_adjuster_who_is_no_member_gets_404(client_for, project):
    response = client_for(AdjusterFactory()).get(
        _url("api-labelling-project", project_id=project.pk)
    )

    assert response.status_code == 404


def test_members_api_add_and_remove(client_for, data_team_member, project, outsider):
    client = client_for(data_team_member)
    url = _url("api-labelling-members", project_id=project.pk)

    added = client.post(url, {"username": "OTTO", "role": "reviewer"}, format="json")
    assert added.status_code == 201, added.content
    assert [m["username"] for m in client.get(url).json()] == ["otto"]
    removed = client.delete(
        _url("api-labelling-member", project_id=project.pk, user_id=outsider.pk, role="reviewer")
    )
    assert removed.status_code == 204
    assert client.get(url).json() == []


def test_members_api_a_labeller_cannot_add(client_for, labeller, project, outsider):
    response = client_for(labeller).post(
        _url("api-labelling-members", project_id=project.pk),
        {"username": "otto", "role": "labeller"},
        format="json",
    )

    assert response.status_code == 403


def test_items_api_lists_with_a_status_filter(client_for, labeller, project):
    a = item_make(project, data=jpeg_bytes(seed=61))
    item_make(project, data=jpeg_bytes(seed=62))
    ProjectItem.objects.filter(pk=a.pk).update(status=S.PRELABELLED)
    url = _url("api-labelling-items", project_id=project.pk)

    everything = client_for(labeller).get(url).json()
    ready = client_for(labeller).get(url, {"status": "prelabelled"}).json()

    assert everything["count"] == 2
    assert [i["id"] for i in ready["results"]] == [str(a.pk)]


def test_item_detail_api_hides_prelabels_on_a_from_scratch_item(
    client_for, labeller, project, segmenter
):
    segmenter.regions = [region("dent", 0.8)]
    shown = item_make(project, data=jpeg_bytes(seed=63))
    hidden = item_make(project, data=jpeg_bytes(seed=64))
    ProjectItem.objects.filter(pk=hidden.pk).update(show_prelabels=False)
    for item in (shown, hidden):
        services.item_prelabel(item_id=item.pk)
    client = client_for(labeller)

    with_pre = client.get(_url("api-labelling-item", project_id=project.pk, item_id=shown.pk))
    without = client.get(_url("api-labelling-item", project_id=project.pk, item_id=hidden.pk))

    assert with_pre.status_code == 200
    assert [r["label"] for r in with_pre.json()["prediction"]["regions"]] == ["dent"]
    assert without.json()["prediction"] is None
    assert without.json()["show_prelabels"] is False


def test_item_image_api_serves_the_working_copy_to_members_only(
    client_for, labeller, outsider, project
):
    item = item_make(project)
    url = _url("api-labelling-item-image", project_id=project.pk, item_id=item.pk)

    response = client_for(labeller).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    assert client_for(outsider).get(url).status_code == 404


def test_item_labels_api_saves_then_refuses_a_stale_version(client_for, labeller, project):
    item = item_make(project)
    url = _url("api-labelling-item-labels", project_id=project.pk, item_id=item.pk)
    body = {"base_version": 0, "regions": [region_in(item)], "active_ms": 4000}
    client = client_for(labeller)

    saved = client.put(url, body, format="json")
    stale = client.put(url, body, format="json")

    assert saved.status_code == 200, saved.content
    assert saved.json()["version"] == 1
    assert saved.json()["regions"][0]["origin"] == "added"
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_labels"
    assert ItemLabels.objects.get(item=item).version == 1


def test_item_labels_api_refuses_an_outsider_with_404(client_for, outsider, project):
    item = item_make(project)

    response = client_for(outsider).put(
        _url("api-labelling-item-labels", project_id=project.pk, item_id=item.pk),
        {"base_version": 0, "regions": []},
        format="json",
    )

    assert response.status_code == 404


def test_item_flag_skip_and_qa_api(client_for, labeller, reviewer, project):
    project.qa_share = 1.0
    project.save()
    a, b = (
        item_make(project, data=jpeg_bytes(seed=65)),
        item_make(project, data=jpeg_bytes(seed=66)),
    )
    lab, rev = client_for(labeller), client_for(reviewer)

    flagged = lab.post(
        _url("api-labelling-item-flag", project_id=project.pk, item_id=a.pk),
        {"note": "is this rust?"},
        format="json",
    )
    skipped = lab.post(_url("api-labelling-item-skip", project_id=project.pk, item_id=b.pk))
    lab.put(
        _url("api-labelling-item-labels", project_id=project.pk, item_id=a.pk),
        {"base_version": 0, "regions": [region_in(a)], "submit": True},
        format="json",
    )
    qa = rev.post(
        _url("api-labelling-item-qa", project_id=project.pk, item_id=a.pk),
        {"outcome": "sent_back", "note": "the edge is loose"},
        format="json",
    )

    assert flagged.json()["flagged"] is True
    assert skipped.json()["status"] == "skipped"
    assert qa.status_code == 201, qa.content
    assert qa.json()["mean_iou"] == 1.0
    a.refresh_from_db()
    assert a.status == S.SENT_BACK


def test_item_qa_api_refuses_a_labeller_who_is_no_reviewer(client_for, labeller, project):
    project.qa_share = 1.0
    project.save()
    item = item_make(project)
    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[], submit=True)

    response = client_for(labeller).post(
        _url("api-labelling-item-qa", project_id=project.pk, item_id=item.pk),
        {"outcome": "accepted"},
        format="json",
    )

    assert response.status_code == 403


def test_import_photo_api_created_duplicate_and_refused(client_for, data_team_member, project):
    client = client_for(data_team_member)
    url = _url("api-labelling-import-photo", project_id=project.pk)
    data = jpeg_bytes(seed=67)

    created = client.post(url, {"file": SimpleUploadedFile("a.jpg", data)}, format="multipart")
    again = client.post(url, {"file": SimpleUploadedFile("b.jpg", data)}, format="multipart")
    pdf = client.post(url, {"file": SimpleUploadedFile("c.jpg", pdf_bytes())}, format="multipart")

    assert created.status_code == 201, created.content
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    assert pdf.status_code == 415
    assert ProjectItem.objects.filter(project=project).count() == 1


def test_import_photo_api_refuses_a_labeller(client_for, labeller, project):
    response = client_for(labeller).post(
        _url("api-labelling-import-photo", project_id=project.pk),
        {"file": SimpleUploadedFile("a.jpg", jpeg_bytes())},
        format="multipart",
    )

    assert response.status_code == 403
    assert not ProjectItem.objects.exists()


def test_import_zip_api_returns_the_summary(client_for, data_team_member, project):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jpg", jpeg_bytes(seed=68))
        zf.writestr("../b.jpg", jpeg_bytes(seed=69))
    response = client_for(data_team_member).post(
        _url("api-labelling-import-zip", project_id=project.pk),
        {"file": SimpleUploadedFile("batch.zip", archive.getvalue())},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    assert response.json()["counts"] == {"imported": 1, "duplicates": 0, "refused": 1}
    assert response.json()["refused"][0]["code"] == "unsafe_path"


def test_import_labels_api_coco(client_for, data_team_member, project):
    item = item_make(project, name="g.jpg")
    coco = {
        "images": [{"id": 1, "file_name": "g.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 1, "name": "dent"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 8, 1, 8, 8, 1, 8]]}
        ],
    }

    response = client_for(data_team_member).post(
        _url("api-labelling-import-labels", project_id=project.pk),
        {"file": SimpleUploadedFile("l.json", json.dumps(coco).encode()), "format": "coco"},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    assert response.json()["counts"]["imported"] == 1
    assert ItemLabels.objects.get(item=item).regions[0]["label"] == "dent"


def test_progress_api_counts_by_status(client_for, labeller, project):
    a = item_make(project, data=jpeg_bytes(seed=70))
    item_make(project, data=jpeg_bytes(seed=71))
    ProjectItem.objects.filter(pk=a.pk).update(status=S.ACCEPTED)

    body = client_for(labeller).get(_url("api-labelling-progress", project_id=project.pk)).json()

    assert body["total"] == 2
    assert body["by_status"]["accepted"] == 1
    assert body["by_status"]["prelabelling"] == 1
    assert body["prelabelling_done"] is False
