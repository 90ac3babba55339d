"""Confidence that means something: temperature scaling, region and photo calibrators.

Fitted on a validation split (never the reported test split) with
``python -m ml.calibration --model-dir DIR --split real_val --split synth:VAL.json``, which
writes the parameters into ``DIR/model.json``.

Meanings (what the numbers promise, see docs/model-card.md):

* ``temperature`` rescales logits so pixel probabilities are calibrated (partial-label NLL,
  the same likelihood the model was trained with, so untyped real damage counts too);
* region confidence = P(an adjuster would keep this region as drawn) estimated as P(the region
  matches a ground-truth region at IoU >= 0.5 with a compatible type), by logistic regression
  on region features (mean damage probability, type margin, size);
* photo confidence = P(an adjuster would accept this photo's regions unchanged), estimated as
  P(every predicted region matches and no ground-truth region >= the minimum region size is
  missed), by logistic regression on photo features. A photo with no damage predicted and no
  damage present counts as accepted.

Kept as one module: the calibrators share one set of per-image records and one fitting
entry point (:func:`calibrate`); its length is the meanings above made executable.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ml.labels import IGNORE_INDEX, UNTYPED_DAMAGE, LabelMap

logger = logging.getLogger(__name__)

MATCH_IOU = 0.5
MIN_REGION_SHARE = 0.0005  # GT blobs smaller than this are below what the model can output
REGION_FEATURES = ("mean_damage_prob", "p90_damage_prob", "type_margin", "log_area_share")
PHOTO_FEATURES = (
    "n_regions",
    "min_region_conf",
    "mean_region_conf",
    "uncertain_share",
    "max_outside_prob",
    "log_damage_share",
    "damage_score",
)


# --------------------------------------------------------------------------- features


def region_features(
    damage_probs: np.ndarray, type_scores: np.ndarray, area_share: float
) -> dict[str, float]:
    """Features of one predicted region (inputs: its pixels' P(damage), summed type probs)."""
    total = float(type_scores.sum()) or 1.0
    return {
        "mean_damage_prob": float(damage_probs.mean()),
        "p90_damage_prob": float(np.percentile(damage_probs, 90)),
        "type_margin": float(type_scores.max() / total),
        "log_area_share": float(math.log(max(area_share, 1e-6))),
    }


def photo_features(
    regions: Sequence, damage_prob: np.ndarray, damage_score: float | None = None
) -> dict[str, float]:
    """Features of a whole photo's prediction (regions carry calibrated confidences).

    ``damage_score`` is the photo-level P(damage) (default: the largest pixel P(damage)).
    """
    confs = [r.confidence for r in regions]
    covered = np.zeros(damage_prob.shape, dtype=bool)
    for r in regions:
        covered |= r.mask
    outside = damage_prob[~covered]
    share = float(covered.mean())
    return {
        "n_regions": float(len(regions)),
        "min_region_conf": float(min(confs)) if confs else 1.0,
        "mean_region_conf": float(np.mean(confs)) if confs else 1.0,
        "uncertain_share": float(((damage_prob > 0.2) & (damage_prob < 0.8)).mean()),
        "max_outside_prob": float(outside.max()) if outside.size else 0.0,
        "log_damage_share": float(math.log(max(share, 1e-6))),
        "damage_score": float(damage_prob.max() if damage_score is None else damage_score),
    }


def uncalibrated_photo_confidence(f: dict[str, float]) -> float:
    """Heuristic used only until a photo calibrator is fitted (documented as uncalibrated)."""
    conf = f["min_region_conf"] * (1.0 - f["max_outside_prob"]) * (1.0 - f["uncertain_share"])
    return float(np.clip(conf, 0.0, 1.0))


# --------------------------------------------------------------------------- logistic fit


@dataclass
class LogisticCalibrator:
    """P(y=1 | x) = sigmoid(w . (x - mean) / std + b); fitted by Newton's method with L2."""

    features: tuple[str, ...]
    mean: list[float]
    std: list[float]
    coef: list[float]
    intercept: float

    @classmethod
    def fit(
        cls,
        rows: Sequence[dict[str, float]],
        y: Sequence[bool],
        features: Sequence[str],
        l2: float = 1.0,
        iters: int = 50,
    ) -> LogisticCalibrator:
        x = np.array([[r[f] for f in features] for r in rows], dtype=float).reshape(
            -1, len(features)
        )
        t = np.asarray(y, dtype=float)
        mean = x.mean(0) if len(x) else np.zeros(len(features))
        std = x.std(0) if len(x) else np.ones(len(features))
        std = np.where(std > 1e-9, std, 1.0)
        z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
        w = np.zeros(z.shape[1])
        # Laplace-smoothed base rate as the start: with one class only the fit stays finite.
        w[-1] = math.log((t.sum() + 1) / (len(t) - t.sum() + 1))
        reg = np.full(z.shape[1], l2)
        reg[-1] = 1e-2

        def objective(w: np.ndarray) -> float:
            m = z @ w
            return float(np.sum(np.logaddexp(0, m) - t * m) + 0.5 * np.sum(reg * w * w))

        for _ in range(iters):
            p = 1 / (1 + np.exp(-np.clip(z @ w, -50, 50)))
            grad = z.T @ (p - t) + reg * w
            hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg)
            step = np.linalg.solve(hess, grad)
            # damped Newton: halve the step until the penalised loss does not increase
            # (plain Newton diverges on nearly separable data, e.g. intact photos)
            before, scale = objective(w), 1.0
            while scale > 1e-6 and objective(w - scale * step) > before:
                scale /= 2
            w -= scale * step
            if np.abs(scale * step).max() < 1e-8:
                break
        return cls(tuple(features), mean.tolist(), std.tolist(), w[:-1].tolist(), float(w[-1]))

    def predict(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        x = np.array([[r[f] for f in self.features] for r in rows], dtype=float)
        x = x.reshape(-1, len(self.features))
        z = ((x - np.array(self.mean)) / np.array(self.std)) @ np.array(self.coef) + self.intercept
        return 1 / (1 + np.exp(-z))

    def predict_one(self, row: dict[str, float]) -> float:
        return float(self.predict([row])[0])

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": self.mean,
            "std": self.std,
            "coef": self.coef,
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LogisticCalibrator:
        return cls(
            tuple(d["features"]),
            list(d["mean"]),
            list(d["std"]),
            list(d["coef"]),
            float(d["intercept"]),
        )


# --------------------------------------------------------------------------- temperature


def partial_nll(logits: np.ndarray, target: np.ndarray, temperature: float, k: int) -> float:
    """Mean partial-label NLL of (N, C) logits against targets (typed, untyped; no ignore)."""
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    logz = np.log(np.exp(z).sum(1))
    typed = target < k
    nll = np.empty(len(target))
    nll[typed] = logz[typed] - z[typed, target[typed]]
    un = ~typed
    nll[un] = logz[un] - np.log(np.exp(z[un, 1:]).sum(1))
    return float(nll.mean())


def fit_temperature(logits: np.ndarray, target: np.ndarray, k: int) -> float:
    """T minimising partial-label NLL: grid over log T, then golden-section refinement."""
    grid = np.exp(np.linspace(math.log(0.2), math.log(10.0), 41))
    losses = [partial_nll(logits, target, t, k) for t in grid]
    i = int(np.argmin(losses))
    lo, hi = math.log(grid[max(0, i - 1)]), math.log(grid[min(len(grid) - 1, i + 1)])
    g = (math.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if partial_nll(logits, target, math.exp(a), k) < partial_nll(
            logits, target, math.exp(b), k
        ):
            hi = b
        else:
            lo = a
    return float(math.exp((lo + hi) / 2))


def pixel_samples(logits: np.ndarray, target: np.ndarray, k: int, n: int, rng) -> tuple:
    """Random labelled pixels of one image: (n, C) logits and their targets."""
    flat_t = target.ravel()
    idx = np.flatnonzero((flat_t < k) | (flat_t == UNTYPED_DAMAGE))
    if len(idx) > n:
        idx = rng.choice(idx, n, replace=False)
    return logits.reshape(logits.shape[0], -1)[:, idx].T, flat_t[idx]


# --------------------------------------------------------------------------- outcomes


def gt_regions(target: np.ndarray, k: int) -> list[tuple[np.ndarray, int | None]]:
    """Ground-truth damage blobs >= MIN_REGION_SHARE, with majority type (None if untyped)."""
    dmg = (((target >= 1) & (target < k)) | (target == UNTYPED_DAMAGE)).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dmg, connectivity=8)
    min_area = MIN_REGION_SHARE * target.size
    out = []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_area:
            continue
        m = lab == i
        vals = target[m]
        typed = vals[vals < k]
        cls = int(np.bincount(typed).argmax()) if len(typed) > len(vals) / 2 else None
        out.append((m, cls))
    return out


def region_outcomes(
    regions: Sequence[tuple[np.ndarray, int, float]],
    target: np.ndarray,
    k: int,
    iou_threshold: float = MATCH_IOU,
) -> tuple[list[bool], list[bool]]:
    """(pred matched?, gt matched?): one-to-one by IoU, type must agree where GT is typed."""
    gts = gt_regions(target, k)
    if not regions or not gts:
        return [False] * len(regions), [False] * len(gts)
    valid = target != IGNORE_INDEX
    ious = np.zeros((len(regions), len(gts)))
    for i, (pm, pc, _) in enumerate(regions):
        pm = pm & valid
        for j, (gm, gc) in enumerate(gts):
            if gc is not None and gc != pc:
                continue
            inter = np.logical_and(pm, gm).sum()
            if inter:
                ious[i, j] = inter / np.logical_or(pm, gm).sum()
    pmatch, gmatch = [False] * len(regions), [False] * len(gts)
    for flat in np.argsort(-ious, axis=None):
        i, j = np.unravel_index(flat, ious.shape)
        if ious[i, j] < iou_threshold:
            break
        if not pmatch[i] and not gmatch[j]:
            pmatch[i] = gmatch[j] = True
    return pmatch, gmatch


def photo_accepted(regions, target: np.ndarray, k: int, iou_threshold: float = MATCH_IOU) -> bool:
    pm, gm = region_outcomes(regions, target, k, iou_threshold)
    return all(pm) and all(gm)


# --------------------------------------------------------------------------- data plumbing


def intact_items(n: int, seed: int, size: int = 512):
    """``n`` synthetic intact cars (no damage drawn): the negatives for image-level AUROC.

    Rendered with a taxonomy that shares no name with the renderer's damage types.
    """
    from ml.datasets import SegItem
    from ml.labels import LabelMap
    from ml.synth import render_scene, scene_rng

    intact = LabelMap.from_names(["intact"])
    items = []
    for i in range(n):
        scene = render_scene(scene_rng(seed, i), size, label_map=intact)
        bgr = cv2.imdecode(np.frombuffer(scene.jpeg, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        items.append(SegItem(rgb, np.zeros(rgb.shape[:2], np.uint8), "synth", f"intact-{i}"))
    return items


def load_split_items(split: str, lm: LabelMap, real_root: str | None = None, seed: int = 0):
    """Items of a split spec; ``+`` joins several into one report.

    ``real_train|real_val|real_test`` (de-duplicated real splits), ``synth:<coco.json>[,...]``
    (files written by ml.synth) or ``intact:<n>:<seed>`` (synthetic cars without damage).
    """
    from ml import coco, sources
    from ml.datasets import items_from_samples

    if "+" in split:
        return [it for part in split.split("+") for it in load_split_items(part, lm, real_root)]
    source = split.split("_")[0]
    if split in ("train", "val", "test") or (
        source in sources.LOADERS and not (source == "real" and real_root)
    ):
        return sources.split_items(split, seed=seed, lm=lm)
    if split.startswith("intact:"):
        _, n, s = split.split(":")
        return intact_items(int(n), int(s))
    if split.startswith("synth:"):  # one or more COCO files, comma-separated
        samples = [s for path in split[6:].split(",") for s in coco.read_coco(path, lm)]
        return items_from_samples(samples, "synth", 512)
    name = split.removeprefix("real_")
    if name not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}")
    splits = coco.load_real_car_damage(real_root or coco.DEFAULT_REAL_ROOT, seed=seed, label_map=lm)
    return items_from_samples(getattr(splits, name), "real", 640)


def _target_at(item, h: int, w: int) -> np.ndarray:
    return cv2.resize(item.mask, (w, h), interpolation=cv2.INTER_NEAREST)


def _parts_at(item, h: int, w: int) -> np.ndarray | None:
    if getattr(item, "parts", None) is None:
        return None
    return cv2.resize(item.parts, (w, h), interpolation=cv2.INTER_NEAREST)


def _damaged(item, target: np.ndarray, k: int) -> bool:
    """Whole-photo truth: the set's own flag where it has one, else any damage pixel."""
    from ml.evaluate import is_damage

    if getattr(item, "damaged", None) is not None:
        return bool(item.damaged)
    return bool(is_damage(target, k).any())


def collect_records(seg, items) -> list[dict]:
    """Run the segmenter on cached items; records for ml.evaluate.evaluate_predictions."""
    from tqdm import tqdm

    records = []
    for item in tqdm(items, desc="predict", leave=False, mininterval=5):
        pred = seg.predict_array(item.image)
        target = _target_at(item, pred.mask_height, pred.mask_width)
        records.append(
            {
                "source": item.source,
                "damaged": _damaged(item, target, seg.label_map.num_classes),
                "damage_score": pred.damage_score,
                "target_parts": _parts_at(item, pred.mask_height, pred.mask_width),
                "pred_parts": pred.part_map,
                "target": target,
                "pred_class": pred.class_map,
                "regions": [(r.mask, r.label_id, r.confidence) for r in pred.regions],
                "region_features": [r.features for r in pred.regions],
                "photo_confidence": pred.photo_confidence,
                "max_damage_prob": float(pred.damage_prob.max()),
                "damage_prob": pred.damage_prob,
                "prediction": pred,
            }
        )
    return records


def damage_pixel_ece(records: Sequence[dict], k: int, per_image: int = 4000) -> float:
    """ECE of pixel P(damage) against damage/background (labelled pixels, subsampled)."""
    from ml.evaluate import reliability

    rng = np.random.default_rng(0)
    conf, ok = [], []
    for r in records:
        t = r["target"].ravel()
        p = r["damage_prob"].ravel()
        idx = np.flatnonzero(t != IGNORE_INDEX)
        if len(idx) > per_image:
            idx = rng.choice(idx, per_image, replace=False)
        dmg = ((t[idx] >= 1) & (t[idx] < k)) | (t[idx] == UNTYPED_DAMAGE)
        # top-label confidence of the binary decision
        conf.append(np.maximum(p[idx], 1 - p[idx]))
        ok.append((p[idx] > 0.5) == dmg)
    return reliability(np.concatenate(conf), np.concatenate(ok))["ece"]


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# The photo-level gate keeps this share of damaged validation photos: a damaged car called
# intact loses all its regions, which costs more than an intact one sent on to the regions.
GATE_RECALL = 0.97


def fit_image_score(seg, items) -> dict:
    """Platt scaling of the photo-level head and the intact gate, on validation photos.

    Sets them on ``seg`` and returns ``{"image_platt": [a, b], "image_gate": g, "report"}``:
    ``damage_score = sigmoid(a * logit + b)`` is P(the photo shows damage) at the validation
    mix of damaged and intact photos; photos scoring below ``g`` get no region.
    """
    k = seg.label_map.num_classes
    logits, labels = [], []
    for item in items:
        out = seg.outputs(item.image)
        logits.append(float(out[2]))
        labels.append(_damaged(item, item.mask, k))
    cal = LogisticCalibrator.fit([{"logit": z} for z in logits], labels, ("logit",), l2=1e-3)
    a = cal.coef[0] / cal.std[0]
    b = cal.intercept - a * cal.mean[0]
    seg.image_platt = (float(a), float(b))
    scores = np.array([seg.image_score(z) for z in logits])
    y = np.array(labels, dtype=bool)
    gate = 0.0
    if y.any():
        gate = float(np.sort(scores[y])[int(np.floor((1 - GATE_RECALL) * y.sum()))])
        gate = min(gate, 0.5)  # never gate out a photo the head itself calls damaged
    seg.image_gate = gate
    from ml.evaluate import auroc, reliability

    report = {
        "image_auroc_val": auroc(scores, y),
        "image_ece_val": reliability(scores, y)["ece"],
        "image_gate_recall_val": float((scores[y] >= gate).mean()) if y.any() else None,
        "image_gate_intact_kept_val": float((scores[~y] >= gate).mean()) if (~y).any() else None,
    }
    return {"image_platt": [float(a), float(b)], "image_gate": gate, "report": report}


def fit_decision_threshold(seg, items) -> tuple[float, dict]:
    """P(damage) threshold maximising damage IoU on validation, averaged over sources.

    Class weighting in training biases P(damage) upwards (recall over precision); the
    threshold undoes that for the decision. Real and synthetic validation photos count
    equally (8 real photos would otherwise vanish among 200 synthetic ones).
    """
    k = seg.label_map.num_classes
    counts = {}  # (source, threshold) -> [tp, fp, fn]
    for item in items:
        logits = seg.logits(item.image)
        z = logits / seg.temperature
        e = np.exp(z - z.max(0))
        p_damage = 1.0 - e[0] / e.sum(0)
        target = _target_at(item, *p_damage.shape)
        labelled = target != IGNORE_INDEX
        gt = (((target >= 1) & (target < k)) | (target == UNTYPED_DAMAGE))[labelled]
        pd = p_damage[labelled]
        for t in THRESHOLDS:
            c = counts.setdefault((item.source, t), [0, 0, 0])
            pred = pd > t
            c[0] += int((pred & gt).sum())
            c[1] += int((pred & ~gt).sum())
            c[2] += int((~pred & gt).sum())
    # Sets without damage (intact cars) have no damage IoU to speak of: they would add zeros.
    sources = sorted({s for s, t in counts if counts[(s, t)][0] + counts[(s, t)][2] > 0})
    table = {}
    for t in THRESHOLDS:
        ious = [counts[(s, t)][0] / max(1, sum(counts[(s, t)])) for s in sources]
        table[str(t)] = {s: round(v, 4) for s, v in zip(sources, ious, strict=True)}
        table[str(t)]["mean"] = round(float(np.mean(ious)), 4)
    best = max(THRESHOLDS, key=lambda t: table[str(t)]["mean"])
    return float(best), table


def calibrate(seg, items, seed: int = 0) -> dict:
    """Fit temperature, region and photo calibrators on ``items``; returns the parameters."""
    k = seg.label_map.num_classes
    rng = np.random.default_rng(seed)
    seg.temperature, seg.region_calibrator, seg.photo_calibrator = 1.0, None, None
    seg.image_platt, seg.image_gate = (1.0, 0.0), 0.0
    seg.meta["decision_threshold"] = 0.5
    before = collect_records(seg, items)
    ece_before = damage_pixel_ece(before, k)
    xs, ts = [], []
    for item in items:
        logits = seg.logits(item.image)
        target = _target_at(item, *logits.shape[1:])
        x, t = pixel_samples(logits, target, k, 3000, rng)
        xs.append(x)
        ts.append(t)
    temperature = fit_temperature(np.concatenate(xs), np.concatenate(ts), k)
    seg.temperature = temperature
    image = fit_image_score(seg, items) if seg.part_names is not None else {}
    threshold, threshold_table = fit_decision_threshold(seg, items)
    seg.meta["decision_threshold"] = threshold
    recs = collect_records(seg, items)
    rows, ok = [], []
    for r in recs:
        pm, _ = region_outcomes(r["regions"], r["target"], k)
        rows += r["region_features"]
        ok += pm
    seg.region_calibrator = LogisticCalibrator.fit(rows, ok, REGION_FEATURES)
    recs = collect_records(seg, items)
    photo_rows = [
        photo_features(r["prediction"].regions, r["damage_prob"], r["damage_score"]) for r in recs
    ]
    photo_ok = [photo_accepted(r["regions"], r["target"], k) for r in recs]
    seg.photo_calibrator = LogisticCalibrator.fit(photo_rows, photo_ok, PHOTO_FEATURES)
    recs = collect_records(seg, items)
    from ml.evaluate import reliability

    report = {
        "n_images": len(items),
        "n_regions": len(rows),
        "region_match_rate": float(np.mean(ok)) if ok else None,
        "photo_accept_rate": float(np.mean(photo_ok)) if photo_ok else None,
        "pixel_damage_ece_before": ece_before,
        "pixel_damage_ece_after": damage_pixel_ece(recs, k),
        "region_ece_in_sample": reliability(
            [c for r in recs for c in (x[2] for x in r["regions"])],
            [m for r in recs for m in region_outcomes(r["regions"], r["target"], k)[0]],
        )["ece"],
        "photo_ece_in_sample": reliability(
            [r["photo_confidence"] for r in recs],
            [photo_accepted(r["regions"], r["target"], k) for r in recs],
        )["ece"],
    }
    report["decision_threshold_table"] = threshold_table
    report |= image.pop("report", {})
    return {
        **image,
        "temperature": temperature,
        "decision_threshold": threshold,
        "region_calibrator": seg.region_calibrator.to_dict(),
        "photo_calibrator": seg.photo_calibrator.to_dict(),
        "calibration_report": report,
    }


def main(argv: Sequence[str] | None = None) -> int:
    from ml.inference import MODEL_JSON, Segmenter

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", required=True)
    parser.add_argument(
        "--split",
        action="append",
        required=True,
        help="validation data: real_val and/or synth:<coco.json> (repeatable)",
    )
    parser.add_argument("--real-root", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if any(s.endswith("test") for s in args.split):
        parser.error("calibration must not be fitted on a test split")
    seg = Segmenter.load(args.model_dir)
    items = []
    for s in args.split:
        items += load_split_items(s, seg.label_map, args.real_root, args.seed)
    params = calibrate(seg, items, args.seed)
    params["calibration_splits"] = args.split
    path = Path(args.model_dir) / MODEL_JSON
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(params)
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    logger.info("calibration: %s", json.dumps(params["calibration_report"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
