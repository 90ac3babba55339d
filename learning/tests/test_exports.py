"""Label exports from the database: round trips of every format against the stored labels,
filters, incremental and reproducible exports, the job, the API's permissions, the command."""

import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from pycocotools.coco import COCO

from claims.tests.conftest import customer_client, data_team_member  # noqa: F401
from claims.tests.factories import DataTeamFactory
from config.errors import ApplicationError
from learning import exports, tasks
from learning.models import ExportJob
from learning.splits import split_for_claim
from ml import label_export as lx
from ml.coco import Region as MaskRegion
from ml.coco import rle_to_mask, semantic_mask
from ml.labels import LabelMap
from review import labels as review_labels
from review import locks as review_locks
from review.models import LabelRegion, OverrideLedgerEntry
from review.tests.conftest import (  # noqa: F401 - shared fixtures
    adjuster,
    adjuster_client,
    make_in_review_claim,
)
from review.tests.factories import DENT_BOX, region_payload

IMAGE_W, IMAGE_H = 96, 64  # PhotoFactory's working copy; the mask grid is 64 x 48
GROWN = (DENT_BOX[0], DENT_BOX[1], DENT_BOX[2] + 10, DENT_BOX[3])


@pytest.fixture
def reviewed(make_in_review_claim, adjuster):
    """A claim of two photos: the first reviewed (dent grown and relabelled scratch, a crack
    added, the scratch deleted), the second only predicted."""
    claim = make_in_review_claim(photos=2)
    review_locks.review_lock_take(claim=claim, adjuster=adjuster)
    photos = list(claim.photos.order_by("created_at"))
    review_labels.photo_labels_save(
        claim=claim,
        photo=photos[0],
        adjuster=adjuster,
        base_version=0,
        regions=[
            region_payload("scratch", "severe", 0, GROWN),
            region_payload("crack", "minor", None, (0, 40, 5, 5)),
        ],
    )
    return claim, photos


def _run(user, formats=lx.FORMATS, polygons=True, **query) -> ExportJob:
    job = exports.export_job_create(
        user=user, formats=formats, query=exports.ExportQuery(**query), polygons=polygons
    )
    tasks.export_labels_task(job.pk)  # the task body, run here (no broker in unit tests)
    job.refresh_from_db()
    return job


def _zip(job: ExportJob) -> zipfile.ZipFile:
    with exports.export_job_open(job=job) as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


def _stored(region) -> np.ndarray:
    """A stored mask-grid RLE as exported: nearest-neighbour at the working copy's size."""
    return lx.upsample_mask(rle_to_mask(region.mask_rle), IMAGE_H, IMAGE_W)


def test_export_job_round_trips_every_format_against_the_stored_labels(
    reviewed, data_team_member, tmp_path
):
    # given: one reviewed photo
    claim, photos = reviewed
    stored = list(LabelRegion.objects.filter(labels__photo=photos[0]).order_by("index"))

    # when
    job = _run(data_team_member)

    # then: COCO read back by pycocotools equals the stored masks, pixel for pixel
    assert job.status == ExportJob.Status.SUCCEEDED and job.counts["images"] == 1
    zf = _zip(job)
    zf.extract("coco/instances.json", tmp_path)
    coco = COCO(str(tmp_path / "coco" / "instances.json"))
    (img,) = coco.loadImgs(coco.getImgIds())
    assert (img["width"], img["height"]) == (IMAGE_W, IMAGE_H)
    assert img["photo_id"] == str(photos[0].pk) and img["split"] == split_for_claim(claim.pk)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
    assert [a["category_id"] for a in anns] == [2, 3]  # scratch, crack in the label map
    # each category: the code as its name, the exported label map's display name beside it
    label_map = LabelMap.from_dict(json.loads(zf.read("manifest.json"))["label_map"])
    assert {i: (c["name"], c["display_name"]) for i, c in coco.cats.items()} == {
        c.id: (c.name, c.display_name) for c in label_map.classes
    }
    for ann, region in zip(anns, stored, strict=True):
        assert np.array_equal(coco.annToMask(ann).astype(bool), _stored(region))
        assert ann["attributes"]["source"] == "human"
        assert ann["attributes"]["severity"] == region.severity
        assert ann["attributes"]["model_version"] == "test-v1"
        assert ann["attributes"]["reviewer"] == f"adjuster-{region.labels.adjuster_id}"

    # VOC: the class PNG is the class map of the stored masks
    key = str(photos[0].pk)
    values = np.array(Image.open(io.BytesIO(zf.read(f"voc/SegmentationClass/{key}.png"))))
    expected = semantic_mask(
        [MaskRegion(class_id=r.label_id, mask=_stored(r)) for r in stored], IMAGE_H, IMAGE_W
    )
    assert np.array_equal(values, expected) and values.any()

    # YOLO: each polygon rasterised back covers its stored mask (IoU > 0.9)
    split = split_for_claim(claim.pk)
    rows = zf.read(f"labels/{split}/{key}.txt").decode().splitlines()
    assert len(rows) == 2
    for row, region in zip(rows, stored, strict=True):
        cls, *coords = row.split()
        assert int(cls) == region.label_id - 1
        back = lx.yolo_rasterise([list(map(float, coords))], IMAGE_H, IMAGE_W)
        mask = _stored(region)
        assert (back & mask).sum() / (back | mask).sum() > 0.9

    # Label Studio: brush RLE decodes to the stored masks exactly; predictions beside labels
    (task,) = json.loads(zf.read("label_studio/tasks.json"))
    human = [r for r in task["annotations"][0]["result"] if r["type"] == "brushlabels"]
    for result, region in zip(human, stored, strict=True):
        assert np.array_equal(
            lx.ls_rle_to_mask(result["value"]["rle"], IMAGE_H, IMAGE_W), _stored(region)
        )
    assert task["predictions"][0]["model_version"] == "test-v1"
    assert [r["score"] for r in task["predictions"][0]["result"] if "score" in r] == [0.5, 0.6]

    # CSV: one row per override ledger entry of the photo
    ledger = list(csv.DictReader(io.StringIO(zf.read("csv/override_ledger.csv").decode())))
    entries = OverrideLedgerEntry.objects.filter(photo=photos[0])
    assert len(ledger) == entries.count() == job.counts["ledger_entries"]
    assert sorted(r["action"] for r in ledger) == sorted(e.action for e in entries)

    # images: the working copy's bytes, without EXIF or GPS
    data = zf.read(f"images/{split}/{key}.jpg")
    with photos[0].working.open("rb") as handle:
        assert data == handle.read()
    image = Image.open(io.BytesIO(data))
    assert "exif" not in image.info and not image.getexif() and b"Exif" not in data[:4096]
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["query"]["include_predictions"] is False and "created" not in str(manifest)


def test_export_is_reproducible_byte_for_byte(reviewed, data_team_member):
    first = _run(data_team_member, include_predictions=True)
    second = _run(data_team_member, include_predictions=True)

    assert first.sha256 == second.sha256 and first.size_bytes == second.size_bytes
    out = io.BytesIO()
    exports.export_write(
        target=out,
        query=exports.ExportQuery(include_predictions=True),
        formats=lx.FORMATS,
        polygons=True,
    )
    assert hashlib.sha256(out.getvalue()).hexdigest() == first.sha256


def test_export_incremental_holds_only_photos_changed_since(reviewed, data_team_member, adjuster):
    claim, photos = reviewed
    first = _run(data_team_member, include_predictions=True)
    assert first.counts["images"] == 2

    unchanged = _run(data_team_member, include_predictions=True, since_export=first.pk)
    assert unchanged.counts["images"] == 0

    review_labels.photo_labels_save(
        claim=claim,
        photo=photos[0],
        adjuster=adjuster,
        base_version=1,
        regions=[region_payload("dent", "minor", 0, DENT_BOX)],
        now=timezone.now() + timedelta(seconds=1),
    )
    changed = _run(data_team_member, include_predictions=True, since_export=first.pk)

    assert changed.counts["images"] == 1 and changed.counts["reviewed_images"] == 1
    assert changed.since_export_id == first.pk
    (task,) = json.loads(_zip(changed).read("label_studio/tasks.json"))
    assert task["data"]["photo_id"] == str(photos[0].pk) and task["data"]["labels_version"] == 2


def test_export_filters_select_photos(reviewed, data_team_member):
    claim, _ = reviewed

    def count(**query) -> int:
        found = exports.export_candidates(query=exports.ExportQuery(**query))
        return len(found)

    assert count() == 1  # reviewed only by default
    assert count(include_predictions=True) == 2
    assert count(include_predictions=True, damage_types=("crack",)) == 1  # the reviewed photo
    assert count(include_predictions=True, damage_types=("dent",)) == 1  # the predicted one
    assert count(include_predictions=True, model_version="test-v1") == 2
    assert count(include_predictions=True, split=split_for_claim(claim.pk)) == 2
    other = "train" if split_for_claim(claim.pk) == "eval" else "eval"
    assert count(include_predictions=True, split=other) == 0
    today = timezone.now().date()
    assert count(include_predictions=True, date_from=today, date_to=today) == 2
    assert count(include_predictions=True, date_to=today - timedelta(days=1)) == 0
    with pytest.raises(ApplicationError, match="Unknown model version"):
        exports.export_query_validate(query=exports.ExportQuery(model_version="nope"))
    with pytest.raises(ApplicationError, match="Unknown damage type"):
        exports.export_query_validate(query=exports.ExportQuery(damage_types=("rust",)))


def test_export_of_predictions_labels_unreviewed_photos_with_the_model(reviewed, data_team_member):
    _, photos = reviewed
    job = _run(data_team_member, formats=["csv"], include_predictions=True)

    rows = list(csv.DictReader(io.StringIO(_zip(job).read("csv/regions.csv").decode())))

    by_photo = {r["photo_id"]: r for r in rows if r["photo_id"] == str(photos[1].pk)}
    assert by_photo and all(r["source"] == "model" for r in rows if r["reviewed"] == "0")
    assert {r["source"] for r in rows if r["reviewed"] == "1"} == {"human"}


def test_export_keeps_accepted_model_regions_apart_from_edited_ones(
    make_in_review_claim, adjuster, data_team_member, tmp_path
):
    # given: a photo accepted with Ctrl+Enter (the model's 0.5 dent and 0.6 scratch unchanged)
    # after the adjuster re-typed the scratch as a crack
    from review.tests.factories import SCRATCH_BOX

    claim = make_in_review_claim(photos=1)
    review_locks.review_lock_take(claim=claim, adjuster=adjuster)
    photo = claim.photos.get()
    review_labels.photo_labels_save(
        claim=claim,
        photo=photo,
        adjuster=adjuster,
        base_version=0,
        regions=[
            region_payload("dent", "minor", 0, DENT_BOX),
            region_payload("crack", "moderate", 1, SCRATCH_BOX),
        ],
    )

    # when
    zf = _zip(_run(data_team_member, formats=["coco", "labelstudio", "csv"]))

    # then: every format says which region a person only let through, with the model's score
    zf.extract("coco/instances.json", tmp_path)
    coco = COCO(str(tmp_path / "coco" / "instances.json"))
    anns = coco.loadAnns(coco.getAnnIds())
    assert [(a["attributes"]["source"], a["attributes"]["score"]) for a in anns] == [
        ("accepted", 0.5),
        ("human", None),
    ]
    rows = list(csv.DictReader(io.StringIO(zf.read("csv/regions.csv").decode())))
    assert [(r["source"], r["score"]) for r in rows] == [("accepted", "0.5"), ("human", "")]
    (task,) = json.loads(zf.read("label_studio/tasks.json"))
    result = [r for r in task["annotations"][0]["result"] if r["type"] == "brushlabels"]
    assert [r["origin"] for r in result] == ["prediction", "prediction-changed"]
    ledger = list(csv.DictReader(io.StringIO(zf.read("csv/override_ledger.csv").decode())))
    assert sorted(r["action"] for r in ledger) == ["accepted", "relabelled"]


def test_export_carries_the_part_of_each_reviewed_region(
    make_in_review_claim, adjuster, data_team_member, tmp_path
):
    # given: the model put its dent on the front bumper (its scratch on no part); the adjuster
    # grew the dent (source 0), drew a crack of their own and put it on the hood, and drew a
    # scratch on no part
    from assessment.models import Region

    claim = make_in_review_claim(photos=1)
    photo = claim.photos.get()
    Region.objects.filter(assessment__photo=photo, index=0).update(part="front_bumper")
    review_locks.review_lock_take(claim=claim, adjuster=adjuster)
    review_labels.photo_labels_save(
        claim=claim,
        photo=photo,
        adjuster=adjuster,
        base_version=0,
        regions=[
            region_payload("dent", "minor", 0, GROWN),
            region_payload("crack", "minor", None, (0, 40, 5, 5), part="hood"),
            region_payload("scratch", "minor", None, (20, 10, 8, 4)),
        ],
    )

    # when
    zf = _zip(_run(data_team_member, formats=["coco", "labelstudio", "csv"]))

    # then: COCO attribute, CSV column and Label Studio choice name the model region's part
    # for the grown dent and the adjuster's choice for the crack
    zf.extract("coco/instances.json", tmp_path)
    coco = COCO(str(tmp_path / "coco" / "instances.json"))
    anns = coco.loadAnns(coco.getAnnIds())
    assert [a["attributes"]["part"] for a in anns] == ["front_bumper", "hood", None]
    rows = list(csv.DictReader(io.StringIO(zf.read("csv/regions.csv").decode())))
    assert [r["part"] for r in rows] == ["front_bumper", "hood", ""]
    assert [r["part_name"] for r in rows] == ["Front bumper", "Hood", ""]
    assert [r["label_name"] for r in rows] == ["Dent", "Crack", "Scratch"]
    (task,) = json.loads(zf.read("label_studio/tasks.json"))
    parts = [
        (r["id"], r["value"]["choices"])
        for r in task["annotations"][0]["result"]
        if r["from_name"] == "part"
    ]
    assert parts == [("h0", ["front_bumper"]), ("h1", ["hood"])]
    config = zf.read("label_studio/label_config.xml").decode()
    assert '<Choice value="front_bumper" html="Front bumper"/>' in config
    assert '<Choice value="hood" html="Hood"/>' in config
    # and the override ledger names the part of each entry where it is known
    ledger = list(csv.DictReader(io.StringIO(zf.read("csv/override_ledger.csv").decode())))
    by_action = {r["action"]: r for r in ledger if r["action"] != "added"}
    added = sorted((r["to_label"], r["to_part"]) for r in ledger if r["action"] == "added")
    assert added == [("crack", "hood"), ("scratch", "")]
    assert {a: (r["from_part"], r["to_part"]) for a, r in by_action.items()} == {
        "reshaped": ("front_bumper", "front_bumper"),
        "deleted": ("", ""),  # the model's scratch, on no part
    }


def test_export_api_refuses_customers_and_adjusters(customer_client, adjuster_client):
    for client in (customer_client, adjuster_client):
        assert client.post("/api/v1/exports/", {}, format="json").status_code == 403
        assert client.get("/api/v1/exports/").status_code == 403
        assert client.get("/api/v1/exports/1/download/").status_code == 403


def test_export_api_starts_lists_and_downloads_a_job(
    reviewed, data_team_member, api_client_for, monkeypatch, django_capture_on_commit_callbacks
):
    client = api_client_for(data_team_member)
    sent = []
    monkeypatch.setattr(tasks.export_labels_task, "delay", lambda pk: sent.append(pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/exports/", {"formats": ["coco", "csv"], "split": None}, format="json"
        )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["formats"] == ["coco", "csv"]
    assert sent == [body["id"]]
    assert client.get(f"/api/v1/exports/{body['id']}/download/").status_code == 409
    tasks.export_labels_task(body["id"])
    detail = client.get(f"/api/v1/exports/{body['id']}/").json()
    assert detail["status"] == "succeeded" and detail["counts"]["images"] == 1
    download = client.get(detail["download_url"])
    assert download.status_code == 200 and download.streaming
    assert download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    assert hashlib.sha256(data).hexdigest() == detail["sha256"]
    assert "coco/instances.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert [j["id"] for j in client.get("/api/v1/exports/").json()["results"]] == [body["id"]]
    stranger = api_client_for(DataTeamFactory())
    assert stranger.get(f"/api/v1/exports/{body['id']}/").status_code == 404
    assert stranger.get("/api/v1/exports/").json()["count"] == 0
    bad = client.post("/api/v1/exports/", {"formats": ["tfrecord"]}, format="json")
    assert bad.status_code == 400
    foreign = stranger.post("/api/v1/exports/", {"since_export": body["id"]}, format="json")
    assert foreign.json()["error"]["code"] == "invalid_since_export"


def test_export_labels_command_writes_the_same_bytes_as_a_job(reviewed, data_team_member, tmp_path):
    out = tmp_path / "labels.zip"

    call_command("export_labels", "--format", "coco", "--format", "yolo", "--out", str(out))

    job = _run(data_team_member, formats=["coco", "yolo"], polygons=False)
    names = zipfile.ZipFile(out).namelist()
    assert "coco/instances.json" in names and "data.yaml" in names
    assert not any(n.startswith(("voc/", "csv/", "label_studio/")) for n in names)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == job.sha256


def test_export_task_is_routed_to_the_exports_queue():
    from config.celery_app import app

    route = app.amqp.router.route({}, "learning.export_labels")

    assert route["queue"].name == "exports"


# --- lost files ---------------------------------------------------------------------------


def test_export_rebuilds_a_missing_working_copy_from_the_original(reviewed, data_team_member):
    _, photos = reviewed
    photos[0].working.storage.delete(photos[0].working.name)

    job = _run(data_team_member, formats=["coco"])

    assert job.status == ExportJob.Status.SUCCEEDED, job.error
    assert job.counts["images"] == 1 and job.counts["skipped_photos"] == 0
    assert photos[0].working.storage.exists(photos[0].working.name)
    image_names = [n for n in _zip(job).namelist() if n.startswith("images/")]
    assert len(image_names) == 1


def test_export_skips_a_photo_whose_files_are_all_lost(reviewed, data_team_member):
    _, photos = reviewed
    for field in (photos[0].working, photos[0].original):
        field.storage.delete(field.name)

    job = _run(data_team_member, formats=["coco"])

    assert job.status == ExportJob.Status.SUCCEEDED, job.error
    assert job.counts["images"] == 0 and job.counts["skipped_photos"] == 1


def test_export_failure_shows_no_server_path(
    data_team_member, model_version, monkeypatch, settings
):
    secret_path = f"{settings.MEDIA_ROOT}/working/x/y.jpg"

    def broken(**kwargs):
        raise FileNotFoundError(2, "No such file or directory", secret_path)

    monkeypatch.setattr(exports, "export_write", broken)
    job = exports.export_job_create(
        user=data_team_member, formats=["coco"], query=exports.ExportQuery()
    )

    with pytest.raises(FileNotFoundError):
        tasks.export_labels_task(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert job.error == exports.ERR_EXPORT_FAILED.format(kind="FileNotFoundError")
    assert "/" not in job.error
