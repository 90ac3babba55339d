"""Photo import for labelling projects: one photo, a zip archive, a folder on the server.

Every photo goes through the customers' upload checks (``claims.images.ingest``: magic bytes,
pixel cap, truncation, re-encode without EXIF/GPS) and the same private storage aliases, under
``labelling/<project>/``, and is de-duplicated by SHA-256 within its project. Each photo commits
on its own and is handed to the workers for pre-labelling after its commit.
"""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import IntegrityError
from PIL import Image

from claims import images
from claims.services import safe_display_name
from config.errors import ApplicationError, PayloadTooLargeError, UnsupportedMediaTypeError
from config.queue import send_on_commit
from config.transactions import atomic_or_undo, on_rollback
from labelling.models import LabellingProject, ProjectItem
from labelling.services import LABEL_GRID_LONG_SIDE, draw, require_manager

logger = logging.getLogger(__name__)

S = ProjectItem.Status

ERR_NOT_ZIP = "This file is not a zip archive."
ERR_ZIP_MEMBERS = "The archive holds {count} files; at most {limit} are imported at once."
ERR_ZIP_TOTAL = (
    "The archive unpacks to {size_mb} MB; at most {limit_mb} MB are imported at once. "
    "Split it, or import a folder on the server (manage.py labelling_import)."
)
ERR_NOT_FOLDER = "{path} is not a folder or a zip file."
# Reasons for one refused zip or folder member (ImportSummary.refused).
REFUSED_PATH = "its path leaves the archive (absolute, or with '..')"
REFUSED_ENCRYPTED = "it is encrypted"
REFUSED_RATIO = "it unpacks to {ratio:.0f} times its stored size (a decompression bomb)"
REFUSED_TOO_LARGE = "it is larger than {limit_mb} MB"
REFUSED_CORRUPT = "the archive entry is damaged"
REFUSED_SYMLINK = "it is a symbolic link"

# Zip import limits. A real batch is a few hundred phone photos (2-12 MB each); 2,000 members
# and 8 GiB unpacked cover a garage's archive while bounding one request's disk and time.
# Photos barely compress (JPEG/PNG: ratio ~1.0-1.2), so a member unpacking to over 50 times
# its stored size is a decompression bomb, refused before a byte is inflated.
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_UNCOMPRESSED_BYTES = 8 * 1024**3
MAX_COMPRESSION_RATIO = 50
# Members are spooled to a temporary file past this size, so memory stays bounded.
SPOOL_MAX_MEMORY = 4 * 1024 * 1024
# Finder and macOS archive clutter: not photos, not worth a "refused" line each.
_JUNK_PREFIXES = ("__MACOSX/",)
_JUNK_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class ItemIngest:
    item: ProjectItem
    duplicate: bool  # True: the project already held this file; ``item`` is that one


@dataclass
class ImportSummary:
    """What an import did with each file: imported, duplicate (of an item already in the
    project) or refused with the reason, in the order the files were read."""

    imported: list[dict] = field(default_factory=list)  # {"name", "item_id"}
    duplicates: list[dict] = field(default_factory=list)  # {"name", "item_id"}
    refused: list[dict] = field(default_factory=list)  # {"name", "code", "reason"}

    def add(self, name: str, result: ItemIngest) -> None:
        target = self.duplicates if result.duplicate else self.imported
        target.append({"name": name, "item_id": str(result.item.pk)})

    def refuse(self, name: str, code: str, reason: str) -> None:
        self.refused.append({"name": name, "code": code, "reason": str(reason)})

    def to_dict(self) -> dict:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "counts": {
                "imported": len(self.imported),
                "duplicates": len(self.duplicates),
                "refused": len(self.refused),
            },
        }


def _grid(height: int, width: int) -> tuple[int, int]:
    from ml.inference import network_size

    return network_size(height, width, LABEL_GRID_LONG_SIDE)


def item_ingest(
    *, project: LabellingProject, fileobj: IO[bytes], name: str, user=None
) -> ItemIngest:
    """Validate, store and register one photo, and have the workers pre-label it after commit.

    A photo already in the project (same SHA-256 of the original) is not stored again: the
    existing item comes back with ``duplicate=True``. A refused file raises the same precise
    errors a customer upload does (415 type, 413 size, 422 pixels/damaged).
    """
    if user is not None:
        require_manager(user)
    info, working_bytes, grey = images.ingest(
        fileobj,
        max_bytes=settings.CLAIMVISION_MAX_UPLOAD_BYTES,
        max_pixels=settings.CLAIMVISION_MAX_IMAGE_PIXELS,
        max_side=settings.CLAIMVISION_WORKING_MAX_SIDE,
    )
    existing = ProjectItem.objects.filter(project=project, sha256=info.sha256).first()
    if existing is not None:
        return ItemIngest(existing, True)
    quality = images.quality_check(grey, width=info.width, height=info.height)
    with Image.open(io.BytesIO(working_bytes)) as working_image:
        working_width, working_height = working_image.size
    mask_height, mask_width = _grid(working_height, working_width)
    item_id = uuid.uuid4()
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[info.format]
    item = ProjectItem(
        id=item_id,
        project=project,
        original_name=safe_display_name(name),
        image_format=info.format,
        size_bytes=info.size_bytes,
        width=info.width,
        height=info.height,
        working_width=working_width,
        working_height=working_height,
        mask_width=mask_width,
        mask_height=mask_height,
        sha256=info.sha256,
        quality_warnings=quality.warnings,
        status=S.PRELABELLING,
        show_prelabels=draw(item_id, "scratch") >= project.scratch_share,
    )
    from labelling.tasks import prelabel_item_task

    folder = f"labelling/{project.pk}"
    try:
        with atomic_or_undo():
            fileobj.seek(0)
            for file_field, file_name, content in (
                (item.original, f"{folder}/{item_id}.{extension}", File(fileobj)),
                (item.working, f"{folder}/{item_id}.jpg", ContentFile(working_bytes)),
            ):
                file_field.save(file_name, content, save=False)
                on_rollback(
                    lambda storage=file_field.storage, stored=file_field.name: storage.delete(
                        stored
                    )
                )
            item.save(force_insert=True)
            send_on_commit(prelabel_item_task, str(item.pk))
    except IntegrityError:
        # A parallel import of the same file won the unique (project, sha256) index.
        existing = ProjectItem.objects.filter(project=project, sha256=info.sha256).first()
        if existing is None:
            raise
        return ItemIngest(existing, True)
    return ItemIngest(item, False)


def _ingest_reported(
    summary: ImportSummary, *, project: LabellingProject, fileobj: IO[bytes], name: str
) -> None:
    try:
        summary.add(name, item_ingest(project=project, fileobj=fileobj, name=name))
    except ApplicationError as exc:
        summary.refuse(name, exc.code, exc.message)


def _is_junk(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith(_JUNK_PREFIXES) or base in _JUNK_NAMES or base.startswith("._")


def _unsafe_path(name: str) -> bool:
    """Absolute, drive-lettered or climbing member names: nothing is ever written to disk
    under a member's name, but such a name marks a hostile archive, so the member is refused."""
    normal = name.replace("\\", "/")
    path = PurePosixPath(normal)
    return (
        normal.startswith("/")
        or ".." in path.parts
        or (len(normal) > 1 and normal[1] == ":")
        or "\x00" in normal
    )


def _copy_capped(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    """Copy at most ``limit + 1`` bytes: a member whose header understates its size is caught
    at the cap, not after inflating all of it."""
    copied = 0
    while copied <= limit:
        chunk = source.read(min(1024 * 1024, limit + 1 - copied))
        if not chunk:
            break
        target.write(chunk)
        copied += len(chunk)
    return copied


def items_import_zip(*, project: LabellingProject, fileobj: IO[bytes], user=None) -> ImportSummary:
    """Import every photo of a zip archive, each through :func:`item_ingest`, each committed on
    its own (a refused or duplicate member never undoes the others).

    The archive is refused whole when it is not a zip, holds more than ``MAX_ZIP_MEMBERS``
    files or declares more than ``MAX_ZIP_UNCOMPRESSED_BYTES`` unpacked; a member is refused
    (with its reason in the summary) when its path climbs out, it is encrypted, its declared
    compression ratio is a bomb's, or it inflates past the photo size cap whatever its header
    says. Members are read in archive order; directories and macOS clutter are skipped.
    """
    if user is not None:
        require_manager(user)
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UnsupportedMediaTypeError(ERR_NOT_ZIP, code="not_a_zip") from None
    summary = ImportSummary()
    max_bytes = settings.CLAIMVISION_MAX_UPLOAD_BYTES
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _is_junk(m.filename)]
        if len(members) > MAX_ZIP_MEMBERS:
            raise PayloadTooLargeError(
                ERR_ZIP_MEMBERS.format(count=len(members), limit=MAX_ZIP_MEMBERS),
                code="zip_too_many_members",
                details={"members": len(members), "limit": MAX_ZIP_MEMBERS},
            )
        declared = sum(m.file_size for m in members)
        if declared > MAX_ZIP_UNCOMPRESSED_BYTES:
            raise PayloadTooLargeError(
                ERR_ZIP_TOTAL.format(
                    size_mb=declared // 1024**2, limit_mb=MAX_ZIP_UNCOMPRESSED_BYTES // 1024**2
                ),
                code="zip_too_large",
                details={"uncompressed_bytes": declared, "limit": MAX_ZIP_UNCOMPRESSED_BYTES},
            )
        inflated = 0
        for member in members:
            name = member.filename
            if _unsafe_path(name):
                summary.refuse(name, "unsafe_path", REFUSED_PATH)
                continue
            if member.flag_bits & 0x1:
                summary.refuse(name, "encrypted", REFUSED_ENCRYPTED)
                continue
            if member.file_size > max_bytes:
                summary.refuse(
                    name, "file_too_large", REFUSED_TOO_LARGE.format(limit_mb=max_bytes // 1024**2)
                )
                continue
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > MAX_COMPRESSION_RATIO:
                summary.refuse(name, "zip_bomb", REFUSED_RATIO.format(ratio=ratio))
                continue
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY) as spool:
                try:
                    with archive.open(member) as source:
                        copied = _copy_capped(source, spool, max_bytes)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError):
                    summary.refuse(name, "corrupt_member", REFUSED_CORRUPT)
                    continue
                inflated += copied
                if copied > max_bytes:
                    summary.refuse(
                        name,
                        "file_too_large",
                        REFUSED_TOO_LARGE.format(limit_mb=max_bytes // 1024**2),
                    )
                    continue
                if inflated > MAX_ZIP_UNCOMPRESSED_BYTES:  # headers lied about the total
                    summary.refuse(name, "zip_too_large", REFUSED_RATIO.format(ratio=ratio))
                    break
                spool.seek(0)
                _ingest_reported(summary, project=project, fileobj=spool, name=name)
    logger.info(
        "project %s: zip import, %d imported, %d duplicates, %d refused",
        project.pk,
        len(summary.imported),
        len(summary.duplicates),
        len(summary.refused),
    )
    return summary


def items_import_folder(*, project: LabellingProject, folder: Path) -> ImportSummary:
    """Import every file under ``folder`` (recursively, sorted by path), each through
    :func:`item_ingest`. Symbolic links are refused: a link can point anywhere on the server,
    and the command runs with the server's rights. A zip file path is imported as a zip."""
    folder = Path(folder)
    if folder.is_file() and zipfile.is_zipfile(folder):
        with folder.open("rb") as handle:
            return items_import_zip(project=project, fileobj=handle)
    if not folder.is_dir():
        raise ApplicationError(ERR_NOT_FOLDER.format(path=folder), code="not_a_folder")
    summary = ImportSummary()
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            summary.refuse(name, "symlink", REFUSED_SYMLINK)
            continue
        if not path.is_file() or _is_junk(name) or any(p.startswith(".") for p in path.parts[-1:]):
            continue
        with path.open("rb") as handle:
            _ingest_reported(summary, project=project, fileobj=handle, name=name)
    return summary
