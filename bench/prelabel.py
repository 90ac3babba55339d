"""Pre-labelling, measured: 100 real photos imported into a labelling project, pre-labelled by
real Celery workers, against the model alone on the same photos.

    .venv/bin/python bench/prelabel.py [--photos 100] [--concurrency 1 2] [--keep DIR]

Data: the first ``--photos`` of Bilgi's ``test`` split by name (``ml.sources``, the frozen
evaluation photos the flywheel scores on); absent, the bench says so and exits 0. Everything
runs on a database of its own (a temporary SQLite file, ``CLAIMVISION_VAR_DIR`` and
``CLAIMVISION_MEDIA_ROOT`` in a temporary folder), the embedded broker
(``flywheel.simulation.Broker``) and real workers as subprocesses
(``celery -A config worker -Q labelling -c N``, ``flywheel.simulation.Workers``).

For each concurrency N, a fresh project: the photos go as one zip through the data team's
import API (``POST /api/v1/labelling/projects/{id}/import/zip/``: upload checks, metadata
stripping, de-duplication, one commit and one ``labelling.prelabel_item`` message per photo),
with the workers already running, so pre-labelling overlaps the import as it does for a data
team. Measured: ``import_s`` (the request), ``end_to_end_s`` (from the request until no item is
``prelabelling``), ``steady_photos_per_s`` (predictions stored per second between the first and
the last, the workers' rate once busy) and both per worker core. Each worker process runs the
model on one thread (``CLAIMVISION_INFERENCE_THREADS=1``), so a process is a core.

Baseline, in the same run: ``Segmenter.predict`` in a loop in this process, one thread, on the
same working copies the workers read (``model_alone_photos_per_s``), after the workers stopped.
``ratios`` are the workers' rates per core against it: 1.0 means the product adds nothing to
the model's own time. The machine's load average is printed beside (other benchmarks share it).

The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

logger = logging.getLogger("bench.prelabel")

MSG_NO_DATA = "skipped: the bench needs ../shared/datasets/bilgi-car-damage (see its PROVENANCE.md)"
# 100 photos take seconds on one core (docs/benchmarks.md); this only stops a broken run.
WAIT_TIMEOUT_S = 1800.0
POLL_S = 0.2


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--photos", type=int, default=100, help="first N of Bilgi test, by name")
    p.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 2], help="worker processes (-c)"
    )
    p.add_argument("--keep", help="state folder (kept); default: a temporary one, removed")
    return p.parse_args(argv)


def environment(state: Path) -> None:
    """A database, media and broker of the bench's own; one inference thread per process."""
    os.environ["CLAIMVISION_VAR_DIR"] = str(state / "var")
    os.environ["CLAIMVISION_MEDIA_ROOT"] = str(state / "media")
    os.environ["DATABASE_URL"] = f"sqlite:///{state / 'prelabel.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["CLAIMVISION_INFERENCE_THREADS"] = "1"
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    os.environ.pop("REDIS_URL", None)


def photo_paths(limit: int) -> list[Path] | None:
    """Bilgi's test split, sorted by name, the first ``limit``; None when the set is absent.
    Paths only (``ml.sources``' split without decoding: the bench sends the files as they are)."""
    from ml import sources

    if not sources.available(sources.BILGI):
        return None
    photos, _ = sources._read_source(sources.BILGI, sources.DATASETS_ROOT)
    test = sources._split_bilgi(photos, 0)["test"]
    return sorted((p.path for p in test), key=lambda path: str(path))[:limit]


def zip_of(paths: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # JPEGs barely compress
        for path in paths:
            archive.write(path, arcname=path.name)
    return buffer.getvalue()


def data_team_client():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from claims.roles import Role

    user, _ = get_user_model().objects.get_or_create(username="bench-data-team")
    user.groups.add(Group.objects.get_or_create(name=Role.DATA_TEAM.value)[0])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def wait_prelabelled(project_id: int, n: int) -> float:
    """Seconds until ``n`` items of the project are imported and none is ``prelabelling``."""
    from labelling.models import ProjectItem

    started = time.perf_counter()
    while time.perf_counter() - started < WAIT_TIMEOUT_S:
        items = ProjectItem.objects.filter(project_id=project_id)
        waiting = items.filter(status__in=["new", "prelabelling"]).count()
        if items.count() >= n and not waiting:
            return time.perf_counter()
        time.sleep(POLL_S)
    raise RuntimeError(f"project {project_id}: items still waiting after {WAIT_TIMEOUT_S:.0f} s")


def run_workers(client, zip_bytes: bytes, n: int, concurrency: int, state: Path) -> dict:
    """One project, imported with ``concurrency`` worker processes already running."""
    from django.db.models import Max, Min

    from flywheel.simulation import Workers
    from labelling.models import ItemPrediction, ProjectItem

    response = client.post(
        "/api/v1/labelling/projects/",
        {"name": f"bench -c {concurrency}", "instructions": "bench", "scratch_share": 0.1},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    project_id = response.json()["id"]
    with Workers(concurrency, state / f"worker-c{concurrency}.log", queues="labelling"):
        logger.info("-c %d: workers ready, importing %d photos", concurrency, n)
        t0 = time.perf_counter()
        upload = io.BytesIO(zip_bytes)
        upload.name = "bench.zip"
        response = client.post(
            f"/api/v1/labelling/projects/{project_id}/import/zip/", {"file": upload}
        )
        t_import = time.perf_counter()
        assert response.status_code == 200, response.content
        summary = response.json()
        if len(summary["imported"]) != n:
            raise RuntimeError(f"imported {len(summary['imported'])} of {n}: {summary}")
        t_done = wait_prelabelled(project_id, n)
    items = ProjectItem.objects.filter(project_id=project_id)
    span = ItemPrediction.objects.filter(item__project_id=project_id).aggregate(
        first=Min("created_at"), last=Max("created_at")
    )
    predicted = ItemPrediction.objects.filter(item__project_id=project_id).count()
    steady_s = (span["last"] - span["first"]).total_seconds() if predicted > 1 else None
    steady = (predicted - 1) / steady_s if steady_s else None
    end_to_end = t_done - t0
    return {
        "concurrency": concurrency,
        "project": project_id,
        "photos": n,
        "predicted": predicted,
        "prelabel_errors": items.exclude(prelabel_error="").count(),
        "import_s": round(t_import - t0, 2),
        "end_to_end_s": round(end_to_end, 2),
        "end_to_end_photos_per_s": round(n / end_to_end, 3),
        "end_to_end_photos_per_s_per_core": round(n / end_to_end / concurrency, 3),
        "steady_photos_per_s": round(steady, 3) if steady else None,
        "steady_photos_per_s_per_core": round(steady / concurrency, 3) if steady else None,
    }


def model_alone(project_id: int) -> dict:
    """``Segmenter.predict`` on the project's working copies, in this process, one thread."""
    from django.conf import settings

    from assessment import model_versions
    from config.storage import storage_read_bytes
    from labelling.models import ProjectItem
    from ml.inference import Segmenter

    version = model_versions.model_version_active()
    segmenter = Segmenter.load(
        model_versions._model_dir(version), threads=settings.CLAIMVISION_INFERENCE_THREADS
    )
    photos = [
        storage_read_bytes(item.working.storage, item.working.name)
        for item in ProjectItem.objects.filter(project_id=project_id).order_by("created_at")
    ]
    segmenter.predict(photos[0])  # warm-up: the workers' first photo pays for loading too
    t0 = time.perf_counter()
    for data in photos:
        segmenter.predict(data)
    seconds = time.perf_counter() - t0
    return {
        "model_version": version.version,
        "photos": len(photos),
        "seconds": round(seconds, 2),
        "photos_per_s": round(len(photos) / seconds, 3),
        "threads": settings.CLAIMVISION_INFERENCE_THREADS,
    }


def table(runs: list[dict], alone: dict) -> str:
    head = (
        f"{'workers':>8} {'import s':>9} {'e2e s':>7} {'e2e/s':>7} {'e2e/s/core':>11} "
        f"{'steady/s':>9} {'steady/s/core':>14} {'vs model':>9}"
    )
    lines = [head]
    for r in runs:
        lines.append(
            f"{'-c ' + str(r['concurrency']):>8} {r['import_s']:>9.2f} {r['end_to_end_s']:>7.1f} "
            f"{r['end_to_end_photos_per_s']:>7.2f} {r['end_to_end_photos_per_s_per_core']:>11.2f} "
            f"{r['steady_photos_per_s'] or 0:>9.2f} "
            f"{r['steady_photos_per_s_per_core'] or 0:>14.2f} "
            f"{r['ratio_end_to_end_per_core_vs_model']:>9.2f}"
        )
    lines.append(
        f"{'model':>8} {'':>9} {alone['seconds']:>7.1f} {alone['photos_per_s']:>7.2f} "
        f"{alone['photos_per_s']:>11.2f} {'':>9} {'':>14} {1.0:>9.2f}"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    paths = photo_paths(args.photos)
    if paths is None:
        print(MSG_NO_DATA)
        print(json.dumps({"skipped": MSG_NO_DATA}))
        return 0
    keep = Path(args.keep).resolve() if args.keep else None
    holder = None if keep else tempfile.TemporaryDirectory(prefix="prelabel-")
    state = keep or Path(holder.name)
    state.mkdir(parents=True, exist_ok=True)
    environment(state)
    import django

    django.setup()
    from django.core.management import call_command

    from assessment import model_versions
    from flywheel.simulation import Broker

    for name in ("celery", "kombu", "claimvision", "labelling", "config", "assessment"):
        logging.getLogger(name).setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    model_versions.model_version_active()  # registered once here, not raced by the workers
    load_start = os.getloadavg()
    zip_bytes = zip_of(paths)
    logger.info("%d photos, zip %.1f MB", len(paths), len(zip_bytes) / 1e6)
    client = data_team_client()
    try:
        with Broker():
            runs = [run_workers(client, zip_bytes, len(paths), c, state) for c in args.concurrency]
        alone = model_alone(runs[0]["project"])
    finally:
        if holder is not None:
            holder.cleanup()
    for r in runs:
        r["ratio_end_to_end_per_core_vs_model"] = round(
            r["end_to_end_photos_per_s_per_core"] / alone["photos_per_s"], 3
        )
        if r["steady_photos_per_s_per_core"]:
            r["ratio_steady_per_core_vs_model"] = round(
                r["steady_photos_per_s_per_core"] / alone["photos_per_s"], 3
            )
    load_end = os.getloadavg()
    print(table(runs, alone))
    print(
        f"load average (1, 5, 15 min) at start {tuple(round(x, 2) for x in load_start)}, "
        f"at end {tuple(round(x, 2) for x in load_end)}; {os.cpu_count()} cores"
    )
    print(
        json.dumps(
            {
                "photos": len(paths),
                "data": "bilgi-car-damage test, first by name",
                "runs": runs,
                "model_alone": alone,
                "load_avg_start": [round(x, 2) for x in load_start],
                "load_avg_end": [round(x, 2) for x in load_end],
                "cores": os.cpu_count(),
                "backend": "sqlite+embedded-redis",
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
