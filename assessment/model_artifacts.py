"""Model artifacts in the shared "models" storage, by content hash, and each host's local cache.

With object storage (``CLAIMVISION_STORAGE=s3``) a registered version's files are published to
``models/<artifact_sha256>/<file>`` plus a manifest written last (a reader never sees half a
publication). A host that lacks the version downloads it once into
``CLAIMVISION_MODEL_CACHE_DIR/<artifact_sha256>/``, recomputes the digest the registry stored
and only then moves the folder into place; a folder whose digest differs is deleted and refused
with :class:`ModelArtifactMismatchError`, never loaded. Every load into a process verifies the
cached folder again (3.5 MB of hashing, a few milliseconds, once per version and process).

Locally (the embedded default, one host) a version's folder is read where it was registered.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from assessment import model_registry
from config.errors import ApplicationError

logger = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"
ERR_ARTIFACT_MISMATCH = (
    "Model {version}: the files fetched from {source} have digest {actual}, not the registered "
    "{expected}; they were discarded and the model is not served."
)
ERR_ARTIFACT_MISSING = (
    "Model {version}: no files under its digest {expected} in the model storage, and no "
    "matching folder at {path} on this host."
)


class ModelArtifactMismatchError(ApplicationError):
    """A model's files do not hash to the registered artifact_sha256."""


class ModelArtifactMissingError(ApplicationError):
    """A model's files are neither in the shared storage nor on this host."""


def shared() -> bool:
    """Whether model files travel through the shared storage (object storage configured)."""
    return settings.CLAIMVISION_STORAGE == "s3"


def _storage():
    return storages["models"]


def published(*, sha256: str) -> bool:
    return _storage().exists(f"{sha256}/{MANIFEST}")


def model_artifacts_publish(*, model_dir: Path, sha256: str) -> bool:
    """Upload a model folder under its digest; False if it was already there (idempotent).

    The manifest goes last: its presence means every file it names is stored.
    """
    if not shared() or published(sha256=sha256):
        return False
    actual = model_registry.artifact_sha256(model_dir)
    if actual != sha256:
        raise ModelArtifactMismatchError(
            ERR_ARTIFACT_MISMATCH.format(
                version=model_dir.name, source=model_dir, actual=actual, expected=sha256
            ),
            code="model_artifact_mismatch",
        )
    storage = _storage()
    names = sorted(p.name for p in model_dir.iterdir() if p.is_file())
    for name in names:
        with open(model_dir / name, "rb") as handle:
            storage.save(f"{sha256}/{name}", handle)
    manifest = {"artifact_sha256": sha256, "files": names}
    storage.save(f"{sha256}/{MANIFEST}", ContentFile(json.dumps(manifest).encode()))
    logger.info("published model files %s (%d files)", sha256, len(names))
    return True


def model_artifacts_publish_if_same(*, model_dir: Path, sha256: str) -> bool:
    """Publish an already registered version from a folder holding exactly its files (an
    installation moved to object storage); a folder with other files is left alone."""
    if not shared() or published(sha256=sha256):
        return False
    if model_registry.artifact_sha256(model_dir) != sha256:
        return False
    return model_artifacts_publish(model_dir=model_dir, sha256=sha256)


def cache_dir() -> Path:
    return Path(settings.CLAIMVISION_MODEL_CACHE_DIR)


def _refuse(version: str, source: str, actual: str, expected: str):
    message = ERR_ARTIFACT_MISMATCH.format(
        version=version, source=source, actual=actual, expected=expected
    )
    logger.error(message)
    return ModelArtifactMismatchError(message, code="model_artifact_mismatch")


def _download(*, version: str, sha256: str) -> Path:
    """Fetch ``models/<sha256>/`` into the cache, verified, atomically; the cached folder."""
    storage = _storage()
    with storage.open(f"{sha256}/{MANIFEST}", "rb") as handle:
        names = json.loads(handle.read())["files"]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / sha256
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=root))
    try:
        for name in names:
            if "/" in name or name.startswith("."):  # a manifest names plain files only
                raise _refuse(version, f"the manifest ({name!r})", "?", sha256)
            with storage.open(f"{sha256}/{name}", "rb") as src, open(tmp / name, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        actual = model_registry.artifact_sha256(tmp)
        if actual != sha256:
            raise _refuse(version, "the model storage", actual, sha256)
        try:
            tmp.rename(target)  # atomic: a concurrent process either sees all or nothing
        except OSError:
            if not target.is_dir():  # not a race lost to another process: a real error
                raise
        logger.info("model %s: downloaded and verified %s", version, sha256)
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def model_dir_local(*, version: str, path: str, sha256: str) -> Path:
    """A folder on this host holding exactly the registered files of a model version.

    With shared storage: the verified cache, downloading on first use. A version registered
    before it was published (a migration, the bundled model present on every host) is taken
    from its registered folder when that folder hashes right, and published on the way.
    """
    registered = model_registry.model_dir_resolve(path)
    if not shared():
        return registered
    cached = cache_dir() / sha256
    if cached.is_dir():
        actual = model_registry.artifact_sha256(cached)
        if actual == sha256:
            return cached
        shutil.rmtree(cached, ignore_errors=True)  # tampered or damaged: fetch it again
        logger.error("model %s: cached files had digest %s; fetching again", version, actual)
    if published(sha256=sha256):
        return _download(version=version, sha256=sha256)
    if (registered / model_registry.MODEL_JSON).is_file():
        actual = model_registry.artifact_sha256(registered)
        if actual != sha256:
            raise _refuse(version, str(registered), actual, sha256)
        model_artifacts_publish(model_dir=registered, sha256=sha256)
        return registered
    raise ModelArtifactMissingError(
        ERR_ARTIFACT_MISSING.format(version=version, expected=sha256, path=registered),
        code="model_artifact_missing",
    )


def model_files_present(*, path: str, sha256: str) -> bool:
    """Whether a version's files exist anywhere a worker can get them."""
    if (model_registry.model_dir_resolve(path) / model_registry.MODEL_JSON).exists():
        return True
    return shared() and published(sha256=sha256)
