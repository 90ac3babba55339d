"""Storage selection from the environment: local folders by default, private S3 prefixes with
``CLAIMVISION_STORAGE=s3``, and a production profile on S3 that passes ``check --deploy``."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_settings import _production_env

REPO = Path(__file__).resolve().parents[1]
PRINT_STORAGES = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps({k: v for k, v in settings.STORAGES.items() if k != 'staticfiles'}))"
)


def _storages(tmp_path, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CLAIMVISION_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", CLAIMVISION_VAR_DIR=str(tmp_path), **extra)
    return subprocess.run(
        [sys.executable, "-c", PRINT_STORAGES], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_storage_default_is_private_local_folders(tmp_path):
    result = _storages(tmp_path)
    assert result.returncode == 0, result.stderr
    storages = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(storages) == {"default", "originals", "working", "models"}
    assert {s["BACKEND"] for s in storages.values()} == {"config.storage.PrivateFileSystemStorage"}
    assert storages["originals"]["OPTIONS"]["file_permissions_mode"] == 0o600


def test_storage_s3_is_private_encrypted_prefixes_of_one_bucket(tmp_path):
    # when
    result = _storages(
        tmp_path,
        CLAIMVISION_STORAGE="s3",
        CLAIMVISION_S3_BUCKET="claims-prod",
        CLAIMVISION_S3_PREFIX="/eu/",
        CLAIMVISION_S3_SSE="aws:kms",
        CLAIMVISION_S3_KMS_KEY_ID="alias/claims",
    )

    # then
    assert result.returncode == 0, result.stderr
    storages = json.loads(result.stdout.strip().splitlines()[-1])
    for alias, prefix in (("originals", "originals"), ("working", "working"), ("models", "models")):
        options = storages[alias]["OPTIONS"]
        assert storages[alias]["BACKEND"] == "config.storage_s3.PrivateS3Storage"
        assert options["bucket_name"] == "claims-prod"
        assert options["location"] == f"eu/{prefix}"
        assert options["default_acl"] is None
        assert options["querystring_auth"] is False
        assert options["object_parameters"] == {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "alias/claims",
        }
    assert storages["working"]["OPTIONS"]["transfer_threads"] is False  # photos: one PUT, no pool
    assert storages["default"]["OPTIONS"]["transfer_threads"] is True  # exports: parallel parts
    assert "access_key" not in storages["working"]["OPTIONS"]  # credentials never in settings


def test_storage_s3_without_a_bucket_or_with_an_unknown_kind_refuses_to_start(tmp_path):
    assert _storages(tmp_path, CLAIMVISION_STORAGE="s3").returncode != 0
    unknown = _storages(tmp_path, CLAIMVISION_STORAGE="nfs")
    assert unknown.returncode != 0
    assert "CLAIMVISION_STORAGE must be 'local' or 's3'" in unknown.stderr


def test_production_profile_on_s3_passes_check_deploy(tmp_path):
    env = _production_env(tmp_path, CLAIMVISION_STORAGE="s3", CLAIMVISION_S3_BUCKET="claims-prod")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
