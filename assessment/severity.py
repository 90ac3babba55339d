"""Learned severity: a small multinomial logistic regression over a region's geometry and type,
fitted on reviewed severities, used instead of the label map's rules only where it is better.

Why so small: the rules (``ml.labels.severity_for``) look at area share, closeness to the image
border and height in the photo; adjusters decide from the same photo. A classifier over exactly
those features (plus the type) can learn the insurer's own cut-offs from a few hundred reviewed
regions, where a deep head could not. The fitted weights live in the candidate's ``model.json``
(``severity_classifier``) so a model version and its severity travel together, and
:func:`severity_apply` relabels a prediction's regions with them at inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEVERITIES = ("minor", "moderate", "severe")
# L2 strength and gradient steps: features are O(1), 2000 full-batch steps converge on a few
# hundred regions in tens of milliseconds.
L2 = 1e-3
STEPS = 2000
LEARNING_RATE = 0.5


@dataclass
class RegionGeometry:
    label: str
    severity: str | None
    area_share: float
    bbox_norm: tuple[float, float, float, float]  # x0, y0, x1, y1 in 0..1


def features(r: RegionGeometry, labels: Sequence[str]) -> np.ndarray:
    x0, y0, x1, y1 = r.bbox_norm
    border = float(min(x0, y0) <= 0.01 or max(x1, y1) >= 0.99)
    geometry = [
        1.0,
        (math.log(max(r.area_share, 1e-5)) + 5.0) / 2.0,  # about -1..1 for 0.1%..5% areas
        x1 - x0,
        y1 - y0,
        y1,  # low on the photo: structural parts
        border,
    ]
    onehot = [float(r.label == name) for name in labels]
    return np.asarray(geometry + onehot, dtype=np.float64)


@dataclass
class SeverityClassifier:
    labels: list[str]  # damage type names, in feature order
    weights: np.ndarray  # (3, D)

    def predict(self, r: RegionGeometry) -> str:
        return SEVERITIES[int(np.argmax(self.weights @ features(r, self.labels)))]

    def to_dict(self) -> dict:
        return {"kind": "logistic", "labels": self.labels, "weights": self.weights.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> SeverityClassifier:
        return cls(labels=list(data["labels"]), weights=np.asarray(data["weights"], np.float64))


def severity_fit(regions: Sequence[RegionGeometry], labels: Sequence[str]) -> SeverityClassifier:
    """Multinomial logistic regression by full-batch gradient descent (deterministic)."""
    x = np.stack([features(r, labels) for r in regions])
    y = np.asarray([SEVERITIES.index(r.severity) for r in regions])
    onehot = np.eye(len(SEVERITIES))[y]
    w = np.zeros((len(SEVERITIES), x.shape[1]))
    for _ in range(STEPS):
        z = x @ w.T
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot).T @ x / len(x) + L2 * w
        w -= LEARNING_RATE * grad
    return SeverityClassifier(labels=list(labels), weights=w)


def severity_compare(clf: SeverityClassifier, regions: Sequence[RegionGeometry], label_map) -> dict:
    """Accuracy of the classifier and of the rules on reviewed (evaluation) regions."""
    from ml.labels import severity_for

    if not regions:
        return {"n": 0, "learned_accuracy": None, "rules_accuracy": None}
    learned = np.mean([clf.predict(r) == r.severity for r in regions])
    rules = np.mean(
        [severity_for(label_map, r.label, r.area_share, r.bbox_norm) == r.severity for r in regions]
    )
    return {"n": len(regions), "learned_accuracy": float(learned), "rules_accuracy": float(rules)}


def severity_apply(segmenter, prediction: dict) -> dict:
    """Relabel a prediction's severities with the model version's learned classifier, if any."""
    data = (getattr(segmenter, "meta", None) or {}).get("severity_classifier")
    if not data or not prediction.get("regions"):
        return prediction
    clf = SeverityClassifier.from_dict(data)
    w, h = prediction["mask_width"], prediction["mask_height"]
    for region in prediction["regions"]:
        x, y, bw, bh = region["bbox"]
        geometry = RegionGeometry(
            label=region["label"],
            severity=None,
            area_share=region["area_share"],
            bbox_norm=(x / w, y / h, (x + bw) / w, (y + bh) / h),
        )
        region["severity"] = clf.predict(geometry)
    return prediction
