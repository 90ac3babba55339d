"""Review to export with a real worker: the data team asks for an export over the API, a worker
process writes the zip into private storage, the API streams it back.

The shared worker fixture consumes ``claims,assessment``; the job is sent there explicitly (the
``exports`` route itself is checked in assessment/tests/test_exports.py).
"""

import hashlib
import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from assessment.tests.conftest import model_version, segmenter  # noqa: F401 - shared fixtures
from claims.tests.conftest import customer  # noqa: F401 - shared fixtures
from claims.tests.factories import DataTeamFactory
from learning import tasks
from learning.models import ExportJob
from review import labels as review_labels
from review import locks as review_locks
from review.tests.conftest import (  # noqa: F401 - shared fixtures
    adjuster,
    make_in_review_claim,
)
from review.tests.factories import DENT_BOX, region_payload
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_export_job_runs_on_a_real_worker_and_downloads(
    make_in_review_claim, adjuster, start_worker, monkeypatch
):
    # given: a reviewed photo, committed
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
    worker = start_worker()
    client = APIClient()
    client.force_authenticate(DataTeamFactory())
    monkeypatch.setattr(
        tasks.export_labels_task,
        "delay",
        lambda pk: tasks.export_labels_task.apply_async(args=[pk], queue="assessment"),
    )

    # when
    response = client.post("/api/v1/exports/", {"formats": ["coco", "csv"]}, format="json")

    # then
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    wait_for(
        lambda: ExportJob.objects.get(pk=job_id).status in ("succeeded", "failed"),
        timeout=90,
        what="the export job",
        worker=worker,
    )
    detail = client.get(f"/api/v1/exports/{job_id}/").json()
    assert detail["status"] == "succeeded", detail["error"]
    data = b"".join(client.get(detail["download_url"]).streaming_content)
    assert hashlib.sha256(data).hexdigest() == detail["sha256"]
    coco = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("coco/instances.json"))
    assert [i["photo_id"] for i in coco["images"]] == [str(photo.pk)]
    assert coco["annotations"][0]["attributes"]["severity"] == "moderate"
