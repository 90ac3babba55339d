"""Claim confidence from review outcomes: fit the prior-to-probability map and measure it.

A review outcome is a record ``(prior, kept)``: the claim's prior from
``assessment.claim_confidence.claim_confidence_prior`` at the automated assessment, and whether
the adjuster kept every line item (part, operation, hours) unchanged
(:func:`line_items_kept`). :func:`claim_confidence_fit` fits the Platt map on those records
once there are enough; below that the product shows the prior (the documented fallback).
:func:`claim_confidence_reliability` measures what a number means on reviews.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assessment.claim_confidence import ClaimConfidenceCalibrator
from ml.evaluate import reliability

# The same minimum as the threshold back-test (`manage.py calibrate --min-claims`): below a
# few hundred reviews a two-parameter fit is mostly noise, and the prior is the honest answer.
MIN_REVIEWS = 200
# Pull toward the identity map (slope 1, intercept 0), worth about as much as a couple of
# reviews: with few or one-sided outcomes the fit stays near the prior instead of running off.
IDENTITY_L2 = 1.0
# 10 bins of 0.1: "of claims shown 0.9" reads as the bin 0.9-1.0.
RELIABILITY_BINS = 10
# Hours are stored with two decimals (Decimal); a difference below that is no change.
HOURS_DECIMALS = 2

ERROR_PRIOR_RANGE = "a record's prior must lie in [0, 1]"

LineItem = tuple[str, str, float]  # (part, operation, hours)


@dataclass(frozen=True)
class ClaimConfidenceRecord:
    """One reviewed claim: its prior at the automated assessment and whether lines were kept."""

    prior: float
    kept: bool
    claim_id: object = None  # the claim's id (a UUID), for the train / eval split

    def __post_init__(self) -> None:
        if not 0.0 <= self.prior <= 1.0:
            raise ValueError(ERROR_PRIOR_RANGE)


def line_items_kept(model_lines: Iterable[LineItem], final_lines: Iterable[LineItem]) -> bool:
    """True when the adjuster's final lines are the model's, as a multiset.

    A line is (part, operation, hours); adding, removing or duplicating a line, moving it to
    another part, changing its operation or its hours (beyond the stored two decimals) is a
    change. Prices are not compared: they follow from the lines and the price table.
    """

    def key(lines: Iterable[LineItem]) -> Counter:
        return Counter(
            (part, operation, round(float(hours), HOURS_DECIMALS))
            for part, operation, hours in lines
        )

    return key(model_lines) == key(final_lines)


def _logits(priors: np.ndarray) -> np.ndarray:
    p = np.clip(priors, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _platt(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 100) -> tuple[float, float]:
    """Minimise log loss + l2/2 * ((a - 1)^2 + b^2) over (a, b) by damped Newton."""
    z = np.column_stack([x, np.ones_like(x)])
    centre = np.array([1.0, 0.0])
    w = centre.copy()

    def objective(w: np.ndarray) -> float:
        m = z @ w
        return float(np.sum(np.logaddexp(0, m) - y * m) + 0.5 * l2 * np.sum((w - centre) ** 2))

    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (p - y) + l2 * (w - centre)
        hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        before, scale = objective(w), 1.0
        while scale > 1e-6 and objective(w - scale * step) > before:
            scale /= 2
        w = w - scale * step
        if np.abs(scale * step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def claim_confidence_fit(
    records: Sequence[ClaimConfidenceRecord],
    *,
    min_reviews: int = MIN_REVIEWS,
    l2: float = IDENTITY_L2,
) -> ClaimConfidenceCalibrator | None:
    """The fitted map, or None below ``min_reviews`` records (then the prior is shown).

    A negative slope (higher prior, fewer kept: the prior ranks backwards on these reviews)
    is not kept: the map becomes the constant share kept (Laplace-smoothed), which says the
    prior carries no information rather than inverting it.
    """
    if len(records) < min_reviews:
        return None
    priors = np.array([r.prior for r in records], dtype=float)
    y = np.array([r.kept for r in records], dtype=float)
    slope, intercept = _platt(_logits(priors), y, l2)
    kept = int(y.sum())
    if slope < 0:
        slope = 0.0
        rate = (kept + 1) / (len(records) + 2)
        intercept = math.log(rate / (1 - rate))
    return ClaimConfidenceCalibrator(
        slope=slope, intercept=intercept, reviews=len(records), kept=kept
    )


def log_loss(confidences: Sequence[float], kept: Sequence[bool]) -> float:
    p = np.clip(np.asarray(confidences, dtype=float), 1e-6, 1 - 1e-6)
    y = np.asarray(kept, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def claim_confidence_reliability(
    records: Sequence[ClaimConfidenceRecord],
    calibrator: ClaimConfidenceCalibrator | None,
    *,
    n_bins: int = RELIABILITY_BINS,
) -> dict:
    """ECE, log loss and the reliability table of the prior and (if given) the fitted map.

    Measure on reviews the calibrator was not fitted on (e.g. the claims
    ``learning.splits.split_for_claim`` puts on the eval side); on its own training records
    the fitted numbers are optimistic. Each table row: bin, count, mean confidence shown,
    share kept ("accuracy").
    """
    priors = [r.prior for r in records]
    kept = [r.kept for r in records]
    out = {"n": len(records), "kept": int(sum(kept))}
    out["prior"] = _table(priors, kept, n_bins)
    if calibrator is not None:
        out["fitted"] = _table([calibrator.apply(p) for p in priors], kept, n_bins)
    return out


def _table(confidences: Sequence[float], kept: Sequence[bool], n_bins: int) -> dict:
    return {
        **reliability(confidences, kept, n_bins),
        "n_bins": n_bins,
        "log_loss": log_loss(confidences, kept) if len(kept) else None,
    }


def reliability_sentence(table: dict, value: float) -> str | None:
    """What ``value`` has meant on reviews, from one reliability table, in words.

    E.g. "Of 120 reviewed claims shown 0.90-1.00 (mean 0.93), 111 (92%) kept their line items
    unchanged." None when no reviewed claim fell in that bin.
    """
    n_bins = table["n_bins"]
    # the same binning as ml.evaluate.reliability
    edges = np.linspace(0, 1, n_bins + 1)
    b = int(np.clip(np.digitize(value, edges[1:-1]), 0, n_bins - 1))
    row = next((row for row in table["bins"] if row["bin"] == b), None)
    if row is None:
        return None
    count, share = row["count"], row["accuracy"]
    return (
        f"Of {count} reviewed claims shown {b / n_bins:.2f}-{(b + 1) / n_bins:.2f} "
        f"(mean {row['confidence']:.2f}), {round(share * count)} ({share:.0%}) kept their line "
        "items unchanged."
    )
