"""Label exports for the data team: the query (selectors), the job lifecycle and the writing
(services). The formats themselves are written by ``ml.label_export`` from plain records.

What is exported per photo: the adjuster's saved labels (``review.PhotoLabels``) when the photo
was reviewed, otherwise (only with ``include_predictions``) the model's regions of its latest
assessment. Masks are stored on the assessment's mask grid and exported at the working copy's
resolution by nearest-neighbour upsampling. Photos come in a fixed order (claim id, photo id),
so the same query over the same data gives the same bytes. A query with ``project`` exports a
labelling project's items instead (``learning.export_projects``), through the same writer.

One module on purpose (about 530 lines): the query, the per-photo records and the writer are one
pipeline, and "same query, same bytes" holds only while all three agree on order and content;
its sections below are the seams to split along if it grows.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from PIL import Image

from assessment.models import ModelVersion, PhotoAssessment, Region
from claims.models import Photo
from claims.services import PhotoFileMissingError, photo_working_ensure
from config.errors import ApplicationError, ConflictError, NotFoundError
from config.queue import send_on_commit
from labelling.models import LabellingProject
from learning.models import ExportJob
from learning.splits import EVAL, TRAIN, split_for_claim
from ml import label_export
from ml.coco import rle_to_mask
from ml.labels import LabelMap
from review.models import LabelRegion, OverrideLedgerEntry, PhotoLabels

logger = logging.getLogger(__name__)

ERR_FORMATS = "Choose at least one format of: " + ", ".join(label_export.FORMATS) + "."
ERR_UNKNOWN_FORMAT = "Unknown export format {name!r}."
ERR_MODEL_VERSION = "Unknown model version {version!r}."
ERR_DAMAGE_TYPE = "Unknown damage type(s) {names} for label map {label_map!r}."
ERR_SPLIT = "Split must be one of: train, eval."
ERR_DATES = "date_from must not be after date_to."
ERR_SINCE = "Export {export_id} is not one of yours."
ERR_PROJECT = "Unknown labelling project {project}."
ERR_NO_LABEL_MAP = "No model version is registered, so there is no label map to export with."
ERR_NOT_FOUND = "No such export."
ERR_NOT_READY = "This export is {status}; download it once it has succeeded."
# What the data team reads about a failed export: the kind of error, never its text, which can
# name server paths; the worker's log has the whole traceback.
ERR_EXPORT_FAILED = "The export failed ({kind}); the exports worker's log has the details."

SPLITS = (TRAIN, EVAL)

# Photos loaded per database round trip: bounds the rows (with their RLE masks) held at once
# while keeping the number of queries per thousand photos small.
EXPORT_BATCH = 100
# Where finished archives live inside the private default storage.
EXPORT_DIR = "exports"


# --------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class ExportQuery:
    """Which photos an export holds. Dates are inclusive UTC days of the labels' last change
    (saved labels) or of the assessment (predictions only)."""

    date_from: date | None = None
    date_to: date | None = None
    model_version: str | None = None
    damage_types: tuple[str, ...] = ()
    include_predictions: bool = False  # False: reviewed photos only
    split: str | None = None
    since_export: int | None = None  # incremental: changed after that export was requested
    # A labelling project's items instead of claims' photos (``learning.export_projects``).
    project: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "model_version": self.model_version,
            "damage_types": sorted(self.damage_types),
            "include_predictions": self.include_predictions,
            "split": self.split,
            "since_export": self.since_export,
        }
        if self.project is not None:  # absent otherwise: claim exports keep their bytes
            data["project"] = self.project
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportQuery:
        return cls(
            date_from=date.fromisoformat(data["date_from"]) if data.get("date_from") else None,
            date_to=date.fromisoformat(data["date_to"]) if data.get("date_to") else None,
            model_version=data.get("model_version") or None,
            damage_types=tuple(sorted(data.get("damage_types") or ())),
            include_predictions=bool(data.get("include_predictions")),
            split=data.get("split") or None,
            since_export=data.get("since_export"),
            project=data.get("project"),
        )


@dataclass(frozen=True)
class ExportCandidate:
    claim_id: uuid.UUID
    photo_id: uuid.UUID
    assessment_id: int
    reviewed: bool


def export_label_map(*, query: ExportQuery) -> LabelMap:
    """The project's label map for a project export; else the filtered model version's, else
    the active model's (category ids)."""
    if query.project is not None:
        project = LabellingProject.objects.filter(pk=query.project).first()
        if project is None:
            raise ApplicationError(
                ERR_PROJECT.format(project=query.project), code="invalid_project"
            )
        return LabelMap.from_dict(project.label_map)
    versions = ModelVersion.objects.all()
    if query.model_version:
        mv = versions.filter(version=query.model_version).first()
        if mv is None:
            raise ApplicationError(
                ERR_MODEL_VERSION.format(version=query.model_version), code="invalid_model_version"
            )
    else:
        mv = (
            versions.filter(status=ModelVersion.Status.ACTIVE).first()
            or versions.order_by("-created_at", "-id").first()
        )
    if mv is None:
        raise ConflictError(ERR_NO_LABEL_MAP, code="no_label_map")
    return LabelMap.from_dict(mv.label_map)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def export_since_cutoff(*, query: ExportQuery) -> datetime | None:
    if query.since_export is None:
        return None
    since = ExportJob.objects.filter(pk=query.since_export).values_list("created_at", flat=True)
    return since.first()


def export_candidates(*, query: ExportQuery) -> list[ExportCandidate]:
    """The photos of ``query`` in export order (claim id, photo id)."""
    cutoff = export_since_cutoff(query=query)
    start = _day_start(query.date_from) if query.date_from else None
    end = _day_start(query.date_to + timedelta(days=1)) if query.date_to else None

    labels = PhotoLabels.objects.all()
    if cutoff is not None:
        labels = labels.filter(saved_at__gt=cutoff)
    if start is not None:
        labels = labels.filter(saved_at__gte=start)
    if end is not None:
        labels = labels.filter(saved_at__lt=end)
    if query.model_version:
        labels = labels.filter(photo_assessment__model_version__version=query.model_version)
    if query.damage_types:
        labels = labels.filter(
            Exists(LabelRegion.objects.filter(labels=OuterRef("pk"), label__in=query.damage_types))
        )
    found = [
        ExportCandidate(claim_id, photo_id, assessment_id, True)
        for photo_id, claim_id, assessment_id in labels.values_list(
            "photo_id", "photo__claim_id", "photo_assessment_id"
        )
    ]

    if query.include_predictions:
        # Photos with saved labels are never exported as predictions, even when the labels
        # fall outside this query: their truth is the adjuster's.
        preds = PhotoAssessment.objects.filter(photo__review_labels__isnull=True)
        if query.model_version:
            preds = preds.filter(model_version__version=query.model_version)
        else:
            latest = PhotoAssessment.objects.filter(photo=OuterRef("photo")).order_by(
                "-created_at", "-id"
            )
            preds = preds.filter(pk=Subquery(latest.values("pk")[:1]))
        if cutoff is not None:
            preds = preds.filter(created_at__gt=cutoff)
        if start is not None:
            preds = preds.filter(created_at__gte=start)
        if end is not None:
            preds = preds.filter(created_at__lt=end)
        if query.damage_types:
            preds = preds.filter(
                Exists(
                    Region.objects.filter(assessment=OuterRef("pk"), label__in=query.damage_types)
                )
            )
        found += [
            ExportCandidate(claim_id, photo_id, assessment_id, False)
            for photo_id, claim_id, assessment_id in preds.values_list(
                "photo_id", "photo__claim_id", "pk"
            )
        ]
    if query.split:
        found = [c for c in found if split_for_claim(c.claim_id) == query.split]
    return sorted(found, key=lambda c: (str(c.claim_id), str(c.photo_id)))


# --------------------------------------------------------------------------- records


def _working_size(photo: Photo) -> tuple[int, int]:
    """(width, height) of the working copy, from its header (it may be smaller than the
    original: working copies are capped at CLAIMVISION_WORKING_MAX_SIDE)."""
    try:
        with photo.working.open("rb") as handle, Image.open(handle) as image:
            return image.size
    except (OSError, ValueError):
        return photo.width, photo.height


def _reviewer(user_id: int | None) -> str | None:
    """A stable pseudonym: data teams need who labelled what, not adjusters' names."""
    return None if user_id is None else f"adjuster-{user_id}"


@dataclass
class _Skipped:
    regions: int = 0
    labels: set[str] = field(default_factory=set)
    photos: int = 0  # neither working copy nor original in storage


def _region_mask(rle: dict, height: int, width: int):
    return label_export.upsample_mask(rle_to_mask(rle), height, width)


def _ledger_rows(entries, labels: PhotoLabels) -> list[dict[str, Any]]:
    return [
        {
            "photo_id": str(e.photo_id),
            "claim_id": str(e.claim_id),
            "labels_version": e.labels_version,
            "current": int(e.labels_version == labels.version),
            "action": e.action,
            "source_index": e.source_index,
            "region_index": e.region_index,
            "iou": e.iou,
            "model_confidence": e.model_confidence,
            "from_label": e.from_label,
            "to_label": e.to_label,
            "from_severity": e.from_severity,
            "to_severity": e.to_severity,
            "from_part": e.from_part,
            "to_part": e.to_part,
            "reviewer": _reviewer(e.adjuster_id),
            "active_ms": e.active_ms,
            "model_version": e.model_version.version,
        }
        for e in entries
    ]


def export_images_iter(
    *, candidates: Sequence[ExportCandidate], label_map: LabelMap, skipped: _Skipped
) -> Iterator[label_export.ExportImage]:
    """Plain records for the writer, ``EXPORT_BATCH`` photos per round of queries."""
    known = set(label_map.names[1:])
    for i in range(0, len(candidates), EXPORT_BATCH):
        batch = candidates[i : i + EXPORT_BATCH]
        photo_ids = [c.photo_id for c in batch]
        photos = Photo.objects.in_bulk(photo_ids)
        assessments = PhotoAssessment.objects.select_related("model_version").in_bulk(
            [c.assessment_id for c in batch]
        )
        regions: dict[int, list[Region]] = defaultdict(list)
        for r in Region.objects.filter(assessment_id__in=list(assessments)).order_by("index"):
            regions[r.assessment_id].append(r)
        labels = {
            pl.photo_id: pl
            for pl in PhotoLabels.objects.filter(photo_id__in=photo_ids).prefetch_related("regions")
        }
        ledger: dict[uuid.UUID, list[OverrideLedgerEntry]] = defaultdict(list)
        for e in (
            OverrideLedgerEntry.objects.filter(photo_id__in=photo_ids)
            .select_related("model_version")
            .order_by("photo_id", "labels_version", "id")
        ):
            ledger[e.photo_id].append(e)

        for c in batch:
            photo = photos[c.photo_id]
            pa = assessments[c.assessment_id]
            try:
                photo_working_ensure(photo=photo)  # a lost working copy is rebuilt
            except PhotoFileMissingError:
                skipped.photos += 1  # one lost photo never fails the whole export
                continue
            width, height = _working_size(photo)
            mv = pa.model_version.version

            def keep(label: str) -> bool:
                if label in known:
                    return True
                skipped.regions += 1
                skipped.labels.add(label)
                return False

            predictions = [
                label_export.ExportRegion(
                    index=r.index,
                    label=r.label,
                    mask=_region_mask(r.mask_rle, height, width),
                    severity=r.severity,
                    source="model",
                    score=r.confidence,
                    model_version=mv,
                    part=r.part or None,
                )
                for r in regions[pa.pk]
                if keep(r.label)
            ]
            # every model region's part, also of one whose type the label map lacks: a kept
            # adjuster region that started from it still sits on that part
            part_of = {r.index: r.part or None for r in regions[pa.pk]}
            score_of = {r.index: r.confidence for r in regions[pa.pk]}
            pl = labels.get(c.photo_id) if c.reviewed else None
            if pl is not None:
                human = [
                    label_export.ExportRegion(
                        index=r.index,
                        label=r.label,
                        mask=_region_mask(r.mask_rle, height, width),
                        severity=r.severity,
                        # A model region a reviewer let through unchanged is not a person's
                        # drawing: it keeps the model's score and says so.
                        source="accepted" if r.origin == "accepted" else "human",
                        score=score_of.get(r.source_index) if r.origin == "accepted" else None,
                        model_version=mv,
                        reviewer=_reviewer(pl.adjuster_id),
                        source_index=r.source_index,
                        # the part the adjuster chose (review LabelRegion.part), else the part
                        # of the prediction the adjuster started from, where known
                        part=r.part or part_of.get(r.source_index),
                    )
                    for r in sorted(pl.regions.all(), key=lambda r: r.index)
                    if keep(r.label)
                ]
                rows = _ledger_rows(ledger[c.photo_id], pl)
            else:
                human, rows = [], []
            name = photo.working.name
            yield label_export.ExportImage(
                key=str(photo.pk),
                split=split_for_claim(photo.claim_id),
                width=width,
                height=height,
                image=functools.partial(photo.working.storage.open, name, "rb"),
                image_ext=name.rsplit(".", 1)[-1].lower() if "." in name else "jpg",
                labels=human if pl is not None else predictions,
                predictions=predictions,
                reviewed=pl is not None,
                photo_score=pa.photo_confidence,
                meta={
                    "photo_id": str(photo.pk),
                    "claim_id": str(photo.claim_id),
                    "model_version": mv,
                    "labels_version": pl.version if pl is not None else None,
                },
                ledger=rows,
            )


# --------------------------------------------------------------------------- writing


def export_write(
    *,
    target: str | IO[bytes],
    query: ExportQuery,
    formats: Sequence[str],
    polygons: bool = False,
) -> dict[str, Any]:
    """Write the export zip of ``query`` to ``target`` (a path or seekable file); counts."""
    label_map = export_label_map(query=query)
    skipped = _Skipped()
    if query.project is not None:
        from learning import export_projects

        images = export_projects.project_images_iter(
            items=export_projects.project_candidates(query=query),
            query=query,
            label_map=label_map,
            skipped=skipped,
        )
    else:
        images = export_images_iter(
            candidates=export_candidates(query=query), label_map=label_map, skipped=skipped
        )
    manifest = {"query": query.to_dict()}
    writer = label_export.LabelExportWriter(
        target, label_map=label_map, formats=formats, manifest=manifest, polygons=polygons
    )
    with writer:
        for image in images:
            writer.add(image)
        if skipped.regions:
            logger.warning(
                "export skipped %d regions with labels outside the label map: %s",
                skipped.regions,
                sorted(skipped.labels),
            )
        if skipped.photos:
            logger.warning("export skipped %d photos without any stored file", skipped.photos)
        writer.manifest["skipped_regions"] = skipped.regions
        writer.manifest["skipped_photos"] = skipped.photos
    return {
        **writer.counts,
        "skipped_regions": skipped.regions,
        "skipped_photos": skipped.photos,
    }


def export_query_validate(*, query: ExportQuery, user=None) -> ExportQuery:
    if query.split is not None and query.split not in SPLITS:
        raise ApplicationError(ERR_SPLIT, code="invalid_split")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise ApplicationError(ERR_DATES, code="invalid_dates")
    label_map = export_label_map(query=query)
    unknown = sorted(set(query.damage_types) - set(label_map.names[1:]))
    if unknown:
        raise ApplicationError(
            ERR_DAMAGE_TYPE.format(names=", ".join(unknown), label_map=label_map.name),
            code="invalid_damage_type",
            details={"unknown": unknown, "allowed": list(label_map.names[1:])},
        )
    if query.since_export is not None:
        since = ExportJob.objects.filter(pk=query.since_export)
        if user is not None:
            since = since.filter(requested_by=user)
        if not since.exists():
            raise ApplicationError(
                ERR_SINCE.format(export_id=query.since_export), code="invalid_since_export"
            )
    return query


def _formats_clean(formats: Sequence[str]) -> list[str]:
    if not formats:
        raise ApplicationError(ERR_FORMATS, code="invalid_format")
    for name in formats:
        if name not in label_export.FORMATS:
            raise ApplicationError(ERR_UNKNOWN_FORMAT.format(name=name), code="invalid_format")
    return [f for f in label_export.FORMATS if f in formats]


def export_job_create(
    *, user, formats: Sequence[str], query: ExportQuery, polygons: bool = False
) -> ExportJob:
    """Record the job and hand it to the ``exports`` queue once the row is committed."""
    from learning.tasks import export_labels_task

    formats = _formats_clean(formats)
    export_query_validate(query=query, user=user)
    job = ExportJob.objects.create(
        requested_by=user,
        formats=formats,
        coco_polygons=polygons,
        filters=query.to_dict(),
        since_export_id=query.since_export,
    )
    send_on_commit(export_labels_task, job.pk)
    return job


def _export_storage():
    """Private storage (no URL); archives are streamed only through the permission check."""
    return storages["default"]


def export_job_run(*, export_id: int) -> ExportJob:
    """Write the job's zip to a temporary file, then into private storage; idempotent."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().get(pk=export_id)
        if job.status == ExportJob.Status.SUCCEEDED:
            return job
        job.status = ExportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.error = ""
        job.save(update_fields=["status", "started_at", "error"])
    storage = _export_storage()
    name = f"{EXPORT_DIR}/{job.pk}.zip"
    try:
        with tempfile.TemporaryFile() as tmp:
            counts = export_write(
                target=tmp,
                query=ExportQuery.from_dict(job.filters),
                formats=job.formats,
                polygons=job.coco_polygons,
            )
            tmp.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(functools.partial(tmp.read, label_export.CHUNK_BYTES), b""):
                digest.update(chunk)
            size = tmp.tell()
            tmp.seek(0)
            if storage.exists(name):  # a re-run after a crash replaces the partial file
                storage.delete(name)
            saved = storage.save(name, File(tmp, name=name))
    except Exception as exc:
        job.status = ExportJob.Status.FAILED
        job.error = ERR_EXPORT_FAILED.format(kind=type(exc).__name__)[:300]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        logger.exception("export %s failed", job.pk)
        raise
    job.status = ExportJob.Status.SUCCEEDED
    job.file = saved
    job.counts = counts
    job.sha256 = digest.hexdigest()
    job.size_bytes = size
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "file", "counts", "sha256", "size_bytes", "finished_at"])
    logger.info("export %s: %d photos, %d bytes", job.pk, counts["images"], size)
    return job


# --------------------------------------------------------------------------- reads for the API


def export_job_list(*, user):
    return ExportJob.objects.filter(requested_by=user).order_by("-created_at", "-id")


def export_job_get(*, user, export_id) -> ExportJob:
    try:
        pk = int(str(export_id))
    except ValueError:
        raise NotFoundError(ERR_NOT_FOUND) from None
    job = ExportJob.objects.filter(pk=pk, requested_by=user).first()
    if job is None:
        raise NotFoundError(ERR_NOT_FOUND)
    return job


def export_job_open(*, job: ExportJob) -> IO[bytes]:
    """The finished archive, opened for streaming."""
    if job.status != ExportJob.Status.SUCCEEDED or not job.file:
        raise ConflictError(ERR_NOT_READY.format(status=job.status), code="export_not_ready")
    return _export_storage().open(job.file, "rb")
