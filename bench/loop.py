"""Learning-curve benchmark: labelled photos go through review, the model retrains each round.

Starting from the shipped model (``ml.inference.DEFAULT_MODEL_DIR``; an untrained LR-ASPP
MobileNetV3-Small when it is absent), each round feeds a batch of labelled photos through the
product path: a claim and photo are stored, the active model assesses the photo
(``services.photo_assess``), an adjuster takes the review lock and saves the ground truth as
corrected labels (``review.labels.photo_labels_save``), then ``learning.runs.retrain``
fine-tunes the active model and applies the promotion rule. Everything runs in a throw-away
SQLite database and ``CLAIMVISION_VAR_DIR`` in a temporary folder.

Data: the real-car-damage train split (binary damage masks: the bench types every region
``dent``, since no typed real data exists); with ``--data synth`` or when the real set is
absent, typed synthetic scenes from ``ml.synth``. The fixed benchmark set is never reviewed:
the real set's val and test splits (16 photos), or held-out synthetic scenes.

Per round: ``eval_iou`` (damage-vs-background IoU of the active model on the benchmark set: the
real labels carry no type), ``auto_rate_at_2pct`` (share of benchmark photos auto-decided at
the lowest photo-confidence threshold whose error rate among the covered photos is <= 2%; a
photo is an error unless its regions match the ground truth one-to-one, ``ml.calibration``),
and ``retrain_s``. ``learning.backtest`` is not used: it replays the decision policy on
reviewed *claims* and refuses fewer than 200; the benchmark set is a few dozen photos.

    .venv/bin/python bench/loop.py [--quick] [--rounds 4] [--batch 12] [--steps 300]

The last line printed is one JSON object: ``{"rounds": [{"labelled": N, "eval_iou": x,
"auto_rate_at_2pct": y, "retrain_s": z}, ...]}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

logger = logging.getLogger("bench.loop")
TARGET_ERROR = 0.02


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="2 rounds of 4 photos, 4 steps: a smoke run"
    )
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--batch", type=int, default=12, help="labelled photos per round")
    p.add_argument("--steps", type=int, default=300, help="fine-tuning steps per retraining")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--bn-momentum", type=float, help="0 freezes BatchNorm statistics")
    p.add_argument("--long-side", type=int, default=256, help="input size of a fresh model")
    p.add_argument(
        "--start-model",
        help="model folder to start from (default: the bundled model, else an untrained one)",
    )
    p.add_argument("--data", choices=("auto", "real", "synth"), default="auto")
    p.add_argument("--eval-limit", type=int, default=0, help="cap the benchmark set (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the JSON result here")
    p.add_argument("--plot", help="also draw the learning curve into this PNG")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.batch, args.steps, args.eval_limit = 2, 4, 4, 6
    return args


def logging_setup() -> None:
    """INFO for the bench's own progress; the product's per-claim and per-photo lines quiet."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in (
        "assessment.services",
        "assessment.model_versions",
        "review.services",
        "review.locks",
        "claims.services",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def setup_django(tmp: Path) -> None:
    os.environ["CLAIMVISION_VAR_DIR"] = str(tmp / "var")
    os.environ["CLAIMVISION_MEDIA_ROOT"] = str(tmp / "media")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)  # no broker runs: sends fail, are logged, nothing consumed
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --------------------------------------------------------------------------- data


def labelled_data(kind: str, seed: int, long_side: int):
    """(pool, benchmark): pool is [(rgb, semantic mask)], benchmark is ml SegItems."""
    from ml import coco
    from ml.datasets import items_from_samples
    from ml.labels import DEFAULT_LABEL_MAP

    if kind in ("auto", "real") and coco.real_dataset_available():
        splits = coco.load_real_car_damage(coco.DEFAULT_REAL_ROOT, seed=seed)
        pool = items_from_samples(splits.train, "real", 640)
        bench = items_from_samples(splits.val + splits.test, "real", 640)
        return "real-car-damage", [(it.image, it.mask) for it in pool], bench
    from ml.datasets import SegItem
    from ml.synth import render_scene, scene_rng

    def scene(i: int) -> SegItem:
        import cv2

        s = render_scene(scene_rng(seed, i), 384, label_map=DEFAULT_LABEL_MAP)
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(s.jpeg, np.uint8), 1), cv2.COLOR_BGR2RGB)
        mask = coco.semantic_mask(s.regions, rgb.shape[0], rgb.shape[1])
        return SegItem(rgb, mask, "synth", f"synth-{i}")

    pool = [scene(i) for i in range(60)]
    bench = [scene(1000 + i) for i in range(24)]
    return "synthetic", [(it.image, it.mask) for it in pool], bench


def start_model(tmp: Path, long_side: int, given: str | None) -> Path:
    import shutil

    from ml.inference import DEFAULT_MODEL_DIR

    source = Path(given) if given else DEFAULT_MODEL_DIR
    if (source / "model.json").is_file():
        # A copy: nothing the benchmark does can touch the source folder.
        out = tmp / "start-model"
        shutil.copytree(source, out)
        return out
    import torch

    from ml.export import export_model_dir
    from ml.labels import DEFAULT_LABEL_MAP
    from ml.model import DEFAULT_ARCH, build_model

    torch.manual_seed(0)
    out = tmp / "start-model"
    export_model_dir(
        build_model(DEFAULT_LABEL_MAP.num_classes, DEFAULT_ARCH).eval(),
        out,
        version="bench-untrained",
        arch=DEFAULT_ARCH,
        label_map=DEFAULT_LABEL_MAP,
        input_long_side=long_side,
    )
    return out


# --------------------------------------------------------------------------- review


def bench_claim_create(owner, n: int, *, vehicle_model: str, description: str):
    """Benchmark claim number ``n`` of ``owner``, already assessing (its photos are stored
    prepared and assessed by the bench itself, not by workers)."""
    from django.utils import timezone

    from claims.models import Claim

    now = timezone.now()
    return Claim.objects.create(
        owner=owner,
        reference=f"CLM-BENCH-{n:05d}",
        policy_number=f"POL-{n:06d}",
        vehicle_make="Bench",
        vehicle_model=vehicle_model,
        vehicle_year=2020,
        incident_date=now.date(),
        description=description,
        status=Claim.Status.ASSESSING,
        submitted_at=now,
        enqueued_at=now,
    )


def bench_photo_create(claim, data: bytes, width: int, height: int, suffix: str = ""):
    """A prepared photo of ``claim`` whose original and working copy are the JPEG ``data``."""
    from django.core.files.base import ContentFile

    from claims.models import Photo

    return Photo.objects.create(
        claim=claim,
        original=ContentFile(data, name=f"{claim.pk}/orig{suffix}.jpg"),
        working=ContentFile(data, name=f"{claim.pk}/work{suffix}.jpg"),
        image_format="JPEG",
        size_bytes=len(data),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        status=Photo.Status.PREPARED,
    )


class Reviewer:
    """Creates claims and photos and saves ground truth through the review services."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        users = get_user_model()
        self.customer = users.objects.create_user("bench-customer", password=None)
        self.adjuster = users.objects.create_user("bench-adjuster", password=None)
        self.n = 0

    def review(self, rgb: np.ndarray, semantic: np.ndarray) -> str:
        import cv2

        from assessment import services
        from claims.models import Claim
        from ml.coco import mask_to_rle
        from ml.labels import DEFAULT_LABEL_MAP, IGNORE_INDEX, UNTYPED_DAMAGE
        from review import labels as review_labels
        from review import locks as review_locks

        self.n += 1
        claim = bench_claim_create(
            self.customer, self.n, vehicle_model="Loop", description="learning-loop benchmark"
        )
        _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        data = jpeg.tobytes()
        photo = bench_photo_create(claim, data, rgb.shape[1], rgb.shape[0])
        assessment = services.photo_assess(photo_id=photo.pk)
        # Every photo is reviewed here (an audit sample of auto-decided claims too).
        Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.IN_REVIEW)
        claim.refresh_from_db()
        grid = cv2.resize(
            semantic,
            (assessment.mask_width, assessment.mask_height),
            interpolation=cv2.INTER_NEAREST,
        )
        damage = ((grid > 0) & (grid != IGNORE_INDEX)).astype(np.uint8)
        n, lab = cv2.connectedComponents(damage, connectivity=8)
        regions = []
        for i in range(1, n):
            m = lab == i
            values = grid[m]
            typed = values[(values != UNTYPED_DAMAGE)]
            cls = int(np.bincount(typed).argmax()) if len(typed) else 1  # untyped: "dent"
            regions.append(
                {
                    "label": DEFAULT_LABEL_MAP.by_id(cls).name,
                    "severity": "moderate",
                    "source_index": None,
                    "mask_rle": mask_to_rle(m),
                }
            )
        review_locks.review_lock_take(claim=claim, adjuster=self.adjuster)
        review_labels.photo_labels_save(
            claim=claim, photo=photo, adjuster=self.adjuster, base_version=0, regions=regions
        )
        return str(photo.pk)


# --------------------------------------------------------------------------- metrics


def auto_rate(confidence: list[float], accepted: list[bool], target: float = TARGET_ERROR) -> float:
    """Largest share of photos covered by a confidence threshold with error <= target."""
    if not confidence:
        return 0.0
    order = np.argsort(-np.asarray(confidence), kind="stable")
    wrong = np.cumsum(~np.asarray(accepted, dtype=bool)[order])
    n = np.arange(1, len(order) + 1)
    conf = np.asarray(confidence)[order]
    best = 0.0
    for i in range(len(order)):
        # Cut only between distinct confidences: a threshold cannot split equal scores.
        if i + 1 < len(order) and conf[i + 1] == conf[i]:
            continue
        if wrong[i] / n[i] <= target:
            best = n[i] / len(order)
    return float(best)


def measure(model_dir: Path, bench_items) -> dict:
    from learning import promotion

    m = promotion.evaluate_model_dir(model_dir, bench_items)
    return {
        "eval_iou": round(m["damage_iou"] or 0.0, 4),
        "mean_iou": round(m["mean_iou"] or 0.0, 4),
        "auto_rate_at_2pct": round(auto_rate(m["photo_confidence"], m["photo_accepted"]), 4),
    }


def plot(rounds: list[dict], path: Path, title: str) -> None:
    """Learning curve: evaluation IoU and auto-decision rate against labelled photos."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["labelled"] for r in rounds]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(x, [r["eval_iou"] for r in rounds], "o-", label="damage IoU (benchmark set)")
    ax.plot(x, [r["auto_rate_at_2pct"] for r in rounds], "s--", label="auto-decided at 2% error")
    kept_out = [(r["labelled"], r["candidate_iou"]) for r in rounds if r.get("candidate_iou")]
    if kept_out:
        ax.plot(*zip(*kept_out, strict=True), "x", label="candidate kept out (damage IoU)")
    ax.set(xlabel="labelled photos reviewed", ylim=(0, 1))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging_setup()
    tmp = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    setup_django(tmp)
    from assessment import model_versions
    from learning import fine_tune, runs

    data_name, pool, bench_items = labelled_data(args.data, args.seed, args.long_side)
    if args.eval_limit:
        bench_items = bench_items[: args.eval_limit]
    rng = np.random.default_rng(args.seed)
    pool = [pool[i] for i in rng.permutation(len(pool))]
    start = start_model(tmp, args.long_side, args.start_model)
    active = model_versions.model_version_register(model_dir=start, activate=True)
    logger.info(
        "data %s: pool %d, benchmark %d; start model %s",
        data_name,
        len(pool),
        len(bench_items),
        active.version,
    )
    config = fine_tune.FineTuneConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        crop_size=args.crop,
        lr=args.lr,
        bn_momentum=args.bn_momentum,
        use_base=False,  # the pool is the base set: it must enter only through review
        real_eval=False,  # the benchmark set is measured below, the same way every round
        seed=args.seed,
    )
    reviewer = Reviewer()
    rounds = [
        {
            "labelled": 0,
            **measure(Path(model_versions._model_dir(active)), bench_items),
            "retrain_s": 0.0,
            "promoted": None,
            "version": active.version,
        }
    ]
    logger.info("round 0: %s", rounds[-1])
    fed = 0
    for r in range(1, args.rounds + 1):
        batch = pool[fed : fed + args.batch]
        if not batch:
            logger.warning("labelled pool exhausted after %d photos", fed)
            break
        for rgb, mask in batch:
            reviewer.review(rgb, mask)
        fed += len(batch)
        t0 = time.perf_counter()
        run = runs.retrain(trigger="manual", config=config, force=True)
        retrain_s = time.perf_counter() - t0
        run.refresh_from_db()
        if run.status != "succeeded":
            logger.error("round %d: retraining failed: %s", r, run.message)
        active = model_versions.model_version_active()
        candidate = run.candidate
        candidate_iou = None
        if candidate is not None and candidate.pk != active.pk:
            candidate_dir = Path(model_versions._model_dir(candidate))
            candidate_iou = measure(candidate_dir, bench_items)["eval_iou"]
        row = {
            "labelled": fed,
            **measure(Path(model_versions._model_dir(active)), bench_items),
            "retrain_s": round(retrain_s, 1),
            "promoted": run.promoted,
            "version": active.version,
            # the benchmark IoU of a candidate the promotion rule kept out
            "candidate_iou": candidate_iou,
        }
        rounds.append(row)
        logger.info("round %d: %s (%s)", r, row, run.message)

    header = (
        f"{'labelled':>8} {'eval_iou':>8} {'mean_iou':>8} {'auto@2%':>8} {'retrain_s':>9}"
        f"  {'promoted':>8}  candidate_iou (kept out)"
    )
    print(f"\nlearning loop on {data_name}, benchmark set {len(bench_items)} photos")
    print(header)
    for row in rounds:
        print(
            f"{row['labelled']:>8} {row['eval_iou']:>8.3f} {row['mean_iou']:>8.3f} "
            f"{row['auto_rate_at_2pct']:>8.3f} {row['retrain_s']:>9.1f}  {row['promoted']!s:>8}"
            f"  {row.get('candidate_iou')}"
        )
    result = {
        "rounds": [
            {k: row[k] for k in ("labelled", "eval_iou", "auto_rate_at_2pct", "retrain_s")}
            for row in rounds
        ]
    }
    if args.out:
        Path(args.out).write_text(json.dumps({**result, "detail": rounds}, indent=2))
    if args.plot:
        plot(rounds, Path(args.plot), f"learning loop, {data_name}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
