"""Learning severity from reviewed labels: once enough reviewed regions exist, fit a classifier
(``assessment.severity``) and keep it only if it beats the label map's rules on the evaluation
regions (docs/learning-loop.md)."""

from __future__ import annotations

import collections

from django.conf import settings

from learning.training_data import ReviewedRegion, ReviewedSample


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
