"""Submit-to-decision latency and worker throughput of the whole pipeline.

Claims of 6 real-size photos (12 MP JPEGs) are created, uploaded and submitted through the API
of a running system: gunicorn with production settings plus Celery workers, on PostgreSQL and
Redis when reachable and on the embedded default (SQLite, the private Redis broker). The baseline,
measured in the same run on the same photos, is the bare model: ``Segmenter.predict`` on the
working copy's bytes in this process. Figures are ratios against it where that makes sense;
the last line printed is one JSON object.

    .venv/bin/python bench/pipeline.py [--claims 5] [--backends embedded,services]
"""

import argparse
import json
import logging
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.upload import free_port, make_photo, register  # noqa: E402
from config.broker import EmbeddedBroker  # noqa: E402

logger = logging.getLogger("bench.pipeline")
SERVICES_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/claimvision_bench"
SERVICES_REDIS_URL = "redis://127.0.0.1:6379/3"
TASK_DONE = re.compile(r"Task assessment\.assess_photo\[[^\]]+\] succeeded in ([0-9.]+)s")
DECIDED = {"auto_decided", "in_review"}


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 2):
            return True
    except OSError:
        return False


class System:
    """gunicorn + N Celery worker processes sharing one database and broker."""

    def __init__(self, env: dict, workers: int, log_dir: Path) -> None:
        self.env, self.workers, self.log_dir = env, workers, log_dir
        self.procs: list[subprocess.Popen] = []
        self.worker_logs: list[Path] = []
        self.port = free_port()

    def __enter__(self) -> "System":
        py = sys.executable
        self.broker = None
        if not self.env.get("REDIS_URL"):  # the embedded default's private Redis, as `make run`
            self.broker = EmbeddedBroker(Path(self.env["CLAIMVISION_VAR_DIR"]) / "broker").start()
        subprocess.run(
            [py, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env, check=True
        )
        self.procs.append(
            subprocess.Popen(
                [
                    py,
                    "-m",
                    "gunicorn",
                    "config.wsgi",
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "-w",
                    "2",
                    "--timeout",
                    "120",
                    "--log-level",
                    "warning",
                ],
                cwd=REPO,
                env=self.env,
            )
        )
        threads = max(1, 2 // self.workers)  # two cores: never more inference threads than cores
        for index in range(self.workers):
            log = self.log_dir / f"worker-{self.workers}-{index}.log"
            self.worker_logs.append(log)
            env = {**self.env, "CLAIMVISION_INFERENCE_THREADS": str(threads)}
            self.procs.append(
                subprocess.Popen(
                    [
                        py,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-Q",
                        "claims,assessment",
                        "-c",
                        "1",
                        "-n",
                        f"bench{index}-{secrets.token_hex(2)}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "-l",
                        "INFO",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=open(log, "wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ready = all(b"ready." in log.read_bytes() for log in self.worker_logs if log.exists())
            try:
                requests.get(f"{self.base}/api/schema/", timeout=10)
                if ready and len(self.worker_logs) == self.workers:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        raise RuntimeError("system did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.broker:
            self.broker.stop()

    def task_times_ms(self) -> list[float]:
        times = []
        for log in self.worker_logs:
            times += [float(s) * 1000 for s in TASK_DONE.findall(log.read_text(errors="replace"))]
        return times


def client_session(base: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {register(base, f'bench-{secrets.token_hex(4)}')}"
    return session


def draft_claim(session: requests.Session, base: str, photos: list[bytes]) -> str:
    claim = session.post(
        f"{base}/api/v1/claims/",
        json={
            "policy_number": "BENCH-0002",
            "vehicle_make": "Bench",
            "vehicle_model": "Mark",
            "vehicle_year": 2020,
            "incident_date": "2026-01-01",
        },
        timeout=30,
    ).json()["id"]
    for index, data in enumerate(photos):
        response = session.post(
            f"{base}/api/v1/claims/{claim}/photos/",
            files={"image": (f"p{index}.jpg", data, "image/jpeg")},
            timeout=120,
        )
        response.raise_for_status()
    return claim


def wait_decided(session: requests.Session, base: str, claim_ids: list[str], timeout=300) -> dict:
    """Poll until every claim is decided; returns claim id -> monotonic time of its decision."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(claim_ids) and time.monotonic() < deadline:
        for claim_id in claim_ids:
            if claim_id not in done:
                status = session.get(f"{base}/api/v1/claims/{claim_id}/", timeout=30).json()[
                    "status"
                ]
                if status in DECIDED:
                    done[claim_id] = time.monotonic()
        # 50 ms: fine enough for sub-second latencies, light enough not to steal the worker's CPU.
        time.sleep(0.05)
    if len(done) < len(claim_ids):
        raise RuntimeError(f"only {len(done)} of {len(claim_ids)} claims decided in {timeout}s")
    return done


def latency_run(system: System, photos: list[bytes], claims: int) -> list[float]:
    """One claim at a time on an idle system: submit → decision, seconds."""
    session = client_session(system.base)
    latencies = []
    for _ in range(claims):
        claim_id = draft_claim(session, system.base, photos)
        start = time.monotonic()
        session.post(
            f"{system.base}/api/v1/claims/{claim_id}/submit/", timeout=30
        ).raise_for_status()
        latencies.append(wait_decided(session, system.base, [claim_id])[claim_id] - start)
    return latencies


def throughput_run(system: System, photos: list[bytes], claims: int) -> float:
    """Several claims submitted at once: assessed photos per second until all are decided."""
    session = client_session(system.base)
    claim_ids = [draft_claim(session, system.base, photos) for _ in range(claims)]
    start = time.monotonic()
    for claim_id in claim_ids:
        session.post(
            f"{system.base}/api/v1/claims/{claim_id}/submit/", timeout=30
        ).raise_for_status()
    finished = max(wait_decided(session, system.base, claim_ids).values())
    return claims * len(photos) / (finished - start)


def bare_model_ms(photos: list[bytes], repeats: int = 3) -> float:
    """The baseline: Segmenter.predict on each photo's working copy, in this process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import io

    from claims.images import ingest
    from ml.inference import Segmenter

    # The workers' own inference settings (config.settings): spinning threads are 4-7% faster
    # alone, so a baseline with them would charge the worker for a setting, not for overhead.
    spinning = os.environ.get("CLAIMVISION_INFERENCE_SPINNING", "false").lower() in ("1", "true")
    segmenter = Segmenter.load(threads=2, spinning=spinning)
    working = [
        ingest(io.BytesIO(p), max_bytes=25 << 20, max_pixels=50_000_000, max_side=2048)[1]
        for p in photos
    ]
    segmenter.predict(working[0])  # warm-up
    times = []
    for _ in range(repeats):
        for data in working:
            start = time.perf_counter()
            segmenter.predict(data)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


SPLIT_SCRIPT = """
import json, statistics
from assessment.models import PhotoAssessment
rows = [a.timings_ms for a in PhotoAssessment.objects.all()]
keys = ("read", "decode", "model", "post", "db")
print(json.dumps({k: round(statistics.median(r.get(k, 0) for r in rows), 1) for k in keys}))
"""


def timing_split(env: dict) -> dict:
    """Median per-photo worker time by stage, from the timings each assessment stores."""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SPLIT_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def backend_env(name: str, var: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CLAIMVISION_VAR_DIR=var,
        CLAIMVISION_ANON_THROTTLE="10000/minute",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if name == "services":
        env.update(DATABASE_URL=SERVICES_DATABASE_URL, REDIS_URL=SERVICES_REDIS_URL)
    return env


def ensure_services_database() -> None:
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", "claimvision_bench"],
        capture_output=True,
        check=False,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=5, help="claims per latency run")
    parser.add_argument("--throughput-claims", type=int, default=3)
    parser.add_argument("--backends", default="embedded,services")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    photos = [make_photo(seed, size=(4000, 3000)) for seed in range(6)]
    bare_before = bare_model_ms(photos)

    results: dict[str, dict] = {}
    backends = [b for b in args.backends.split(",") if b]
    if "services" in backends and not (reachable(5432) and reachable(6379)):
        print("PostgreSQL/Redis not reachable: skipping the services backend")
        backends.remove("services")
    for backend in backends:
        if backend == "services":
            ensure_services_database()
        figures: dict = {}
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as var:
                env = backend_env(backend, var)
                with System(env, workers, Path(var)) as system:
                    if workers == 1:
                        latency_run(system, photos[:1], 1)  # warm-up: model load, connections
                        latencies = latency_run(system, photos, args.claims)
                        task_ms = system.task_times_ms()
                        figures["submit_to_decision_p50_s"] = round(statistics.median(latencies), 3)
                        figures["submit_to_decision_p95_s"] = round(
                            float(np.percentile(latencies, 95)), 3
                        )
                        figures["worker_photo_ms"] = round(statistics.median(task_ms[1:]), 1)
                        figures["worker_split_ms"] = timing_split(env)
                    figures[f"photos_per_s_{workers}_worker{'s' if workers > 1 else ''}"] = round(
                        throughput_run(system, photos, args.throughput_claims), 2
                    )
        results[backend] = figures
        print(
            f"{backend}: submit→decision p50 {figures['submit_to_decision_p50_s']} s, "
            f"p95 {figures['submit_to_decision_p95_s']} s; "
            f"worker {figures['worker_photo_ms']} ms/photo; "
            f"{figures['photos_per_s_1_worker']} photos/s (1 worker), "
            f"{figures['photos_per_s_2_workers']} photos/s (2 workers); "
            f"split {figures['worker_split_ms']}"
        )

    # The baseline is measured before and after the system runs, on the same (shared, noisy)
    # machine, and the ratios use their mean.
    bare = (bare_before + bare_model_ms(photos)) / 2
    print(f"bare model (Segmenter.predict on the working copy): {bare:.1f} ms per photo")
    for backend, figures in results.items():
        figures["overhead_ratio"] = round(figures["worker_photo_ms"] / bare, 2)
        print(
            f"{backend}: worker {figures['worker_photo_ms']} ms/photo = "
            f"{figures['overhead_ratio']}x bare model"
        )
    headline = results.get("services") or results["embedded"]
    summary = {
        **headline,
        "bare_model_ms": round(bare, 1),
        "backend": "services" if "services" in results else "embedded",
        "by_backend": results,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
