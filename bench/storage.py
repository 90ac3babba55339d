"""The pipeline on object storage against the local filesystem, measured in the same run.

The system of ``bench/pipeline.py`` (gunicorn with production settings and one Celery worker,
on PostgreSQL and Redis when reachable, else the embedded default) runs once with
``CLAIMVISION_STORAGE=local`` and once with ``CLAIMVISION_STORAGE=s3`` against moto's
standalone S3 server on loopback (tests/s3server.py), alternating rounds so both see the same
machine. Claims of 6 real-size photos (12 MP JPEGs) are submitted one at a time; reported per
backend: submit-to-decision p50, worker time per photo (the task's own time, from the worker's
log), the read stage (fetching the working copy from storage) and the upload time per photo
(sequential, one client: request, validation, re-encode, two stored files); ratios s3/local.
The model's first download into the worker's cache happens in the warm-up claim, not measured.
The last line printed is one JSON object.

    .venv/bin/python bench/storage.py [--claims 4] [--rounds 2]
"""

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pipeline import (  # noqa: E402
    SERVICES_DATABASE_URL,
    System,
    backend_env,
    client_session,
    draft_claim,
    reachable,
    timing_split,
    wait_decided,
)
from bench.upload import make_photo  # noqa: E402
from tests.s3server import S3Server  # noqa: E402

logger = logging.getLogger("bench.storage")
STORAGES = ("local", "s3")


def fresh_database(name: str) -> str:
    """An empty PostgreSQL database per storage backend: the timing split reads all rows."""
    for command in (["dropdb", "--if-exists"], ["createdb"]):
        subprocess.run(
            [*command, "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, check=True
        )
    return SERVICES_DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"


def timed_claims(system: System, photos: list[bytes], claims: int) -> tuple[list, list]:
    """One claim at a time: (upload seconds per photo, submit-to-decision seconds)."""
    session = client_session(system.base)
    uploads, latencies = [], []
    for _ in range(claims):
        start = time.monotonic()
        claim_id = draft_claim(session, system.base, photos)
        uploads.append((time.monotonic() - start) / len(photos))
        start = time.monotonic()
        session.post(
            f"{system.base}/api/v1/claims/{claim_id}/submit/", timeout=30
        ).raise_for_status()
        latencies.append(wait_decided(session, system.base, [claim_id])[claim_id] - start)
    return uploads, latencies


def storage_round(
    storage: str, services: bool, s3: S3Server, photos: list[bytes], claims: int
) -> dict:
    with tempfile.TemporaryDirectory() as var:
        env = backend_env("services" if services else "embedded", var)
        if services:
            env["DATABASE_URL"] = fresh_database(f"claimvision_bench_storage_{storage}")
        if storage == "s3":
            bucket = f"bench-{uuid.uuid4().hex[:10]}"
            s3.create_bucket(bucket)
            env.update(s3.env(bucket=bucket))
        with System(env, 1, Path(var)) as system:
            timed_claims(system, photos[:1], 1)  # warm-up: model load (and download), connections
            uploads, latencies = timed_claims(system, photos, claims)
            task_ms = system.task_times_ms()[1:]
            split = timing_split(env)
    return {
        "uploads_s": uploads,
        "latencies_s": latencies,
        "task_ms": task_ms,
        "read_ms": split["read"],
        "split": split,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=4, help="claims per round and backend")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per backend")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    services = reachable(5432) and reachable(6379)
    photos = [make_photo(seed, size=(4000, 3000)) for seed in range(6)]
    runs: dict[str, list[dict]] = {name: [] for name in STORAGES}
    with tempfile.TemporaryDirectory() as tmp, S3Server(Path(tmp) / "moto.log") as s3:
        for round_index in range(args.rounds):
            order = STORAGES if round_index % 2 == 0 else tuple(reversed(STORAGES))
            for storage in order:
                result = storage_round(storage, services, s3, photos, args.claims)
                runs[storage].append(result)
                logger.info(
                    "round %d %s: p50 %.3f s, worker %.1f ms/photo, split %s",
                    round_index + 1,
                    storage,
                    statistics.median(result["latencies_s"]),
                    statistics.median(result["task_ms"]),
                    result["split"],
                )

    figures = {}
    for storage, results in runs.items():
        latencies = [x for r in results for x in r["latencies_s"]]
        task_ms = [x for r in results for x in r["task_ms"]]
        uploads = [x for r in results for x in r["uploads_s"]]
        figures[storage] = {
            "upload_per_photo_p50_ms": round(statistics.median(uploads) * 1000, 1),
            "submit_to_decision_p50_s": round(statistics.median(latencies), 3),
            "worker_photo_ms": round(statistics.median(task_ms), 1),
            "read_ms": round(statistics.median(r["read_ms"] for r in results), 1),
            "claims": len(latencies),
            "photos": len(task_ms),
        }
    local, s3 = figures["local"], figures["s3"]
    summary = {
        "backend": "services" if services else "embedded",
        "photos_per_claim": len(photos),
        "local": local,
        "s3": s3,
        "latency_ratio": round(
            s3["submit_to_decision_p50_s"] / local["submit_to_decision_p50_s"], 3
        ),
        "worker_ratio": round(s3["worker_photo_ms"] / local["worker_photo_ms"], 3),
        "upload_ratio": round(s3["upload_per_photo_p50_ms"] / local["upload_per_photo_p50_ms"], 3),
        "target_ratio": 1.25,
    }
    summary["within_target"] = max(summary["latency_ratio"], summary["worker_ratio"]) <= 1.25
    print(
        f"local: p50 {local['submit_to_decision_p50_s']} s, {local['worker_photo_ms']} ms/photo; "
        f"s3: p50 {s3['submit_to_decision_p50_s']} s, {s3['worker_photo_ms']} ms/photo; "
        f"ratios {summary['latency_ratio']}x / {summary['worker_ratio']}x"
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
