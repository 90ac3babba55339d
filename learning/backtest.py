"""Back-testing decision thresholds on reviewed claims: pure functions over plain records.

Each record is a claim an adjuster reviewed: the facts the policy saw (``policy.ClaimFacts``)
and whether the adjuster changed anything. Replaying ``policy.decide`` with candidate
thresholds says which claims would have been decided automatically; the share of those the
adjuster changed is the auto-decision error rate. ``calibrate`` picks the thresholds with the
most automation whose error rate is below a target *with confidence* (see ``error_upper_bound``).

No database here: ``learning.calibration_data`` builds the records, ``learning.calibration``
writes the curve and adopts the result, and ``bench/loop.py`` can call these directly.
"""

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from assessment import policy

# Grid of candidate thresholds (photo confidence x region confidence). 0.01 steps are finer than
# the calibration of the model's scores deserves; below 0.5 the model is guessing.
DEFAULT_GRID = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))  # 0.50 .. 0.99
# The claim confidence is a product over parts and runs lower than photo scores: its sweep
# starts at 0 (the rule off).
CLAIM_CONFIDENCE_GRID = tuple(round(0.01 * i, 2) for i in range(100))  # 0.00 .. 0.99
DEFAULT_TARGET_ERROR = 0.02
# One-sided confidence of the error bound. With no observed error, certifying 2% at 95% takes
# ceil(ln 0.05 / ln 0.98) = 149 auto-decided claims (the "rule of three": 3 / 0.02 = 150).
DEFAULT_CONFIDENCE = 0.95
# Below this many reviewed claims the curve is noise: calibrate refuses.
DEFAULT_MIN_CLAIMS = 200

ERR_TOO_FEW_CLAIMS = (
    "Only {n} reviewed claims are available; calibration needs at least {minimum}. "
    "Review more claims (or lower --min-claims knowingly) and run it again."
)
ERR_NO_THRESHOLD_MEETS_TARGET = (
    "No thresholds meet {target:.1%} error at {confidence:.0%} confidence on {n} reviewed claims: "
    "the lowest upper bound is {best_upper:.1%} (photo >= {photo:.2f}, region >= {region:.2f}, "
    "{n_auto} auto-decided). Review more claims or relax the target."
)
ERR_BAD_TARGET = "The target error must be within (0, 1), not {target}."


class CalibrationError(ValueError):
    """Calibration cannot give an answer it can stand behind; the message says why."""


@dataclass(frozen=True)
class ClaimRecord:
    """One reviewed claim: what the policy saw, and whether the adjuster changed the result."""

    claim: str  # reference or id, for people reading a record
    facts: policy.ClaimFacts
    changed: bool
    detail: dict[str, Any] = field(default_factory=dict)  # why it counts as changed, etc.
    # Sent to review by a random audit (``policy.audit_sample``): every other rule had decided
    # it automatically, so it is an unbiased sample of the automatic path.
    audited: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClaimRecord":
        """From plain JSON: ``{"claim", "changed", "estimate_total", "photos": [{"photo",
        "confidence", "quality_warnings", "duplicate", "error", "regions": [{"label",
        "confidence", "severity", "priced"}]}]}``, optionally ``"claim_confidence"`` and
        ``"audited"``."""
        photos = [
            policy.PhotoFacts(
                photo=str(p.get("photo", n)),
                confidence=None if p.get("confidence") is None else float(p["confidence"]),
                regions=[
                    policy.RegionFacts(
                        label=r["label"],
                        confidence=float(r["confidence"]),
                        severity=r.get("severity", "minor"),
                        priced=bool(r.get("priced", True)),
                    )
                    for r in p.get("regions", [])
                ],
                quality_warnings=list(p.get("quality_warnings", [])),
                duplicate=bool(p.get("duplicate", False)),
                error=p.get("error", ""),
            )
            for n, p in enumerate(data["photos"], start=1)
        ]
        claim_confidence = data.get("claim_confidence")
        facts = policy.ClaimFacts(
            photos=photos,
            estimate_total=float(data["estimate_total"]),
            claim_confidence=None if claim_confidence is None else float(claim_confidence),
        )
        return cls(
            claim=str(data.get("claim", "")),
            facts=facts,
            changed=bool(data["changed"]),
            audited=bool(data.get("audited", False)),
        )


class _AutoDecidedCounts:
    """What every sweep point counts (fields of the dataclasses below): reviewed claims, those
    decided automatically at the point, and how many of those the adjuster changed."""

    n_claims: int
    n_auto: int
    n_auto_changed: int
    error_upper: float

    @property
    def automation_rate(self) -> float:
        return self.n_auto / self.n_claims if self.n_claims else 0.0

    @property
    def error_rate(self) -> float:
        return self.n_auto_changed / self.n_auto if self.n_auto else 0.0

    def _counts(self) -> dict[str, Any]:
        return {
            "n_claims": self.n_claims,
            "n_auto": self.n_auto,
            "n_auto_changed": self.n_auto_changed,
            "automation_rate": round(self.automation_rate, 6),
            "error_rate": round(self.error_rate, 6),
            "error_upper": round(self.error_upper, 6),
        }


@dataclass(frozen=True)
class CurvePoint(_AutoDecidedCounts):
    photo_threshold: float
    region_threshold: float
    n_claims: int  # reviewed claims in the back-test
    n_auto: int  # of those, decided automatically under these thresholds
    n_auto_changed: int  # of those, changed by the adjuster: auto-decision errors
    error_upper: float  # one-sided Clopper-Pearson upper bound on the error rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "photo_threshold": self.photo_threshold,
            "region_threshold": self.region_threshold,
            **self._counts(),
        }


@dataclass(frozen=True)
class AuditEstimate:
    """The automatic path's error measured on random audits: claims every other rule decided
    automatically, reviewed anyway. Unbiased, unlike the sweep, which sees automatic decisions
    only through claims routed for other reasons."""

    n_audited: int
    n_changed: int
    error_upper: float  # one-sided Clopper-Pearson upper bound, as for the sweep
    confidence: float
    by_policy_version: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.n_changed / self.n_audited if self.n_audited else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_audited": self.n_audited,
            "n_changed": self.n_changed,
            "error_rate": round(self.error_rate, 6),
            "error_upper": round(self.error_upper, 6),
            "confidence": self.confidence,
            "by_policy_version": self.by_policy_version,
        }

    def summary(self) -> str:
        if not self.n_audited:
            return "no random audits reviewed yet"
        return (
            f"random audits: {self.n_changed} of {self.n_audited} changed, error "
            f"{self.error_rate:.1%}, {self.confidence:.0%} bound {self.error_upper:.1%}"
        )


@dataclass(frozen=True)
class ThresholdPoint(_AutoDecidedCounts):
    """One point of a single-threshold sweep (``min_claim_confidence``)."""

    threshold: float
    n_claims: int
    n_auto: int
    n_auto_changed: int
    error_upper: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            **self._counts(),
        }


@dataclass(frozen=True)
class Calibration:
    base_rules: policy.PolicyRules
    target_error: float
    confidence: float
    points: list[CurvePoint]  # the whole grid, photo-major
    chosen: CurvePoint | None  # None: no grid point meets the target
    n_changed: int  # reviewed claims the adjuster changed (any threshold)
    n_never_auto: int  # claims other rules route to a person whatever the thresholds
    audit: AuditEstimate | None = None  # the unbiased estimate, from random audits
    # min_claim_confidence swept with the base policy's other rules; empty when no record
    # has a claim confidence.
    claim_confidence_points: list[ThresholdPoint] = field(default_factory=list)

    @property
    def n_claims(self) -> int:
        return self.points[0].n_claims if self.points else 0

    @property
    def rules(self) -> policy.PolicyRules | None:
        if self.chosen is None:
            return None
        return rules_with_thresholds(
            self.base_rules, self.chosen.photo_threshold, self.chosen.region_threshold
        )

    def meets_target(self, point: CurvePoint) -> bool:
        return point.n_auto > 0 and point.error_upper <= self.target_error

    def summary(self) -> str:
        """One line for a policy note (at most 200 characters) and for logs."""
        if self.chosen is None:
            return f"no thresholds meet {self.target_error:.1%} on {self.n_claims} claims"
        c = self.chosen
        return (
            f"calibrated on {c.n_claims} reviewed claims, target {self.target_error:.1%}: "
            f"photo>={c.photo_threshold:.2f} region>={c.region_threshold:.2f}; "
            f"auto {c.automation_rate:.1%} ({c.n_auto}), error {c.error_rate:.1%} "
            f"({c.n_auto_changed}), {self.confidence:.0%} bound {c.error_upper:.1%}"
        )


# --------------------------------------------------------------------------- statistics


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction (Numerical Recipes
    6.4); accurate to ~1e-12, which is all a confidence bound needs (no SciPy here)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only on this side
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny, eps = 1e-300, 1e-14
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return math.exp(log_front) * result / a


@lru_cache(maxsize=65_536)
def error_upper_bound(errors: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a binomial rate: the largest p for which seeing
    at most ``errors`` in ``n`` still has probability >= 1 - confidence.

    Chosen over Wilson because it is exact (coverage never below the nominal level); Wilson
    under-covers exactly where this is used, rates near 0 with few events, and a policy that
    decides claims on its own should err on the safe side. ``n == 0`` gives 1 (nothing known).
    """
    if n <= 0:
        return 1.0
    if errors >= n:
        return 1.0
    alpha = 1.0 - confidence
    if errors == 0:  # closed form: (1 - p)^n = alpha
        return 1.0 - alpha ** (1.0 / n)
    # P(X <= k | n, p) = 1 - I_p(k + 1, n - k), decreasing in p: bisect for it to equal alpha.
    lo, hi = errors / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if 1.0 - _betainc(errors + 1, n - errors, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


# --------------------------------------------------------------------------- the back-test


def audit_error_estimate(
    records: list[ClaimRecord], confidence: float = DEFAULT_CONFIDENCE
) -> AuditEstimate:
    """The share of randomly audited claims the adjuster changed, with its upper bound.

    It measures the policy versions the audits were drawn under (``by_policy_version``, from
    ``detail["policy_version"]`` where known), not a candidate the sweep proposes."""
    audited = [r for r in records if r.audited]
    changed = sum(r.changed for r in audited)
    by_version: dict[str, dict[str, int]] = {}
    for record in audited:
        version = str(record.detail.get("policy_version", "unknown"))
        row = by_version.setdefault(version, {"n_audited": 0, "n_changed": 0})
        row["n_audited"] += 1
        row["n_changed"] += int(record.changed)
    return AuditEstimate(
        n_audited=len(audited),
        n_changed=changed,
        error_upper=error_upper_bound(changed, len(audited), confidence),
        confidence=confidence,
        by_policy_version=dict(sorted(by_version.items())),
    )


def sweep_claim_confidence(
    base: policy.PolicyRules,
    records: list[ClaimRecord],
    *,
    grid=CLAIM_CONFIDENCE_GRID,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[ThresholdPoint]:
    """``min_claim_confidence`` over ``grid`` with every other rule as in ``base``. Empty when
    no record has a claim confidence (nothing to sweep). As in decide(), a record without one
    is not routed by the rule, so it counts as automatic whenever the other rules allow."""
    if not any(r.facts.claim_confidence is not None for r in records):
        return []
    off = replace(base, min_claim_confidence=None)
    eligible = np.array([policy.decide(off, r.facts).automatic for r in records], dtype=bool)
    scores = np.array(
        [
            math.inf if r.facts.claim_confidence is None else r.facts.claim_confidence
            for r in records
        ],
        dtype=float,
    )
    changed = np.array([r.changed for r in records], dtype=bool)
    points = []
    for threshold in grid:
        auto = eligible & (scores >= threshold)
        n_auto, n_changed = int(auto.sum()), int((auto & changed).sum())
        points.append(
            ThresholdPoint(
                threshold=float(threshold),
                n_claims=len(records),
                n_auto=n_auto,
                n_auto_changed=n_changed,
                error_upper=error_upper_bound(n_changed, n_auto, confidence),
            )
        )
    return points


def rules_with_thresholds(
    base: policy.PolicyRules, photo_threshold: float, region_threshold: float
) -> policy.PolicyRules:
    """The base rules with the two swept thresholds replaced; every other rule is kept, the
    per-type region thresholds included (they are deliberate choices, not fitted here)."""
    return replace(
        base,
        min_photo_confidence=float(photo_threshold),
        min_region_confidence=float(region_threshold),
    )


def replay(
    rules: policy.PolicyRules, records: list[ClaimRecord], confidence: float = DEFAULT_CONFIDENCE
) -> CurvePoint:
    """Run ``policy.decide`` on every record: the reference the fast sweep is tested against."""
    auto = [r for r in records if policy.decide(rules, r.facts).automatic]
    changed = sum(r.changed for r in auto)
    return CurvePoint(
        photo_threshold=rules.min_photo_confidence,
        region_threshold=rules.min_region_confidence,
        n_claims=len(records),
        n_auto=len(auto),
        n_auto_changed=changed,
        error_upper=error_upper_bound(changed, len(auto), confidence),
    )


@dataclass(frozen=True)
class _Margins:
    """Per record: could it be automatic at all, and the lowest scores the thresholds gate."""

    eligible: np.ndarray  # bool: automatic when both swept thresholds are 0
    photo_min: np.ndarray  # lowest photo confidence (inf: no assessed photo)
    region_min: np.ndarray  # lowest confidence of a region under the global threshold
    changed: np.ndarray  # bool


def _margins(base: policy.PolicyRules, records: list[ClaimRecord]) -> _Margins:
    """decide() applies ``confidence < threshold`` per photo and per region, and every other
    rule ignores the two swept thresholds. So a claim is automatic under (t_photo, t_region)
    exactly when it is automatic under (0, 0) and its lowest photo confidence >= t_photo and
    its lowest globally-gated region confidence >= t_region. One decide() call per record
    instead of one per record and grid point (2,500 of them by default)."""
    floor = rules_with_thresholds(base, 0.0, 0.0)
    eligible, photo_min, region_min = [], [], []
    for record in records:
        eligible.append(policy.decide(floor, record.facts).automatic)
        photos = [p for p in record.facts.photos if p.confidence is not None]
        photo_min.append(min((p.confidence for p in photos), default=math.inf))
        region_min.append(
            min(
                (
                    r.confidence
                    for p in photos
                    for r in p.regions
                    if r.label not in base.min_region_confidence_by_type
                ),
                default=math.inf,
            )
        )
    return _Margins(
        eligible=np.array(eligible, dtype=bool),
        photo_min=np.array(photo_min, dtype=float),
        region_min=np.array(region_min, dtype=float),
        changed=np.array([r.changed for r in records], dtype=bool),
    )


def sweep(
    base: policy.PolicyRules,
    records: list[ClaimRecord],
    *,
    photo_grid=DEFAULT_GRID,
    region_grid=DEFAULT_GRID,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[CurvePoint]:
    """The curve: one point per (photo threshold, region threshold), photo-major."""
    return _points(_margins(base, records), photo_grid, region_grid, confidence)


def _points(m: _Margins, photo_grid, region_grid, confidence: float) -> list[CurvePoint]:
    points = []
    for tp in photo_grid:
        photo_ok = m.eligible & (m.photo_min >= tp)
        for tr in region_grid:
            auto = photo_ok & (m.region_min >= tr)
            n_auto = int(auto.sum())
            changed = int((auto & m.changed).sum())
            points.append(
                CurvePoint(
                    photo_threshold=float(tp),
                    region_threshold=float(tr),
                    n_claims=len(m.changed),
                    n_auto=n_auto,
                    n_auto_changed=changed,
                    error_upper=error_upper_bound(changed, n_auto, confidence),
                )
            )
    return points


def choose(points: list[CurvePoint], target_error: float) -> CurvePoint | None:
    """Most automation among points whose error upper bound is within the target. Ties (the
    same claims decided) go to the stricter thresholds: same history, more margin for claims
    not seen yet."""
    ok = [p for p in points if p.n_auto > 0 and p.error_upper <= target_error]
    if not ok:
        return None
    return max(ok, key=lambda p: (p.n_auto, -p.error_upper, p.photo_threshold, p.region_threshold))


def calibrate(
    base: policy.PolicyRules,
    records: list[ClaimRecord],
    *,
    target_error: float = DEFAULT_TARGET_ERROR,
    min_claims: int = DEFAULT_MIN_CLAIMS,
    confidence: float = DEFAULT_CONFIDENCE,
    photo_grid=DEFAULT_GRID,
    region_grid=DEFAULT_GRID,
) -> Calibration:
    """Sweep the grid and choose. Raises ``CalibrationError`` when there are too few reviewed
    claims; returns ``chosen=None`` (the curve is still worth a look) when no point meets the
    target, and ``require_chosen`` turns that into the error with its numbers."""
    if not 0 < target_error < 1:
        raise CalibrationError(ERR_BAD_TARGET.format(target=target_error))
    if len(records) < min_claims:
        raise CalibrationError(ERR_TOO_FEW_CLAIMS.format(n=len(records), minimum=min_claims))
    margins = _margins(base, records)
    points = _points(margins, photo_grid, region_grid, confidence)
    chosen = choose(points, target_error)
    return Calibration(
        base_rules=base,
        target_error=target_error,
        confidence=confidence,
        points=points,
        chosen=chosen,
        n_changed=int(margins.changed.sum()),
        n_never_auto=int((~margins.eligible).sum()),
        audit=audit_error_estimate(records, confidence),
        claim_confidence_points=sweep_claim_confidence(base, records, confidence=confidence),
    )


def require_chosen(calibration: Calibration) -> CurvePoint:
    if calibration.chosen is not None:
        return calibration.chosen
    best = min(calibration.points, key=lambda p: (p.error_upper, -p.n_auto))
    raise CalibrationError(
        ERR_NO_THRESHOLD_MEETS_TARGET.format(
            target=calibration.target_error,
            confidence=calibration.confidence,
            n=calibration.n_claims,
            best_upper=best.error_upper,
            photo=best.photo_threshold,
            region=best.region_threshold,
            n_auto=best.n_auto,
        )
    )


def curve_slice(calibration: Calibration, *, along: str) -> list[CurvePoint]:
    """The curve along one threshold with the other held at the chosen value (or the base
    policy's, when nothing was chosen): what the plot and the printed table show."""
    anchor = calibration.chosen
    fixed_photo = anchor.photo_threshold if anchor else calibration.base_rules.min_photo_confidence
    fixed_region = (
        anchor.region_threshold if anchor else calibration.base_rules.min_region_confidence
    )
    if along == "photo":
        region = _nearest({p.region_threshold for p in calibration.points}, fixed_region)
        return [p for p in calibration.points if p.region_threshold == region]
    if along == "region":
        photo = _nearest({p.photo_threshold for p in calibration.points}, fixed_photo)
        return [p for p in calibration.points if p.photo_threshold == photo]
    raise ValueError("along must be 'photo' or 'region'")


def _nearest(values: set[float], target: float) -> float:
    return min(values, key=lambda v: (abs(v - target), -v))
