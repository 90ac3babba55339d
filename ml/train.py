"""Train the damage segmenter: ``python -m ml.train --out var/runs/x [--config cfg.json]``.

Mixes synthetic typed scenes (COCO written by ``ml.synth``) with the de-duplicated real train
split (binary labels, supervised through the partial-label loss). Checkpoints hold model,
optimiser, scheduler, epoch, config and label map; ``--resume`` continues from ``last.pt``.
Randomness derives from ``(seed, epoch, index)``, so a run is reproducible by seed.

Kept as one module: config, data, the epoch loop, validation and checkpoints are the
steps of one run, read top to bottom (the shape of torchvision's segmentation ``train.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from ml.datasets import (
    CopyPasteDamage,
    EvalImages,
    MixSampler,
    SegItem,
    TrainCrops,
    class_pixel_counts,
    items_from_samples,
)
from ml.evaluate import SegMetrics
from ml.labels import (
    DEFAULT_LABEL_MAP,
    DEFAULT_PART_MAP,
    IGNORE_INDEX,
    PRODUCT_LABEL_MAP,
    UNTYPED_DAMAGE,
    LabelMap,
)
from ml.losses import frequency_class_weights, multitask_loss, partial_label_loss
from ml.model import MULTI_HEAD_ARCHITECTURES, build_model, reestimate_bn

logger = logging.getLogger(__name__)

CHECKPOINT_LAST = "last.pt"
CHECKPOINT_BEST = "best.pt"
ERR_NO_DATA = "no training data: give --synth-train and/or a readable --real-root"


@dataclass
class TrainConfig:
    """Every knob of a run; saved into each checkpoint and ``config.json``."""

    out: str = "var/runs/default"
    synth_train: list[str] = field(default_factory=list)  # COCO json files (ml.synth output)
    synth_val: list[str] = field(default_factory=list)
    real_root: str | None = None  # real-car-damage folder; None = ml.coco default if present
    use_real: bool = True
    real_share: float = 0.35  # share of training crops drawn from real photos
    paste_real_prob: float = 0.4  # copy-paste real damage onto a real training photo
    paste_synth_prob: float = 0.3  # copy-paste synthetic typed damage onto a real photo
    label_map: str | None = None  # JSON path; default: ml.labels.DEFAULT_LABEL_MAP
    arch: str = "lraspp_mobilenet_v3_small"
    bn_momentum: float = 0.1
    input_long_side: int = 480  # inference input long side (ml.inference uses the same)
    crop_size: int = 320
    real_cache_long_side: int = 640
    synth_cache_long_side: int = 512
    batch_size: int = 8
    epochs: int = 10
    steps_per_epoch: int = 150
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    dice_weight: float = 0.5
    class_weight_power: float = 0.3
    untyped_weight: float | None = None
    seed: int = 0
    threads: int = 2
    workers: int = 1
    time_budget_min: float = 0.0  # stop (and checkpoint) after this long; 0 = no limit
    # > 0: the cosine schedule runs over this many minutes of training steps (evaluation
    # excluded) instead of epochs x steps, and training ends when they are spent. Finishes on
    # time on a shared machine, at the price of bit-exact reproducibility (the step count
    # depends on machine load); 0 = step schedule, reproducible by seed.
    schedule_minutes: float = 0.0
    max_val_images: int = 100  # per validation set, for the per-epoch metrics
    bn_reestimate_batches: int = 16
    max_synth_images: int = 0  # 0 = all
    # Real multi-source training (ml.sources): set -> share of training crops. Non-empty
    # switches to the multi-head recipe (damage + parts + photo score); empty keeps the
    # synthetic + real-car-damage recipe of the first starter model.
    sources: dict[str, float] = field(default_factory=dict)
    pretrained: bool = False  # ImageNet encoder from the registry package (ml.model.PRETRAINED)
    freeze_blocks: int = 0  # encoder blocks kept frozen (pretrained only)
    part_weight: float = 0.5
    image_weight: float = 0.3
    split_seed: int = 0  # ml.sources split seed (never tuned)
    datasets_root: str | None = None  # folder holding the sets; None = ../shared/datasets
    # Which split of a source trains (default ``train``): the flywheel's cold-start model
    # trains on {"bilgi": "base"}, a small share of Bilgi's train split (ml.sources).
    train_splits: dict[str, str] = field(default_factory=dict)
    val_sets: list[str] = field(
        default_factory=lambda: ["bilgi_val", "dsmlr_val", "wiki_val", "real_val"]
    )

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**data)


def load_label_map(cfg: TrainConfig) -> LabelMap:
    if cfg.label_map:
        return LabelMap.from_json(cfg.label_map)
    return PRODUCT_LABEL_MAP if cfg.sources else DEFAULT_LABEL_MAP


def load_synth_items(paths: Sequence[str], cfg: TrainConfig, lm: LabelMap) -> list[SegItem]:
    from ml.coco import read_coco

    samples = []
    for p in paths:
        samples += read_coco(_coco_json(p), lm)
    if cfg.max_synth_images:
        samples = samples[: cfg.max_synth_images]
    return items_from_samples(samples, "synth", cfg.synth_cache_long_side)


def _coco_json(path: str) -> Path:
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.json"))
        if len(found) != 1:
            raise ValueError(f"expected one COCO json in {p}, found {[f.name for f in found]}")
        return found[0]
    return p


def load_real_items(cfg: TrainConfig, lm: LabelMap) -> dict[str, list[SegItem]]:
    from ml import coco

    root = cfg.real_root or coco.DEFAULT_REAL_ROOT
    if not cfg.use_real or not coco.real_dataset_available(root):
        return {"train": [], "val": [], "test": []}
    splits = coco.load_real_car_damage(root, seed=cfg.seed, label_map=lm)
    return {
        name: items_from_samples(getattr(splits, name), "real", cfg.real_cache_long_side)
        for name in ("train", "val", "test")
    }


@dataclass
class TrainData:
    """Training sets by name with their crop shares and augmentations, and validation sets."""

    train: dict[str, list[SegItem]]
    shares: dict[str, float]
    val: dict[str, list[SegItem]]
    augments: dict[str, object] = field(default_factory=dict)
    typed_items: list[SegItem] = field(default_factory=list)  # class-weight statistics
    untyped_items: list[SegItem] = field(default_factory=list)


def load_synthetic_and_real(cfg: TrainConfig, lm: LabelMap) -> TrainData:
    """The first starter's recipe: synthetic typed scenes + real-car-damage (binary)."""
    synth_train = load_synth_items(cfg.synth_train, cfg, lm) if cfg.synth_train else []
    synth_val = load_synth_items(cfg.synth_val, cfg, lm) if cfg.synth_val else []
    real = load_real_items(cfg, lm)
    shares = {"synth": 1 - cfg.real_share, "real": cfg.real_share}
    if not synth_train or not real["train"]:
        shares = {"synth": 1.0, "real": 1.0}
    augments = {}
    if real["train"]:
        augments["real"] = CopyPasteDamage(
            [(real["train"], cfg.paste_real_prob), (synth_train, cfg.paste_synth_prob)]
        )
    return TrainData(
        train={"synth": synth_train, "real": real["train"]},
        shares=shares,
        val={"real_val": real["val"], "synth_val": synth_val},
        augments=augments,
        typed_items=synth_train or real["train"],
        untyped_items=real["train"],
    )


def load_sources(cfg: TrainConfig, lm: LabelMap) -> TrainData:
    """Real sets from ``ml.sources``: ``cfg.sources`` names them with their crop shares."""
    from ml import sources

    root = Path(cfg.datasets_root) if cfg.datasets_root else sources.datasets_root()

    def load(spec: str) -> list[SegItem]:
        return sources.split_items(spec, seed=cfg.split_seed, root=root, lm=lm)

    def present(name: str) -> bool:
        return sources.available(sources.SOURCE_FOLDERS[name], root)

    train = {
        name: load(f"{name}_{cfg.train_splits.get(name, 'train')}")
        for name in cfg.sources
        if present(name)
    }
    val = {spec: load(spec) for spec in cfg.val_sets if present(spec.split("_")[0])}
    return TrainData(
        train=train,
        shares={k: float(v) for k, v in cfg.sources.items()},
        val=val,
        typed_items=[it for k, v in train.items() if k != "real" for it in v],
        untyped_items=train.get("real", []),
    )


def untyped_damage_weight(items: Sequence[SegItem], power: float, cap: float = 10.0) -> float:
    """Weight of untyped real damage pixels: (background / damage pixel ratio) ** power."""
    counts = np.zeros(256, dtype=np.int64)
    for it in items:
        counts += np.bincount(it.mask.ravel(), minlength=256)
    damage = counts[UNTYPED_DAMAGE]
    return float(min(cap, (counts[0] / damage) ** power)) if damage else 1.0


@dataclass
class Progress:
    """Where training is on its schedule: by steps, or by training seconds when time-based."""

    total_steps: int
    budget_s: float = 0.0  # > 0: time-based schedule
    step: int = 0
    train_s: float = 0.0

    @property
    def fraction(self) -> float:
        if self.budget_s > 0:
            return min(1.0, self.train_s / self.budget_s)
        return min(1.0, self.step / max(1, self.total_steps))

    @property
    def done(self) -> bool:
        return self.budget_s > 0 and self.train_s >= self.budget_s


def lr_lambda(cfg: TrainConfig, progress: Progress):
    """Linear warm-up over ``warmup_steps``, then cosine to 2% along ``progress.fraction``."""
    warm_fraction = cfg.warmup_steps / max(1, progress.total_steps)

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        t = (progress.fraction - warm_fraction) / max(1e-9, 1 - warm_fraction)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, t))))

    return f


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a crash never leaves a half-written checkpoint


def load_checkpoint(path: str | Path) -> dict:
    """Checkpoints hold tensors and plain data only: ``weights_only=True`` never runs code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def train_one_epoch(
    model, loader, optimizer, scheduler, loss_kwargs, epoch: int, progress: Progress
) -> float:
    model.train()
    total, n = 0.0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, mininterval=5)
    last = time.perf_counter()
    for x, y, parts in bar:
        out = model(x)
        if isinstance(out, tuple):
            loss = multitask_loss(out, y, parts, **loss_kwargs)
        else:
            dmg = {k: v for k, v in loss_kwargs.items() if k not in MULTITASK_KEYS}
            loss = partial_label_loss(out, y, **dmg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        now = time.perf_counter()
        progress.step += 1
        progress.train_s += now - last
        last = now
        scheduler.step()
        total += float(loss.detach())
        n += 1
        bar.set_postfix(loss=f"{total / n:.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
        if progress.done:
            break
    return total / max(1, n)


MULTITASK_KEYS = ("part_weight", "image_weight")


@torch.no_grad()
def evaluate_items(model, items: Sequence[SegItem], lm: LabelMap, long_side: int) -> dict:
    """Pixel metrics (argmax decisions) on whole images at the inference input size.

    Multi-head models also report part mIoU (over part-labelled pixels) and the photo scores
    (``image_scores`` / ``image_labels``) for an AUROC over several sets.
    """
    from ml.evaluate import is_damage

    model.eval()
    metrics = SegMetrics(lm.num_classes)
    part_cm = np.zeros((DEFAULT_PART_MAP.num_classes,) * 2, dtype=np.int64)
    scores, labels = [], []
    for x, y, parts in DataLoader(EvalImages(items, long_side), batch_size=1):
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        metrics.update(logits.argmax(1)[0].numpy(), y[0].numpy())
        if isinstance(out, tuple):
            p = parts[0].numpy().ravel()
            keep = p != IGNORE_INDEX
            k = part_cm.shape[0]
            pred = out[1].argmax(1)[0].numpy().ravel()[keep]
            part_cm += np.bincount(p[keep] * k + pred, minlength=k * k).reshape(k, k)
            scores.append(float(torch.sigmoid(out[2][0])))
            labels.append(bool(is_damage(y[0].numpy(), lm.num_classes).any()))
    summary = metrics.summary(lm.names)
    if scores:
        summary["image_scores"], summary["image_labels"] = scores, labels
        if part_cm.sum():
            inter = np.diag(part_cm)
            union = part_cm.sum(0) + part_cm.sum(1) - inter
            seen = part_cm.sum(1) > 0
            summary["part_miou"] = float((inter[seen] / np.maximum(union[seen], 1)).mean())
    return summary


def build_loader(
    cfg: TrainConfig,
    train_sets: list[list[SegItem]],
    shares: list[float],
    augments: list | None = None,
):
    augments = augments or [None] * len(train_sets)
    datasets = [
        TrainCrops(
            items,
            cfg.crop_size,
            cfg.input_long_side,
            seed=cfg.seed + 101 * i,
            extra_augment=aug,
        )
        for i, (items, aug) in enumerate(zip(train_sets, augments, strict=True))
    ]
    sampler = MixSampler(
        [len(d) for d in datasets], shares, cfg.steps_per_epoch * cfg.batch_size, seed=cfg.seed
    )
    loader = DataLoader(
        ConcatDataset(datasets),
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        worker_init_fn=_worker_init,
        drop_last=True,
        persistent_workers=False,
    )
    return loader, datasets, sampler


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def run(cfg: TrainConfig, resume: bool = False) -> dict:
    """Train per ``cfg``; returns the final summary (also written to ``summary.json``)."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    lm = load_label_map(cfg)

    t0 = time.perf_counter()
    data = load_sources(cfg, lm) if cfg.sources else load_synthetic_and_real(cfg, lm)
    logger.info(
        "data: train %s, val %s (%.0fs to load)",
        {k: len(v) for k, v in data.train.items()},
        {k: len(v) for k, v in data.val.items()},
        time.perf_counter() - t0,
    )
    if not any(data.train.values()):
        raise ValueError(ERR_NO_DATA)

    counts = class_pixel_counts(data.typed_items, lm.num_classes)
    class_weights = frequency_class_weights(counts, power=cfg.class_weight_power)
    logger.info("class weights %s", dict(zip(lm.names, np.round(class_weights, 2), strict=True)))
    untyped_weight = cfg.untyped_weight
    if untyped_weight is None and data.untyped_items:
        untyped_weight = untyped_damage_weight(data.untyped_items, cfg.class_weight_power)
    logger.info("untyped-damage weight %s", untyped_weight)
    loss_kwargs = {
        "class_weights": torch.tensor(class_weights),
        "untyped_weight": untyped_weight,
        "dice_weight": cfg.dice_weight,
    }
    if cfg.arch in MULTI_HEAD_ARCHITECTURES:
        loss_kwargs |= {"part_weight": cfg.part_weight, "image_weight": cfg.image_weight}

    model = build_model(
        lm.num_classes,
        cfg.arch,
        cfg.bn_momentum,
        num_parts=_num_parts(cfg),
        pretrained=cfg.pretrained and not resume,
    )
    if cfg.freeze_blocks:
        model.freeze(cfg.freeze_blocks)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    progress = Progress(cfg.epochs * cfg.steps_per_epoch, cfg.schedule_minutes * 60)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg, progress))
    start_epoch, best_score, history = 0, -1.0, []
    if resume and (out / CHECKPOINT_LAST).exists():
        ck = load_checkpoint(out / CHECKPOINT_LAST)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        start_epoch, best_score, history = ck["epoch"] + 1, ck["best_score"], ck["history"]
        progress.step, progress.train_s = ck["progress"]["step"], ck["progress"]["train_s"]
        logger.info("resumed from epoch %d", ck["epoch"])

    names = [k for k, v in data.train.items() if v]
    train_sets = [data.train[k] for k in names]
    shares = [data.shares[k] for k in names]
    augments = [data.augments.get(k) for k in names]
    loader, datasets, sampler = build_loader(cfg, train_sets, shares, augments)
    val_sets = {k: v[: cfg.max_val_images] for k, v in data.val.items() if v}

    for epoch in range(start_epoch, cfg.epochs):
        for d in datasets:
            d.set_epoch(epoch)
        sampler.set_epoch(epoch)
        te = time.perf_counter()
        loss = train_one_epoch(model, loader, optimizer, scheduler, loss_kwargs, epoch, progress)
        record = {
            "epoch": epoch,
            "loss": loss,
            "train_s": time.perf_counter() - te,
            "step": progress.step,
            "lr": scheduler.get_last_lr()[0],
        }
        record |= evaluate_val(model, val_sets, lm, cfg.input_long_side)
        history.append(record)
        logger.info("epoch %d %s", epoch, json.dumps(record))
        score = _selection_score(record)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "config": dataclasses.asdict(cfg),
            "label_map": lm.to_dict(),
            "part_map": DEFAULT_PART_MAP.to_dict() if _num_parts(cfg) else None,
            "best_score": max(best_score, score),
            "history": history,
            "progress": {"step": progress.step, "train_s": progress.train_s},
        }
        if score > best_score:
            best_score = score
            save_checkpoint(out / CHECKPOINT_BEST, **state)
        save_checkpoint(out / CHECKPOINT_LAST, **state)
        if cfg.time_budget_min and time.perf_counter() - t0 > cfg.time_budget_min * 60:
            logger.warning(
                "time budget of %.0f min reached after epoch %d", cfg.time_budget_min, epoch
            )
            break
        if progress.done:
            logger.info(
                "time schedule of %.1f min complete after epoch %d", cfg.schedule_minutes, epoch
            )
            break

    summary = finalize(cfg, out, lm, loader, val_sets)
    summary["history"] = history
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def finalize(cfg: TrainConfig, out: Path, lm: LabelMap, loader, val_sets) -> dict:
    """Load the best epoch, re-estimate BatchNorm statistics, keep them only if val improves."""
    ck = load_checkpoint(out / CHECKPOINT_BEST)
    model = build_model(lm.num_classes, cfg.arch, cfg.bn_momentum, num_parts=_num_parts(cfg))
    model.load_state_dict(ck["model"])
    before = evaluate_val(model, val_sets, lm, cfg.input_long_side)
    batches = []
    for i, (x, *_) in enumerate(loader):
        if i >= cfg.bn_reestimate_batches:
            break
        batches.append(x)
    reestimate_bn(model, batches)
    after = evaluate_val(model, val_sets, lm, cfg.input_long_side)
    use_new = _selection_score(after) >= _selection_score(before)
    logger.info(
        "BN re-estimation: before %s after %s -> %s",
        before,
        after,
        "kept" if use_new else "reverted",
    )
    if use_new:
        ck["model"] = model.state_dict()
        save_checkpoint(out / CHECKPOINT_BEST, **ck)
    return {"best_epoch": ck["epoch"], "val": after if use_new else before}


def _short(summary: dict) -> dict:
    keep = ("damage_iou", "damage_precision", "damage_recall", "mean_type_iou", "part_miou")
    return {k: round(summary[k], 4) for k in keep if summary.get(k) is not None}


def evaluate_val(model, val_sets: dict, lm: LabelMap, long_side: int) -> dict:
    """Short metrics per validation set, plus ``val_auroc`` over all sets' photo scores."""
    from ml.evaluate import auroc

    record, scores, labels = {}, [], []
    for name, items in val_sets.items():
        summary = evaluate_items(model, items, lm, long_side)
        record[name] = _short(summary)
        scores += summary.get("image_scores", [])
        labels += summary.get("image_labels", [])
    if scores:
        record["val_auroc"] = auroc(scores, labels)
    return record


def _num_parts(cfg: TrainConfig) -> int:
    return DEFAULT_PART_MAP.num_classes if cfg.arch in MULTI_HEAD_ARCHITECTURES else 0


def _selection_score(record: dict) -> float:
    """The checkpoint to keep; multi-source: typed real damage, photo AUROC and parts together.

    Otherwise real val damage IoU when available (the product target), else synthetic mean IoU.
    """
    if "bilgi_val" in record:
        bilgi = record["bilgi_val"]
        return (
            bilgi.get("damage_iou", 0.0)
            + 0.5 * (bilgi.get("mean_type_iou") or 0.0)
            + 0.5 * ((record.get("val_auroc") or 0.5) - 0.5)
            + 0.25 * record.get("dsmlr_val", {}).get("part_miou", 0.0)
        )
    if "real_val" in record and "damage_iou" in record["real_val"]:
        synth = record.get("synth_val", {}).get("damage_iou", 0.0)
        return record["real_val"]["damage_iou"] + 0.25 * synth
    return record.get("synth_val", {}).get("damage_iou", -1.0)


def parse_args(argv: Sequence[str] | None) -> tuple[TrainConfig, bool]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="JSON file with TrainConfig fields")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("sources", "train_splits"):
            parser.add_argument(flag, type=json.loads, help='JSON, e.g. {"bilgi": 1.0}')
        elif f.name in ("synth_train", "synth_val", "val_sets"):
            parser.add_argument(flag, nargs="*", default=None)
        elif f.type in ("bool",):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"))
        elif f.type in ("int",):
            parser.add_argument(flag, type=int)
        elif f.type in ("float", "float | None"):
            parser.add_argument(flag, type=float)
        else:
            parser.add_argument(flag, type=str)
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_json(args.config) if args.config else TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        value = getattr(args, f.name)
        if value is not None:
            setattr(cfg, f.name, value)
    return cfg, args.resume


def main(argv: Sequence[str] | None = None) -> int:
    cfg, resume = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(Path(cfg.out) / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    summary = run(cfg, resume=resume)
    logger.info("done: %s", json.dumps({k: v for k, v in summary.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
