"""Registering and activating model versions, written once for the services and the migrations.

Every function takes the model classes it writes (the real ones from ``assessment.model_versions``,
historical ones from a data migration), like ``assessment.defaults`` does for price tables,
so an upgrade migration and ``manage.py model_install`` activate a model the same way: one
active version, the previous one retired, and a ``model_activated`` audit record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

MODEL_JSON = "model.json"
# The model bundled before damage-v2 (CarDD-6 label map), as ``model_version_active`` registered
# it on first use: relative to the repository, version ``starter-<date>``.
STARTER_PATH = "ml/models/starter"
STARTER_VERSION_PREFIX = "starter-"
SYSTEM_ACTOR = "system"
ACTIVATED = "activated"


def model_dir_resolve(path: str) -> Path:
    """A stored ``ModelVersion.path`` as a folder: absolute, or relative to the repository."""
    p = Path(path)
    return p if p.is_absolute() else Path(settings.BASE_DIR) / p


def stored_path(model_dir: Path) -> str:
    """The folder as ``ModelVersion.path`` stores it: relative to the repository when inside."""
    try:
        return str(model_dir.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(model_dir.resolve())


def artifact_sha256(model_dir: Path) -> str:
    """One digest over every file of the folder (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_file()):
        digest.update(name.encode())
        digest.update((model_dir / name).read_bytes())
    return digest.hexdigest()


def model_meta_read(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / MODEL_JSON).read_text(encoding="utf-8"))


def model_version_name(meta: dict[str, Any]) -> str:
    return meta.get("model_version") or meta["version"]


def model_version_get_or_create(ModelVersion, *, model_dir: Path, meta: dict | None = None):
    """(version, created): the folder recorded as a version; an existing version is kept.

    With object storage a new version's files are published under their digest first, so a
    worker on another host can fetch them as soon as the row is visible.
    """
    from assessment.model_artifacts import (
        model_artifacts_publish,
        model_artifacts_publish_if_same,
    )

    meta = meta if meta is not None else model_meta_read(model_dir)
    version = model_version_name(meta)
    existing = ModelVersion.objects.filter(version=version).first()
    if existing is not None:
        model_artifacts_publish_if_same(model_dir=model_dir, sha256=existing.artifact_sha256)
        return existing, False
    digest = artifact_sha256(model_dir)
    model_artifacts_publish(model_dir=model_dir, sha256=digest)
    return ModelVersion.objects.get_or_create(
        version=version,
        defaults={
            "path": stored_path(model_dir),
            "artifact_sha256": digest,
            "label_map": meta["label_map"],
            "metrics": meta.get("metrics", {}),
        },
    )


def model_version_make_active(
    ModelVersion,
    AuditRecord,
    *,
    model_version,
    actor: str = SYSTEM_ACTOR,
    actor_id: int | None = None,
    reason: str = "",
) -> bool:
    """Make one version the active one and audit it; False (and no record) if it already was.

    Under a row lock on the currently active version, so two activations at once serialise and
    the second sees the first's result.
    """
    with transaction.atomic():
        previous = ModelVersion.objects.select_for_update().filter(status="active").first()
        if previous is not None and previous.pk == model_version.pk:
            return False
        ModelVersion.objects.filter(status="active").update(status="retired")
        ModelVersion.objects.filter(pk=model_version.pk).update(
            status="active", activated_at=timezone.now()
        )
        AuditRecord.objects.create(
            claim_id=None,
            claim_reference="",
            kind="model_activated",
            actor=actor,
            actor_id=actor_id,
            inputs={"path": model_version.path, "artifact_sha256": model_version.artifact_sha256},
            model_version=model_version.version,
            outcome=ACTIVATED,
            detail={
                "previous": previous.version if previous is not None else None,
                "reason": reason,
            },
        )
    return True


@dataclass(frozen=True)
class UpgradeCheck:
    """Whether an installation should move to the bundled model, and why."""

    upgrade: bool
    reason: str


def bundled_upgrade_check(active, *, bundled_version: str) -> UpgradeCheck:
    """Move to the bundled model only when the active one is the old starter or its files are
    gone; a model the insurer trained or installed themselves is never replaced."""
    if active is None:
        return UpgradeCheck(False, "no active model (the bundled one is used on first use)")
    if active.version == bundled_version:
        return UpgradeCheck(False, f"the bundled model {bundled_version} is already active")
    from assessment.model_artifacts import model_files_present

    if not model_files_present(path=active.path, sha256=active.artifact_sha256):
        return UpgradeCheck(True, f"the files of the active model {active.version} are missing")
    if active.path.rstrip("/") == STARTER_PATH or active.version.startswith(STARTER_VERSION_PREFIX):
        return UpgradeCheck(True, f"the active model {active.version} is the old bundled starter")
    return UpgradeCheck(False, f"the active model {active.version} is not the bundled starter")


def bundled_upgrade(ModelVersion, AuditRecord, *, model_dir: Path, note: str) -> UpgradeCheck:
    """Register and activate ``model_dir`` (the bundled default) where the check says so."""
    if not (model_dir / MODEL_JSON).exists():
        return UpgradeCheck(False, f"no bundled model at {model_dir}")
    meta = model_meta_read(model_dir)
    active = ModelVersion.objects.filter(status="active").first()
    check = bundled_upgrade_check(active, bundled_version=model_version_name(meta))
    if check.upgrade:
        model_version, _ = model_version_get_or_create(ModelVersion, model_dir=model_dir, meta=meta)
        model_version_make_active(
            ModelVersion, AuditRecord, model_version=model_version, reason=f"{note}: {check.reason}"
        )
    return check
