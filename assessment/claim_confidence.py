"""Claim confidence: the estimated probability that an adjuster keeps the claim's line items.

A claim's line items are its (part, operation, hours) lines. The claim confidence says how
likely it is that the adjuster who reviews the claim changes none of them: no line added,
removed, moved to another part, given another operation or other hours. It starts as a
documented *prior* computed from the model's region and part confidences
(:func:`claim_confidence_prior`) and becomes a fitted probability once enough review outcomes
exist: a :class:`ClaimConfidenceCalibrator`, fitted in ``learning.claim_confidence``, maps the
prior to the share of reviewed claims whose line items were kept. :func:`claim_confidence`
applies it, or falls back to the prior, and says which of the two a number is.

Plain functions, no Django: the claim finish, the policy and the back-test call them with
numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# (region confidence, part share): one region on one photo that puts damage on the part.
# part_share is None for a model without a part head (then the region's part is not in doubt
# beyond the region itself, and the share counts as 1).
Evidence = tuple[float, float | None]

# The prior never says more than this. Three reasons it would otherwise be too sure: the
# region calibrators are over-confident at the top on damaged photos (docs/model-card.md:
# 6 damaged test photos at >= 0.9, 4 acceptable), the independence assumptions below, and
# what the prior cannot see (missed parts, severity and hours). With no fitted calibrator no
# claim is shown more than 0.95, so a policy threshold above it lets only fitted confidences
# decide.
PRIOR_CEILING = 0.95
# Nor less than this: a prior of exactly 0 is never justified by a model score, and the
# calibrator works on logit(prior), which must stay finite.
PRIOR_FLOOR = 0.01
# Each region the model puts on no named part multiplies the prior by this. Such a region is
# either wrong (the adjuster deletes it) or damage the estimate cannot price by part (the
# adjuster adds or moves a line); either way the line items are at best incomplete. A round
# guess, documented as one: the fit replaces it.
UNKNOWN_PART_FACTOR = 0.5

PRIOR = "prior"
FITTED = "fitted"
CALIBRATOR_KIND = "platt_logit_prior"

ERROR_CONFIDENCE_RANGE = "confidences and part shares must lie in [0, 1]"
ERROR_EMPTY_PART = "a damaged part needs at least one piece of evidence"
ERROR_CALIBRATOR_KIND = "not a claim-confidence calibrator"
ERROR_SLOPE = "a claim-confidence calibrator's slope must be >= 0 (monotone)"


def _unit(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(ERROR_CONFIDENCE_RANGE)
    return value


def part_prior(evidence: Sequence[Evidence]) -> float:
    """P(this part's line item is right), read from its best single piece of evidence.

    ``p_part = max_i c_i * s_i``: region i is right (its confidence c_i, calibrated per region:
    an adjuster would keep it as drawn, type included) *and* on this part (its part share s_i,
    1 without a part head). The same rule as the part record's confidence (assessment.parts):
    the views of one part are not independent witnesses (an overview and a close-up of one dent
    fail together), so a noisy-OR ``1 - prod(1 - c_i s_i)`` would make a claim with more
    close-ups look surer than it is. The max assumes the views fail together; if they were
    partly independent it understates the part, which errs on the side of review.
    """
    if not evidence:
        raise ValueError(ERROR_EMPTY_PART)
    best = 0.0
    for confidence, share in evidence:
        c = _unit(confidence)
        s = 1.0 if share is None else _unit(share)
        best = max(best, c * s)
    return best


def claim_confidence_prior(
    parts: Sequence[Sequence[Evidence]],
    *,
    unknown_part_regions: int = 0,
    photo_confidences: Sequence[float] = (),
) -> float:
    """The documented prior for P(the adjuster keeps every line item unchanged).

    ``parts``: one entry per damaged part of the claim (merged across photos), each the
    evidence ``(region_confidence, part_share)`` of its regions. ``unknown_part_regions``:
    regions the model found but put on no named part. ``photo_confidences``: the photos'
    calibrated confidences, used only when no damage was found at all.

    * damage found: ``clip(prod_parts p_part * UNKNOWN_PART_FACTOR ** unknown, FLOOR, CEILING)``
      with ``p_part`` from :func:`part_prior`;
    * no damage found on any photo: the line items are kept when the adjuster adds none, i.e.
      no photo missed damage. A photo confidence with no region predicted is exactly
      P(nothing missed on that photo) (ml/calibration.py), so the prior is the lowest photo
      confidence, clipped: the claim is no surer than its least sure photo. Without photos
      there is nothing to go on: the floor.

    Why this is a prior and not a probability: the product treats parts as independent (they
    share photos, light and the model's blind spots), the max treats a part's views as failing
    together, region confidence measures the outline and type, not the operation or hours a
    line is priced with, and a part the model missed on every photo lowers nothing. It is
    monotone in every confidence, which is what the fit needs; the fitted map
    (:class:`ClaimConfidenceCalibrator`) turns it into a probability measured on reviews.
    """
    if unknown_part_regions < 0:
        raise ValueError("unknown_part_regions must be >= 0")
    if not parts and not unknown_part_regions:
        confidences = [_unit(c) for c in photo_confidences]
        value = min(confidences) if confidences else PRIOR_FLOOR
    else:
        value = 1.0
        for evidence in parts:
            value *= part_prior(evidence)
        value *= UNKNOWN_PART_FACTOR**unknown_part_regions
    return min(PRIOR_CEILING, max(PRIOR_FLOOR, value))


def claim_confidence_prior_from_record(
    parts: Sequence, *, unplaced: Sequence = (), photo_confidences: Sequence[float] = ()
) -> float:
    """:func:`claim_confidence_prior` from the part record of ``assessment.parts``.

    ``parts``: ``damaged_parts(...)`` (``DamagedPart``: ``known``, ``evidence`` with
    ``confidence`` and ``part_share``); the unknown-part entry's regions are the unknown-part
    regions. ``unplaced``: ``unplaced(...)`` (regions of a model without a part head, priced per
    region), each its own line item with its region confidence. A confidence of ``None`` (a
    region a person drew) counts as 1, as in the part record.
    """

    def conf(value: float | None) -> float:
        return 1.0 if value is None else value

    known = [[(conf(e.confidence), e.part_share) for e in p.evidence] for p in parts if p.known]
    unknown = sum(len(p.evidence) for p in parts if not p.known)
    known += [[(conf(r.confidence), None)] for r in unplaced]
    return claim_confidence_prior(
        known, unknown_part_regions=unknown, photo_confidences=photo_confidences
    )


def _logit(p: float) -> float:
    p = min(1.0 - 1e-6, max(1e-6, p))
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class ClaimConfidenceCalibrator:
    """``P(kept | prior) = sigmoid(slope * logit(prior) + intercept)``, slope >= 0.

    Platt scaling on the prior's logit: two numbers, monotone (a higher prior never gets a
    lower probability), serialisable as JSON, and identity at slope 1, intercept 0. Isotonic
    regression would need scikit-learn, which the project does not depend on; with a few
    hundred reviews two parameters are also what the data can carry. ``reviews`` and ``kept``
    record what it was fitted on, to show with the number.
    """

    slope: float
    intercept: float
    reviews: int
    kept: int

    def __post_init__(self) -> None:
        if not self.slope >= 0.0:
            raise ValueError(ERROR_SLOPE)

    def apply(self, prior: float) -> float:
        return _sigmoid(self.slope * _logit(_unit(prior)) + self.intercept)

    def to_dict(self) -> dict:
        return {
            "kind": CALIBRATOR_KIND,
            "slope": self.slope,
            "intercept": self.intercept,
            "reviews": self.reviews,
            "kept": self.kept,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ClaimConfidenceCalibrator:
        if not isinstance(data, dict) or data.get("kind") != CALIBRATOR_KIND:
            raise ValueError(ERROR_CALIBRATOR_KIND)
        return cls(
            slope=float(data["slope"]),
            intercept=float(data["intercept"]),
            reviews=int(data["reviews"]),
            kept=int(data["kept"]),
        )


@dataclass(frozen=True)
class ClaimConfidence:
    """A claim confidence with what it is: fitted on ``reviews`` reviews, or the prior."""

    value: float
    prior: float
    source: str  # PRIOR or FITTED
    reviews: int = 0

    @property
    def meaning(self) -> str:
        tenths = round(self.value * 10)
        if self.source == FITTED:
            return (
                f"{self.value:.2f}: of reviewed claims shown about {self.value:.2f}, about "
                f"{tenths} in 10 had their line items (parts and operations) kept unchanged "
                f"by the adjuster (fitted on {self.reviews} reviews)."
            )
        return (
            f"{self.value:.2f}: a prior from the model's region and part confidences, not "
            "yet measured against adjusters' reviews; read it as a ranking, not a promise."
        )


def claim_confidence(prior: float, calibrator: ClaimConfidenceCalibrator | None) -> ClaimConfidence:
    """The fitted probability where a calibrator exists, else the prior (the fallback)."""
    prior = _unit(prior)
    if calibrator is None:
        return ClaimConfidence(value=prior, prior=prior, source=PRIOR)
    return ClaimConfidence(
        value=calibrator.apply(prior), prior=prior, source=FITTED, reviews=calibrator.reviews
    )


# Where the fitted map lives: the decision policy's ``claim_confidence_calibrator`` rule
# (``assessment.policy.PolicyRules``), as ``calibrator_entry`` writes it: the calibrator's
# ``to_dict`` plus the model version whose priors it was fitted on.
ERROR_CALIBRATOR_MODEL = "a claim-confidence calibrator names the model version it was fitted on"


def calibrator_entry(calibrator: ClaimConfidenceCalibrator, *, model_version: str) -> dict:
    """The policy's stored form of a fitted map: it maps *this model's* priors to P(kept).

    The prior is computed from the model's region and part confidences, so a map fitted on one
    model's priors says nothing about another's: :func:`calibrator_for_model` applies it only
    under the model version it names.
    """
    return {**calibrator.to_dict(), "model_version": str(model_version)}


def calibrator_entry_validate(entry: dict | None) -> None:
    """Raise ValueError unless ``entry`` is None or a stored calibrator (the policy checks it)."""
    if entry is None:
        return
    ClaimConfidenceCalibrator.from_dict(entry)
    if not isinstance(entry.get("model_version"), str) or not entry["model_version"]:
        raise ValueError(ERROR_CALIBRATOR_MODEL)


def calibrator_for_model(
    entry: dict | None, *, model_version: str
) -> ClaimConfidenceCalibrator | None:
    """The stored calibrator when it was fitted on ``model_version``'s priors, else None (then
    the claim shows the prior: a map fitted under another model would mislabel its numbers)."""
    if entry is None or entry.get("model_version") != str(model_version):
        return None
    return ClaimConfidenceCalibrator.from_dict(entry)
