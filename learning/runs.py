"""Retraining runs: queued by the beat check or ``manage.py retrain``, run on the ``training``
queue, each making a candidate model from reviewed labels.

Flow (docs/learning-loop.md): ``retrain_check`` (beat, every 10 minutes) or ``manage.py
retrain`` queue a :class:`RetrainingRun`; the ``learning.retrain`` task calls :func:`retrain`,
which fine-tunes the active model on the reviewed train split plus base data
(``learning.fine_tune``), evaluates candidate and active model on the frozen evaluation split,
exports the candidate to ``var/models/<version>/``, registers it and applies the promotion rule
(``learning.promotion``).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import logging
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assessment import model_versions
from assessment.models import ModelVersion
from config.queue import send_on_commit
from learning.fine_tune import FineTuneConfig, _base_items, _load_torch_model, fine_tune
from learning.models import RetrainingRun
from learning.promotion import evaluate_model_dir, promotion_decide
from learning.severity import severity_learn
from learning.splits import EVAL, TRAIN
from learning.training_data import reviewed_samples, sample_items, snapshot_describe, snapshot_write

logger = logging.getLogger(__name__)


ERR_NO_REVIEWED = "no reviewed training samples yet (use --force to train on base data)"
ERR_RUN_IN_PROGRESS = "another retraining run is in progress (run {run_id})"

# A run still "running" after this long died with its worker (the task's hard limit is 55 min).
RUN_STALE_AFTER = dt.timedelta(hours=2)
RUN_OPTIONS = ("steps", "use_base", "force")
ERR_NO_EVAL = (
    "the frozen evaluation split has no reviewed photo yet, so no candidate could be compared "
    "or promoted; review more claims (or run with --force to train anyway)"
)
LOG_TAIL_LINES = 40


def learning_dir() -> Path:
    return Path(settings.VAR_DIR) / "learning"


def models_dir() -> Path:
    return Path(settings.VAR_DIR) / "models"


# --------------------------------------------------------------------------- runs


class RunCancelled(Exception):
    """Staff cancelled the run while it trained (retrain_cancel)."""


class _TailHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _run_update(run: RetrainingRun, **fields) -> None:
    """Progress writes commit on their own (no surrounding transaction): staff see them live."""
    for k, v in fields.items():
        setattr(run, k, v)
    RetrainingRun.objects.filter(pk=run.pk).update(**fields)


def reviewed_since(since: dt.datetime | None) -> int:
    """Photos reviewed since ``since``, and labelling-project items whose labels became final
    since then (the item's ``updated_at`` moves when QA accepts it): both are new samples."""
    from labelling.selectors import items_for_training
    from review.models import PhotoLabels

    rows = PhotoLabels.objects.all()
    items = items_for_training()
    if since:
        rows, items = rows.filter(saved_at__gt=since), items.filter(updated_at__gt=since)
    return rows.count() + items.count()


def _run_in_progress(exclude: int | None = None) -> RetrainingRun | None:
    cutoff = timezone.now() - RUN_STALE_AFTER
    rows = RetrainingRun.objects.filter(
        status__in=[RetrainingRun.Status.QUEUED, RetrainingRun.Status.RUNNING],
        created_at__gte=cutoff,
    )
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.first()


def retrain_due(now: dt.datetime | None = None) -> str | None:
    """The trigger that makes a run due now (``count`` or ``schedule``), or None."""
    now = now or timezone.now()
    if _run_in_progress() is not None:
        return None
    last = RetrainingRun.objects.order_by("-created_at", "-id").first()
    new = reviewed_since(last.created_at if last else None)
    after = settings.CLAIMVISION_RETRAIN_AFTER_REVIEWED
    if after > 0 and new >= after:
        return RetrainingRun.Trigger.COUNT
    hours = settings.CLAIMVISION_RETRAIN_SCHEDULE_HOURS
    waited = last is None or now - last.created_at >= dt.timedelta(hours=hours)
    if hours > 0 and new > 0 and waited:
        return RetrainingRun.Trigger.SCHEDULE
    return None


def retrain_enqueue(*, trigger: str, options: dict | None = None) -> RetrainingRun:
    """Queue a run and send it to the training queue after commit. ``options``: what
    ``manage.py retrain`` takes (``steps``, ``use_base``, ``force``), carried to the worker."""
    from learning.tasks import retrain_task

    options = {k: v for k, v in (options or {}).items() if k in RUN_OPTIONS}
    run = RetrainingRun.objects.create(
        trigger=trigger, reviewed_count=reviewed_since(None), message="queued"
    )
    if options:
        send_on_commit(retrain_task, run.pk, options)
    else:
        send_on_commit(retrain_task, run.pk)
    return run


def retrain_run_options(options: dict | None) -> tuple[FineTuneConfig, bool]:
    """(config, force) of a run from ``retrain_enqueue``'s options."""
    options = dict(options or {})
    force = bool(options.pop("force", False))
    overrides = {k: v for k, v in options.items() if k in RUN_OPTIONS and v is not None}
    return FineTuneConfig.from_settings(**overrides), force


def retrain_cancel(*, run: RetrainingRun, actor: str) -> bool:
    """Mark a queued or running run failed (staff, in the admin). A queued run never starts; a
    running one stops at its next progress report; a run whose worker died stops blocking new
    runs. False when the run had already ended."""
    ended = RetrainingRun.objects.filter(
        pk=run.pk, status__in=[RetrainingRun.Status.QUEUED, RetrainingRun.Status.RUNNING]
    ).update(
        status=RetrainingRun.Status.FAILED,
        message=f"cancelled by {actor}"[:300],
        finished_at=timezone.now(),
    )
    return bool(ended)


def retrain_check() -> RetrainingRun | None:
    """Beat entry point: queue a run when one is due (under a lock, so two beats queue one)."""
    with transaction.atomic():
        list(RetrainingRun.objects.select_for_update().order_by("-id")[:1])
        trigger = retrain_due()
        if trigger is None:
            return None
        run = retrain_enqueue(trigger=trigger)
    logger.info("retraining run %s queued (%s)", run.pk, trigger)
    return run


def _version_name(run: RetrainingRun) -> str:
    return f"retrain-{timezone.now():%Y%m%d-%H%M%S}-r{run.pk}"


def retrain(
    *,
    trigger: str = RetrainingRun.Trigger.MANUAL,
    run: RetrainingRun | None = None,
    config: FineTuneConfig | None = None,
    force: bool = False,
) -> RetrainingRun:
    """Fine-tune the active model, evaluate, export, register and maybe promote.

    Never raises for a data or training problem: the run ends ``failed`` with the reason, which
    is what staff read in the admin. ``force`` runs even with no new reviewed photo.
    """
    cfg = config or FineTuneConfig.from_settings()
    if run is None:
        run = RetrainingRun.objects.create(trigger=trigger, reviewed_count=reviewed_since(None))
    other = _run_in_progress(exclude=run.pk)
    if other is not None and other.status == RetrainingRun.Status.RUNNING:
        _run_update(
            run,
            status=RetrainingRun.Status.FAILED,
            message=ERR_RUN_IN_PROGRESS.format(run_id=other.pk),
            finished_at=timezone.now(),
        )
        return run
    tail = _TailHandler()
    logger.addHandler(tail)
    _run_update(run, status=RetrainingRun.Status.RUNNING, started_at=timezone.now(), progress=0.0)

    def report(fraction: float, message: str) -> None:
        logger.info("run %s: %s", run.pk, message)
        if RetrainingRun.objects.filter(pk=run.pk, status=RetrainingRun.Status.FAILED).exists():
            raise RunCancelled(RetrainingRun.objects.get(pk=run.pk).message)
        _run_update(run, progress=round(min(1.0, max(0.0, fraction)), 4), message=message[:300])

    try:
        _retrain(run, cfg, force, report)
    except RunCancelled as exc:
        logger.warning("retraining run %s stopped: %s", run.pk, exc)
        run.refresh_from_db()
    except (KeyboardInterrupt, SystemExit):  # Ctrl+C on the command, a worker shutting down
        _run_update(
            run,
            status=RetrainingRun.Status.FAILED,
            message="interrupted before it finished",
            finished_at=timezone.now(),
        )
        raise
    except Exception as exc:  # recorded for staff; the task does not retry a failed run
        logger.exception("retraining run %s failed", run.pk)
        _run_update(
            run,
            status=RetrainingRun.Status.FAILED,
            message=f"failed: {exc}"[:300],
            finished_at=timezone.now(),
        )
    finally:
        logger.removeHandler(tail)
        _run_update(run, log_tail="\n".join(tail.lines))
    return run


def _retrain(run: RetrainingRun, cfg: FineTuneConfig, force: bool, report) -> None:
    from ml.export import export_model_dir
    from ml.labels import LabelMap, PartMap

    parent = model_versions.model_version_active()
    parent_dir = model_versions._model_dir(parent)
    meta = json.loads((parent_dir / "model.json").read_text(encoding="utf-8"))
    label_map = LabelMap.from_dict(meta["label_map"])
    long_side = int(meta["input_long_side"])
    _run_update(run, parent=parent)
    t0 = time.perf_counter()
    report(0.0, "reading reviewed samples")
    samples = reviewed_samples()
    train = [s for s in samples if s.split == TRAIN]
    evaluation = [s for s in samples if s.split == EVAL]
    if not train and not force:
        raise ValueError(ERR_NO_REVIEWED)
    frozen = _frozen_items(cfg, label_map)
    if not evaluation and not frozen and not force:  # found before minutes of training
        raise ValueError(ERR_NO_EVAL)
    report(0.01, f"{len(train)} reviewed training photos; loading the base photo set")
    base_train, real_test, base_desc = _base_items(cfg, label_map, long_side)
    report(0.03, f"writing the training snapshot ({len(samples)} reviewed photos)")
    logger.info(
        "data: %d reviewed train, %d reviewed eval, %d base train, %d real test",
        len(train),
        len(evaluation),
        len(base_train),
        len(real_test),
    )
    version = _version_name(run)
    coco_dir = snapshot_write(
        samples=samples, label_map=label_map, out=learning_dir() / "snapshots" / version
    )
    snapshot = {
        **snapshot_describe(samples, base_desc),
        "coco": str(coco_dir),
        "config": dataclasses.asdict(cfg),
        "parent": parent.version,
    }

    model = _load_torch_model(parent_dir, meta)
    report(0.04, f"preparing {len(train)} reviewed and {len(base_train)} base photos")
    train_items = sample_items(train, label_map)

    def train_report(fraction: float, message: str) -> None:
        report(0.05 + 0.75 * fraction, message)

    severity, severity_classifier = severity_learn(train, evaluation, label_map)
    model, fit = fine_tune(
        model,
        train_items,
        base_train,
        cfg,
        input_long_side=long_side,
        num_classes=label_map.num_classes,
        report=train_report,
    )
    snapshot["fit"] = {**fit, "train_s": round(time.perf_counter() - t0, 1)}

    out = models_dir() / version
    report(0.82, f"exporting {version}")
    inherited = {
        k: meta[k]
        for k in (
            "temperature",
            "decision_threshold",
            "min_region_share",
            "region_calibrator",
            "photo_calibrator",
            "image_platt",
            "image_gate",
        )
        if k in meta
    }
    export_model_dir(
        model,
        out,
        version=version,
        arch=meta["arch"],
        label_map=label_map,
        input_long_side=long_side,
        extra={
            **inherited,
            "parent": parent.version,
            "training": {"fine_tune": snapshot["fit"]},
            "severity_classifier": severity_classifier,
        },
        fp16_weights=cfg.fp16_weights,
        part_map=PartMap.from_dict(meta["part_map"]) if meta.get("part_map") else None,
    )

    report(0.88, "evaluating candidate and active model on the frozen evaluation set")
    eval_items = sample_items(evaluation, label_map) + frozen
    candidate_eval = evaluate_model_dir(out, eval_items)
    active_eval = evaluate_model_dir(parent_dir, eval_items)
    real_metrics = {}
    if real_test:
        report(0.94, "evaluating on the real photo set (test split)")
        real_metrics = _strip(evaluate_model_dir(out, real_test))
    comparison = promotion_decide(candidate=candidate_eval, active=active_eval)
    comparison["active_version"] = parent.version
    comparison["eval_images"] = {"reviewed": len(evaluation), "frozen": len(frozen)}
    if frozen:
        comparison["frozen_eval"] = cfg.frozen_eval
    comparison["active_eval"] = _strip(active_eval)
    candidate_metrics = {**_strip(candidate_eval), "severity": severity}

    with transaction.atomic():
        candidate = model_versions.model_version_register(model_dir=out)
        ModelVersion.objects.filter(pk=candidate.pk).update(
            parent=parent,
            training_snapshot=snapshot,
            eval_metrics=candidate_metrics,
            real_metrics=real_metrics,
            comparison=comparison,
            metrics={"eval": _strip(candidate_eval), "real_test": real_metrics},
            notes=f"retraining run {run.pk} ({run.trigger})",
        )
        candidate.refresh_from_db()
        if comparison["promote"]:
            model_versions.model_version_activate(
                model_version=candidate, reason=f"promoted by retraining run {run.pk}"
            )
    verdict = (
        "promoted"
        if comparison["promote"]
        else "kept as candidate: " + "; ".join(comparison["reasons"])
    )
    logger.info("run %s: %s %s", run.pk, version, verdict)
    _run_update(
        run,
        status=RetrainingRun.Status.SUCCEEDED,
        candidate=candidate,
        promoted=bool(comparison["promote"]),
        progress=1.0,
        message=f"{version} {verdict}"[:300],
        finished_at=timezone.now(),
    )


def _frozen_items(cfg: FineTuneConfig, label_map) -> list:
    """The labelled frozen evaluation set (``cfg.frozen_eval``), or none."""
    if not cfg.frozen_eval:
        return []
    from ml import sources

    return sources.sliced_items(cfg.frozen_eval, lm=label_map)


def _strip(metrics: dict) -> dict:
    """Metrics as stored: without the per-photo lists used for the benchmark."""
    return {k: v for k, v in metrics.items() if k not in ("photo_confidence", "photo_accepted")}
