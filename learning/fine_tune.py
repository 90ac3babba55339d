"""Fine-tuning the active model on reviewed samples plus base data, with ``ml.train``'s loader,
loss and schedule: the training half of a retraining run (``learning.runs``)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

ERR_NO_TRAINING_DATA = "no reviewed training samples and no base data: nothing to learn from"


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
    # A labelled, frozen evaluation set on disk (``ml.sources.sliced_items`` spec, e.g.
    # ``bilgi_test:100:250``) the promotion rule scores beside the reviewed evaluation split:
    # early on, reviews alone give too few photos for a fair comparison (docs/learning-loop.md).
    frozen_eval: str = ""
    # BatchNorm momentum while fine-tuning; None keeps the model's (0.1). 0 freezes the running
    # statistics: with batches of a few crops they otherwise drift to those crops (DESIGN.md).
    bn_momentum: float | None = None
    fp16_weights: bool = True  # ship model.pt in fp16 (half the size; the ONNX is exported twice)
    seed: int = 0
    threads: int = 2
    progress_chunks: int = 30  # progress is reported this many times during training

    @classmethod
    def from_settings(cls, **overrides) -> FineTuneConfig:
        cfg = cls(
            steps=settings.CLAIMVISION_RETRAIN_STEPS, frozen_eval=settings.CLAIMVISION_FROZEN_EVAL
        )
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
