"""Claims learning curve: real typed photos grouped into claims, decided by claim confidence.

The measure of issue 13: over real typed photos grouped into claims, the share of claims that
could be decided automatically at a back-tested auto-decision error <= 2% (one-sided 95 %
Clopper-Pearson upper bound, ``learning.backtest.error_upper_bound``), by round, for the claim
confidence and, in the same run, for the photo-confidence rule it replaces.

Data: ``bilgi-car-damage`` (``ml.sources``: real photos, typed damage polygons mapped onto the
product taxonomy ``PRODUCT_LABEL_MAP`` by ``BILGI_CATEGORIES``). The fixed benchmark set is
claims made of photos of the upstream ``valid`` folder (``ml.sources`` calls it ``test``) and is
never reviewed; the review pool is claims of the ``train`` split. Photos with an ``airbag``
polygon (void: interior, not body damage) are left out of both, so every benchmark pixel has a
label. Claims: the split's photos in a seeded random order, cut into claims of 1-4 photos
(sizes drawn uniformly by the same seed; ``flywheel.claim_data.group_claims``). Bilgi has no
car or claim id, so a claim's photos are of unrelated cars: a claim is a bag of 1-4 real damage
photos, and a claim is harder to keep the more photos it has, as in the product.

Each round, per benchmark claim, through the product path (a throw-away SQLite database and
``CLAIMVISION_VAR_DIR``, as bench/loop.py): a claim and its photos are stored, the active model
assesses each photo (``assessment.services.photo_assess``); the last photo's finish builds the
part record, the estimate by part (``assessment.part_pricing``) and the claim confidence, and
the bench reads them from the automated-decision audit record (``line_items``,
``claim_confidence``, the photo confidences) and the decision's reasons.

Ground truth line items: per photo, the ground-truth mask on the model's mask grid, one region
per connected component of each damage type (components below the model's
``min_region_share`` dropped, as the model drops its own), its severity from the label map's
rules on its area and box (``ml.labels.severity_for``: Bilgi has no severity labels), and its
car part from **the model's part head under the region's pixels** (``ml.inference.assign_parts``
on the same photo: Bilgi has no part labels). Priced with ``part_pricing.claim_estimate`` and
the active price table, like the model's. So part errors are invisible: the bench measures
damage presence, type, extent (size band) and rule severity, not the part.

A claim is *kept* when the model's line items equal the ground truth's
(``learning.claim_confidence.line_items_kept``). Sweep (:func:`auto_share`): the lowest
threshold on the score whose auto-decided claims (score >= threshold) have an error upper bound
<= 2 %; its share of the benchmark claims. Scores: the claim confidence (as the claim's finish
computes it: the prior, no calibrator is fitted here) and, as the baseline, the claim's lowest
photo confidence (the policy's old ``min_photo_confidence`` path). The sweep ranks the score
alone; ``eligible`` counts the claims no rule other than the confidence thresholds and the
random audit routes (the default policy sends broken parts, glass and severe damage to a person
whatever the score).

Between rounds a batch of train-split claims is assessed the same way, an adjuster saves the
ground-truth regions as corrected labels (``review.labels.photo_labels_save``), and
``learning.runs.retrain`` fine-tunes the active model and applies the promotion rule.

    .venv/bin/python bench/claims_loop.py [--quick] [--rounds 3] [--bench-claims 60]
        [--review-claims 30] [--steps 200]

The last line printed is one JSON object: ``{"benchmark": {...}, "rounds": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flywheel.claim_data import (  # noqa: E402 - after the path setup
    ClaimPhoto,
    dataset_claims,
    truth_labels,
    truth_part_regions,
    truth_regions,
)

logger = logging.getLogger("bench.claims_loop")
TARGET_ERROR = 0.02
CONFIDENCE = 0.95
# Reason codes a threshold sweep replaces (or that only sample): a claim with no other reason is
# "eligible", i.e. the rest of the default policy would let it be decided automatically.
SWEPT_CODES = frozenset(
    {"low_photo_confidence", "low_region_confidence", "low_claim_confidence", "random_audit"}
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 round, 6 + 3 claims, 4 steps: smoke")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bench-claims", type=int, default=60, help="held-out benchmark claims")
    p.add_argument("--review-claims", type=int, default=30, help="claims reviewed per round")
    p.add_argument("--min-photos", type=int, default=1)
    p.add_argument("--max-photos", type=int, default=4)
    p.add_argument("--steps", type=int, default=200, help="fine-tuning steps per retraining")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--bn-momentum", type=float, help="0 freezes BatchNorm statistics")
    p.add_argument("--start-model", help="model folder to start from (default: the bundled one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--measure-candidates",
        action="store_true",
        help="also measure a candidate the promotion rule kept out (activated for the "
        "measurement only, then the active model is restored)",
    )
    p.add_argument("--out", help="also write the JSON result (with per-claim detail) here")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.bench_claims, args.review_claims, args.steps = 1, 6, 3, 4
    return args


# --------------------------------------------------------------------------- pure helpers


def min_auto_for_target(target: float = TARGET_ERROR, confidence: float = CONFIDENCE) -> int:
    """Fewest auto-decided claims, all right, whose error upper bound is <= target."""
    from learning.backtest import error_upper_bound

    n = 1
    while error_upper_bound(0, n, confidence) > target:
        n += 1
    return n


def auto_share(
    scores: list[float],
    kept: list[bool],
    *,
    target: float = TARGET_ERROR,
    confidence: float = CONFIDENCE,
) -> dict:
    """The threshold sweep on one score over the benchmark claims.

    ``share``: the share of claims auto-decided (score >= threshold) at the lowest threshold
    whose auto-decided error's upper bound is <= ``target`` (0 when none is). Also the share at
    the lowest threshold whose *observed* error is <= target (no bound: what bench/loop.py
    reports), and the lowest bound any threshold reaches, with its count: at small N that is
    the figure that says how far the bound is from the target. Thresholds are the distinct
    scores: a threshold cannot split equal scores."""
    from learning.backtest import error_upper_bound

    n = len(scores)
    out = {
        "share": 0.0,
        "threshold": None,
        "n_auto": 0,
        "n_errors": 0,
        "observed_share": 0.0,
        "best_upper": 1.0,
        "best_upper_n_auto": 0,
    }
    if not n:
        return out
    s = np.asarray(scores, dtype=float)
    wrong = ~np.asarray(kept, dtype=bool)
    found = observed = False
    for t in sorted(set(s.tolist())):  # ascending: the first that qualifies automates most
        auto = s >= t
        n_auto, n_err = int(auto.sum()), int((auto & wrong).sum())
        upper = error_upper_bound(n_err, n_auto, confidence)
        if upper < out["best_upper"]:
            out["best_upper"], out["best_upper_n_auto"] = round(upper, 4), n_auto
        if not found and upper <= target:
            found = True
            out.update(share=round(n_auto / n, 4), threshold=round(t, 4))
            out.update(n_auto=n_auto, n_errors=n_err)
        if not observed and n_err <= target * n_auto:
            observed = True
            out["observed_share"] = round(n_auto / n, 4)
    return out


# --------------------------------------------------------------------------- data


def bilgi_claims(split: str, n_claims: int, *, seed: int, min_size: int, max_size: int):
    """``n_claims`` claims of ``split`` photos (``ml.sources`` names: ``train``, ``test`` = the
    upstream ``valid`` folder), airbag photos left out; a list of lists of ClaimPhoto."""
    claims = dataset_claims(split, n_claims, seed=seed, min_size=min_size, max_size=max_size)
    return [claim.photos for claim in claims]


def gt_regions(segmenter, photo: ClaimPhoto, photo_id: str):
    """The ground truth as the part record takes it (``PartRegion``), on the model's grid, with
    the model's part head under each region; plus the regions as review labels."""
    regions = truth_regions(segmenter, photo)
    return truth_part_regions(regions, photo_id), truth_labels(regions)


# --------------------------------------------------------------------------- product path


class ClaimDesk:
    """Stores claims and photos, lets the active model assess them, reads what it decided, and
    (for the review pool) saves the ground truth through the review services."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        users = get_user_model()
        self.customer = users.objects.create_user("bench-customer", password=None)
        self.adjuster = users.objects.create_user("bench-adjuster", password=None)
        self.n = 0

    def assess(self, photos: list[ClaimPhoto]):
        from assessment import services
        from bench.loop import bench_claim_create, bench_photo_create

        self.n += 1
        claim = bench_claim_create(
            self.customer,
            self.n,
            vehicle_model="Claims",
            description="claims learning-curve benchmark",
        )
        rows = [
            bench_photo_create(
                claim, photo.data, photo.semantic.shape[1], photo.semantic.shape[0], str(k)
            )
            for k, photo in enumerate(photos)
        ]
        for row in rows:  # the last one's finish builds the estimate and decides
            services.photo_assess(photo_id=row.pk)
        return claim, rows

    def outcome(self, claim, rows, photos: list[ClaimPhoto]) -> dict:
        """What the product decided for a benchmark claim, and the ground truth's line items."""
        from assessment import model_versions, part_pricing, services
        from assessment.configuration import price_book
        from assessment.models import AuditRecord, Decision
        from learning.claim_confidence import line_items_kept

        record = AuditRecord.objects.filter(
            claim_id=claim.pk, kind=AuditRecord.Kind.AUTOMATED_DECISION
        ).latest("created_at")
        decision = Decision.objects.filter(claim=claim).latest("created_at")
        scores = record.scores
        segmenter = model_versions.segmenters.get(model_versions.model_version_active())
        truth = []
        for row, photo in zip(rows, photos, strict=True):
            truth.extend(gt_regions(segmenter, photo, str(row.pk))[0])
        gt_lines = services.line_items(part_pricing.claim_estimate(truth, price_book()).lines)
        model_lines = scores["line_items"]
        codes = {r["code"] for r in decision.reasons}
        return {
            "photos": len(rows),
            "claim_confidence": float(scores["claim_confidence"]),
            "photo_confidence": min(p["photo_confidence"] for p in scores["photos"].values()),
            "kept": line_items_kept([tuple(x) for x in model_lines], [tuple(x) for x in gt_lines]),
            "eligible": not (codes - SWEPT_CODES),
            "model_lines": model_lines,
            "gt_lines": gt_lines,
        }

    def review(self, claim, rows, photos: list[ClaimPhoto]) -> None:
        from assessment import model_versions
        from claims.models import Claim
        from review import labels as review_labels
        from review import locks as review_locks

        # Every claim of the pool is reviewed (an audit sample of auto-decided claims too).
        Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.IN_REVIEW)
        claim.refresh_from_db()
        review_locks.review_lock_take(claim=claim, adjuster=self.adjuster)
        segmenter = model_versions.segmenters.get(model_versions.model_version_active())
        for row, photo in zip(rows, photos, strict=True):
            labels = gt_regions(segmenter, photo, str(row.pk))[1]
            review_labels.photo_labels_save(
                claim=claim, photo=row, adjuster=self.adjuster, base_version=0, regions=labels
            )


# --------------------------------------------------------------------------- the loop


def measure(desk: ClaimDesk, bench_claims) -> dict:
    t0 = time.perf_counter()
    outcomes = [desk.outcome(*desk.assess(photos), photos) for photos in bench_claims]
    kept = [o["kept"] for o in outcomes]
    claim = auto_share([o["claim_confidence"] for o in outcomes], kept)
    photo = auto_share([o["photo_confidence"] for o in outcomes], kept)
    return {
        "kept_share": round(float(np.mean(kept)), 4) if kept else 0.0,
        "eligible": sum(o["eligible"] for o in outcomes),
        "claim_confidence": claim,
        "photo_confidence": photo,
        "ratio": round(claim["share"] / photo["share"], 3) if photo["share"] else None,
        "observed_ratio": (
            round(claim["observed_share"] / photo["observed_share"], 3)
            if photo["observed_share"]
            else None
        ),
        "eval_s": round(time.perf_counter() - t0, 1),
        "claims": outcomes,
    }


def main(argv=None) -> int:
    from bench.loop import logging_setup, setup_django, start_model

    args = parse_args(argv)
    logging_setup()
    tmp = Path(tempfile.mkdtemp(prefix="bench-claims-"))
    setup_django(tmp)
    from assessment import model_versions
    from learning import fine_tune, runs

    sizes = {"seed": args.seed, "min_size": args.min_photos, "max_size": args.max_photos}
    bench_claims = bilgi_claims("test", args.bench_claims, **sizes)
    pool = bilgi_claims("train", args.rounds * args.review_claims, **sizes)
    start = start_model(tmp, 384, args.start_model)
    active = model_versions.model_version_register(model_dir=start, activate=True)
    n_bench_photos = sum(len(c) for c in bench_claims)
    logger.info(
        "benchmark %d claims (%d photos), pool %d claims; start model %s",
        len(bench_claims),
        n_bench_photos,
        len(pool),
        active.version,
    )
    config = fine_tune.FineTuneConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        crop_size=args.crop,
        lr=args.lr,
        bn_momentum=args.bn_momentum,
        use_base=False,  # the pool enters only through review
        real_eval=False,  # the benchmark claims are measured below, the same way every round
        seed=args.seed,
    )
    desk = ClaimDesk()
    rows = [
        {
            "round": 0,
            "reviewed_claims": 0,
            "reviewed_photos": 0,
            **measure(desk, bench_claims),
            "retrain_s": 0.0,
            "promoted": None,
            "version": active.version,
        }
    ]
    logger.info("round 0: kept %.3f", rows[-1]["kept_share"])
    fed = photos_fed = 0
    for r in range(1, args.rounds + 1):
        batch = pool[fed : fed + args.review_claims]
        if not batch:
            logger.warning("review pool exhausted after %d claims", fed)
            break
        for photos in batch:
            claim, photo_rows = desk.assess(photos)
            desk.review(claim, photo_rows, photos)
        fed += len(batch)
        photos_fed += sum(len(c) for c in batch)
        t0 = time.perf_counter()
        run = runs.retrain(trigger="manual", config=config, force=True)
        retrain_s = time.perf_counter() - t0
        run.refresh_from_db()
        if run.status != "succeeded":
            logger.error("round %d: retraining failed: %s", r, run.message)
        active = model_versions.model_version_active()
        candidate_row = None
        candidate = run.candidate
        if args.measure_candidates and candidate is not None and candidate.pk != active.pk:
            # What the kept-out candidate would have done on the same claims: activated for the
            # measurement only; the next round fine-tunes the active model, as the product does.
            model_versions.model_version_activate(model_version=candidate, reason="bench")
            candidate_row = measure(desk, bench_claims)
            model_versions.model_version_activate(model_version=active, reason="bench")
            active = model_versions.model_version_active()
        rows.append(
            {
                "round": r,
                "reviewed_claims": fed,
                "reviewed_photos": photos_fed,
                **measure(desk, bench_claims),
                "retrain_s": round(retrain_s, 1),
                "promoted": run.promoted,
                "version": active.version,
                "candidate": candidate_row,
            }
        )
        logger.info("round %d: kept %.3f (%s)", r, rows[-1]["kept_share"], run.message)

    need = min_auto_for_target()
    print(
        f"\nclaims loop on bilgi-car-damage: benchmark {len(bench_claims)} claims "
        f"({n_bench_photos} photos, valid split); bound <= {TARGET_ERROR:.0%} needs >= {need} "
        "auto-decided claims with 0 errors"
    )
    print(
        f"{'round':>5} {'claims':>6} {'photos':>6} {'kept':>6} {'elig':>4} | "
        f"{'cc@ub':>6} {'cc@obs':>6} {'cc_best_ub':>12} | "
        f"{'pc@ub':>6} {'pc@obs':>6} {'pc_best_ub':>12} | {'retrain_s':>9} promoted"
    )
    for row in rows:
        cc, pc = row["claim_confidence"], row["photo_confidence"]
        print(
            f"{row['round']:>5} {row['reviewed_claims']:>6} {row['reviewed_photos']:>6} "
            f"{row['kept_share']:>6.3f} {row['eligible']:>4} | "
            f"{cc['share']:>6.3f} {cc['observed_share']:>6.3f} "
            f"{cc['best_upper']:>6.3f} n={cc['best_upper_n_auto']:<3} | "
            f"{pc['share']:>6.3f} {pc['observed_share']:>6.3f} "
            f"{pc['best_upper']:>6.3f} n={pc['best_upper_n_auto']:<3} | "
            f"{row['retrain_s']:>9.1f} {row['promoted']!s}"
        )
        cand = row.get("candidate")
        if cand:
            cc, pc = cand["claim_confidence"], cand["photo_confidence"]
            print(
                f"{'cand':>5} {'':>6} {'':>6} {cand['kept_share']:>6.3f} {cand['eligible']:>4} | "
                f"{cc['share']:>6.3f} {cc['observed_share']:>6.3f} "
                f"{cc['best_upper']:>6.3f} n={cc['best_upper_n_auto']:<3} | "
                f"{pc['share']:>6.3f} {pc['observed_share']:>6.3f} "
                f"{pc['best_upper']:>6.3f} n={pc['best_upper_n_auto']:<3} | (kept out)"
            )
    summary_keys = ("round", "reviewed_claims", "reviewed_photos", "kept_share", "eligible")
    result = {
        "benchmark": {
            "claims": len(bench_claims),
            "photos": n_bench_photos,
            "target_error": TARGET_ERROR,
            "confidence": CONFIDENCE,
            "min_auto_for_target": need,
        },
        "rounds": [
            {
                **{k: row[k] for k in summary_keys},
                "claim_confidence_auto_share": row["claim_confidence"]["share"],
                "photo_confidence_auto_share": row["photo_confidence"]["share"],
                "ratio": row["ratio"],
                "claim_confidence_observed_share": row["claim_confidence"]["observed_share"],
                "photo_confidence_observed_share": row["photo_confidence"]["observed_share"],
                "observed_ratio": row["observed_ratio"],
                "claim_confidence_best_upper": row["claim_confidence"]["best_upper"],
                "photo_confidence_best_upper": row["photo_confidence"]["best_upper"],
                "retrain_s": row["retrain_s"],
                "eval_s": row["eval_s"],
                "promoted": row["promoted"],
                "candidate_kept_share": (row.get("candidate") or {}).get("kept_share"),
            }
            for row in rows
        ],
    }
    if args.out:
        Path(args.out).write_text(json.dumps({**result, "detail": rows}, indent=2, default=str))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
