"""Upload throughput on loopback against the production server setup (gunicorn, production
settings; PostgreSQL and Redis when DATABASE_URL/REDIS_URL are set, else the embedded default).

Photos of 3-5 MB are uploaded by several concurrent clients. The in-process cost of validation
and re-encoding of the same bytes is measured in the same run, so the share of an upload's time
that is ours (not HTTP, multipart parsing or the database) is a ratio, robust to a noisy machine.
The last line printed is one JSON object with the figures.

    .venv/bin/python bench/upload.py [--clients 4] [--uploads 48]
"""

import argparse
import io
import json
import logging
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
logger = logging.getLogger("bench.upload")


def make_photo(seed: int, size=(4000, 3000)) -> bytes:
    """A 12 MP JPEG of 3-5 MB: smooth shading plus sensor-like noise, like a phone photo."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 110 + 60 * np.sin(x / (300 + 40 * seed)) * np.cos(y / 410)
    img = np.stack([base + 20 * seed % 40, base * 0.9, base * 0.8], axis=-1)
    img += rng.normal(0, 11, size=img.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure_in_process(photos: list[bytes], repeats: int) -> float:
    """Median ms of our validation + working copy + quality check on the same bytes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from claims import images

    times = []
    for _ in range(repeats):
        for data in photos:
            start = time.perf_counter()
            info, _, grey = images.ingest(
                io.BytesIO(data), max_bytes=25 << 20, max_pixels=50_000_000, max_side=2048
            )
            images.quality_check(grey, width=info.width, height=info.height)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def start_server(env: dict, port: int, workers: int) -> subprocess.Popen:
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True
    )
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/schema/", timeout=10)
            return proc
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def register(base: str, name: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/register/",
        json={
            "username": name,
            "email": f"{name}@bench.test",
            "password": secrets.token_urlsafe(16),
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


def new_claim(session: requests.Session, base: str) -> str:
    response = session.post(
        f"{base}/api/v1/claims/",
        json={
            "policy_number": "BENCH-0001",
            "vehicle_make": "Bench",
            "vehicle_model": "Mark",
            "vehicle_year": 2020,
            "incident_date": "2026-01-01",
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["id"]


def run_clients(base: str, photos: list[bytes], clients: int, uploads: int):
    durations: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = uploads // clients

    def client(index: int) -> None:
        nonlocal errors
        session = requests.Session()
        session.headers["Authorization"] = (
            f"Token {register(base, f'bench{index}-{secrets.token_hex(3)}')}"
        )
        claim_id, in_claim = new_claim(session, base), 0
        for n in range(per_client):
            if in_claim == 12:
                claim_id, in_claim = new_claim(session, base), 0
            data = photos[(index + n) % len(photos)]
            start = time.perf_counter()
            response = session.post(
                f"{base}/api/v1/claims/{claim_id}/photos/",
                files={"image": (f"photo-{n}.jpg", data, "image/jpeg")},
                timeout=120,
            )
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                if response.status_code == 201:
                    durations.append(elapsed)
                else:
                    errors += 1
                    logger.warning(
                        "upload failed: %s %s", response.status_code, response.text[:200]
                    )
            in_claim += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return durations, errors, wall


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--uploads", type=int, default=48)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    photos = [make_photo(seed) for seed in range(4)]
    sizes_mb = [round(len(p) / 2**20, 2) for p in photos]
    logger.info("photos: %s MB, 4000x3000", sizes_mb)

    with tempfile.TemporaryDirectory() as var:
        env = dict(os.environ)
        env.update(
            DJANGO_ENV="production",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="false",
            CLAIMVISION_VAR_DIR=var,
            CLAIMVISION_ANON_THROTTLE="10000/minute",
        )
        backend = "postgresql+redis" if env.get("DATABASE_URL") else "sqlite+embedded-redis"
        port = free_port()
        server = start_server(env, port, args.gunicorn_workers)
        try:
            base = f"http://127.0.0.1:{port}"
            run_clients(base, photos[:1], 1, 2)  # warm-up: imports, connections
            alone, _, _ = run_clients(base, photos, 1, 8)  # one client: latency without queueing
            durations, errors, wall = run_clients(base, photos, args.clients, args.uploads)
        finally:
            server.terminate()
            server.wait(timeout=30)

    ours_ms = measure_in_process(photos, repeats=2)  # the baseline: our own work, in process
    p50 = statistics.median(durations) if durations else float("nan")
    figures = {
        "backend": backend,
        "upload_p50_ms": round(p50, 1),
        "upload_p95_ms": round(percentile(durations, 95), 1) if durations else None,
        "uploads_per_s": round(len(durations) / wall, 2),
        "clients": args.clients,
        "errors": errors,
        "photo_mb": sizes_mb,
        "validation_reencode_ms": round(ours_ms, 1),
        # Our work (validation, re-encode, quality check) against one unqueued upload's latency.
        "upload_single_client_p50_ms": round(statistics.median(alone), 1),
        "validation_share_of_upload": round(ours_ms / statistics.median(alone), 3),
    }
    print(f"backend {backend}: {len(durations)} uploads by {args.clients} clients in {wall:.1f} s")
    print(
        f"upload p50 {figures['upload_p50_ms']} ms, p95 {figures['upload_p95_ms']} ms, "
        f"{figures['uploads_per_s']} uploads/s, errors {errors}"
    )
    print(
        f"validation + re-encode in process: {ours_ms:.1f} ms "
        f"= {figures['validation_share_of_upload']} of a single client's upload p50 "
        f"({figures['upload_single_client_p50_ms']} ms)"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
