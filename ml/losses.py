"""Partial-label segmentation loss: typed pixels use cross-entropy, untyped damage its sum.

Real photos carry a binary "damage" label (semantic value ``UNTYPED_DAMAGE``): we do not know
whether it is a dent or a scratch, only that it is *some* damage type. The honest likelihood of
that observation is the sum of the damage-type probabilities, so such pixels contribute
``-log(sum_{k>=1} p_k)`` (a log-sum-exp over the damage logits minus the full log-partition).
Typed pixels (synthetic data, reviewed labels) use ordinary weighted cross-entropy, and
``IGNORE_INDEX`` pixels contribute nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ml.labels import IGNORE_INDEX, UNTYPED_DAMAGE


def damage_log_prob(logits: torch.Tensor) -> torch.Tensor:
    """log P(any damage type) per pixel, shape (N, H, W); class 0 is background."""
    return torch.logsumexp(logits[:, 1:], dim=1) - torch.logsumexp(logits, dim=1)


def partial_label_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    class_weights: torch.Tensor | Sequence[float] | None = None,
    untyped_weight: float | None = None,
    dice_weight: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
    untyped_index: int = UNTYPED_DAMAGE,
) -> torch.Tensor:
    """Weighted mean over labelled pixels of the partial-label negative log-likelihood.

    ``class_weights`` (length C) re-weights typed pixels by their target class;
    ``untyped_weight`` weights untyped-damage pixels (default: mean damage-class weight).
    ``dice_weight`` > 0 adds a soft-Dice term on damage-vs-background, which counters the
    extreme pixel imbalance of small damage regions better than weights alone.
    """
    n_classes = logits.shape[1]
    target = target.long()
    log_p = F.log_softmax(logits.float(), dim=1)
    if class_weights is None:
        weights = torch.ones(n_classes, device=logits.device)
    else:
        weights = torch.as_tensor(class_weights, dtype=torch.float32, device=logits.device)
    if untyped_weight is None:
        untyped_weight = float(weights[1:].mean()) if n_classes > 1 else 1.0

    typed = target < n_classes
    untyped = target == untyped_index
    safe_target = torch.where(typed, target, torch.zeros_like(target))
    nll_typed = -log_p.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    lp_damage = torch.logsumexp(log_p[:, 1:], dim=1)
    pixel_w = torch.where(typed, weights[safe_target], torch.zeros_like(nll_typed))
    pixel_w = torch.where(untyped, torch.full_like(pixel_w, untyped_weight), pixel_w)
    nll = torch.where(untyped, -lp_damage, nll_typed)
    denom = pixel_w.sum().clamp_min(1e-6)
    loss = (nll * pixel_w).sum() / denom
    if dice_weight > 0:
        loss = loss + dice_weight * soft_damage_dice(lp_damage.exp(), target, n_classes)
    del ignore_index  # pixels with any other value (ignore) simply carry zero weight
    return loss


def soft_damage_dice(
    p_damage: torch.Tensor, target: torch.Tensor, n_classes: int, eps: float = 1.0
) -> torch.Tensor:
    """1 - soft Dice between P(damage) and the binary damage target, over labelled pixels."""
    labelled = (target < n_classes) | (target == UNTYPED_DAMAGE)
    is_damage = ((target >= 1) & (target < n_classes)) | (target == UNTYPED_DAMAGE)
    p = p_damage * labelled
    t = is_damage.float()
    inter = (p * t).sum()
    return 1.0 - (2 * inter + eps) / (p.sum() + t.sum() + eps)


def frequency_class_weights(
    pixel_counts: Sequence[float], power: float = 0.5, max_weight: float = 10.0
) -> list[float]:
    """Inverse-frequency weights ``(f_median / f_c) ** power``, scaled so background is 1.

    Clipped at ``max_weight``; unseen classes get 1. Background = 1 keeps typed weights on the
    same scale as the untyped-damage weight ``(n_background / n_damage) ** power``.
    """
    counts = torch.as_tensor(pixel_counts, dtype=torch.float64)
    seen = counts > 0
    if not bool(seen.any()):
        return [1.0] * len(counts)
    freq = counts / counts.sum()
    med = freq[seen].median()
    w = torch.ones_like(freq)
    w[seen] = (med / freq[seen]) ** power
    if seen[0]:  # relative to background, the scale the untyped-damage weight uses too
        w = w / w[0]
    w[~seen] = 1.0
    w = w.clamp(max=max_weight)
    return [float(v) for v in w]


def multitask_loss(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    target: torch.Tensor,
    parts: torch.Tensor,
    *,
    part_weight: float = 0.5,
    image_weight: float = 0.3,
    image_min_share: float = 0.002,
    **damage_kwargs,
) -> torch.Tensor:
    """Loss of a multi-head model: damage (partial labels) + parts (CE) + photo score (BCE).

    The photo-level target of a crop is "at least ``image_min_share`` of its labelled pixels
    are damage": a crop of a damaged car that shows no damage is a negative, as it should be
    (the score answers "does this picture show damage", at any framing). Part pixels valued
    ``IGNORE_INDEX`` (sets without part labels, unknown parts) contribute nothing.
    """
    damage, part_logits, image_logit = outputs
    loss = partial_label_loss(damage, target, **damage_kwargs)
    if part_weight > 0 and bool((parts != IGNORE_INDEX).any()):
        loss = loss + part_weight * F.cross_entropy(
            part_logits.float(), parts.long(), ignore_index=IGNORE_INDEX
        )
    if image_weight > 0:
        n_classes = damage.shape[1]
        target = target.long()
        is_damage = ((target >= 1) & (target < n_classes)) | (target == UNTYPED_DAMAGE)
        labelled = (target != IGNORE_INDEX).sum(dim=(1, 2)).clamp_min(1)
        share = is_damage.sum(dim=(1, 2)) / labelled
        y = (share >= image_min_share).float()
        loss = loss + image_weight * F.binary_cross_entropy_with_logits(image_logit.float(), y)
    return loss
