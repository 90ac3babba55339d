"""The flywheel simulation: rounds of real claims through the product, a simulated adjuster,
retraining and re-calibration between rounds, and what each round measured.

Cold start: the active model is a base model trained on ``ml.sources.BILGI_BASE_SHARE`` (10 %)
of Bilgi's train split (``ml/configs/flywheel-base.json``); the claims are made of the other
90 % (the ``stream`` split), which no model has seen, plus intact cars of
``intact-cars-wikipedia``'s ``val`` and ``test`` splits (no flywheel model trains on them) at
``intact_rate`` of the photo slots. The frozen evaluation set is Bilgi's ``test`` split (the
upstream ``valid`` folder), never reviewed and never trained on.

Each round:

1. ``claims`` claims are filed through the customer API (``django.test.Client`` against the real
   URL configuration, middleware, validation and storage: a claim, its photos, submit), one
   customer account per claim. Submitting enqueues the claim on the broker after commit; the
   Celery workers (started here, or already running) prepare the photos, run the model and
   decide by the active policy, as for any claim.
2. Every claim's ground truth (``flywheel.claim_data``) is priced like the model's estimate; a
   claim is *kept* when the model's line items are the ground truth's
   (``learning.claim_confidence.line_items_kept``). The error of the automatic path is
   measured on the claims decided automatically; the random audit's blind sample estimates it
   as the product would, without ground truth.
3. The simulated adjuster (``flywheel.adjuster``) reviews every claim the policy routed to a
   person, through the review services the screen calls, and decides. Its time comes from the
   effort model (``flywheel.effort``) applied to the ledger it left.
4. The real retraining (``learning.runs.retrain``: fine-tune on every reviewed label so far,
   evaluate on the reviewed evaluation split, guarded promotion) runs; then the claim
   confidence and the policy thresholds are re-fitted from every review so far
   (``learning.calibration``, what ``manage.py calibrate --claim-confidence --adopt
   --activate`` does) and adopted when the back-test meets the target.
5. The active model is scored on the frozen evaluation set.

State (the report rows, the settings, the base model) lives in ``state_dir``; the claims live in
the database. A run stopped part-way resumes where it was: finished rounds are kept, a round's
claims already filed are found again by their key.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flywheel.adjuster import SimulatedAdjuster
from flywheel.claim_data import (
    SimClaim,
    dataset_claims,
    eval_items,
    truth_part_regions,
    truth_regions,
)
from flywheel.effort import DEFAULT_EFFORT, Effort, EffortModel, time_saved

logger = logging.getLogger(__name__)

USER_PREFIX = "flywheel-"
CLAIM_TAG = "flywheel:"  # a simulated claim's description starts with it, then its key
STATE_FILE = "simulation.json"
BASE_CONFIG = Path(__file__).resolve().parents[1] / "ml" / "configs" / "flywheel-base.json"
REPO = Path(__file__).resolve().parents[1]
DONE = ("auto_decided", "in_review", "decided", "more_photos_requested")

ERR_NOT_OURS = (
    "simulate runs on a database of its own: this one holds {n} claims of real accounts. Point "
    "DATABASE_URL (and CLAIMVISION_VAR_DIR) at an empty database, e.g. "
    "DATABASE_URL=sqlite:///var/simulate/db.sqlite3 (bench/flywheel.py does)."
)
ERR_SETTINGS_CHANGED = (
    "{path} holds a run with other settings ({changed}); use another --state folder, or the "
    "same settings to resume."
)
ERR_NO_DATA = "the simulation needs ../shared/datasets/{name} (see its PROVENANCE.md)"
ERR_STUCK = "{n} claims were not decided within {timeout:.0f} s: {ids}"


class SimulationError(RuntimeError):
    pass


@dataclass(frozen=True)
class SimulationConfig:
    """The documented settings of a run (``bench/flywheel.py`` fixes them)."""

    rounds: int = 4
    claims: int = 40  # per round
    min_photos: int = 2
    max_photos: int = 6
    intact_rate: float = 0.15  # share of photo slots that are an intact car
    eval_photos: int = 100  # of Bilgi's test split, the first by name
    # Promotion's frozen set beside the reviewed evaluation split: the next photos of Bilgi's
    # test split, disjoint from the reported set ("" = reviews only, the product's default).
    promotion_eval: str = "bilgi_test:100:250"
    steps: int = 300  # fine-tuning steps per retraining
    batch_size: int = 8
    crop_size: int = 256
    lr: float = 3e-4
    seed: int = 0
    target_error: float = 0.02
    calibrate_min_claims: int = 30  # back-test refuses below this many reviewed claims
    claim_timeout_s: float = 900.0  # for a round's claims to be decided by the workers

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- pure figures


def round_figures(claims: list[dict], effort: EffortModel = DEFAULT_EFFORT) -> dict:
    """A round's figures from its per-claim outcomes (what :meth:`Simulation.outcome` and the
    adjuster stored): ``auto`` (decided automatically), ``audit`` (sampled to a blind review),
    ``kept`` (model lines == ground truth), ``assisted_s`` / ``scratch_s`` (reviewed claims'
    effort; None for a claim nobody reviewed) and ``truth_regions`` / ``photos``."""
    from learning.backtest import error_upper_bound

    n = len(claims)
    auto = [c for c in claims if c["auto"]]
    audit = [c for c in claims if c["audit"]]
    reviewed = [c for c in claims if c["assisted_s"] is not None]
    auto_errors = sum(not c["kept"] for c in auto)
    audit_errors = sum(not c["kept"] for c in audit)
    assisted = sum(c["assisted_s"] for c in reviewed)
    scratch_reviewed = sum(c["scratch_s"] for c in reviewed)
    # Every claim labelled from scratch: the reviewed ones as measured, the automatic ones as
    # a person would have (a look per photo, every true region drawn, one decision).
    scratch_all = scratch_reviewed + sum(
        c["photos"] * effort.photo_s + c["truth_regions"] * effort.draw_s + effort.decide_s
        for c in claims
        if c["assisted_s"] is None
    )
    saved = time_saved(assisted, scratch_reviewed)
    saved_all = time_saved(assisted, scratch_all)
    routed = Counter(code for c in claims if not c["auto"] for code in c["reasons"])
    return {
        "claims": n,
        "photos": sum(c["photos"] for c in claims),
        "auto": len(auto),
        "auto_rate": round(len(auto) / n, 4) if n else 0.0,
        "auto_errors": auto_errors,
        "auto_error": round(auto_errors / len(auto), 4) if auto else None,
        "auto_error_bound": round(error_upper_bound(auto_errors, len(auto)), 4),
        "audited": len(audit),
        "audit_errors": audit_errors,
        "audit_error_bound": round(error_upper_bound(audit_errors, len(audit)), 4),
        "reviewed": len(reviewed),
        "kept_share": round(sum(c["kept"] for c in claims) / n, 4) if n else 0.0,
        "minutes_per_claim": round(assisted / 60 / n, 3) if n else 0.0,
        "minutes_per_reviewed_claim": (
            round(assisted / 60 / len(reviewed), 3) if reviewed else None
        ),
        "time_saved": round(saved, 4) if saved is not None else None,
        "time_saved_with_automation": round(saved_all, 4) if saved_all is not None else None,
        # Claims a perfect model could have had decided automatically under the policy's
        # always-a-person rules (their ground truth has no such type or severity).
        "automatable_share": (
            round(sum(not c.get("truth_always_human", False) for c in claims) / n, 4) if n else 0.0
        ),
        # Why claims went to a person: claims per reason code, most common first.
        "routing_reasons": dict(routed.most_common()),
    }


def eval_figures(metrics: dict) -> dict:
    """The frozen evaluation set's figures from ``learning.promotion.evaluate_model_dir``."""
    per = {
        k: (round(v, 4) if v is not None else None)
        for k, v in (metrics.get("per_class_iou") or {}).items()
        if k != "background"
    }
    return {
        "eval_iou": round(metrics["damage_iou"], 4) if metrics.get("damage_iou") else 0.0,
        "eval_type_iou": (
            round(metrics["mean_type_iou"], 4) if metrics.get("mean_type_iou") else 0.0
        ),
        "eval_per_type_iou": per,
    }


# --------------------------------------------------------------------------- workers


class Workers:
    """Celery workers for the claim queues (or ``queues``, e.g. ``labelling`` for
    ``bench/prelabel.py``), in their own process group, against the same database and broker as
    this process (its environment)."""

    def __init__(
        self, concurrency: int, log_path: Path, *, queues: str = "claims,assessment"
    ) -> None:
        self.concurrency = concurrency
        self.log_path = log_path
        self.queues = queues
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Workers:
        if self.concurrency <= 0:
            return self
        self.log = open(self.log_path, "ab")  # closed in __exit__
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
                "-n",
                f"flywheel-{os.getpid()}@%h",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SimulationError(f"worker exited: {self.tail()}")
            if b"ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.3)
        raise SimulationError(f"worker not ready: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if getattr(self, "log", None):
            self.log.close()


class Broker:
    """The embedded default's broker when none answers (no ``REDIS_URL``, no ``make run``):
    started for the run at ``CLAIMVISION_BROKER_SOCKET`` and stopped after it."""

    def __enter__(self) -> Broker:
        import redis

        from config.celery_app import app

        self.broker = None
        url = str(app.conf.broker_url or "")
        if not url.startswith("redis+socket://"):
            return self  # a Redis service (REDIS_URL): nothing to start
        socket = Path(url.removeprefix("redis+socket://")).resolve()
        try:
            redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping()
            return self
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            pass
        from config.broker import EmbeddedBroker

        if socket.name != "redis.sock":
            raise SimulationError(f"no broker answers on {socket}")
        socket.unlink(missing_ok=True)
        self.broker = EmbeddedBroker(socket.parent).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.broker is not None:
            self.broker.stop()


# --------------------------------------------------------------------------- the base model


def base_model_build(out_dir: Path, *, minutes: float | None = None) -> Path:
    """Train the cold-start model (``ml/configs/flywheel-base.json``) and release it as a model
    folder: ``ml.train`` then ``ml.release`` (calibrated on Bilgi val and the intact dsmlr
    val, never on the streamed photos), in subprocesses, as a person would run them."""
    out_dir = Path(out_dir)
    model_dir = out_dir / "base-model"
    if (model_dir / "model.json").is_file():
        return model_dir
    run_dir = out_dir / "base-run"
    train = [sys.executable, "-m", "ml.train", "--config", str(BASE_CONFIG), "--out", str(run_dir)]
    if minutes:
        train += ["--time-budget-min", str(minutes), "--schedule-minutes", str(minutes)]
    release = [
        sys.executable,
        "-m",
        "ml.release",
        "--checkpoint",
        str(run_dir / "best.pt"),
        "--version",
        "flywheel-base",
        "--out",
        str(model_dir),
        "--calibrate-on",
        "bilgi_val",
        "--calibrate-on",
        "dsmlr_val",
        "--evaluate-on",
        "bilgi_test",
    ]
    for argv in (train, release):
        logger.info("base model: %s", " ".join(argv[2:]))
        subprocess.run(argv, cwd=REPO, check=True)  # noqa: S603 - our own argv, no shell
    return model_dir


# --------------------------------------------------------------------------- the run


class Simulation:
    def __init__(
        self,
        config: SimulationConfig,
        state_dir: Path,
        *,
        base_model: Path | None = None,
        workers: int = 2,
        effort: EffortModel = DEFAULT_EFFORT,
        progress: bool = True,
        write: Callable[[str], None] = print,
        data: Callable[..., list[SimClaim]] = dataset_claims,
        evaluation: Callable[..., list] = eval_items,
    ) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self.base_model = base_model
        self.workers = workers
        self.effort = effort
        self.progress = progress
        self.write = write
        self.data = data
        self.evaluation = evaluation
        self.state_path = self.state_dir / STATE_FILE

    # ----------------------------------------------------------------- state

    def _state_load(self) -> dict:
        if not self.state_path.is_file():
            return {"settings": self.config.to_dict(), "rounds": [], "base": None}
        state = json.loads(self.state_path.read_text(encoding="utf-8"))
        old = state.get("settings", {})
        # Only more rounds may be asked of a finished run; anything else is another run.
        changed = sorted(
            k for k, v in self.config.to_dict().items() if k != "rounds" and old.get(k) != v
        )
        if changed:
            raise SimulationError(
                ERR_SETTINGS_CHANGED.format(path=self.state_path, changed=", ".join(changed))
            )
        state["settings"] = self.config.to_dict()
        return state

    def _state_save(self, state: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, default=str) + "\n", encoding="utf-8")
        tmp.replace(self.state_path)

    # ----------------------------------------------------------------- setup

    @staticmethod
    def require_own_database() -> None:
        from claims.models import Claim

        foreign = Claim.objects.exclude(owner__username__startswith=USER_PREFIX).count()
        if foreign:
            raise SimulationError(ERR_NOT_OURS.format(n=foreign))

    @staticmethod
    def _user(username: str, role):
        """A simulation account (``USER_PREFIX``) with its role's group."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        user, _ = get_user_model().objects.get_or_create(username=f"{USER_PREFIX}{username}")
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
        return user

    def _users(self):
        from claims.roles import Role

        return self._user("adjuster", Role.ADJUSTER)

    def _customer(self, key: str):
        from claims.roles import Role

        return self._user(key, Role.CUSTOMER)

    def _activate_base(self, state: dict) -> str:
        from assessment import model_versions

        if state.get("base"):
            return state["base"]
        model_dir = self.base_model or base_model_build(self.state_dir)
        version = model_versions.model_version_register(
            model_dir=Path(model_dir), activate=True, reason="flywheel simulation: cold start"
        )
        state["base"] = version.version
        self._state_save(state)
        return version.version

    # ----------------------------------------------------------------- a claim

    def _file(self, sim: SimClaim) -> str:
        """File ``sim`` through the customer API (or find it again); its claim id."""
        from django.test import Client

        from claims.models import Claim

        tag = f"{CLAIM_TAG}{sim.key}"
        existing = Claim.objects.filter(description=tag).first()
        if existing is not None and existing.status != Claim.Status.DRAFT:
            return str(existing.pk)
        if existing is not None:  # stopped between its photos and submit: start it again
            existing.delete()
        client = Client(HTTP_HOST="localhost")
        client.force_login(self._customer(sim.key))
        response = client.post(
            "/api/v1/claims/",
            {
                "policy_number": f"SIM-{sim.key}",
                "vehicle_make": "Simulated",
                "vehicle_model": "Claim",
                "vehicle_year": 2020,
                "incident_date": "2026-01-01",
                "description": tag,
            },
            content_type="application/json",
        )
        if response.status_code != 201:
            raise SimulationError(f"claim {sim.key}: {response.status_code} {response.content!r}")
        claim_id = response.json()["id"]
        for k, photo in enumerate(sim.photos):
            from django.core.files.uploadedfile import SimpleUploadedFile

            upload = SimpleUploadedFile(f"{k}-{photo.name}", photo.data)
            response = client.post(f"/api/v1/claims/{claim_id}/photos/", {"image": upload})
            if response.status_code != 201:
                raise SimulationError(
                    f"photo {photo.name} of {sim.key}: {response.status_code} "
                    f"{response.content[:300]!r}"
                )
        response = client.post(
            f"/api/v1/claims/{claim_id}/submit/", {}, content_type="application/json"
        )
        if response.status_code != 202:
            raise SimulationError(f"submit {sim.key}: {response.status_code} {response.content!r}")
        return claim_id

    def _wait(self, claim_ids: list[str]) -> None:
        from claims.models import Claim

        deadline = time.monotonic() + self.config.claim_timeout_s
        while True:
            waiting = list(
                Claim.objects.filter(pk__in=claim_ids)
                .exclude(status__in=DONE)
                .values_list("pk", flat=True)
            )
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise SimulationError(
                    ERR_STUCK.format(
                        n=len(waiting),
                        timeout=self.config.claim_timeout_s,
                        ids=", ".join(map(str, waiting[:5])),
                    )
                )
            time.sleep(0.5)

    def _photos_by_id(self, claim, sim: SimClaim) -> dict:
        """Photo id -> its ClaimPhoto: photos are stored in upload order (created_at)."""
        rows = list(claim.photos.order_by("created_at", "pk"))
        return {str(row.pk): photo for row, photo in zip(rows, sim.photos, strict=True)}

    def outcome(
        self, claim, sim: SimClaim, segmenter, rules, photos: dict, truths: dict | None = None
    ) -> dict:
        """What the workers decided for ``claim``, against its ground truth. ``rules``: the
        active policy's (``PolicyRules``); ``photos``: photo id -> ClaimPhoto; ``truths``, if
        given, receives each photo's ground-truth regions by photo id."""
        from assessment import part_pricing, services
        from assessment.configuration import price_book
        from assessment.models import AuditRecord, Decision
        from learning.claim_confidence import line_items_kept

        record = (
            AuditRecord.objects.filter(claim_id=claim.pk, kind=AuditRecord.Kind.AUTOMATED_DECISION)
            .order_by("-created_at", "-id")
            .first()
        )
        # The workers' decision: automatic, or the routing to review (no person decided it).
        decision = (
            Decision.objects.filter(claim=claim, decided_by__isnull=True)
            .order_by("created_at", "id")
            .first()
        )
        truth = []
        n_truth = 0
        # The ground truth itself holds a type or severity the policy always gives a person:
        # no model, however good, could have this claim decided automatically.
        truth_human = False
        for photo_id, photo in photos.items():
            regions = truth_regions(segmenter, photo)
            if truths is not None:
                truths[photo_id] = regions
            n_truth += len(regions)
            truth_human = truth_human or any(
                r.label in rules.always_human_types or r.severity in rules.always_human_severities
                for r in regions
            )
            truth.extend(truth_part_regions(regions, photo_id))
        truth_lines = services.line_items(part_pricing.claim_estimate(truth, price_book()).lines)
        scores = record.scores if record else {}
        model_lines = scores.get("line_items") or []
        codes = {r.get("code") for r in (decision.reasons if decision else [])}
        return {
            "key": sim.key,
            "claim_id": str(claim.pk),
            "photos": len(photos),
            "intact_photos": sum(p.intact for p in sim.photos),
            "truth_regions": n_truth,
            "truth_always_human": truth_human,
            "auto": claim.status == claim.Status.AUTO_DECIDED,
            "audit": "random_audit" in codes,
            "claim_confidence": scores.get("claim_confidence"),
            "kept": line_items_kept(
                [tuple(x) for x in model_lines], [tuple(x) for x in truth_lines]
            ),
            "reasons": sorted(c for c in codes if c),
            "assisted_s": None,
            "scratch_s": None,
        }

    # ----------------------------------------------------------------- between rounds

    def _retrain(self) -> dict:
        from assessment import model_versions
        from learning import runs
        from learning.fine_tune import FineTuneConfig

        cfg = FineTuneConfig(
            steps=self.config.steps,
            batch_size=self.config.batch_size,
            crop_size=self.config.crop_size,
            lr=self.config.lr,
            use_base=False,  # the reviewed labels are the training data
            real_eval=False,
            frozen_eval=self.config.promotion_eval,
            seed=self.config.seed,
        )
        t0 = time.perf_counter()
        run = runs.retrain(trigger="manual", config=cfg)
        run.refresh_from_db()
        return {
            "retrain_status": run.status,
            "retrain_s": round(time.perf_counter() - t0, 1),
            "promoted": bool(run.promoted),
            "retrain_message": run.message,
            "candidate": run.candidate.version if run.candidate_id else None,
            "active_after": model_versions.model_version_active().version,
        }

    def _calibrate(self) -> dict:
        from learning import backtest, calibration

        try:
            cc = calibration.claim_confidence_run()
            run = calibration.calibration_run(
                target_error=self.config.target_error,
                min_claims=self.config.calibrate_min_claims,
            )
            policy = calibration.calibration_adopt(run=run, activate=True, claim_confidence=cc)
        except backtest.CalibrationError as exc:
            return {"calibration": f"not adopted: {exc}"}
        return {"calibration": f"policy v{policy.version}: {policy.note}"}

    def _evaluate(self, items, version: str | None = None) -> dict:
        from assessment import model_versions
        from assessment.models import ModelVersion
        from learning.promotion import evaluate_model_dir

        active = (
            ModelVersion.objects.get(version=version)
            if version
            else model_versions.model_version_active()
        )
        metrics = evaluate_model_dir(model_versions._model_dir(active), items)
        return {"eval_model_version": active.version, **eval_figures(metrics)}

    # ----------------------------------------------------------------- run

    def run(self) -> list[dict]:
        from assessment import configuration, model_versions, policy
        from claims.models import Claim

        self.require_own_database()
        state = self._state_load()
        self._activate_base(state)
        adjuster = SimulatedAdjuster(self._users(), self.effort)
        items = self.evaluation(limit=self.config.eval_photos)
        if not state.get("start"):
            state["start"] = self._evaluate(items)
            self._state_save(state)
        c = self.config
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with Broker(), Workers(self.workers, self.state_dir / "workers.log"):
            for r in range(len(state["rounds"]) + 1, c.rounds + 1):
                t0 = time.perf_counter()
                serving = model_versions.model_version_active()
                sims = self.data(
                    "stream",
                    c.claims,
                    seed=c.seed,
                    min_size=c.min_photos,
                    max_size=c.max_photos,
                    intact_rate=c.intact_rate,
                    skip=(r - 1) * c.claims,
                )
                ids = [self._file(sim) for sim in self._bar(sims, f"round {r}: filing")]
                self._wait(ids)
                segmenter = model_versions.segmenters.get(serving)
                # The policy the workers decided this round's claims by (calibration adopts a
                # new one only after the round).
                rules = policy.PolicyRules.from_dict(configuration.decision_policy_active().rules)
                outcomes = []
                for sim, claim_id in self._bar(
                    list(zip(sims, ids, strict=True)), f"round {r}: reviewing"
                ):
                    claim = Claim.objects.get(pk=claim_id)
                    truths: dict = {}
                    photos = self._photos_by_id(claim, sim)
                    out = self.outcome(claim, sim, segmenter, rules, photos, truths)
                    if claim.status == Claim.Status.IN_REVIEW:
                        result = adjuster.review(claim, photos, segmenter, truths)
                        out["assisted_s"] = round(result.effort.assisted_s, 2)
                        out["scratch_s"] = round(result.effort.scratch_s, 2)
                        out["review_action"] = result.action
                    elif claim.status == Claim.Status.DECIDED:
                        out.update(self._stored_effort(claim))
                    outcomes.append(out)
                row = {
                    "round": r,
                    "model_version": serving.version,
                    **round_figures(outcomes, self.effort),
                }
                row.update(self._retrain())
                row.update(self._calibrate())
                row.update(self._evaluate(items))
                if row["candidate"] and not row["promoted"]:
                    # What the kept-out candidate scores on the reported set: whether training
                    # or the promotion rule held the loop back.
                    row["candidate_eval_iou"] = self._evaluate(items, row["candidate"])["eval_iou"]
                row["round_s"] = round(time.perf_counter() - t0, 1)
                state["rounds"].append({**row, "detail": outcomes})
                self._state_save(state)
                self.write(self.row_line(row))
        return [{k: v for k, v in row.items() if k != "detail"} for row in state["rounds"]]

    def start_figures(self) -> dict | None:
        """The cold-start model's evaluation (the table's first row), once a run has begun."""
        if not self.state_path.is_file():
            return None
        return json.loads(self.state_path.read_text(encoding="utf-8")).get("start")

    def _stored_effort(self, claim) -> dict:
        """A claim reviewed before a stop: its effort read back from the stored ledger."""
        from flywheel.adjuster import stored_work
        from flywheel.effort import claim_effort
        from review.models import PhotoLabels

        works = [stored_work(labels) for labels in PhotoLabels.objects.filter(claim=claim)]
        if not works:
            return {}
        effort: Effort = claim_effort(works, self.effort)
        return {"assisted_s": round(effort.assisted_s, 2), "scratch_s": round(effort.scratch_s, 2)}

    def _bar(self, iterable, desc: str):
        if not self.progress:
            return iterable
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, unit="claim", file=sys.stderr)

    @staticmethod
    def row_line(row: dict) -> str:
        def pct(v):
            return "-" if v is None else f"{v:.0%}"

        return (
            f"round {row['round']}: {row['claims']} claims, auto {pct(row['auto_rate'])} "
            f"(error {pct(row['auto_error'])}, bound {pct(row['auto_error_bound'])}), "
            f"eval IoU {row['eval_iou']:.3f}, {row['minutes_per_claim']:.2f} min/claim, "
            f"time saved {pct(row['time_saved'])}, promoted {row['promoted']}"
        )
