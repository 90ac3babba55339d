"""Reads for a project's QA report: agreement between labellers and reviewers as the QA service
recorded it (``QAReview.agreement``), per labeller and per class."""

import statistics
from collections import defaultdict

from labelling.models import LabellingProject, QAReview


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def qa_agreement_by_labeller(*, project: LabellingProject) -> list[dict]:
    """Per labeller whose work was checked: reviews, accepted, sent back, the mean of the
    reviews' mean IoU and of their type agreement (reviews where neither side had a region
    have neither and are left out of the means)."""
    rows: dict = {}
    reviews = QAReview.objects.filter(item__project=project).select_related("labeller")
    for review in reviews.order_by("created_at", "id"):
        name = review.labeller.get_username() if review.labeller else "(imported labels)"
        row = rows.setdefault(
            name, {"labeller": name, "reviews": 0, "accepted": 0, "ious": [], "types": []}
        )
        row["reviews"] += 1
        row["accepted"] += review.outcome == QAReview.Outcome.ACCEPTED
        if review.mean_iou is not None:
            row["ious"].append(review.mean_iou)
        if review.type_agreement is not None:
            row["types"].append(review.type_agreement)
    return [
        {
            "labeller": row["labeller"],
            "reviews": row["reviews"],
            "accepted": row["accepted"],
            "sent_back": row["reviews"] - row["accepted"],
            "mean_iou": _mean(row["ious"]),
            "type_agreement": _mean(row["types"]),
        }
        for row in sorted(rows.values(), key=lambda r: r["labeller"])
    ]


def qa_agreement_by_class(*, project: LabellingProject) -> list[dict]:
    """Per damage type, over every region the reviews compared: how many, mean IoU, the share
    whose type the reviewer kept, and how many the labeller missed (a reviewer region no
    labeller region overlaps). A region counts under the labeller's type, a missed one under
    the reviewer's."""
    rows: dict = defaultdict(lambda: {"regions": 0, "ious": [], "agree": [], "missed": 0})
    for agreement in QAReview.objects.filter(item__project=project).values_list(
        "agreement", flat=True
    ):
        for region in agreement or []:
            missed = region.get("index") is None
            label = region.get("matched_label") if missed else region.get("label")
            row = rows[label or ""]
            row["regions"] += 1
            row["ious"].append(float(region.get("iou") or 0.0))
            if missed:
                row["missed"] += 1
            elif region.get("matched_index") is not None:
                row["agree"].append(1.0 if region.get("type_agrees") else 0.0)
    return [
        {
            "label": label,
            "regions": row["regions"],
            "mean_iou": _mean(row["ious"]),
            "type_agreement": _mean(row["agree"]),
            "missed": row["missed"],
        }
        for label, row in sorted(rows.items(), key=lambda kv: (-kv[1]["regions"], kv[0]))
    ]
