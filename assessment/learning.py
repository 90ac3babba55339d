"""The learning loop: reviewed labels become training data, retraining makes a candidate model,
and the registry promotes, shadows or rolls back versions by explicit rules.

Flow (docs/learning-loop.md): ``retrain_check`` (beat, every 10 minutes) or ``manage.py
retrain`` queue a :class:`RetrainingRun`; the ``assessment.retrain`` task (queue ``training``)
calls :func:`retrain`, which fine-tunes the active model on the reviewed train split plus base
data, evaluates candidate and active model on the frozen evaluation split, exports the candidate
to ``var/models/<version>/``, registers it and applies :func:`promotion_decide`.

Reviewed masks live on the mask grid of the prediction they correct (the network size, e.g.
480x352). A sample is the working copy *downsampled to that grid* with the masks as stored: no
label pixel is invented by upsampling, and the network never sees more than the grid anyway.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assessment import services
from assessment.models import ModelVersion, PhotoAssessment, RetrainingRun
from assessment.splits import EVAL, TRAIN, split_for_claim
from claims.models import Photo
from config.queue import send_on_commit
from config.storage import storage_read_bytes

logger = logging.getLogger(__name__)

ERR_NO_TRAINING_DATA = "no reviewed training samples and no base data: nothing to learn from"
ERR_NO_REVIEWED = "no reviewed training samples yet (use --force to train on base data)"
ERR_RUN_IN_PROGRESS = "another retraining run is in progress (run {run_id})"
ERR_NOT_A_CANDIDATE = "only a candidate, shadow or retired version can be {action} (it is {status})"
ERR_ALREADY_ACTIVE = "version {version} is already active"

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


# --------------------------------------------------------------------------- reviewed samples


@dataclass
class ReviewedRegion:
    label: str
    severity: str
    mask: np.ndarray  # bool, mask grid
    area_share: float
    bbox: list[int]  # [x, y, w, h] on the mask grid


@dataclass
class ReviewedSample:
    """One reviewed photo: working copy at the mask grid, the adjuster's regions, its split."""

    photo_id: str
    claim_id: str
    split: str
    labels_version: int
    saved_at: str
    image: np.ndarray  # uint8 RGB, mask grid size
    regions: list[ReviewedRegion] = field(default_factory=list)

    def semantic_mask(self, label_map) -> np.ndarray:
        """uint8 mask in ``label_map`` ids; a type the map lacks is void (never scored)."""
        from ml import coco
        from ml.labels import IGNORE_INDEX

        regions = []
        for r in self.regions:
            try:
                class_id = label_map.by_name(r.label).id
            except KeyError:
                class_id = IGNORE_INDEX
            regions.append(coco.Region(class_id=class_id, mask=r.mask, severity=r.severity))
        h, w = self.image.shape[:2]
        return coco.semantic_mask(regions, h, w)


def _working_rgb(photo: Photo, width: int, height: int) -> np.ndarray:
    import cv2

    from ml.inference import decode_image

    with photo.working.open("rb") as handle:
        decoded = decode_image(handle.read(), max(width, height))
    return cv2.resize(decoded.rgb, (width, height), interpolation=cv2.INTER_AREA)


def reviewed_samples(*, split: str | None = None) -> list[ReviewedSample]:
    """Every photo with adjuster labels as a sample, ordered by photo id (reproducible)."""
    from ml.coco import rle_to_mask
    from review.models import PhotoLabels

    rows = (
        PhotoLabels.objects.select_related("photo", "photo_assessment")
        .prefetch_related("regions")
        .order_by("photo_id")
    )
    samples = []
    for labels in rows:
        side = split_for_claim(labels.claim_id)
        if split is not None and side != split:
            continue
        grid_w, grid_h = labels.photo_assessment.mask_width, labels.photo_assessment.mask_height
        try:
            image = _working_rgb(labels.photo, grid_w, grid_h)
        except (OSError, ValueError) as exc:  # a missing or unreadable working copy
            logger.warning("reviewed photo %s skipped: %s", labels.photo_id, exc)
            continue
        regions = []
        for r in labels.regions.all():
            mask = rle_to_mask(r.mask_rle).astype(bool)
            regions.append(
                ReviewedRegion(
                    label=r.label,
                    severity=r.severity,
                    mask=mask,
                    area_share=float(mask.mean()),
                    bbox=list(r.bbox),
                )
            )
        samples.append(
            ReviewedSample(
                photo_id=str(labels.photo_id),
                claim_id=str(labels.claim_id),
                split=side,
                labels_version=labels.version,
                saved_at=labels.saved_at.isoformat(),
                image=image,
                regions=regions,
            )
        )
    return samples


def sample_items(samples: list[ReviewedSample], label_map) -> list:
    """``ml.datasets.SegItem`` records for training and evaluation."""
    from ml.datasets import SegItem

    return [
        SegItem(image=s.image, mask=s.semantic_mask(label_map), source="reviewed", name=s.photo_id)
        for s in samples
    ]


def snapshot_describe(samples: list[ReviewedSample], base: dict) -> dict:
    """What a model was trained on: every sample with its label version, and the base data."""
    return {
        "samples": [
            {"photo": s.photo_id, "claim": s.claim_id, "labels_version": s.labels_version}
            for s in samples
            if s.split == TRAIN
        ],
        "eval_samples": [
            {"photo": s.photo_id, "labels_version": s.labels_version}
            for s in samples
            if s.split == EVAL
        ],
        "base": base,
    }


def snapshot_write(*, samples: list[ReviewedSample], label_map, out: Path) -> Path:
    """Write samples as COCO (``ml.coco.write_coco``) with PNG images at the mask grid.

    ``out/images/<photo>.png`` and ``out/{train,eval}.json``; PNG because the images were
    already decoded and JPEG would compress them a second time. Returns ``out``.
    """
    import cv2

    from ml import coco

    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list] = {TRAIN: [], EVAL: []}
    for index, s in enumerate(samples, start=1):
        path = images / f"{s.photo_id}.png"
        cv2.imwrite(str(path), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR))
        h, w = s.image.shape[:2]
        regions = []
        for r in s.regions:
            try:
                class_id = label_map.by_name(r.label).id
            except KeyError:
                continue
            regions.append(coco.Region(class_id=class_id, mask=r.mask, severity=r.severity))
        by_split[s.split].append(
            coco.Sample(image_path=path, width=w, height=h, regions=regions, image_id=index)
        )
    for name, split_samples in by_split.items():
        coco.write_coco(split_samples, label_map, out / f"{name}.json")
    (out / "snapshot.json").write_text(
        json.dumps(snapshot_describe(samples, {}), indent=2), encoding="utf-8"
    )
    return out


# --------------------------------------------------------------------------- evaluation


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


# --------------------------------------------------------------------------- fine-tuning


@dataclass
class FineTuneConfig:
    """Knobs of one retraining run; stored with the candidate (``training_snapshot``)."""

    steps: int = 300
    batch_size: int = 8
    crop_size: int = 320  # capped at the model's input long side
    # A tenth of ml.train's from-scratch rate: we start from trained weights. bench/loop.py from
    # the starter: at 1e-3 every candidate lost damage IoU (0.15-0.18 vs 0.226), at 3e-4 with
    # 300 steps they reached 0.19-0.26.
    lr: float = 3e-4
    warmup_steps: int = 20
    base_share: float = 0.3  # share of crops from base data when reviewed samples exist
    use_base: bool = True  # the real photo set's train split (binary labels), when present
    max_base_images: int = 60
    real_eval: bool = True  # also evaluate on the real photo set's test split
    # BatchNorm momentum while fine-tuning; None keeps the model's (0.1). 0 freezes the running
    # statistics: with batches of a few crops they otherwise drift to those crops (DESIGN.md).
    bn_momentum: float | None = None
    fp16_weights: bool = True  # ship model.pt in fp16 (half the size; the ONNX is exported twice)
    seed: int = 0
    threads: int = 2
    progress_chunks: int = 30  # progress is reported this many times during training

    @classmethod
    def from_settings(cls, **overrides) -> FineTuneConfig:
        cfg = cls(steps=settings.CLAIMVISION_RETRAIN_STEPS)
        return dataclasses.replace(cfg, **overrides)


def _load_torch_model(model_dir: Path, meta: dict):
    import torch

    from ml.model import build_model_from_meta

    state = torch.load(model_dir / meta["weights"], map_location="cpu", weights_only=True)
    model = build_model_from_meta(meta)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model


def _base_items(cfg: FineTuneConfig, label_map, long_side: int) -> tuple[list, list, dict]:
    """(train items, test items, description) of the real photo set, if it is on disk."""
    from ml import coco
    from ml.datasets import items_from_samples

    if not (cfg.use_base or cfg.real_eval) or not coco.real_dataset_available():
        return [], [], {}
    splits = coco.load_real_car_damage(coco.DEFAULT_REAL_ROOT, seed=0, label_map=label_map)
    cache_side = max(long_side, 640)  # as ml.train caches real photos: room for scale jitter
    train = (
        items_from_samples(splits.train[: cfg.max_base_images], "real", cache_side)
        if cfg.use_base
        else []
    )
    test = items_from_samples(splits.test, "real", cache_side) if cfg.real_eval else []
    desc = {
        "name": "real-car-damage",
        "root": str(coco.DEFAULT_REAL_ROOT),
        "train_images": len(train),
        "test_images": len(test),
        "labels": "binary damage (untyped)",
    }
    return train, test, desc


def fine_tune(
    model,
    train_items: list,
    base_items: list,
    cfg: FineTuneConfig,
    *,
    input_long_side: int,
    num_classes: int,
    report,
):
    """Fine-tune ``model`` in place with ml.train's loader, loss and schedule."""
    import torch

    from ml import train as mltrain
    from ml.datasets import CopyPasteDamage, class_pixel_counts
    from ml.losses import frequency_class_weights
    from ml.model import DEFAULT_BN_MOMENTUM, set_bn_momentum

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    if cfg.bn_momentum is not None:
        set_bn_momentum(model, cfg.bn_momentum)
    chunks = max(1, min(cfg.progress_chunks, cfg.steps))
    tcfg = mltrain.TrainConfig(
        out="",
        arch="",
        crop_size=min(cfg.crop_size, input_long_side),
        input_long_side=input_long_side,
        batch_size=cfg.batch_size,
        epochs=chunks,
        steps_per_epoch=max(1, math.ceil(cfg.steps / chunks)),
        lr=cfg.lr,
        warmup_steps=min(cfg.warmup_steps, max(1, cfg.steps // 4)),
        seed=cfg.seed,
        threads=cfg.threads,
        workers=0,  # one process: the training worker already owns the machine's cores
    )
    train_sets = [s for s in (train_items, base_items) if s]
    if not train_sets:
        raise ValueError(ERR_NO_TRAINING_DATA)
    shares = [1 - cfg.base_share, cfg.base_share] if len(train_sets) == 2 else [1.0]
    augments = [None] * len(train_sets)
    if base_items:  # paste reviewed, typed damage onto base cars too
        augments[-1] = CopyPasteDamage([(base_items, 0.3), (train_items, 0.3)])
    loader, datasets, sampler = mltrain.build_loader(tcfg, train_sets, shares, augments)
    counts = class_pixel_counts(train_items or base_items, num_classes)
    loss_kwargs = {
        "class_weights": torch.tensor(frequency_class_weights(counts, power=0.3)),
        "untyped_weight": mltrain.untyped_damage_weight(base_items, 0.3) if base_items else None,
        "dice_weight": tcfg.dice_weight,
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=tcfg.weight_decay)
    progress = mltrain.Progress(tcfg.epochs * tcfg.steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, mltrain.lr_lambda(tcfg, progress))
    losses = []
    for epoch in range(tcfg.epochs):
        for d in datasets:
            d.set_epoch(epoch)
        sampler.set_epoch(epoch)
        loss = mltrain.train_one_epoch(
            model, loader, optimizer, scheduler, loss_kwargs, epoch, progress
        )
        losses.append(round(loss, 4))
        report((epoch + 1) / tcfg.epochs, f"step {progress.step}: loss {loss:.4f}")
    set_bn_momentum(model, DEFAULT_BN_MOMENTUM)
    return model.eval(), {"steps": progress.step, "losses": losses}


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
    from review.models import PhotoLabels

    rows = PhotoLabels.objects.all()
    return rows.filter(saved_at__gt=since).count() if since else rows.count()


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
    from assessment.tasks import retrain_task

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

    parent = services.model_version_active()
    parent_dir = services._model_dir(parent)
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
    if not evaluation and not force:  # found before minutes of training, not after
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
    eval_items = sample_items(evaluation, label_map)
    candidate_eval = evaluate_model_dir(out, eval_items)
    active_eval = evaluate_model_dir(parent_dir, eval_items)
    real_metrics = {}
    if real_test:
        report(0.94, "evaluating on the real photo set (test split)")
        real_metrics = _strip(evaluate_model_dir(out, real_test))
    comparison = promotion_decide(candidate=candidate_eval, active=active_eval)
    comparison["active_version"] = parent.version
    comparison["active_eval"] = _strip(active_eval)
    candidate_metrics = {**_strip(candidate_eval), "severity": severity}

    with transaction.atomic():
        candidate = services.model_version_register(model_dir=out)
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
            services.model_version_activate(
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


def _strip(metrics: dict) -> dict:
    """Metrics as stored: without the per-photo lists used for the benchmark."""
    return {k: v for k, v in metrics.items() if k not in ("photo_confidence", "photo_accepted")}


# --------------------------------------------------------------------------- severity


def severity_readiness(train: list[ReviewedSample], evaluation: list[ReviewedSample]) -> dict:
    """Whether enough reviewed severities exist to learn severity, and how the rules score.

    Threshold: ``CLAIMVISION_SEVERITY_MIN_REVIEWED`` train regions with every level at least a
    tenth of them (docs/learning-loop.md). Below it the rules in the label map stay in force.
    """
    levels = collections.Counter(r.severity for s in train for r in s.regions)
    total = sum(levels.values())
    minimum = settings.CLAIMVISION_SEVERITY_MIN_REVIEWED
    ready = total >= minimum and all(levels.get(k, 0) >= total / 10 for k in _SEVERITIES)
    return {
        "train_regions": total,
        "by_level": dict(levels),
        "threshold": minimum,
        "ready": ready,
        "eval_regions": sum(len(s.regions) for s in evaluation),
    }


_SEVERITIES = ("minor", "moderate", "severe")


def _geometry(region: ReviewedRegion, sample: ReviewedSample):
    from assessment.severity import RegionGeometry

    h, w = sample.image.shape[:2]
    x, y, bw, bh = region.bbox
    return RegionGeometry(
        label=region.label,
        severity=region.severity,
        area_share=region.area_share,
        bbox_norm=(x / w, y / h, (x + bw) / w, (y + bh) / h),
    )


def severity_learn(
    train: list[ReviewedSample], evaluation: list[ReviewedSample], label_map
) -> tuple[dict, dict | None]:
    """(report, classifier or None): fit once the threshold is reached, and keep the learned
    classifier only if it is more accurate than the rules on the evaluation regions."""
    from assessment.severity import severity_compare, severity_fit

    report = severity_readiness(train, evaluation)
    report["used"] = "rules"
    if not report["ready"]:
        return report, None
    names = list(label_map.names[1:])
    fit_on = [_geometry(r, s) for s in train for r in s.regions if r.label in names]
    judge_on = [_geometry(r, s) for s in evaluation for r in s.regions if r.label in names]
    clf = severity_fit(fit_on, names)
    report.update(severity_compare(clf, judge_on, label_map))
    better = report["learned_accuracy"] is not None and (
        report["learned_accuracy"] > report["rules_accuracy"]
    )
    if not better:
        return report, None
    report["used"] = "learned"
    return report, clf.to_dict()


# --------------------------------------------------------------------------- registry actions


def model_version_set_shadow(*, model_version: ModelVersion) -> ModelVersion:
    """Run ``model_version`` beside the active one on live claims; it decides nothing.

    At most one shadow: a previous shadow goes back to being a candidate.
    """
    if model_version.status == ModelVersion.Status.ACTIVE:
        raise ValueError(ERR_ALREADY_ACTIVE.format(version=model_version.version))
    with transaction.atomic():
        ModelVersion.objects.filter(status=ModelVersion.Status.SHADOW).exclude(
            pk=model_version.pk
        ).update(status=ModelVersion.Status.CANDIDATE)
        ModelVersion.objects.filter(pk=model_version.pk).update(status=ModelVersion.Status.SHADOW)
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
    task (``services.segmenters`` reloads when the active version changes)."""
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
        return services.model_version_activate(
            model_version=model_version, actor=actor, reason=note
        )


# --------------------------------------------------------------------------- shadow


def model_version_shadow() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.SHADOW).first()


def shadow_assessment_enqueue(*, claim) -> list[str]:
    """Queue the shadow model's reading of the claim's photos (after commit), if one exists.

    Separate tasks, sent after the active model's: the decision never waits for the shadow.
    """
    from assessment.tasks import shadow_assess_task

    shadow = model_version_shadow()
    if shadow is None:
        return []
    pending = [
        str(pk)
        for pk in claim.photos.exclude(assessments__model_version=shadow).values_list(
            "pk", flat=True
        )
    ]
    for photo_id in pending:
        send_on_commit(shadow_assess_task, photo_id, shadow.version)
    return pending


_shadow_segmenters = services._SegmenterCache()


def shadow_photo_assess(*, photo_id, version: str) -> PhotoAssessment | None:
    """Store the shadow model's reading of one photo. Touches no claim, decision or audit."""
    model_version = ModelVersion.objects.filter(version=version).first()
    if model_version is None or model_version.status != ModelVersion.Status.SHADOW:
        return None  # promoted, demoted or deleted since the task was sent
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return None
    existing = PhotoAssessment.objects.filter(photo=photo, model_version=model_version).first()
    if existing is not None:
        return existing
    data = storage_read_bytes(photo.working.storage, photo.working.name)
    from assessment.severity import severity_apply

    try:
        segmenter = _shadow_segmenters.get(model_version)
        prediction = severity_apply(segmenter, segmenter.predict(data).to_dict())
    except ValueError as exc:  # undecodable photo: the active model's task records it
        logger.warning("shadow %s skipped photo %s: %s", version, photo_id, exc)
        return None
    return _assessment_store(photo, model_version, prediction)


def _assessment_store(photo: Photo, model_version: ModelVersion, prediction: dict):
    from assessment.services import photo_assessment_store

    return photo_assessment_store(photo=photo, model_version=model_version, prediction=prediction)
