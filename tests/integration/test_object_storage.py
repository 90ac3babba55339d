"""Object storage against a real S3-compatible server (moto's standalone mode, on loopback):
private, encrypted objects without URLs; the upload path; an assessment and an export by a real
worker that shares nothing on disk with the web side; model files fetched by content hash,
verified, and refused when they do not match.
"""

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from rest_framework.test import APIClient

from assessment import model_artifacts, model_registry
from assessment.model_versions import model_version_activate, model_version_register
from assessment.models import PhotoAssessment
from claims.models import Claim, Photo
from claims.tests.factories import DataTeamFactory
from config.storage import ERR_NO_URL
from learning import tasks
from learning.models import ExportJob
from tests.integration.conftest import wait_for
from tests.integration.test_assessment_worker import (
    DECIDED,
    _assert_exactly_one_of_everything,
    _client,
    _submitted_claim,
    active_model,  # noqa: F401 - shared fixture
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _tiny_model(tmp_path: Path, version: str, seed: int) -> Path:
    """A tiny exported model under a version name of its own (a retrain's output, say)."""
    from ml.tests.model_fixtures import export_tiny

    out = export_tiny(tmp_path / version, seed=seed)
    meta = json.loads((out / "model.json").read_text())
    meta["version"] = meta["model_version"] = version
    (out / "model.json").write_text(json.dumps(meta))
    return out


def test_s3_storage_objects_are_private_encrypted_and_have_no_url(s3_storage):
    # when
    name = storages["working"].save("claim-1/photo.jpg", ContentFile(b"jpeg bytes"))

    # then: under the alias's prefix, encrypted at rest, no grant beyond the owner
    key = f"working/{name}"
    assert s3_storage.keys() == [key]
    head = s3_storage.client.head_object(Bucket=s3_storage.name, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    grants = s3_storage.client.get_object_acl(Bucket=s3_storage.name, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert not [g for g in grants if g["Grantee"].get("URI") in PUBLIC_GRANTEES]
    with pytest.raises(ValueError, match="no public URL"):
        storages["working"].url(name)
    assert ERR_NO_URL.startswith("Private storage has no public URL")
    with storages["working"].open(name, "rb") as handle:
        assert handle.read() == b"jpeg bytes"
    assert storages["working"].read_bytes(name) == b"jpeg bytes"  # the workers' one-GET read
    assert storages["working"].transfer_config.use_threads is False  # one PUT, no thread pool
    assert storages["default"].transfer_config.use_threads is True  # exports: parallel parts
    with pytest.raises(FileNotFoundError):
        storages["working"].read_bytes("claim-1/missing.jpg")


def test_upload_stores_original_and_working_copy_in_the_bucket_and_streams_it(
    s3_storage, settings, tmp_path
):
    # given: a media root that must stay empty
    settings.MEDIA_ROOT = tmp_path / "web-media"
    client = _client()

    # when
    claim_id = _submitted_claim(client, 1, submit=False)

    # then
    photo = Photo.objects.get(claim_id=claim_id)
    assert s3_storage.keys() == sorted(
        [f"originals/{photo.original.name}", f"working/{photo.working.name}"]
    )
    assert not (tmp_path / "web-media").exists()
    stored = s3_storage.client.get_object(
        Bucket=s3_storage.name, Key=f"originals/{photo.original.name}"
    )
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == photo.sha256
    assert stored["ServerSideEncryption"] == "AES256"
    response = client.get(f"/api/v1/claims/{claim_id}/photos/{photo.pk}/image/")
    assert response.status_code == 200
    working = s3_storage.client.get_object(
        Bucket=s3_storage.name, Key=f"working/{photo.working.name}"
    )["Body"].read()
    assert b"".join(response.streaming_content) == working
    # another customer is refused by the same view
    assert _client("mallory").get(
        f"/api/v1/claims/{claim_id}/photos/{photo.pk}/image/"
    ).status_code in (403, 404)


def test_real_worker_assesses_a_claim_reading_photos_and_model_from_object_storage(
    s3_storage, active_model, start_worker, worker_env
):
    # given: the active model was published under its digest when registered
    sha = active_model.artifact_sha256
    assert f"models/{sha}/{model_artifacts.MANIFEST}" in s3_storage.keys("models/")
    worker = start_worker()
    client = _client()

    # when
    claim_id = _submitted_claim(client, 2)

    # then
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision",
        worker=worker,
    )
    _assert_exactly_one_of_everything(claim_id, 2)
    cached = Path(worker_env["CLAIMVISION_MODEL_CACHE_DIR"]) / sha
    assert model_registry.artifact_sha256(cached) == sha
    assert "downloaded and verified" in worker.output()
    assert not Path(worker_env["CLAIMVISION_MEDIA_ROOT"]).exists()


def test_export_written_by_a_worker_lands_in_the_bucket_and_streams_through_the_api(
    s3_storage, active_model, start_worker, monkeypatch
):
    # given: an assessed claim (predictions are exported)
    worker = start_worker()
    claim_id = _submitted_claim(_client(), 1)
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision",
        worker=worker,
    )
    monkeypatch.setattr(
        tasks.export_labels_task,
        "delay",
        lambda pk: tasks.export_labels_task.apply_async(args=[pk], queue="assessment"),
    )
    client = APIClient()
    client.force_authenticate(DataTeamFactory())

    # when
    response = client.post(
        "/api/v1/exports/", {"formats": ["coco"], "include_predictions": True}, format="json"
    )

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
    assert f"other/exports/{job_id}.zip" in s3_storage.keys("other/")
    data = b"".join(client.get(detail["download_url"]).streaming_content)
    assert hashlib.sha256(data).hexdigest() == detail["sha256"]
    coco = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("coco/instances.json"))
    assert len(coco["images"]) == 1


def test_model_switch_worker_fetches_a_version_whose_folder_it_never_had(
    s3_storage, active_model, start_worker, worker_env, tmp_path
):
    # given: a worker running the first model, and a second one registered from a folder that
    # is then removed (it lived on another host)
    worker = start_worker()
    first = _submitted_claim(_client(), 1)
    wait_for(lambda: Claim.objects.get(pk=first).status in DECIDED, timeout=120, what="first")
    folder = _tiny_model(tmp_path / "trainer-host", "tiny-switch", seed=3)
    second = model_version_register(model_dir=folder)
    shutil.rmtree(folder)

    # when
    model_version_activate(model_version=second, reason="switch test")
    claim_id = _submitted_claim(_client("frank"), 1)

    # then
    wait_for(
        lambda: Claim.objects.get(pk=claim_id).status in DECIDED,
        timeout=120,
        what="a decision under the new model",
        worker=worker,
    )
    versions = set(
        PhotoAssessment.objects.filter(photo__claim_id=claim_id).values_list(
            "model_version__version", flat=True
        )
    )
    assert versions == {"tiny-switch"}
    cached = Path(worker_env["CLAIMVISION_MODEL_CACHE_DIR"]) / second.artifact_sha256
    assert model_registry.artifact_sha256(cached) == second.artifact_sha256


def test_model_files_that_do_not_match_their_digest_are_refused_and_not_cached(
    s3_storage, tmp_path, settings
):
    # given: a published version whose weights were then replaced in the bucket
    folder = _tiny_model(tmp_path, "tiny-tampered", seed=1)
    version = model_version_register(model_dir=folder)
    shutil.rmtree(folder)
    sha = version.artifact_sha256
    s3_storage.client.put_object(
        Bucket=s3_storage.name, Key=f"models/{sha}/model.onnx", Body=b"not the model"
    )

    # when / then
    with pytest.raises(model_artifacts.ModelArtifactMismatchError, match="not served"):
        model_artifacts.model_dir_local(version=version.version, path=version.path, sha256=sha)
    cache = Path(settings.CLAIMVISION_MODEL_CACHE_DIR)
    assert not (cache / sha).exists()
    assert [p.name for p in cache.iterdir()] == []  # no half-downloaded folder left either


def test_a_damaged_cached_model_is_fetched_again_and_verified(s3_storage, tmp_path, settings):
    # given: a version downloaded once, whose cached copy was then damaged on disk
    folder = _tiny_model(tmp_path, "tiny-cached", seed=2)
    version = model_version_register(model_dir=folder)
    shutil.rmtree(folder)
    sha = version.artifact_sha256
    cached = model_artifacts.model_dir_local(version=version.version, path=version.path, sha256=sha)
    assert cached == Path(settings.CLAIMVISION_MODEL_CACHE_DIR) / sha
    (cached / "model.onnx").write_bytes(b"bit rot")

    # when
    again = model_artifacts.model_dir_local(version=version.version, path=version.path, sha256=sha)

    # then
    assert again == cached
    assert model_registry.artifact_sha256(again) == sha


def test_local_default_reads_the_registered_folder_and_publishes_nothing(tmp_path, settings):
    # given: the embedded default
    assert settings.CLAIMVISION_STORAGE == "local"
    folder = _tiny_model(tmp_path, "tiny-local", seed=4)

    # when
    version = model_version_register(model_dir=folder)

    # then
    assert not model_artifacts.model_artifacts_publish(
        model_dir=folder, sha256=version.artifact_sha256
    )
    found = model_artifacts.model_dir_local(
        version=version.version, path=version.path, sha256=version.artifact_sha256
    )
    assert found == folder.resolve()


def test_retraining_publishes_its_candidate_where_another_host_can_fetch_it(
    s3_storage, tmp_path, settings
):
    from learning import runs
    from learning.models import RetrainingRun
    from learning.splits import EVAL, TRAIN
    from learning.tests.learning_fixtures import register_tiny, reviewed_photo
    from learning.tests.test_learning import TINY_CONFIG

    # given: the training host's own var/, an active tiny model and reviewed photos in S3
    settings.VAR_DIR = tmp_path / "training-host" / "var"
    parent = register_tiny(tmp_path / "tiny")
    reviewed_photo(model_version=parent, split=TRAIN, seed=1)
    reviewed_photo(model_version=parent, split=EVAL, seed=3)

    # when
    run = runs.retrain(config=TINY_CONFIG)

    # then: the candidate's files are in the bucket under its digest...
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.SUCCEEDED, run.message
    candidate = run.candidate
    sha = candidate.artifact_sha256
    assert f"models/{sha}/{model_artifacts.MANIFEST}" in s3_storage.keys(f"models/{sha}/")
    assert f"models/{sha}/model.onnx" in s3_storage.keys(f"models/{sha}/")
    # ...and a host without the training host's folder fetches and verifies them
    shutil.rmtree(runs.models_dir() / candidate.version)
    settings.CLAIMVISION_MODEL_CACHE_DIR = tmp_path / "other-host" / "model-cache"
    fetched = model_artifacts.model_dir_local(
        version=candidate.version, path=candidate.path, sha256=sha
    )
    assert fetched == tmp_path / "other-host" / "model-cache" / sha
    assert model_registry.artifact_sha256(fetched) == sha


def test_assessment_refuses_an_active_model_whose_files_do_not_match(s3_storage, tmp_path):
    from assessment.models import PhotoAssessmentAttempt
    from assessment.services import photo_assess

    # given: the active version's weights were replaced in the bucket after registration
    folder = _tiny_model(tmp_path, "tiny-bad", seed=5)
    version = model_version_register(model_dir=folder, activate=True)
    shutil.rmtree(folder)
    s3_storage.client.put_object(
        Bucket=s3_storage.name,
        Key=f"models/{version.artifact_sha256}/model.onnx",
        Body=b"tampered",
    )
    claim_id = _submitted_claim(_client(), 1, submit=False)
    photo = Photo.objects.get(claim_id=claim_id)

    # when / then: nothing is assessed with it, and the photo's attempt says why
    with pytest.raises(model_artifacts.ModelArtifactMismatchError):
        photo_assess(photo_id=photo.pk)
    assert not PhotoAssessment.objects.filter(photo=photo).exists()
    attempt = PhotoAssessmentAttempt.objects.get(photo=photo, model_version=version)
    assert "the model is not served" in attempt.last_error


def test_registering_a_known_version_again_publishes_files_missing_from_the_bucket(
    s3_storage, tmp_path
):
    # given: a version registered before the installation moved to object storage
    folder = _tiny_model(tmp_path, "tiny-older", seed=6)
    version = model_version_register(model_dir=folder)
    sha = version.artifact_sha256
    for key in s3_storage.keys(f"models/{sha}/"):
        s3_storage.client.delete_object(Bucket=s3_storage.name, Key=key)
    assert not model_artifacts.published(sha256=sha)

    # when: model_install PATH (or any registration) runs again on the host that has it
    again = model_version_register(model_dir=folder)

    # then
    assert again.pk == version.pk
    assert model_artifacts.published(sha256=sha)
    assert f"models/{sha}/model.onnx" in s3_storage.keys(f"models/{sha}/")
