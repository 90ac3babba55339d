"""Services for fitting policy thresholds to review outcomes: run the back-test on the reviewed
claims, write its curve (CSV, PNG, JSON summary) and adopt the result as a new policy version.

Used by ``manage.py calibrate`` and by the decision-policy admin action. Adopting never
activates silently: a new version is inactive unless the caller asks (``activate=True``).

``claim_confidence_run`` fits the claim-confidence map on the train side of the reviewed claims
and measures it on the eval side (``manage.py calibrate --claim-confidence``); adopting stores
it in the new policy version's ``claim_confidence_calibrator``.
"""

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from assessment import configuration, policy
from assessment.claim_confidence import ClaimConfidenceCalibrator, calibrator_entry
from assessment.model_versions import model_version_active
from assessment.models import DecisionPolicy
from learning import backtest, splits
from learning.calibration_data import (
    CalibrationData,
    ClaimConfidenceData,
    calibration_records_list,
    claim_confidence_records_list,
)
from learning.claim_confidence import (
    MIN_REVIEWS,
    claim_confidence_fit,
    claim_confidence_reliability,
)

logger = logging.getLogger(__name__)

# DecisionPolicy.note holds 200 characters.
NOTE_MAX = 200
CSV_FIELDS = [
    "photo_threshold",
    "region_threshold",
    "n_claims",
    "n_auto",
    "n_auto_changed",
    "automation_rate",
    "error_rate",
    "error_upper",
    "meets_target",
    "chosen",
]


@dataclass(frozen=True)
class CalibrationRun:
    calibration: backtest.Calibration
    base_policy: DecisionPolicy
    data: CalibrationData


def calibration_run(
    *,
    target_error: float = backtest.DEFAULT_TARGET_ERROR,
    min_claims: int = backtest.DEFAULT_MIN_CLAIMS,
    confidence: float = backtest.DEFAULT_CONFIDENCE,
    base_policy: DecisionPolicy | None = None,
    since=None,
    until=None,
) -> CalibrationRun:
    """Back-test the reviewed claims against ``base_policy`` (default: the active one) with the
    two confidence thresholds swept. Raises ``backtest.CalibrationError`` on too few claims."""
    base_policy = base_policy or configuration.decision_policy_active()
    data = calibration_records_list(since=since, until=until)
    calibration = backtest.calibrate(
        policy.PolicyRules.from_dict(base_policy.rules),
        data.records,
        target_error=target_error,
        min_claims=min_claims,
        confidence=confidence,
    )
    logger.info("calibration against policy v%s: %s", base_policy.version, calibration.summary())
    return CalibrationRun(calibration=calibration, base_policy=base_policy, data=data)


def calibration_note(run: CalibrationRun) -> str:
    return f"{run.calibration.summary()} (from v{run.base_policy.version})"[:NOTE_MAX]


def calibration_adopt(
    *,
    run: CalibrationRun,
    created_by=None,
    activate: bool = False,
    claim_confidence: "ClaimConfidenceRun | None" = None,
) -> DecisionPolicy:
    """Save the chosen thresholds as a new policy version, the back-test summary in its note.
    With a fitted ``claim_confidence`` run its calibrator replaces the base policy's (without
    one, or below the minimum of reviews, the base policy's calibrator, if any, is copied).
    Raises ``backtest.CalibrationError`` when no thresholds met the target."""
    backtest.require_chosen(run.calibration)
    rules = run.calibration.rules.to_dict()
    note = calibration_note(run)
    if claim_confidence is not None and claim_confidence.calibrator is not None:
        rules["claim_confidence_calibrator"] = calibrator_entry(
            claim_confidence.calibrator, model_version=claim_confidence.model_version
        )
        note = f"claim confidence fitted on {claim_confidence.calibrator.reviews}; {note}"
    return configuration.decision_policy_create(
        rules=rules,
        note=note[:NOTE_MAX],
        created_by=created_by,
        activate=activate,
    )


# --------------------------------------------------------------------------- claim confidence


@dataclass(frozen=True)
class ClaimConfidenceRun:
    model_version: str
    data: ClaimConfidenceData
    n_train: int
    n_eval: int
    min_reviews: int
    # None below ``min_reviews`` train records: claims keep showing the prior.
    calibrator: ClaimConfidenceCalibrator | None
    # ``claim_confidence_reliability`` on the eval side (reviews the map was not fitted on).
    reliability: dict


def claim_confidence_run(
    *,
    model_version: str | None = None,
    min_reviews: int = MIN_REVIEWS,
    since=None,
    until=None,
) -> ClaimConfidenceRun:
    """Fit the claim-confidence map on the train side of the reviewed claims decided under
    ``model_version`` (default: the active model, whose priors the map will read) and measure
    it on the eval side (``learning.splits.split_for_claim``: the same claims are held out as
    for the model's own evaluation, so the reliability is measured on reviews it never saw)."""
    model_version = model_version or model_version_active().version
    data = claim_confidence_records_list(since=since, until=until, model_version=model_version)
    train = [r for r in data.records if splits.split_for_claim(r.claim_id) == splits.TRAIN]
    held_out = [r for r in data.records if splits.split_for_claim(r.claim_id) == splits.EVAL]
    calibrator = claim_confidence_fit(train, min_reviews=min_reviews)
    reliability = claim_confidence_reliability(held_out, calibrator)
    logger.info(
        "claim confidence for model %s: %d train, %d eval, %s",
        model_version,
        len(train),
        len(held_out),
        "fitted" if calibrator else "too few reviews, the prior stays",
    )
    return ClaimConfidenceRun(
        model_version=model_version,
        data=data,
        n_train=len(train),
        n_eval=len(held_out),
        min_reviews=min_reviews,
        calibrator=calibrator,
        reliability=reliability,
    )


def claim_confidence_summary(run: ClaimConfidenceRun) -> dict:
    return {
        "model_version": run.model_version,
        "n_records": len(run.data.records),
        "n_train": run.n_train,
        "n_eval": run.n_eval,
        "min_reviews": run.min_reviews,
        "skipped": run.data.skipped,
        "calibrator": (
            calibrator_entry(run.calibrator, model_version=run.model_version)
            if run.calibrator
            else None
        ),
        "eval_reliability": run.reliability,
    }


def claim_confidence_write(*, run: ClaimConfidenceRun, out_dir: Path) -> Path:
    path = Path(out_dir) / "claim_confidence.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(claim_confidence_summary(run), indent=2) + "\n")
    return path


def claim_confidence_table(run: ClaimConfidenceRun) -> str:
    """The printed section: what was fitted on how many reviews, ECE and log loss of the prior
    and the fitted map on the eval side, and the reliability table of the number claims will
    show (the fitted map's, or the prior's while there is none)."""
    skipped = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in run.data.skipped.items())
    lines = [
        f"Claim confidence (model {run.model_version}): {len(run.data.records)} reviewed claims "
        f"with a recorded prior ({run.n_train} train, {run.n_eval} eval"
        + (f"; skipped: {skipped}" if skipped else "")
        + ")."
    ]
    cal = run.calibrator
    if cal is None:
        lines.append(
            f"Not fitted: {run.n_train} train reviews, {run.min_reviews} needed; claims show the "
            "prior."
        )
    else:
        lines.append(
            f"Fitted on {cal.reviews} train reviews ({cal.kept} kept their line items): "
            f"P(kept) = sigmoid({cal.slope:.3f} * logit(prior) "
            f"{'-' if cal.intercept < 0 else '+'} {abs(cal.intercept):.3f})."
        )
    rel = run.reliability
    if not rel["n"]:
        lines.append("No eval reviews to measure it on.")
        return "\n".join(lines)
    lines += ["", f"on {rel['n']} eval reviews ({rel['kept']} kept):  {'ECE':>6} {'log loss':>8}"]
    for name in ("prior", "fitted"):
        if name in rel:
            table = rel[name]
            lines.append(f"  {name:<30} {table['ece']:>6.3f} {table['log_loss']:>8.3f}")
    shown = rel["fitted"] if "fitted" in rel else rel["prior"]
    lines += ["", f"{'shown':>9} {'reviews':>7} {'mean':>6} {'kept':>6}"]
    n_bins = shown["n_bins"]
    for row in shown["bins"]:
        b = row["bin"]
        lines.append(
            f"{b / n_bins:.2f}-{(b + 1) / n_bins:.2f} {row['count']:>7d} "
            f"{row['confidence']:>6.2f} {row['accuracy']:>6.0%}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the report


def calibration_write(*, run: CalibrationRun, out_dir: Path) -> dict[str, Path]:
    """``curve.csv`` (every grid point), ``curve.png`` and ``summary.json`` under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": out_dir / "curve.csv",
        "png": out_dir / "curve.png",
        "summary": out_dir / "summary.json",
    }
    _write_csv(run.calibration, paths["csv"])
    _write_png(run.calibration, paths["png"])
    paths["summary"].write_text(json.dumps(calibration_summary(run), indent=2) + "\n")
    return paths


def calibration_summary(run: CalibrationRun) -> dict:
    cal = run.calibration
    return {
        "base_policy_version": run.base_policy.version,
        "target_error": cal.target_error,
        "confidence": cal.confidence,
        "bound": "one-sided Clopper-Pearson upper bound on the auto-decision error rate",
        "n_claims": cal.n_claims,
        "n_changed": cal.n_changed,
        "n_never_auto": cal.n_never_auto,
        "skipped": run.data.skipped,
        "chosen": cal.chosen.to_dict() if cal.chosen else None,
        "rules": cal.rules.to_dict() if cal.rules else None,
        "summary": cal.summary(),
        # The unbiased estimate of the automatic path, apart from the sweep's (biased: it sees
        # automatic decisions only through claims routed for other reasons).
        "random_audits": cal.audit.to_dict() if cal.audit else None,
        "random_audits_summary": cal.audit.summary() if cal.audit else "",
        "claim_confidence_curve": [p.to_dict() for p in cal.claim_confidence_points],
    }


def _write_csv(cal: backtest.Calibration, path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for point in cal.points:
            writer.writerow(
                {
                    **point.to_dict(),
                    "meets_target": int(cal.meets_target(point)),
                    "chosen": int(point == cal.chosen),
                }
            )


def _write_png(cal: backtest.Calibration, path: Path) -> None:
    # The object-oriented API (no pyplot): no global figure state, no GUI backend in a worker.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.6), layout="constrained")
    panels = fig.subplots(1, 3)
    # Errors that matter sit near the target: their axis spans five times the target.
    error_top = min(1.0, 5 * cal.target_error)
    for ax, along in zip(panels[:2], ("photo", "region"), strict=True):
        points = backtest.curve_slice(cal, along=along)
        x = [p.photo_threshold if along == "photo" else p.region_threshold for p in points]
        other = points[0].region_threshold if along == "photo" else points[0].photo_threshold
        ax.plot(x, [p.automation_rate for p in points], color="tab:blue", label="automation")
        err = ax.twinx()
        err.plot(x, [p.error_rate for p in points], color="tab:red", label="error (observed)")
        err.plot(
            x,
            [p.error_upper for p in points],
            color="tab:red",
            linestyle="--",
            label=f"error ({cal.confidence:.0%} upper bound)",
        )
        err.axhline(cal.target_error, color="black", linewidth=0.8, label="target error")
        err.set_ylim(0, error_top)
        err.set_ylabel("error rate among auto-decided", color="tab:red")
        if cal.chosen is not None:
            cx = cal.chosen.photo_threshold if along == "photo" else cal.chosen.region_threshold
            ax.axvline(cx, color="tab:green", linewidth=0.8)
            ax.plot([cx], [cal.chosen.automation_rate], "o", color="tab:green", label="chosen")
        fixed = "region" if along == "photo" else "photo"
        ax.set_title(f"{along} confidence threshold ({fixed} >= {other:.2f})")
        ax.set_xlabel(f"min {along} confidence")
        ax.set_ylabel("automation rate (share of reviewed claims)", color="tab:blue")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        handles = ax.get_legend_handles_labels()
        err_handles = err.get_legend_handles_labels()
        ax.legend(
            handles[0] + err_handles[0], handles[1] + err_handles[1], fontsize=8, loc="upper right"
        )
    ax = panels[2]
    ax.scatter(
        [p.error_upper for p in cal.points],
        [p.automation_rate for p in cal.points],
        s=4,
        color="tab:gray",
        label="every threshold pair",
    )
    ax.axvline(cal.target_error, color="black", linewidth=0.8, label="target error")
    if cal.chosen is not None:
        ax.plot(
            [cal.chosen.error_upper],
            [cal.chosen.automation_rate],
            "o",
            color="tab:green",
            label=f"chosen ({cal.chosen.photo_threshold:.2f}, {cal.chosen.region_threshold:.2f})",
        )
    ax.set_xlim(0, error_top)
    ax.set_ylim(0, 1)
    ax.set_title(f"automation vs error bound ({cal.n_claims} reviewed claims)")
    ax.set_xlabel(f"error rate, {cal.confidence:.0%} upper bound")
    ax.set_ylabel("automation rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(cal.summary(), fontsize=9)
    fig.savefig(path, dpi=100)


def calibration_table(run: CalibrationRun, *, step: float = 0.05) -> str:
    """The printed table: both slices through the chosen point at ``step`` spacing, plus the
    chosen row itself (marked ``*``)."""
    cal = run.calibration
    header = (
        f"{'':1} {'photo>=':>7} {'region>=':>8} {'auto':>6} {'automation':>10} "
        f"{'changed':>7} {'error':>7} {'bound':>7}  meets"
    )
    lines = []
    for along in ("photo", "region"):
        lines += ["", f"along the {along} threshold:", header]
        for point in backtest.curve_slice(cal, along=along):
            t = point.photo_threshold if along == "photo" else point.region_threshold
            on_step = abs(round(t / step) * step - t) < 1e-9
            if not on_step and point != cal.chosen:
                continue
            lines.append(
                f"{'*' if point == cal.chosen else ' ':1} {point.photo_threshold:>7.2f} "
                f"{point.region_threshold:>8.2f} {point.n_auto:>6d} "
                f"{point.automation_rate:>10.1%} {point.n_auto_changed:>7d} "
                f"{point.error_rate:>7.1%} {point.error_upper:>7.1%}  "
                f"{'yes' if cal.meets_target(point) else 'no'}"
            )
    return "\n".join(lines)


def calibration_audit_line(run: CalibrationRun, *, step: float = 0.1) -> str:
    """The random audits' estimate, printed apart from the sweep, and the claim-confidence
    sweep (at ``step`` spacing) where the records carry a claim confidence."""
    cal = run.calibration
    audit = cal.audit
    if audit is None or not audit.n_audited:
        lines = [
            "Random audits: none among the reviewed claims yet. The error rates above come only "
            "from claims routed to review for other reasons (a biased sample)."
        ]
    else:
        lines = [
            f"Random audits (unbiased, the automatic path as decided): {audit.n_changed} of "
            f"{audit.n_audited} changed by the adjuster, error {audit.error_rate:.1%}, "
            f"{audit.confidence:.0%} upper bound {audit.error_upper:.1%}"
            f" (by policy version: "
            + ", ".join(
                f"v{v} {row['n_changed']}/{row['n_audited']}"
                for v, row in audit.by_policy_version.items()
            )
            + ")."
        ]
    if cal.claim_confidence_points:
        lines += [
            "",
            "along min_claim_confidence (other rules as in the base policy):",
            f"{'claim>=':>7} {'auto':>6} {'automation':>10} {'changed':>7} {'error':>7} "
            f"{'bound':>7}",
        ]
        for point in cal.claim_confidence_points:
            if abs(round(point.threshold / step) * step - point.threshold) > 1e-9:
                continue
            lines.append(
                f"{point.threshold:>7.2f} {point.n_auto:>6d} {point.automation_rate:>10.1%} "
                f"{point.n_auto_changed:>7d} {point.error_rate:>7.1%} {point.error_upper:>7.1%}"
            )
    return "\n".join(lines)
