"""Evaluation: pixel, region, image and calibration metrics, as JSON and PNG plots.

``python -m ml.evaluate --model-dir ml/models/damage-v2 --split test --out var/eval``

Metric definitions (all documented in docs/model-card.md):

* per-class IoU from a confusion matrix over *typed* pixels (synthetic data); untyped real
  damage (254) cannot be scored per type and enters only the damage-vs-background metrics;
* damage-vs-background pixel precision / recall / IoU over labelled pixels (255 excluded);
* region precision / recall: connected components (8-connected) of predicted damage regions vs
  ground-truth damage, greedily matched one-to-one by IoU >= ``REGION_IOU`` (0.5, and also
  reported at 0.25 because damage outlines are vague);
* image-level AUROC of "photo has damage" scored by the max pixel damage probability;
* expected calibration error (15 equal-width bins) of per-region confidence against "region
  matched", and of photo confidence against "photo accepted unchanged" (see ml.calibration);
* coverage-risk: sort photos by photo confidence; risk = share not accepted among the covered.

Kept as one module: each metric's definition above and the code that computes it stay side
by side, so one can be checked against the other.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ml.labels import IGNORE_INDEX, UNTYPED_DAMAGE

logger = logging.getLogger(__name__)

REGION_IOU = 0.5
REGION_IOUS = (0.25, 0.5)
ECE_BINS = 15


class SegMetrics:
    """Accumulate a confusion matrix (typed pixels) and damage-vs-background counts."""

    def __init__(self, num_classes: int) -> None:
        self.k = num_classes
        self.cm = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.tp = self.fp = self.fn = self.tn = 0

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        pred = np.asarray(pred, dtype=np.int64).ravel()
        target = np.asarray(target, dtype=np.int64).ravel()
        typed = target < self.k
        idx = target[typed] * self.k + pred[typed]
        self.cm += np.bincount(idx, minlength=self.k * self.k).reshape(self.k, self.k)
        labelled = target != IGNORE_INDEX
        gt = is_damage(target, self.k)[labelled]
        pd = (pred > 0)[labelled]
        self.tp += int((gt & pd).sum())
        self.fp += int((~gt & pd).sum())
        self.fn += int((gt & ~pd).sum())
        self.tn += int((~gt & ~pd).sum())

    def per_class_iou(self) -> list[float | None]:
        inter = np.diag(self.cm).astype(float)
        union = self.cm.sum(0) + self.cm.sum(1) - np.diag(self.cm)
        support = self.cm.sum(1)
        return [
            float(i / u) if s > 0 and u > 0 else None
            for i, u, s in zip(inter, union, support, strict=True)
        ]

    def summary(self, names: Sequence[str]) -> dict:
        ious = self.per_class_iou()
        typed = [v for v in ious[1:] if v is not None]
        return {
            "per_class_iou": dict(zip(names, ious, strict=True)),
            "mean_type_iou": float(np.mean(typed)) if typed else None,
            "damage_iou": _safe_div(self.tp, self.tp + self.fp + self.fn),
            "damage_precision": _safe_div(self.tp, self.tp + self.fp),
            "damage_recall": _safe_div(self.tp, self.tp + self.fn),
            "pixel_accuracy_typed": _safe_div(int(np.diag(self.cm).sum()), int(self.cm.sum())),
            "confusion_matrix": self.cm.tolist(),
        }


def _safe_div(a: float, b: float) -> float | None:
    return float(a / b) if b else None


def is_damage(target: np.ndarray, num_classes: int) -> np.ndarray:
    """Damage pixels of a semantic mask: typed ids 1..K-1 or untyped damage."""
    return ((target >= 1) & (target < num_classes)) | (target == UNTYPED_DAMAGE)


def components(mask: np.ndarray, min_area: int = 1) -> list[np.ndarray]:
    """8-connected components of a boolean mask as boolean masks (area >= ``min_area``)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [lab == i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area]


def match_regions(
    pred: Sequence[np.ndarray], gt: Sequence[np.ndarray], iou_threshold: float = REGION_IOU
) -> tuple[list[bool], list[bool]]:
    """Greedy one-to-one matching by IoU; returns (pred matched?, gt matched?)."""
    if not pred or not gt:
        return [False] * len(pred), [False] * len(gt)
    ious = np.zeros((len(pred), len(gt)))
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            inter = np.logical_and(p, g).sum()
            if inter:
                ious[i, j] = inter / np.logical_or(p, g).sum()
    pm, gm = [False] * len(pred), [False] * len(gt)
    for flat in np.argsort(-ious, axis=None):
        i, j = np.unravel_index(flat, ious.shape)
        if ious[i, j] < iou_threshold:
            break
        if not pm[i] and not gm[j]:
            pm[i] = gm[j] = True
    return pm, gm


def false_alarm_at_recall(
    scores: Sequence[float], labels: Sequence[bool], recall: float = 0.9
) -> float | None:
    """Share of intact photos scored at or above the threshold that finds ``recall`` of the
    damaged ones (the threshold is the damaged scores' (1 - recall) quantile)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if not y.any() or y.all():
        return None
    pos = np.sort(s[y])
    threshold = pos[int(np.floor((1 - recall) * len(pos)))]
    return float((s[~y] >= threshold).mean())


class PartMetrics:
    """Confusion matrix of car parts over part-labelled pixels (255 excluded); mIoU."""

    def __init__(self) -> None:
        self.cm: np.ndarray | None = None

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        from ml.labels import DEFAULT_PART_MAP

        k = DEFAULT_PART_MAP.num_classes
        if self.cm is None:
            self.cm = np.zeros((k, k), dtype=np.int64)
        t = np.asarray(target, dtype=np.int64).ravel()
        p = np.asarray(pred, dtype=np.int64).ravel()
        keep = t != IGNORE_INDEX
        self.cm += np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k)

    def summary(self) -> dict | None:
        from ml.labels import DEFAULT_PART_MAP

        if self.cm is None or not self.cm.sum():
            return None
        inter = np.diag(self.cm).astype(float)
        union = self.cm.sum(0) + self.cm.sum(1) - inter
        support = self.cm.sum(1)
        ious = {
            name: (float(i / u) if s > 0 and u > 0 else None)
            for name, i, u, s in zip(DEFAULT_PART_MAP.names, inter, union, support, strict=True)
        }
        named = [v for k, v in ious.items() if v is not None and k != "other"]
        return {
            "per_part_iou": ious,
            "miou": float(np.mean(named)) if named else None,
            "pixel_accuracy": float(inter.sum() / self.cm.sum()),
        }


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); None with one class only."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], n_bins: int = ECE_BINS
) -> dict:
    """Expected calibration error and the per-bin table behind a reliability diagram."""
    c = np.asarray(confidences, dtype=float)
    y = np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(c, edges[1:-1]), 0, n_bins - 1)
    table, ece = [], 0.0
    for b in range(n_bins):
        sel = bins == b
        if not sel.any():
            continue
        conf, acc = float(c[sel].mean()), float(y[sel].mean())
        ece += sel.mean() * abs(conf - acc)
        table.append({"bin": b, "count": int(sel.sum()), "confidence": conf, "accuracy": acc})
    return {"ece": float(ece) if len(c) else None, "n": len(c), "bins": table}


def coverage_risk(confidences: Sequence[float], correct: Sequence[bool]) -> dict:
    """Risk (error rate) among the top-``coverage`` most confident photos, for each coverage."""
    c = np.asarray(confidences, dtype=float)
    y = np.asarray(correct, dtype=bool)
    order = np.argsort(-c, kind="stable")
    errors = np.cumsum(~y[order])
    n = np.arange(1, len(c) + 1)
    return {
        "coverage": (n / max(1, len(c))).tolist(),
        "risk": (errors / n).tolist(),
        "threshold": c[order].tolist(),
        "aurc": float(np.mean(errors / n)) if len(c) else None,
    }


def plot_reliability(table: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    if table["bins"]:
        conf = [b["confidence"] for b in table["bins"]]
        acc = [b["accuracy"] for b in table["bins"]]
        size = [10 + 3 * b["count"] ** 0.5 for b in table["bins"]]
        ax.scatter(conf, acc, s=size, label=f"ECE {table['ece']:.3f} (n={table['n']})")
        ax.plot(conf, acc)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="observed accuracy", title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_coverage_risk(curve: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.plot(curve["coverage"], curve["risk"], drawstyle="steps-post")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="coverage (share auto-accepted)",
        ylabel="risk (share not acceptable)",
        title=title,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def evaluate_predictions(records: Sequence[dict], num_classes: int, names: Sequence[str]) -> dict:
    """Metrics over ``records`` of {"target", "pred_class", "regions", "photo_confidence",
    "max_damage_prob"}; ``regions`` are (mask, class_id, confidence) at the target's size."""
    from ml.calibration import photo_accepted, region_outcomes

    seg = SegMetrics(num_classes)
    by_source: dict[str, SegMetrics] = {}
    parts = PartMetrics()
    region_conf, region_ok, photo_conf, photo_ok = [], [], [], []
    img_scores, img_labels, n_regions = [], [], []
    counts = {t: {"tp_pred": 0, "n_pred": 0, "tp_gt": 0, "n_gt": 0} for t in REGION_IOUS}
    for r in records:
        target = r["target"]
        seg.update(r["pred_class"], target)
        source = r.get("source", "all")
        by_source.setdefault(source, SegMetrics(num_classes)).update(r["pred_class"], target)
        if r.get("target_parts") is not None and r.get("pred_parts") is not None:
            parts.update(r["pred_parts"], r["target_parts"])
        n_regions.append(len(r["regions"]))
        for t in REGION_IOUS:
            pm, gm = region_outcomes(r["regions"], target, num_classes, t)
            c = counts[t]
            c["tp_pred"] += sum(pm)
            c["n_pred"] += len(pm)
            c["tp_gt"] += sum(gm)
            c["n_gt"] += len(gm)
            if t == REGION_IOU:
                region_conf += [reg[2] for reg in r["regions"]]
                region_ok += pm
        photo_conf.append(r["photo_confidence"])
        photo_ok.append(photo_accepted(r["regions"], target, num_classes))
        img_scores.append(r.get("damage_score", r["max_damage_prob"]))
        img_labels.append(bool(r.get("damaged", is_damage(target, num_classes).any())))
    regions = {
        f"iou_{t}": {
            "precision": _safe_div(c["tp_pred"], c["n_pred"]),
            "recall": _safe_div(c["tp_gt"], c["n_gt"]),
            "n_pred": c["n_pred"],
            "n_gt": c["n_gt"],
        }
        for t, c in counts.items()
    }
    pixel_ece = None
    if records and "damage_prob" in records[0]:
        from ml.calibration import damage_pixel_ece

        pixel_ece = damage_pixel_ece(records, num_classes)
    intact = [n for n, d in zip(n_regions, img_labels, strict=True) if not d]
    return {
        "n_images": len(records),
        "images_intact": len(intact),
        "intact_with_regions": _safe_div(sum(n > 0 for n in intact), len(intact)),
        "intact_flagged_at_90_recall": false_alarm_at_recall(img_scores, img_labels, 0.9),
        "pixel": seg.summary(names),
        "pixel_by_source": {
            k: {m: v.summary(names)[m] for m in ("damage_iou", "mean_type_iou")}
            for k, v in sorted(by_source.items())
        },
        "parts": parts.summary(),
        "pixel_damage_ece": pixel_ece,
        "regions": regions,
        "image_auroc": auroc(img_scores, img_labels),
        "images_with_damage": int(sum(img_labels)),
        "region_calibration": reliability(region_conf, region_ok),
        "photo_calibration": reliability(photo_conf, photo_ok),
        "photo_accept_rate": _safe_div(sum(photo_ok), len(photo_ok)),
        "coverage_risk": coverage_risk(photo_conf, photo_ok),
    }


def write_report(report: dict, out: Path, prefix: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{prefix}.json").write_text(json.dumps(report, indent=2))
    plot_reliability(
        report["region_calibration"],
        f"{prefix}: region confidence",
        out / f"{prefix}_reliability_regions.png",
    )
    plot_reliability(
        report["photo_calibration"],
        f"{prefix}: photo confidence",
        out / f"{prefix}_reliability_photo.png",
    )
    plot_coverage_risk(
        report["coverage_risk"], f"{prefix}: photo confidence", out / f"{prefix}_coverage_risk.png"
    )


def main(argv: Sequence[str] | None = None) -> int:
    from ml.calibration import collect_records, load_split_items
    from ml.inference import DEFAULT_MODEL_DIR, Segmenter

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--backend", default="onnx", choices=("onnx", "torch"))
    parser.add_argument(
        "--split",
        action="append",
        required=True,
        help="real_test | real_val | real_train | synth:<coco.json> | intact:<n>:<seed>; "
        "'+' joins parts into one report (repeatable)",
    )
    parser.add_argument("--real-root", default=None)
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="evaluate several model folders on the same split(s) and write comparison.md "
        "and comparison.json into --out (repeatable; --model-dir is then ignored)",
    )
    parser.add_argument("--out", required=True, help="folder for <split>.json and PNG plots")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument(
        "--record",
        action="store_true",
        help="also store the headline numbers under metrics.<split> in MODEL_DIR/model.json",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="ignore the fitted calibration (T=1, threshold 0.5, heuristic confidences): "
        "the 'before calibration' numbers",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.compare:
        return compare(args)
    seg = Segmenter.load(args.model_dir, backend=args.backend)
    if args.raw:
        seg.temperature, seg.region_calibrator, seg.photo_calibrator = 1.0, None, None
        seg.image_platt, seg.image_gate = (1.0, 0.0), 0.0
        seg.meta["decision_threshold"] = 0.5
    lm = seg.label_map
    results = {}
    for split in args.split:
        items = load_split_items(split, lm, args.real_root)
        if args.limit:
            items = items[: args.limit]
        report = evaluate_predictions(collect_records(seg, items), lm.num_classes, lm.names)
        report["model_version"] = seg.model_version
        prefix = "synth_holdout" if split.startswith(("synth:", "intact:")) else split
        prefix += "_raw" if args.raw else ""
        write_report(report, Path(args.out), prefix)
        results[prefix] = report
        logger.info("%s: %s", prefix, json.dumps(headline(report)))
    if args.record:
        path = Path(args.model_dir) / "model.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta.setdefault("metrics", {}).update({k: headline(v) for k, v in results.items()})
        path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return 0


COMPARISON_COLUMNS = (
    ("damage_iou", "damage IoU"),
    ("mean_type_iou", "mean type IoU"),
    ("region_p_r_iou0.5", "region P / R @0.5"),
    ("image_auroc", "image AUROC"),
    ("intact_flagged_at_90_recall", "intact flagged @90% recall"),
    ("intact_with_regions", "intact photos with a region"),
    ("part_miou", "part mIoU"),
    ("photo_ece", "photo ECE"),
    ("region_ece", "region ECE"),
    ("photo_accept_rate", "photos accepted"),
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return " / ".join(_cell(v) for v in value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_markdown(rows: dict[str, dict]) -> str:
    """One markdown table: a row per model, the headline metrics as columns."""
    head = "| model | " + " | ".join(label for _, label in COMPARISON_COLUMNS) + " |"
    sep = "|---" * (len(COMPARISON_COLUMNS) + 1) + "|"
    lines = [head, sep]
    for name, h in rows.items():
        lines.append(
            f"| {name} | " + " | ".join(_cell(h.get(k)) for k, _ in COMPARISON_COLUMNS) + " |"
        )
    return "\n".join(lines) + "\n"


def compare(args) -> int:
    """``--compare NAME=DIR ...``: every model on the same items, one table per split."""
    from ml.calibration import collect_records, load_split_items
    from ml.inference import Segmenter

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables, results = [], {}
    for split in args.split:
        rows = {}
        for spec in args.compare:
            name, _, model_dir = spec.partition("=")
            seg = Segmenter.load(model_dir, backend=args.backend)
            lm = seg.label_map
            items = load_split_items(split, lm, args.real_root)
            if args.limit:
                items = items[: args.limit]
            report = evaluate_predictions(collect_records(seg, items), lm.num_classes, lm.names)
            rows[name] = headline(report) | {"model_version": seg.model_version}
            logger.info("%s on %s: %s", name, split, json.dumps(rows[name]))
        results[split] = rows
        tables.append(f"**{split}**\n\n" + comparison_markdown(rows))
    (out / "comparison.json").write_text(json.dumps(results, indent=2))
    (out / "comparison.md").write_text("\n".join(tables))
    return 0


def headline(report: dict) -> dict:
    """The few numbers quoted in the model card."""
    px = report["pixel"]
    return {
        "n_images": report["n_images"],
        "damage_iou": px["damage_iou"],
        "damage_precision": px["damage_precision"],
        "damage_recall": px["damage_recall"],
        "mean_type_iou": px["mean_type_iou"],
        "region_p_r_iou0.5": [
            report["regions"]["iou_0.5"]["precision"],
            report["regions"]["iou_0.5"]["recall"],
        ],
        "region_p_r_iou0.25": [
            report["regions"]["iou_0.25"]["precision"],
            report["regions"]["iou_0.25"]["recall"],
        ],
        "image_auroc": report["image_auroc"],
        "intact_flagged_at_90_recall": report.get("intact_flagged_at_90_recall"),
        "intact_with_regions": report.get("intact_with_regions"),
        "part_miou": (report.get("parts") or {}).get("miou"),
        "pixel_damage_ece": report.get("pixel_damage_ece"),
        "region_ece": report["region_calibration"]["ece"],
        "photo_ece": report["photo_calibration"]["ece"],
        "photo_accept_rate": report["photo_accept_rate"],
    }


if __name__ == "__main__":
    raise SystemExit(main())
