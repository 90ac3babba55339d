"""Writes for labelling projects: projects and members, photo import (one photo, a zip, a
folder), pre-labelling by the active model (and the sweeper of items stuck in it), labels with
optimistic concurrency, flags, skips and the QA step. Label files from other tools are read in
``labelling.label_import``.

Imported photos go through the customers' upload checks (``claims.images.ingest``: magic bytes,
pixel cap, truncation, re-encode without EXIF/GPS) and the same private storage aliases, under
``labelling/<project>/``; they never become claims.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from assessment import model_versions
from claims.roles import Role, user_has_role
from config import metrics
from config.errors import (
    ApplicationError,
    ConflictError,
)
from config.queue import send_on_commit
from config.storage import storage_read_bytes
from labelling.models import (
    ItemLabels,
    ItemLabelsSave,
    ItemPrediction,
    LabellingProject,
    ProjectItem,
    ProjectMember,
    QAReview,
)
from review import labels as review_labels
from review import masks
from review.labels import ACCEPT_IOU, PART_NAMES  # noqa: F401 (label_import reads PART_NAMES here)

logger = logging.getLogger(__name__)

S = ProjectItem.Status

ERR_NOT_MANAGER = "Only the data team and admins manage labelling projects."
ERR_NOT_LABELLER = "You are not a labeller of this project."
ERR_NOT_REVIEWER = "You are not a reviewer of this project."
ERR_ROLE = "Role must be labeller or reviewer."
ERR_OUTCOME = "Outcome must be accepted or sent_back."
ERR_FIELD = "{name} cannot be changed."
ERR_SHARE = "{name} must be between 0 and 1."
ERR_LABEL_MAP = "The label map is not usable: {error}."
ERR_STALE_LABELS = (
    "These labels were saved again since you loaded them (now version {current}, you started "
    "from {base}). Reload the item to see the latest labels."
)
ERR_NOT_EDITABLE = "An item that is {status} cannot be labelled (it is with QA or finished)."
ERR_NOT_SKIPPABLE = "An item that is {status} cannot be skipped."
ERR_NOT_IN_QA = "This item is {status}, not waiting for QA."
ERR_OWN_WORK = "A reviewer cannot check labels they saved themselves."
ERR_NOTE_REQUIRED = "Say why the item is sent back: the labeller reads the note."
ERR_NO_LABELS = "This item has no labels to check."
ERR_INVALID_MASK = review_labels.ERR_INVALID_MASK  # the shared check words these three
ERR_INVALID_LABEL = "Region {index}: {label!r} is not a damage type of this project."
ERR_INVALID_SEVERITY = review_labels.ERR_INVALID_SEVERITY
ERR_INVALID_SOURCE = "Region {index}: no pre-label region {source} was shown on this item."
ERR_INVALID_PART = review_labels.ERR_INVALID_PART
ERR_PRELABEL_GAVE_UP = (
    "No pre-labels after {attempts} sends to the workers (lost messages, or a worker stopped on "
    "this photo): label it from scratch."
)
ERR_TOO_MANY_REGIONS = "An item holds at most {limit} regions."
# The long side of the grid labels are stored on: the bundled model's ``input_long_side``
# (ml/models/damage-v2/model.json), so an item's labels sit on the same network-size grid as
# its pre-labels and as reviewed claim labels; a model with another input size has its
# predictions resampled onto it (nearest neighbour) when they are stored.
LABEL_GRID_LONG_SIDE = 384

# --------------------------------------------------------------------------- permissions


class LabellingPermissionError(ApplicationError):
    """The caller may see the project but not do this in it (403)."""

    status_code = 403
    code = "permission_denied"


def user_can_manage_projects(user) -> bool:
    """The data team and admins create projects, import photos and manage members."""
    return user_has_role(user, Role.DATA_TEAM) or user_has_role(user, Role.ADMIN)


def require_manager(user) -> None:
    if not user_can_manage_projects(user):
        raise LabellingPermissionError(ERR_NOT_MANAGER)


def _has_role(project: LabellingProject, user, role: str) -> bool:
    return ProjectMember.objects.filter(project=project, user=user, role=role).exists()


def _require_role(project: LabellingProject, user, role: str) -> None:
    """A project's managers may do everything its members do (they run the project)."""
    if user_can_manage_projects(user) or _has_role(project, user, role):
        return
    message = ERR_NOT_LABELLER if role == ProjectMember.Role.LABELLER else ERR_NOT_REVIEWER
    raise LabellingPermissionError(message)


def draw(item_id, purpose: str) -> float:
    """A uniform number in [0, 1) fixed by the item's id and the purpose ("scratch", "qa").

    SHA-256 rather than ``random``: the same on every process and machine, so the draw behind
    ``show_prelabels`` or a QA selection can be re-derived and audited from the id alone.
    """
    digest = hashlib.sha256(f"{item_id}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --------------------------------------------------------------------------- projects


def _check_share(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ApplicationError(ERR_SHARE.format(name=name), code="invalid_share")
    return value


def _clean_label_map(label_map: dict | None) -> dict:
    from ml.labels import LabelMap

    if label_map is None:
        return dict(model_versions.model_version_active().label_map)
    try:
        return LabelMap.from_dict(label_map).to_dict()
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # not a label map
        raise ApplicationError(ERR_LABEL_MAP.format(error=exc), code="invalid_label_map") from None


def project_create(
    *,
    user,
    name: str,
    instructions: str = "",
    label_map: dict | None = None,
    qa_share: float = 0.2,
    scratch_share: float = 0.1,
) -> LabellingProject:
    """A new project; without ``label_map``, the active model's (what it pre-labels with)."""
    require_manager(user)
    return LabellingProject.objects.create(
        name=name.strip(),
        instructions=instructions.strip(),
        label_map=_clean_label_map(label_map),
        qa_share=_check_share("qa_share", qa_share),
        scratch_share=_check_share("scratch_share", scratch_share),
        created_by=user,
    )


def project_update(*, user, project: LabellingProject, **fields: Any) -> LabellingProject:
    """Change name, instructions, qa_share or scratch_share. A changed scratch_share applies to
    items imported from now on: earlier draws stay recorded as they were."""
    require_manager(user)
    allowed = {"name", "instructions", "qa_share", "scratch_share"}
    for key, value in fields.items():
        if key not in allowed:
            raise ApplicationError(ERR_FIELD.format(name=key), code="invalid_field")
        if key in ("qa_share", "scratch_share"):
            value = _check_share(key, value)
        elif isinstance(value, str):
            value = value.strip()
        setattr(project, key, value)
    project.save()
    return project


def project_member_add(*, user, project: LabellingProject, member, role: str) -> ProjectMember:
    """Idempotent: adding a member again in the same role returns the existing membership."""
    require_manager(user)
    if role not in ProjectMember.Role.values:
        raise ApplicationError(
            f"Role must be one of {ProjectMember.Role.values}.", code="invalid_role"
        )
    membership, _ = ProjectMember.objects.get_or_create(project=project, user=member, role=role)
    return membership


def project_member_remove(*, user, project: LabellingProject, member, role: str) -> int:
    """Remove ``member``'s ``role``; items assigned to them go back to the pool."""
    require_manager(user)
    with transaction.atomic():
        deleted, _ = ProjectMember.objects.filter(project=project, user=member, role=role).delete()
        if role == ProjectMember.Role.LABELLER:
            ProjectItem.objects.filter(project=project, assigned_to=member).update(assigned_to=None)
    return deleted


# --------------------------------------------------------------------------- pre-labelling


def _resample(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    from ml.label_export_core import upsample_mask

    return upsample_mask(mask, height, width)  # nearest at pixel centres, either direction


def _prediction_regions(prediction: dict, item: ProjectItem) -> list[dict]:
    """The model's regions on the item's grid, in the stored shape (``ItemPrediction``)."""
    from ml.coco import rle_to_mask

    regions = []
    for region in prediction.get("regions", []):
        mask = rle_to_mask(region["mask_rle"])
        mask = _resample(mask, item.mask_height, item.mask_width)
        if not mask.any():
            continue
        regions.append(
            {
                "index": len(regions),
                "label": region["label"],
                "label_id": int(region["label_id"]),
                "severity": region["severity"],
                "score": float(region["confidence"]),
                "mask_rle": masks.canonical_rle(mask),
                "bbox": masks.bbox(mask),
                "area": int(mask.sum()),
                "part": region.get("part") or "",
            }
        )
    return regions


def item_prelabel(*, item_id) -> ItemPrediction | None:
    """Pre-label one item with the active model, at most once per (item, model version).

    Idempotent: a re-delivered task finds the stored prediction and only makes sure the item's
    status says so. An undecodable working copy is recorded on the item (``prelabel_error``)
    and the item is ready to label from scratch; other errors propagate to the task's retry.
    """
    from assessment.severity import severity_apply
    from ml.inference import ImageDecodeError

    item = ProjectItem.objects.filter(pk=item_id).first()
    if item is None:
        logger.warning("labelling item %s vanished before pre-labelling", item_id)
        return None
    model_version = model_versions.model_version_active()
    existing = ItemPrediction.objects.filter(item=item, model_version=model_version).first()
    if existing is not None:
        _prelabel_done(item)
        return existing
    started = time.perf_counter()
    data = storage_read_bytes(item.working.storage, item.working.name)
    read_ms = (time.perf_counter() - started) * 1000
    segmenter = model_versions.segmenters.get(model_version)
    try:
        with metrics.inference_timer(model_version=model_version.version):
            raw = segmenter.predict(data)
        prediction = severity_apply(segmenter, raw.to_dict())
    except ImageDecodeError as exc:
        logger.warning("labelling item %s could not be decoded: %s", item.pk, exc)
        _prelabel_done(item, error=f"the photo could not be decoded: {exc}"[:300])
        return None
    try:
        with transaction.atomic():
            stored = ItemPrediction.objects.create(
                item=item,
                model_version=model_version,
                regions=_prediction_regions(prediction, item),
                photo_confidence=min(max(float(prediction["photo_confidence"]), 0.0), 1.0),
                mask_width=item.mask_width,
                mask_height=item.mask_height,
                timings_ms={**prediction["timings_ms"], "read": round(read_ms, 2)},
            )
    except IntegrityError:  # a concurrent delivery stored it first: keep that one
        stored = ItemPrediction.objects.get(item=item, model_version=model_version)
    _prelabel_done(item)
    return stored


def _prelabel_done(item: ProjectItem, error: str = "") -> None:
    """Move an item waiting for its pre-labels on; one already being labelled keeps its
    status (a re-run with a new model must not undo a labeller's progress)."""
    now = timezone.now()
    ProjectItem.objects.filter(pk=item.pk, status__in=[S.NEW, S.PRELABELLING]).update(
        status=S.PRELABELLED, prelabel_error=error, updated_at=now
    )
    if not error:
        # The sweeper may have given up on it a moment before this delivery finished: the
        # pre-labels exist now, so the item no longer says it has none (nobody started it).
        ProjectItem.objects.filter(pk=item.pk, status=S.PRELABELLED).exclude(
            prelabel_error=""
        ).update(prelabel_error="", updated_at=now)


def project_prelabel(*, project: LabellingProject, statuses: Iterable[str] = (S.NEW,)) -> int:
    """Send the items of ``project`` in ``statuses`` to the workers again (after a model
    change, or items imported while the broker was down); returns how many were sent."""
    from labelling.tasks import prelabel_item_task

    with transaction.atomic():
        ids = list(
            ProjectItem.objects.filter(project=project, status__in=list(statuses)).values_list(
                "pk", flat=True
            )
        )
        ProjectItem.objects.filter(pk__in=ids, status=S.NEW).update(status=S.PRELABELLING)
        for pk in ids:
            send_on_commit(prelabel_item_task, str(pk))
    return len(ids)


def items_sweep_stuck(*, now=None) -> dict[str, list[str]]:
    """Send items stuck in ``prelabelling`` to the workers again (a lost message, a killed
    worker, a task whose retries ran out); returns the ids ``resent`` and ``gave_up``.

    An item is stuck when it has not moved for ``CLAIMVISION_PRELABEL_STUCK_MINUTES`` (its
    ``updated_at``: set at import and by every send here). Re-sending is safe: pre-labelling is
    idempotent per (item, model version). An item sent ``CLAIMVISION_PRELABEL_MAX_ATTEMPTS``
    times without an outcome is not sent again: it becomes ``prelabelled`` with
    ``prelabel_error`` saying why, so it is labelled from scratch instead of waiting forever.
    """
    from labelling.tasks import prelabel_item_task

    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CLAIMVISION_PRELABEL_STUCK_MINUTES)
    max_attempts = settings.CLAIMVISION_PRELABEL_MAX_ATTEMPTS
    stuck = list(
        ProjectItem.objects.filter(status=S.PRELABELLING, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("pk", "prelabel_resends")[:500]  # one sweep's work; the next takes the rest
    )
    resent, gave_up = [], []
    for pk, resends in stuck:
        # Each update re-checks the item is still stuck (a worker may have finished it since).
        still = ProjectItem.objects.filter(
            pk=pk, status=S.PRELABELLING, updated_at__lt=cutoff, prelabel_resends=resends
        )
        if resends + 1 >= max_attempts:
            error = ERR_PRELABEL_GAVE_UP.format(attempts=resends + 1)
            if still.update(status=S.PRELABELLED, prelabel_error=error, updated_at=now):
                gave_up.append(str(pk))
        elif still.update(prelabel_resends=F("prelabel_resends") + 1, updated_at=now):
            send_on_commit(prelabel_item_task, str(pk))
            resent.append(str(pk))
    if resent:
        logger.warning("re-sent %d labelling items stuck in pre-labelling", len(resent))
    if gave_up:
        logger.warning(
            "%d labelling items left without pre-labels after %d sends", len(gave_up), max_attempts
        )
    return {"resent": resent, "gave_up": gave_up}


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class CleanRegion:
    label: str
    label_id: int
    severity: str
    mask: np.ndarray  # bool, the item's mask grid
    source_index: int | None = None
    part: str = ""


def item_prediction_shown(*, item: ProjectItem) -> ItemPrediction | None:
    """The pre-labels a labeller of ``item`` sees: the newest prediction, none on a
    from-scratch item (``show_prelabels`` False)."""
    if not item.show_prelabels:
        return None
    return item.predictions.order_by("-created_at", "-id").first()


def item_classes(project: LabellingProject) -> dict[str, int]:
    """The project's damage types, name to class id (its label map)."""
    return {c["name"]: int(c["id"]) for c in project.label_map.get("classes", [])}


def regions_clean(
    *, item: ProjectItem, regions: list[dict], prediction: ItemPrediction | None
) -> list[CleanRegion]:
    """Check a client's regions (``{"label", "severity", "mask_rle", "source_index"?,
    "part"?}``) against the project's label map and the item's mask grid."""
    shown = {r["index"] for r in prediction.regions} if prediction is not None else set()
    clean = review_labels.regions_clean(
        regions,
        classes=item_classes(item.project),
        source_indices=shown,
        mask_height=item.mask_height,
        mask_width=item.mask_width,
        err_too_many=ERR_TOO_MANY_REGIONS,
        err_label=ERR_INVALID_LABEL,
        err_source=ERR_INVALID_SOURCE,
    )
    return [
        CleanRegion(r.label, r.label_id, r.severity, r.mask, r.source_index, r.part) for r in clean
    ]


def region_origin(region: CleanRegion, prediction: ItemPrediction | None) -> str:
    """review's rule: ``accepted`` = the pre-label region unchanged (same type and severity,
    IoU >= review.labels.ACCEPT_IOU), ``added`` = drawn without a source, else ``edited``."""
    from ml.coco import rle_to_mask

    if region.source_index is None or prediction is None:
        return "added"
    source = next(r for r in prediction.regions if r["index"] == region.source_index)
    if source["label"] != region.label or source["severity"] != region.severity:
        return "edited"
    iou = masks.iou(rle_to_mask(source["mask_rle"]), region.mask)
    return "accepted" if iou >= ACCEPT_IOU else "edited"


def _stored_regions(clean: list[CleanRegion], prediction: ItemPrediction | None) -> list[dict]:
    return [
        {
            "index": index,
            "label": r.label,
            "label_id": r.label_id,
            "severity": r.severity,
            "mask_rle": masks.canonical_rle(r.mask),
            "bbox": masks.bbox(r.mask),
            "area": int(r.mask.sum()),
            "origin": region_origin(r, prediction),
            "source_index": r.source_index,
            "part": r.part,
        }
        for index, r in enumerate(clean)
    ]


def _labels_write(
    *,
    item: ProjectItem,
    current: ItemLabels | None,
    regions: list[dict],
    source: str,
    labeller,
    prediction: ItemPrediction | None,
    active_ms: int,
    now,
) -> ItemLabels:
    """Write a new version of ``item``'s labels and its history row; the caller holds the
    item's row lock and has checked the base version."""
    if current is None:
        current = ItemLabels(item=item, version=0)
    current.version += 1
    current.regions = regions
    current.source = source
    current.labeller = labeller
    current.prediction = prediction
    current.active_ms = (current.active_ms or 0) + active_ms
    current.saved_at = now
    current.save()
    ItemLabelsSave.objects.create(
        item=item,
        version=current.version,
        regions=regions,
        source=source,
        labeller=labeller,
        prediction=prediction,
        active_ms=active_ms,
        show_prelabels=item.show_prelabels,
        saved_at=now,
    )
    return current


def _submit_status(item: ProjectItem) -> str:
    """Where submitted labels go: QA when the item is flagged, was sent back (the reviewer
    checks the fix), or is drawn with the project's qa_share (once per item, recorded)."""
    if item.qa_selected is None:
        item.qa_selected = draw(item.pk, "qa") < item.project.qa_share
    if item.flagged or item.qa_selected or item.status == S.SENT_BACK:
        return S.IN_QA
    return S.LABELLED


def _lock_item(item: ProjectItem) -> ProjectItem:
    return ProjectItem.objects.select_for_update().select_related("project").get(pk=item.pk)


def item_labels_save(
    *,
    item: ProjectItem,
    user,
    base_version: int,
    regions: list[dict],
    active_ms: int = 0,
    submit: bool = False,
    now=None,
) -> ItemLabels:
    """Store a labeller's regions for one item (a new version) and append it to the history.

    ``base_version`` is the version the screen loaded (0 for none): a save from a stale screen
    gets 409 ``stale_labels`` and changes nothing. ``submit`` finishes the item: it goes to QA
    or is labelled (:func:`_submit_status`); without it the item stays in progress.
    ``active_ms`` (the screen's active time since its last save) adds to the item's time on
    task, which the time-saved measurement reads.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_item(item)
        _require_role(locked.project, user, ProjectMember.Role.LABELLER)
        if locked.status in (S.IN_QA, S.ACCEPTED):
            raise ConflictError(
                ERR_NOT_EDITABLE.format(status=locked.status), code="item_not_editable"
            )
        current = ItemLabels.objects.select_for_update().filter(item=locked).first()
        current_version = current.version if current else 0
        if base_version != current_version:
            raise ConflictError(
                ERR_STALE_LABELS.format(current=current_version, base=base_version),
                code="stale_labels",
                details={"current_version": current_version, "base_version": base_version},
            )
        prediction = item_prediction_shown(item=locked)
        clean = regions_clean(item=locked, regions=regions, prediction=prediction)
        labels = _labels_write(
            item=locked,
            current=current,
            regions=_stored_regions(clean, prediction),
            source="labelled",
            labeller=user,
            prediction=prediction,
            active_ms=active_ms,
            now=now,
        )
        locked.time_on_task_ms += active_ms
        if locked.assigned_to_id is None:
            locked.assigned_to = user
        locked.status = _submit_status(locked) if submit else S.IN_PROGRESS
        locked.save(
            update_fields=["time_on_task_ms", "assigned_to", "status", "qa_selected", "updated_at"]
        )
    item.refresh_from_db()
    return labels


def item_labels_import(
    *, item: ProjectItem, clean: list[CleanRegion], now=None
) -> ItemLabels | None:
    """Store labels brought from another tool as the item's labels (source ``imported``),
    submitted like a labeller's (QA draw). An item a person already labelled here is left
    alone (None): the import never overwrites work done on this product."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_item(item)
        current = ItemLabels.objects.select_for_update().filter(item=locked).first()
        if current is not None and current.source != "imported":
            return None
        if locked.status in (S.IN_QA, S.ACCEPTED):
            return None
        labels = _labels_write(
            item=locked,
            current=current,
            regions=_stored_regions(clean, None),
            source="imported",
            labeller=None,
            prediction=None,
            active_ms=0,
            now=now,
        )
        locked.status = _submit_status(locked)
        locked.save(update_fields=["status", "qa_selected", "updated_at"])
    return labels


def item_flag(*, item: ProjectItem, user, note: str = "", flagged: bool = True) -> ProjectItem:
    """A labeller flags an item for a second look; a flagged item always goes to QA, one
    already labelled goes now."""
    with transaction.atomic():
        locked = _lock_item(item)
        _require_role(locked.project, user, ProjectMember.Role.LABELLER)
        locked.flagged = flagged
        locked.flag_note = note.strip() if flagged else ""
        if flagged and locked.status == S.LABELLED:
            locked.status = S.IN_QA
        locked.save(update_fields=["flagged", "flag_note", "status", "updated_at"])
    return locked


def item_skip(*, item: ProjectItem, user) -> ProjectItem:
    """Put an item aside (not a car photo, unreadable); it can be labelled later."""
    with transaction.atomic():
        locked = _lock_item(item)
        _require_role(locked.project, user, ProjectMember.Role.LABELLER)
        if locked.status in (S.IN_QA, S.ACCEPTED, S.LABELLED):
            raise ConflictError(
                ERR_NOT_SKIPPABLE.format(status=locked.status), code="item_not_skippable"
            )
        locked.status = S.SKIPPED
        if locked.assigned_to_id is None:
            locked.assigned_to = user
        locked.save(update_fields=["status", "assigned_to", "updated_at"])
    return locked


# --------------------------------------------------------------------------- QA


def region_agreement(
    labeller: list[tuple[str, np.ndarray]], reviewer: list[tuple[str, np.ndarray]]
) -> tuple[list[dict], float | None, float | None]:
    """Per-region agreement between two sets of ``(label, mask)`` regions.

    Each labeller region is matched to the reviewer region it overlaps most (IoU); reviewer
    regions no labeller region overlaps are rows too (``index`` None, IoU 0: the labeller
    missed them). Returns the rows, the mean IoU over all rows and the share of matched rows
    whose types agree (None when there is nothing to compare).
    """
    rows: list[dict] = []
    matched: set[int] = set()
    for index, (label, mask) in enumerate(labeller):
        best, best_iou = None, 0.0
        for j, (_, other) in enumerate(reviewer):
            value = masks.iou(mask, other)
            if value > best_iou:
                best, best_iou = j, value
        if best is not None:
            matched.add(best)
        rows.append(
            {
                "index": index,
                "label": label,
                "iou": round(float(best_iou), 4),
                "matched_index": best,
                "matched_label": reviewer[best][0] if best is not None else None,
                "type_agrees": best is not None and reviewer[best][0] == label,
            }
        )
    for j, (label, _) in enumerate(reviewer):
        if j not in matched and not any(masks.iou(m, reviewer[j][1]) > 0 for _, m in labeller):
            rows.append(
                {
                    "index": None,
                    "label": None,
                    "iou": 0.0,
                    "matched_index": j,
                    "matched_label": label,
                    "type_agrees": False,
                }
            )
    if not rows:
        return rows, None, None
    mean_iou = float(np.mean([r["iou"] for r in rows]))
    compared = [r for r in rows if r["index"] is not None and r["matched_index"] is not None]
    type_agreement = float(np.mean([r["type_agrees"] for r in compared])) if compared else None
    return rows, round(mean_iou, 4), None if type_agreement is None else round(type_agreement, 4)


def _label_masks(regions: list[dict]) -> list[tuple[str, np.ndarray]]:
    from ml.coco import rle_to_mask

    return [(r["label"], rle_to_mask(r["mask_rle"])) for r in regions]


def item_qa_review(
    *,
    item: ProjectItem,
    reviewer,
    outcome: str,
    note: str = "",
    regions: list[dict] | None = None,
    now=None,
) -> QAReview:
    """A reviewer accepts an item or sends it back with a note, recording agreement.

    ``regions``: the reviewer's own version of the labels, where they corrected something;
    agreement is measured against it (without it the reviewer agreed with every region).
    Accepted with corrections, the reviewer's regions become the item's labels (a new version).
    Sent back, the item returns to its labeller with the note and comes back to QA.
    """
    now = now or timezone.now()
    if outcome not in QAReview.Outcome.values:
        raise ApplicationError(
            f"Outcome must be one of {QAReview.Outcome.values}.", code="invalid_outcome"
        )
    note = note.strip()
    if outcome == QAReview.Outcome.SENT_BACK and not note:
        raise ApplicationError(ERR_NOTE_REQUIRED, code="note_required")
    with transaction.atomic():
        locked = _lock_item(item)
        _require_role(locked.project, reviewer, ProjectMember.Role.REVIEWER)
        if locked.status != S.IN_QA:
            raise ConflictError(ERR_NOT_IN_QA.format(status=locked.status), code="item_not_in_qa")
        labels = ItemLabels.objects.select_for_update().filter(item=locked).first()
        if labels is None:
            raise ConflictError(ERR_NO_LABELS, code="no_labels")
        if labels.labeller_id is not None and labels.labeller_id == reviewer.pk:
            raise ConflictError(ERR_OWN_WORK, code="own_work")
        labeller_regions = _label_masks(labels.regions)
        if regions is None:
            reviewer_regions = labeller_regions
            clean = None
        else:
            clean = regions_clean(item=locked, regions=regions, prediction=None)
            reviewer_regions = [(r.label, r.mask) for r in clean]
        rows, mean_iou, type_agreement = region_agreement(labeller_regions, reviewer_regions)
        review = QAReview.objects.create(
            item=locked,
            reviewer=reviewer,
            labeller=labels.labeller,
            outcome=outcome,
            note=note,
            labels_version=labels.version,
            agreement=rows,
            mean_iou=mean_iou,
            type_agreement=type_agreement,
        )
        if clean is not None and outcome == QAReview.Outcome.ACCEPTED:
            _labels_write(
                item=locked,
                current=labels,
                regions=_stored_regions(clean, None),
                source="labelled",
                labeller=reviewer,
                prediction=None,
                active_ms=0,
                now=now,
            )
        locked.status = S.ACCEPTED if outcome == QAReview.Outcome.ACCEPTED else S.SENT_BACK
        if outcome == QAReview.Outcome.ACCEPTED:
            locked.flagged = False
        locked.save(update_fields=["status", "flagged", "updated_at"])
    return review
