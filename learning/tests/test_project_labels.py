"""Labelling projects in the learning stage: final item labels become training samples (with
their source and a fixed split) and a project export holds the project's items."""

import io
import json
import zipfile

import numpy as np
import pytest

from claims.tests.factories import jpeg_bytes
from labelling import label_import, services
from labelling.models import ItemLabels, ProjectItem
from labelling.tests.conftest import (  # noqa: F401 - shared fixtures
    _media,
    labeller,
    outsider,
    prelabel_sent,
    project,
    reviewer,
)
from labelling.tests.factories import ProjectFactory, box_mask, item_make, region_in
from learning import exports, training_data
from learning.splits import EVAL, TRAIN, split_for_claim, split_for_item
from ml.coco import rle_to_mask

S = ProjectItem.Status


def _labelled(project, user, *, seed, submit=True, box=(10, 10, 60, 40), label="dent"):
    item = item_make(project, name=f"p{seed}.jpg", data=jpeg_bytes(640, 480, seed=seed))
    services.item_labels_save(
        item=item,
        user=user,
        base_version=0,
        regions=[region_in(item, label, "moderate", box=box)],
        submit=submit,
    )
    item.refresh_from_db()
    return item


def test_split_for_item_is_fixed_and_apart_from_claims():
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(400)]

    sides = [split_for_item(i) for i in ids]

    assert sides == [split_for_item(i) for i in ids]
    assert 0.1 < sides.count(EVAL) / len(sides) < 0.3
    assert sides != [split_for_claim(i) for i in ids]


def test_project_samples_hold_final_labels_only(project, labeller, reviewer):
    # given: one item accepted in QA, one labelled and not drawn for QA, one in QA, one in
    # progress
    project.qa_share = 1.0
    project.save()
    accepted = _labelled(project, labeller, seed=1)
    services.item_qa_review(item=accepted, reviewer=reviewer, outcome="accepted")
    waiting = _labelled(project, labeller, seed=2)
    project.qa_share = 0.0
    project.save()
    done = _labelled(project, labeller, seed=3)
    _labelled(project, labeller, seed=4, submit=False)

    # when
    samples = training_data.project_samples()

    # then
    assert {s.photo_id for s in samples} == {str(accepted.pk), str(done.pk)}
    assert str(waiting.pk) not in {s.photo_id for s in samples}
    for s in samples:
        assert s.source == f"labelling:{project.pk}"
        assert s.split == split_for_item(s.photo_id)
        assert s.image.shape == (accepted.mask_height, accepted.mask_width, 3)
        (region,) = s.regions
        assert region.label == "dent" and region.severity == "moderate"
        assert region.mask.sum() == 60 * 40


def test_reviewed_samples_include_project_items_by_default(project, labeller):
    project.qa_share = 0.0
    project.save()
    item = _labelled(project, labeller, seed=5)

    with_projects = training_data.reviewed_samples()
    without = training_data.reviewed_samples(include_projects=False)
    other_side = training_data.reviewed_samples(
        split=EVAL if split_for_item(item.pk) == TRAIN else TRAIN
    )

    assert [s.photo_id for s in with_projects] == [str(item.pk)]
    assert without == [] and other_side == []


def test_sample_items_and_snapshot_record_the_source(project, labeller, model_version):
    from ml.labels import LabelMap

    project.qa_share = 0.0
    project.save()
    item = _labelled(project, labeller, seed=6)
    samples = training_data.project_samples()

    (seg,) = training_data.sample_items(samples, LabelMap.from_dict(model_version.label_map))
    described = training_data.snapshot_describe(samples, {})

    assert seg.source == f"labelling:{project.pk}"
    assert (seg.mask == 1).sum() == 60 * 40  # dent is class 1
    rows = described["samples"] + described["eval_samples"]
    assert rows == [
        {"photo": str(item.pk), "labels_version": 1, "source": f"labelling:{project.pk}"}
        | ({"claim": ""} if samples[0].split == TRAIN else {})
    ]


def test_reviewed_since_counts_final_project_labels(project, labeller, reviewer):
    import datetime as dt

    from django.utils import timezone

    from learning.runs import reviewed_since

    project.qa_share = 1.0
    project.save()
    item = _labelled(project, labeller, seed=12)
    before = reviewed_since(None)
    cutoff = timezone.now() - dt.timedelta(seconds=1)

    services.item_qa_review(item=item, reviewer=reviewer, outcome="accepted")

    assert before == 0  # in QA: not final yet
    assert reviewed_since(None) == 1
    assert reviewed_since(cutoff) == 1
    assert reviewed_since(timezone.now() + dt.timedelta(seconds=1)) == 0


def _export(query, formats=("coco", "labelstudio")):
    out = io.BytesIO()
    counts = exports.export_write(target=out, query=query, formats=list(formats))
    return counts, zipfile.ZipFile(out)


def test_export_project_filter_holds_the_projects_items_only(
    project, labeller, data_team_member, segmenter
):
    other = ProjectFactory(created_by=data_team_member, label_map=project.label_map)
    mine = _labelled(project, labeller, seed=7)
    item_make(other, data=jpeg_bytes(seed=8))

    counts, archive = _export(exports.ExportQuery(project=project.pk))

    assert counts["images"] == 1
    coco = json.loads(archive.read("coco/instances.json"))
    (image,) = coco["images"]
    assert image["item_id"] == str(mine.pk) and image["project_id"] == project.pk
    assert image["file_name"] == f"images/{split_for_item(mine.pk)}/{mine.pk}.jpg"
    assert (image["width"], image["height"]) == (mine.working_width, mine.working_height)
    (ann,) = coco["annotations"]
    assert ann["attributes"]["source"] == "human"
    assert ann["attributes"]["reviewer"] == f"labeller-{labeller.pk}"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["query"]["project"] == project.pk


def test_export_project_filter_with_predictions_adds_unlabelled_items(project, labeller, segmenter):
    from assessment.tests.conftest import region

    segmenter.regions = [region("scratch", 0.7)]
    _labelled(project, labeller, seed=9)
    only_predicted = item_make(project, data=jpeg_bytes(seed=10))
    services.item_prelabel(item_id=only_predicted.pk)

    labelled_only, _ = _export(exports.ExportQuery(project=project.pk))
    both, archive = _export(exports.ExportQuery(project=project.pk, include_predictions=True))

    assert (labelled_only["images"], both["images"]) == (1, 2)
    tasks = json.loads(archive.read("label_studio/tasks.json"))
    by_item = {t["data"]["item_id"]: t for t in tasks}
    assert "annotations" not in by_item[str(only_predicted.pk)]
    assert by_item[str(only_predicted.pk)]["predictions"][0]["result"][0]["value"][
        "brushlabels"
    ] == ["scratch"]


def test_export_query_project_keeps_claim_exports_bytes():
    assert "project" not in exports.ExportQuery().to_dict()
    query = exports.ExportQuery(project=3)
    assert exports.ExportQuery.from_dict(query.to_dict()) == query


def test_export_unknown_project_is_refused(db):
    from config.errors import ApplicationError

    with pytest.raises(ApplicationError) as exc:
        exports.export_query_validate(query=exports.ExportQuery(project=999))

    assert exc.value.code == "invalid_project"


@pytest.mark.parametrize("name", ["coco/instances.json", "label_studio/tasks.json"])
def test_project_export_imports_back_onto_the_same_items(project, labeller, name):
    # given an item whose labels came from another tool (an import may replace those)
    project.qa_share = 0.0
    project.save()
    item = item_make(project, name="q.jpg", data=jpeg_bytes(900, 600, seed=11))
    mask = box_mask(item, (30, 40, 90, 50))
    mask[60:70, 60:80] = False
    services.item_labels_import(
        item=item,
        clean=[services.CleanRegion("dent", 1, "severe", mask)],
    )
    _, archive = _export(exports.ExportQuery(project=project.pk))
    ItemLabels.objects.filter(item=item).update(regions=[])  # forget, to see them come back

    # when the project's own export is imported into the project
    summary = label_import.labels_import(
        project=project,
        fileobj=io.BytesIO(archive.read(name)),
        fmt="coco" if name.startswith("coco") else "labelstudio",
    )

    # then the item (matched by its id) has the same mask again
    assert [r["item_id"] for r in summary.imported] == [str(item.pk)]
    labels = ItemLabels.objects.get(item=item)
    (region,) = labels.regions
    assert region["severity"] == "severe"
    assert np.array_equal(rle_to_mask(region["mask_rle"]), mask)


def test_export_labels_api_accepts_a_project(api_client_for, data_team_member, project):
    client = api_client_for(data_team_member)

    response = client.post(
        "/api/v1/exports/", {"formats": ["coco"], "project": project.pk}, format="json"
    )
    refused = client.post("/api/v1/exports/", {"formats": ["coco"], "project": 999}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["filters"]["project"] == project.pk
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_project"
