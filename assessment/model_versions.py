"""Writes for the model versions in use: register, install and activate a model folder, the
active version (the bundled model on first use), and each worker's loaded model.

The real models' side of ``assessment.model_registry``, whose functions take the model classes
so a data migration activates a model the same way.
"""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from assessment import model_artifacts, model_registry
from assessment.configuration import CHANGED, CREATED, configuration_change_record
from assessment.models import AuditRecord, ModelVersion
from config.errors import ApplicationError, ConflictError

logger = logging.getLogger(__name__)

ERR_MODEL_DIR = "{path} is not a model folder (it has no model.json)."
ERR_MODEL_META = "{path}/model.json is not a usable model description: {error}"
ERR_MODEL_FILES = "{path} lacks the files its model.json names: {files}."
ERR_MODEL_VERSION_TAKEN = (
    "Version {version} is already registered with other files ({path}); "
    "export the model under a new version."
)
REASON_FIRST_USE = "first use: no model was active"


def _model_dir(model_version: ModelVersion) -> Path:
    """The version's files on this host: where registered locally, else the verified cache of
    the shared model storage (``assessment.model_artifacts``; a digest mismatch raises)."""
    return model_artifacts.model_dir_local(
        version=model_version.version,
        path=model_version.path,
        sha256=model_version.artifact_sha256,
    )


def model_version_register(
    *, model_dir: Path, activate: bool = False, actor=None, reason: str = ""
) -> ModelVersion:
    """Record a model directory (model.json + artifacts) as a version; idempotent by version."""
    model_version, created = model_registry.model_version_get_or_create(
        ModelVersion, model_dir=model_dir
    )
    if created:
        model_version_change_record(model_version=model_version, before=None, actor=actor)
    if activate and model_version.status != ModelVersion.Status.ACTIVE:
        model_version = model_version_activate(
            model_version=model_version, actor=actor, reason=reason
        )
    return model_version


def model_version_snapshot(model_version: ModelVersion) -> dict:
    """What the audit trail keeps of a version: which files, and what it does now."""
    return {
        "version": model_version.version,
        "status": model_version.status,
        "path": model_version.path,
        "artifact_sha256": model_version.artifact_sha256,
    }


def model_version_change_record(
    *, model_version: ModelVersion, before: dict | None, actor=None
) -> AuditRecord:
    """A ``config_changed`` record of a version registered (``before`` None) or moved to
    another status other than active (shadow, back to candidate); activation has its own
    ``model_activated`` record (``model_registry.model_version_make_active``)."""
    return configuration_change_record(
        obj="model_version",
        action=CREATED if before is None else CHANGED,
        before=before,
        after=model_version_snapshot(model_version),
        actor=actor,
    )


def model_version_activate(
    *, model_version: ModelVersion, actor=None, reason: str = ""
) -> ModelVersion:
    """Make one version active (the previous one is retired) and record it in the audit trail;
    a no-op for the active version. Workers pick it up at their next task, without a restart."""
    model_registry.model_version_make_active(
        ModelVersion,
        AuditRecord,
        model_version=model_version,
        actor=actor.get_username() if actor else model_registry.SYSTEM_ACTOR,
        actor_id=actor.pk if actor else None,
        reason=reason,
    )
    model_version.refresh_from_db()
    return model_version


@dataclass(frozen=True)
class ModelInstall:
    model_version: ModelVersion
    created: bool  # a new registry row
    activated: bool  # it became active now (False: not asked, or already active)
    previous: str | None  # the version active before


def model_version_install(
    *, model_dir: Path, activate: bool, actor=None, reason: str = ""
) -> ModelInstall:
    """Check a model folder, register it and (with ``activate``) make it the active model.

    Idempotent: running it again changes nothing and records nothing. Refuses a folder whose
    version is already registered with other files (a re-export must get a new version, or
    the assessments stored under it would mix two models).
    """
    from ml.labels import LabelMap

    model_dir = Path(model_dir)
    if not (model_dir / model_registry.MODEL_JSON).is_file():
        raise ApplicationError(ERR_MODEL_DIR.format(path=model_dir), code="invalid_model_dir")
    try:
        meta = model_registry.model_meta_read(model_dir)
        version = model_registry.model_version_name(meta)
        LabelMap.from_dict(meta["label_map"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ApplicationError(
            ERR_MODEL_META.format(path=model_dir, error=exc), code="invalid_model_dir"
        ) from exc
    missing = [
        meta[key]
        for key in ("onnx", "weights")
        if meta.get(key) and not (model_dir / meta[key]).is_file()
    ]
    if missing:
        raise ApplicationError(
            ERR_MODEL_FILES.format(path=model_dir, files=", ".join(missing)),
            code="invalid_model_dir",
        )
    existing = ModelVersion.objects.filter(version=version).first()
    if existing is not None and existing.artifact_sha256 != model_registry.artifact_sha256(
        model_dir
    ):
        raise ConflictError(
            ERR_MODEL_VERSION_TAKEN.format(version=version, path=existing.path),
            code="model_version_taken",
        )
    previous = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    model_version, created = model_registry.model_version_get_or_create(
        ModelVersion, model_dir=model_dir, meta=meta
    )
    if created:
        model_version_change_record(model_version=model_version, before=None, actor=actor)
    activated = False
    if activate and model_version.status != ModelVersion.Status.ACTIVE:
        model_version = model_version_activate(
            model_version=model_version, actor=actor, reason=reason
        )
        activated = True
    return ModelInstall(
        model_version=model_version,
        created=created,
        activated=activated,
        previous=previous.version if previous else None,
    )


def model_version_active() -> ModelVersion:
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if active is not None:
        return active
    from ml.inference import DEFAULT_MODEL_DIR

    # First use on a fresh installation: the bundled default model becomes the active one.
    with transaction.atomic():
        active = ModelVersion.objects.select_for_update().filter(status="active").first()
        return active or model_version_register(
            model_dir=DEFAULT_MODEL_DIR, activate=True, reason=REASON_FIRST_USE
        )


class _SegmenterCache:
    """One loaded model per worker process, swapped when the active version changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._segmenter = None

    def get(self, model_version: ModelVersion):
        with self._lock:
            if self._version != model_version.version:
                from ml.inference import Segmenter

                logger.info("loading model %s", model_version.version)
                self._segmenter = Segmenter.load(
                    _model_dir(model_version),
                    threads=settings.CLAIMVISION_INFERENCE_THREADS,
                    spinning=settings.CLAIMVISION_INFERENCE_SPINNING,
                )
                self._version = model_version.version
            return self._segmenter


segmenters = _SegmenterCache()
