"""Pre-labelling with a real worker: a zip imported through the API is pre-labelled by the
active model on the ``labelling`` queue, exactly once per item, and the progress says so."""

import io
import zipfile

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from PIL import Image
from rest_framework.test import APIClient

from labelling.models import ItemPrediction, ProjectItem
from labelling.services import project_prelabel
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PHOTOS = 3


@pytest.fixture
def active_model(tmp_path_factory):
    """The bundled model when it is there, else a tiny exported one (as the assessment
    worker tests do): the pipeline is the same either way."""
    from assessment.model_versions import model_version_register
    from ml.inference import DEFAULT_MODEL_DIR

    if (DEFAULT_MODEL_DIR / "model.json").exists():
        return model_version_register(model_dir=DEFAULT_MODEL_DIR, activate=True)
    from ml.tests.model_fixtures import export_tiny

    return model_version_register(
        model_dir=export_tiny(tmp_path_factory.mktemp("tiny-model")), activate=True
    )


def _photo(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:600, 0:800]
    base = 120 + 50 * np.sin(x / 90.0 + seed) * np.cos(y / 70.0)
    pixels = np.stack([base, base * 0.8, base * 0.6], -1) + rng.normal(0, 12, (600, 800, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
    return out.getvalue()


def _data_team_client() -> APIClient:
    user = get_user_model().objects.create_user("dana", password="not-used-pass-123")
    user.groups.add(Group.objects.get_or_create(name="data_team")[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_labelling_zip_import_is_prelabelled_by_a_real_worker(start_worker, active_model):
    # given a project and a zip of photos, one of them twice
    client = _data_team_client()
    project = client.post("/api/v1/labelling/projects/", {"name": "Archive"}, format="json")
    assert project.status_code == 201, project.content
    project_id = project.json()["id"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(PHOTOS):
            zf.writestr(f"batch/{i}.jpg", _photo(i))
        zf.writestr("batch/again.jpg", _photo(0))
    archive.seek(0)
    archive.name = "batch.zip"
    worker = start_worker()

    # when it is imported through the API
    summary = client.post(
        f"/api/v1/labelling/projects/{project_id}/import/zip/",
        {"file": archive},
        format="multipart",
    )

    # then every photo is pre-labelled once by the active model
    assert summary.status_code == 200, summary.content
    assert summary.json()["counts"] == {"imported": PHOTOS, "duplicates": 1, "refused": 0}

    def done() -> bool:
        return (
            ProjectItem.objects.filter(
                project_id=project_id, status=ProjectItem.Status.PRELABELLED
            ).count()
            == PHOTOS
        )

    wait_for(done, timeout=120, what="every item pre-labelled", worker=worker)
    predictions = ItemPrediction.objects.filter(item__project_id=project_id)
    assert predictions.count() == PHOTOS
    assert {p.model_version_id for p in predictions} == {active_model.pk}
    for prediction in predictions:
        assert (prediction.mask_width, prediction.mask_height) == (
            prediction.item.mask_width,
            prediction.item.mask_height,
        )
        assert 0.0 <= prediction.photo_confidence <= 1.0
        assert all(
            r["mask_rle"]["size"] == [prediction.mask_height, prediction.mask_width]
            for r in prediction.regions
        )
    progress = client.get(f"/api/v1/labelling/projects/{project_id}/progress/").json()
    assert progress["by_status"]["prelabelled"] == PHOTOS
    assert progress["prelabelling_done"] is True

    # and sending them again (a re-delivery, a lost message re-sent) changes nothing
    from labelling.models import LabellingProject

    sent = project_prelabel(
        project=LabellingProject.objects.get(pk=project_id),
        statuses=[ProjectItem.Status.PRELABELLED],
    )
    assert sent == PHOTOS
    wait_for(
        lambda: (
            "labelling.prelabel_item" in worker.output()
            and worker.output().count("succeeded") >= 2 * PHOTOS
        ),
        timeout=60,
        what="the re-sent tasks to finish",
        worker=worker,
    )
    assert ItemPrediction.objects.filter(item__project_id=project_id).count() == PHOTOS
