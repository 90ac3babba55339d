"""How a candidate model is judged and what becomes active.

``evaluate_model_dir`` scores an exported model on the frozen evaluation split;
``promotion_decide`` is the promotion rule; the registry actions (shadow, promote by hand,
roll back) are what staff run from the admin. Activation itself is the assessment stage's
(``assessment.model_versions.model_version_activate``): it serves whichever version is active.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assessment import model_versions
from assessment.models import ModelVersion

ERR_NOT_A_CANDIDATE = "only a candidate, shadow or retired version can be {action} (it is {status})"
ERR_ALREADY_ACTIVE = "version {version} is already active"


def mean_iou(per_class_iou: dict) -> float | None:
    """Mean over classes with ground truth in the set (background included), as torchvision's
    ConfusionMatrix reports it."""
    values = [v for v in per_class_iou.values() if v is not None]
    return float(np.mean(values)) if values else None


def evaluate_model_dir(model_dir: Path, items: list) -> dict:
    """ml.evaluate metrics of one exported model on cached items, plus mean IoU."""
    from ml.calibration import collect_records
    from ml.evaluate import evaluate_predictions, headline
    from ml.inference import Segmenter

    if not items:
        return {"n_images": 0, "mean_iou": None, "per_class_iou": {}}
    seg = Segmenter.load(model_dir, threads=settings.CLAIMVISION_INFERENCE_THREADS)
    records = collect_records(seg, items)
    report = evaluate_predictions(records, seg.label_map.num_classes, seg.label_map.names)
    per_class = report["pixel"]["per_class_iou"]
    return {
        **headline(report),
        "mean_iou": mean_iou(per_class),
        "per_class_iou": per_class,
        "photo_confidence": [float(r["photo_confidence"]) for r in records],
        "photo_accepted": _photo_accepted(records, seg.label_map.num_classes),
    }


def _photo_accepted(records: list[dict], k: int) -> list[bool]:
    from ml.calibration import photo_accepted

    return [bool(photo_accepted(r["regions"], r["target"], k)) for r in records]


def promotion_decide(
    *, candidate: dict, active: dict, margin: float | None = None, tolerance: float | None = None
) -> dict:
    """The promotion rule: candidate mean IoU >= active + ``margin`` on the frozen evaluation
    set, and no class's IoU lower than the active model's by more than ``tolerance``.

    Returns the comparison stored on the candidate, with ``promote`` and the reasons.
    """
    margin = settings.CLAIMVISION_PROMOTION_MARGIN if margin is None else margin
    tolerance = settings.CLAIMVISION_PROMOTION_TOLERANCE if tolerance is None else tolerance
    c_iou, a_iou = candidate.get("mean_iou"), active.get("mean_iou")
    per_class, regressions = {}, []
    for name, a in (active.get("per_class_iou") or {}).items():
        c = (candidate.get("per_class_iou") or {}).get(name)
        if a is None or c is None:
            continue
        delta = c - a
        per_class[name] = {"active": a, "candidate": c, "delta": round(delta, 6)}
        if delta < -tolerance:
            regressions.append(name)
    reasons = []
    if c_iou is None or a_iou is None:
        reasons.append("no evaluation samples: nothing to compare on")
        gain = None
    else:
        gain = c_iou - a_iou
        if gain < margin:
            reasons.append(f"mean IoU gain {gain:+.4f} is below the margin {margin:.4f}")
    for name in regressions:
        reasons.append(
            f"{name} IoU drops by {-per_class[name]['delta']:.4f} (tolerance {tolerance:.4f})"
        )
    return {
        "promote": not reasons,
        "reasons": reasons,
        "candidate_mean_iou": c_iou,
        "active_mean_iou": a_iou,
        "gain": gain,
        "margin": margin,
        "tolerance": tolerance,
        "per_class": per_class,
        "regressions": regressions,
        "n_eval_images": candidate.get("n_images", 0),
    }


# --------------------------------------------------------------------------- registry actions


def model_version_set_shadow(*, model_version: ModelVersion, actor=None) -> ModelVersion:
    """Run ``model_version`` beside the active one on live claims; it decides nothing.

    At most one shadow: a previous shadow goes back to being a candidate. Each status change
    is audited (``config_changed``, who, before and after).
    """
    if model_version.status == ModelVersion.Status.ACTIVE:
        raise ValueError(ERR_ALREADY_ACTIVE.format(version=model_version.version))
    with transaction.atomic():
        moved = [
            (version, ModelVersion.Status.CANDIDATE)
            for version in ModelVersion.objects.select_for_update()
            .filter(status=ModelVersion.Status.SHADOW)
            .exclude(pk=model_version.pk)
        ]
        if model_version.status != ModelVersion.Status.SHADOW:
            moved.append((model_version, ModelVersion.Status.SHADOW))
        for version, status in moved:
            before = model_versions.model_version_snapshot(version)
            version.status = status
            version.save(update_fields=["status"])
            model_versions.model_version_change_record(
                model_version=version, before=before, actor=actor
            )
    model_version.refresh_from_db()
    return model_version


def model_version_promote(
    *, model_version: ModelVersion, note: str = "", actor=None
) -> ModelVersion:
    """Make a version active by hand (staff override of the promotion rule); recorded in notes."""
    if model_version.status == ModelVersion.Status.ACTIVE:
        raise ValueError(ERR_ALREADY_ACTIVE.format(version=model_version.version))
    return _activate_with_note(model_version, f"promoted by hand {note}".strip(), actor)


def model_version_rollback(*, to: ModelVersion | str, note: str = "", actor=None) -> ModelVersion:
    """Reactivate an earlier version; the current one is retired. Workers follow at their next
    task (``model_versions.segmenters`` reloads when the active version changes)."""
    target = to if isinstance(to, ModelVersion) else ModelVersion.objects.get(version=to)
    if target.status == ModelVersion.Status.ACTIVE:
        raise ValueError(ERR_ALREADY_ACTIVE.format(version=target.version))
    previous = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    what = f"rolled back from {previous.version}" if previous else "rolled back"
    return _activate_with_note(target, f"{what} {note}".strip(), actor)


def _activate_with_note(model_version: ModelVersion, note: str, actor=None) -> ModelVersion:
    stamp = f"{timezone.now():%Y-%m-%d %H:%M} {note}"
    with transaction.atomic():
        notes = (model_version.notes + "\n" if model_version.notes else "") + stamp
        ModelVersion.objects.filter(pk=model_version.pk).update(notes=notes)
        return model_versions.model_version_activate(
            model_version=model_version, actor=actor, reason=note
        )
