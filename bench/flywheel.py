"""The flywheel, measured: ``manage.py simulate`` with fixed settings on a database of its own.

    .venv/bin/python bench/flywheel.py [--quick] [--postgres] [--state DIR] [--base-model DIR]

Fixed settings (``FIXED``): 5 rounds of 50 claims of 2-6 photos (15 % of the photo slots an
intact car), 500 fine-tuning steps per retraining, a frozen evaluation set of 100 Bilgi test
photos; the cold-start model is trained first (``ml/configs/flywheel-base.json``: 10 % of
Bilgi's train split, 10 minutes) unless ``--base-model`` names one. The embedded default
(SQLite, a private Redis broker, two worker processes started by the simulation) unless
``--postgres``: then a fresh PostgreSQL database ``claimvision_flywheel`` on ``DATABASE_URL``'s
server (default 127.0.0.1:5432) and the Redis of ``REDIS_URL``. ``--state`` keeps the run (and
resumes it); by default a temporary folder.

Prints the simulation's lines and table, then ``ratios`` of the last round against the first
(measured in this run), then one JSON line: ``{"rounds": [{claims, auto_rate, auto_error,
auto_error_bound, eval_iou, minutes_per_claim, time_saved}, ...], "start": {...}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIXED = {
    "rounds": 5,
    "claims": 50,
    "min_photos": 2,
    "max_photos": 6,
    "intact_rate": 0.15,
    "eval_photos": 100,
    "steps": 500,
}
QUICK = {**FIXED, "rounds": 2, "claims": 4, "eval_photos": 6, "steps": 4}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 rounds of 4 claims, 4 steps: smoke")
    p.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis instead")
    p.add_argument("--state", help="state folder (kept; resumes a stopped run)")
    p.add_argument("--base-model", help="cold-start model folder (default: train one)")
    p.add_argument("--plot", default=None, help="PNG path (default: <state>/flywheel.png)")
    return p.parse_args(argv)


def environment(state: Path, postgres: bool) -> None:
    os.environ["CLAIMVISION_VAR_DIR"] = str(state / "var")
    os.environ["CLAIMVISION_MEDIA_ROOT"] = str(state / "media")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    if postgres:
        import psycopg

        base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        server, _, _ = base.rpartition("/")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'claimvision_flywheel'"
            ).fetchone()
            if not exists:
                conn.execute("CREATE DATABASE claimvision_flywheel")
        os.environ["DATABASE_URL"] = f"{server}/claimvision_flywheel"
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{state / 'flywheel.sqlite3'}"
        os.environ.pop("REDIS_URL", None)


def main(argv=None) -> int:
    args = parse_args(argv)
    state = Path(args.state).resolve() if args.state else Path(tempfile.mkdtemp(prefix="flywheel-"))
    state.mkdir(parents=True, exist_ok=True)
    environment(state, args.postgres)
    import django

    django.setup()
    from django.core.management import call_command

    from flywheel import report
    from flywheel.simulation import Simulation, SimulationConfig

    call_command("migrate", verbosity=0)
    settings = QUICK if args.quick else FIXED
    config = SimulationConfig(**settings)
    plot = Path(args.plot) if args.plot else state / "flywheel.png"
    t0 = time.perf_counter()
    simulation = Simulation(
        config,
        state / "state",
        base_model=Path(args.base_model) if args.base_model else None,
        workers=2,
    )
    rounds = simulation.run()
    wall = time.perf_counter() - t0
    start = simulation.start_figures()
    print(report.table(start, rounds))
    report.plot(start, rounds, plot, f"flywheel: {config.rounds} rounds x {config.claims} claims")
    first, last = rounds[0], rounds[-1]

    def ratio(key):
        a, b = first.get(key), last.get(key)
        return round(b / a, 3) if a and b is not None else None

    ratios = {k: ratio(k) for k in ("auto_rate", "minutes_per_claim", "eval_iou", "time_saved")}
    print(f"last round against the first: {ratios}; plot {plot}; {wall / 60:.1f} min")
    summary = json.loads(report.summary_json(rounds))
    summary |= {
        "start": {k: start.get(k) for k in ("eval_iou", "eval_type_iou")} if start else None,
        "settings": settings,
        "backend": "postgres+redis" if args.postgres else "sqlite+embedded-redis",
        "ratios_last_vs_first": ratios,
        "wall_min": round(wall / 60, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
