"""Sustained load on loopback: customers file claims with photos and poll them to a decision.

A whole system on PostgreSQL + Redis of its own (database ``claimvision_load``, reset at start;
Redis databases 7 for the broker and 8 for the cache, flushed at start; media under a temporary
folder): gunicorn with production settings and one Celery worker with beat on ``make run``'s
queues. Simulated customers arrive at a fixed offered rate (open loop: a slow system does not
slow the arrivals); each creates a claim, uploads phone-size JPEGs, submits and polls the
claim's status until it is decided. The baseline, measured in the same run before the load, is
the same customer flow one at a time on the idle system; figures under load are reported as
ratios against it. Web and worker memory (RSS summed over each process tree) is sampled at start,
at intervals and at the end. The last line printed is one JSON object with the figures.

    .venv/bin/python bench/load.py [--duration 600] [--rate 60] [--photos 4]
"""

import argparse
import contextlib
import json
import logging
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import psutil
import redis
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.upload import free_port, make_photo, register  # noqa: E402

logger = logging.getLogger("bench.load")
DATABASE_NAME = "claimvision_load"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"
# Databases of their own, never 0 (the machine's default) and never FLUSHALL: other runs share
# this Redis. The cache is apart from the broker, as docs/operations.md asks.
BROKER_URL = "redis://127.0.0.1:6379/7"
CACHE_URL = "redis://127.0.0.1:6379/8"
QUEUES = "claims,assessment,exports,training,shadow"  # make run's queues (Makefile)
DECIDED = {"auto_decided", "in_review"}
KINDS = ("create", "upload", "submit", "poll")
# The product's per-user quotas stay on (10 claims and 60 uploads an hour): each simulated
# customer files at most this many claims, so no quota is ever reached and every 429 is news.
CLAIMS_PER_USER = 8
CLAIM_BODY = {
    "policy_number": "LOAD-0001",
    "vehicle_make": "Bench",
    "vehicle_model": "Mark",
    "vehicle_year": 2020,
    "incident_date": "2026-01-01",
}


def unique_jpeg(data: bytes, tag: str) -> bytes:
    """The same picture with a JPEG comment after SOI: new bytes (SHA-256) at no encoding cost,
    so no photo is flagged as a duplicate of another customer's and sent to review for it."""
    comment = tag.encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def tree_memory(pid: int) -> dict:
    """RSS and PSS in MB summed over a process and its descendants, plus CPU seconds.

    RSS counts pages shared between forked processes once per process (an upper bound); PSS
    splits them, so its sum is the tree's real share of memory."""
    rss = pss = cpu = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {"rss_mb": 0.0, "pss_mb": 0.0, "cpu_s": 0.0, "processes": 0}
    for proc in procs:
        try:
            info = proc.memory_full_info()
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        cpu += times.user + times.system
    return {
        "rss_mb": round(rss / 2**20, 1),
        "pss_mb": round(pss / 2**20, 1),
        "cpu_s": round(cpu, 2),
        "processes": len(procs),
    }


def postgres_cpu_s() -> float:
    """CPU seconds of the whole PostgreSQL server, exited backends included (the postmaster's
    children times). Other databases on this server are counted too: an upper bound."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if proc.info["name"] == "postgres" and times:
            total += times.user + times.system + times.children_user + times.children_system
    return total


class System:
    """gunicorn and one Celery worker (with beat) on this run's own database and broker."""

    def __init__(self, env: dict, var: Path, gunicorn_workers: int) -> None:
        self.env, self.var, self.gunicorn_workers = env, var, gunicorn_workers
        self.port = free_port()
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.worker_log = var / "worker.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "System":
        py = sys.executable
        manage = [py, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env, check=True)
        subprocess.run(
            [*manage, "model_install", "--bundled", "--activate"],
            cwd=REPO,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Own sessions: on the way out the whole group is signalled, pool children included.
        self.web = subprocess.Popen(
            [
                py,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(self.gunicorn_workers),
                # docs/operations.md's web command; a sync worker serves one request at a time.
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=self.env,
            start_new_session=True,
        )
        self.worker = subprocess.Popen(
            [
                py,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-B",
                "-Q",
                QUEUES,
                "-c",
                "1",
                "-s",
                str(self.var / "celerybeat-schedule"),
                "-n",
                f"load-{secrets.token_hex(2)}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=REPO,
            env=self.env,
            stdout=open(self.worker_log, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for proc in (self.web, self.worker):
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[2]} exited with {proc.returncode}")
            try:
                requests.get(f"{self.base}/api/schema/", timeout=10).raise_for_status()
                if b"ready." in self.worker_log.read_bytes():
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("system did not start")

    def __exit__(self, *exc) -> None:
        procs = [p for p in (self.web, self.worker) if p is not None and p.poll() is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def memory(self) -> dict:
        return {"web": tree_memory(self.web.pid), "worker": tree_memory(self.worker.pid)}


class Users:
    """Registered customers, each handed out for at most CLAIMS_PER_USER claims."""

    def __init__(self, base: str, count: int) -> None:
        with ThreadPoolExecutor(2) as pool:  # registration hashes a password: CPU-bound
            self.tokens = list(
                pool.map(lambda i: register(base, f"load{i}x{secrets.token_hex(3)}"), range(count))
            )
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            index, self._next = self._next, self._next + 1
        return self.tokens[index // CLAIMS_PER_USER]


class Recorder:
    """Every request's kind, status and latency, and every claim's decision times."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, int, float, float]] = []  # kind, status, ms, end time
        self.decisions: list[tuple[float, float, float]] = []  # client s, server s, end time
        self.failures: list[str] = []
        self.started = self.finished = self.aborted = 0
        self.start_lags: list[float] = []

    def timed(self, kind: str, expected: int, call) -> requests.Response | None:
        start = time.perf_counter()
        try:
            response = call()
            status = response.status_code
        except requests.RequestException as exc:
            response, status = None, 0  # 0: no HTTP answer (connection error, timeout)
            detail = repr(exc)
        else:
            detail = response.text[:200]
        end = time.perf_counter()
        with self.lock:
            self.requests.append((kind, status, (end - start) * 1000, time.monotonic()))
            if status != expected:
                self.failures.append(f"{kind} {status}: {detail}")
                if len(self.failures) <= 5:
                    logger.warning("%s answered %s: %s", kind, status, detail)
        return response if status == expected else None


def customer(
    base: str, token: str, photos: list[bytes], rec: Recorder, poll_s: float, decide_s: float
) -> bool:
    """One customer's whole claim: create, upload, submit, poll until decided."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    response = rec.timed(
        "create", 201, lambda: session.post(f"{base}/api/v1/claims/", json=CLAIM_BODY, timeout=60)
    )
    if response is None:
        return False
    claim_id = response.json()["id"]
    for index, data in enumerate(photos):
        body = unique_jpeg(data, f"{claim_id}/{index}")
        response = rec.timed(
            "upload",
            201,
            lambda index=index, body=body: session.post(
                f"{base}/api/v1/claims/{claim_id}/photos/",
                files={"image": (f"photo-{index}.jpg", body, "image/jpeg")},
                timeout=60,
            ),
        )
        if response is None:
            return False
    submitted = time.monotonic()
    response = rec.timed(
        "submit",
        202,
        lambda: session.post(f"{base}/api/v1/claims/{claim_id}/submit/", timeout=60),
    )
    if response is None:
        return False
    submitted_at = datetime.fromisoformat(response.json()["submitted_at"])
    while time.monotonic() < submitted + decide_s:
        time.sleep(poll_s)
        response = rec.timed(
            "poll", 200, lambda: session.get(f"{base}/api/v1/claims/{claim_id}/", timeout=60)
        )
        if response is None:
            return False
        claim = response.json()
        if claim["status"] in DECIDED:
            decided_at = datetime.fromisoformat(claim["decision"]["decided_at"])
            with rec.lock:
                rec.decisions.append(
                    (
                        time.monotonic() - submitted,
                        (decided_at - submitted_at).total_seconds(),
                        time.monotonic(),
                    )
                )
            return True
    with rec.lock:
        rec.failures.append(f"claim {claim_id} not decided in {decide_s} s")
    return False


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def latency_table(rec: Recorder) -> dict:
    table = {}
    for kind in KINDS:
        ms = [r[2] for r in rec.requests if r[0] == kind and r[1] < 400]
        table[kind] = {"n": len(ms), "p50": pct(ms, 50), "p95": pct(ms, 95), "p99": pct(ms, 99)}
    return table


def decision_table(rec: Recorder) -> dict:
    client = [d[0] for d in rec.decisions]
    server = [d[1] for d in rec.decisions]

    def q(values, p):
        return round(float(np.percentile(values, p)), 3) if values else None

    return {
        "n": len(client),
        "client_p50_s": q(client, 50),
        "client_p95_s": q(client, 95),
        "server_p50_s": q(server, 50),
        "server_p95_s": q(server, 95),
        "server_p99_s": q(server, 99),
    }


def baseline_run(system: System, users: Users, photos, claims: int, poll_s: float) -> Recorder:
    """The same customer flow, one claim at a time on the otherwise idle system."""
    rec = Recorder()
    for _ in range(claims):
        if not customer(system.base, users.take(), photos, rec, poll_s, 120):
            raise RuntimeError(f"baseline claim failed: {rec.failures[-1:]}")
    return rec


def queue_depth(client: redis.Redis) -> int:
    return sum(client.llen(name) for name in QUEUES.split(","))


def load_run(system: System, users: Users, photos, args, broker: redis.Redis):
    """Arrivals at a fixed rate for the duration; then the claims in flight finish."""
    rec = Recorder()
    interval = 60.0 / args.rate
    arrivals = int(args.duration / interval)
    samples: list[dict] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> dict:
        with rec.lock:
            done, started, in_flight = len(rec.decisions), rec.started, rec.started - rec.finished
        row = {
            "t_s": round(time.monotonic() - t0, 1),
            "started": started,
            "decided": done,
            "in_flight": in_flight,
            "queue": queue_depth(broker),
            "load1": round(os.getloadavg()[0], 2),
            **system.memory(),
        }
        samples.append(row)
        logger.info(
            "t=%5.0fs started %d decided %d in flight %d queue %d load %.2f | "
            "web rss %.0f MB pss %.0f | worker rss %.0f MB pss %.0f",
            row["t_s"],
            started,
            done,
            in_flight,
            row["queue"],
            row["load1"],
            row["web"]["rss_mb"],
            row["web"]["pss_mb"],
            row["worker"]["rss_mb"],
            row["worker"]["pss_mb"],
        )
        return row

    def sampler() -> None:
        while not stop.wait(args.sample_interval):
            sample()

    def arrive(scheduled: float) -> None:
        with rec.lock:
            rec.started += 1
            rec.start_lags.append(time.monotonic() - scheduled)
        ok = customer(
            system.base, users.take(), photos, rec, args.poll_interval, args.decide_timeout
        )
        with rec.lock:
            rec.finished += 1
            rec.aborted += not ok

    sample()
    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    # Enough threads that arrivals never wait for a free one at the chosen rate (each customer
    # lives about 1-3 s); a bounded pool keeps an overloaded system from being flooded.
    with ThreadPoolExecutor(max_workers=args.max_customers) as pool:
        for index in range(arrivals):
            scheduled = t0 + index * interval
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(arrive, scheduled)
        issued = time.monotonic() - t0
    wall = time.monotonic() - t0
    stop.set()
    thread.join()
    sample()
    return rec, samples, issued, wall


def memory_verdict(samples: list[dict], warmup_s: float) -> dict:
    """Start after warm-up, end, ratio and slope per tree: flat when end/start <= 1.10."""
    settled = [s for s in samples if s["t_s"] >= warmup_s] or samples[-1:]
    out = {}
    for tree in ("web", "worker"):
        start, end = settled[0][tree], samples[-1][tree]
        t = np.array([s["t_s"] for s in settled])
        y = np.array([s[tree]["pss_mb"] for s in settled])
        slope = float(np.polyfit(t, y, 1)[0]) * 60 if len(settled) >= 3 else 0.0
        out[tree] = {
            "rss_start_mb": start["rss_mb"],
            "rss_end_mb": end["rss_mb"],
            "rss_max_mb": max(s[tree]["rss_mb"] for s in samples),
            "pss_start_mb": start["pss_mb"],
            "pss_end_mb": end["pss_mb"],
            "rss_end_over_start": round(end["rss_mb"] / start["rss_mb"], 3),
            "pss_slope_mb_per_min": round(slope, 2),
        }
    out["flat"] = all(out[t]["rss_end_over_start"] <= 1.10 for t in ("web", "worker"))
    return out


def reset_services() -> None:
    for command in (
        ["dropdb", "--if-exists", "--force", DATABASE_NAME],
        ["createdb", DATABASE_NAME],
    ):
        subprocess.run([*command, "-h", "127.0.0.1", "-U", "postgres"], check=True)
    for url in (BROKER_URL, CACHE_URL):
        redis.Redis.from_url(url).flushdb()


def system_env(var: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CLAIMVISION_VAR_DIR=var,
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=BROKER_URL,
        CLAIMVISION_CACHE_URL=CACHE_URL,
        # Every customer registers from 127.0.0.1: the per-address anonymous limit (120 a
        # minute) would refuse the pool's registrations. Per-user quotas stay as shipped.
        CLAIMVISION_ANON_THROTTLE="100000/minute",
        PYTHONUNBUFFERED="1",
    )
    return env


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of arrivals")
    parser.add_argument("--rate", type=float, default=60, help="claims offered per minute")
    parser.add_argument("--photos", type=int, default=4, help="photos per claim")
    parser.add_argument("--photo-size", default="1600x1200")
    parser.add_argument("--baseline-claims", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between polls")
    parser.add_argument("--decide-timeout", type=float, default=120)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--max-customers", type=int, default=32)
    parser.add_argument("--sample-interval", type=float, default=30)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally blocks still run

    width, height = (int(v) for v in args.photo_size.split("x"))
    base_photos = [make_photo(seed, size=(width, height)) for seed in range(args.photos)]
    photo_kb = round(sum(map(len, base_photos)) / len(base_photos) / 1024)
    load_start = os.getloadavg()
    logger.info(
        "%d photos of %dx%d (%d KB) per claim, %.1f claims/min for %.0f s; load %s",
        args.photos,
        width,
        height,
        photo_kb,
        args.rate,
        args.duration,
        load_start,
    )
    arrivals = int(args.duration * args.rate / 60)
    claims = arrivals + args.baseline_claims + 2
    reset_services()
    broker = redis.Redis.from_url(BROKER_URL)
    with (
        tempfile.TemporaryDirectory(prefix="claimvision-load-") as var,
        System(system_env(var), Path(var), args.gunicorn_workers) as system,
    ):
        ready = system.memory()
        users = Users(system.base, math.ceil(claims / CLAIMS_PER_USER))
        baseline_run(system, users, base_photos, 2, args.poll_interval)  # warm-up
        baseline = baseline_run(
            system, users, base_photos, args.baseline_claims, args.poll_interval
        )
        cpu_before = {
            **system.memory(),
            "client": {"cpu_s": sum(psutil.Process().cpu_times()[:2])},
            "postgres": {"cpu_s": postgres_cpu_s()},
        }
        machine_cpu = psutil.cpu_times()
        rec, samples, issued, wall = load_run(system, users, base_photos, args, broker)
        cpu_after = {
            **system.memory(),
            "client": {"cpu_s": sum(psutil.Process().cpu_times()[:2])},
            "postgres": {"cpu_s": postgres_cpu_s()},
        }
        machine_cpu_after = psutil.cpu_times()
        queue_end = queue_depth(broker)

    def busy(t) -> float:
        return t.user + t.nice + t.system + t.irq + t.softirq + t.steal

    total = sum(machine_cpu_after) - sum(machine_cpu)
    machine_share = (busy(machine_cpu_after) - busy(machine_cpu)) / total if total else 0.0

    base_lat, load_lat = latency_table(baseline), latency_table(rec)
    ratios = {
        kind: {
            "p50_over_base_p50": round(load_lat[kind]["p50"] / base_lat[kind]["p50"], 2),
            "p95_over_base_p50": round(load_lat[kind]["p95"] / base_lat[kind]["p50"], 2),
        }
        for kind in KINDS
        if load_lat[kind]["n"] and base_lat[kind]["n"]
    }
    base_dec, load_dec = decision_table(baseline), decision_table(rec)
    if load_dec["n"]:
        ratios["submit_to_decision"] = {
            "p50_over_base_p50": round(load_dec["server_p50_s"] / base_dec["server_p50_s"], 2),
            "p95_over_base_p50": round(load_dec["server_p95_s"] / base_dec["server_p50_s"], 2),
        }
    statuses: dict[str, int] = {}
    for _, status, _, _ in rec.requests:
        if status >= 400 or status == 0:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
    errors_5xx = sum(n for s, n in statuses.items() if s.startswith("5"))
    memory = memory_verdict(samples, warmup_s=min(60.0, args.duration / 5))
    cpu = {
        tree: round(cpu_after[tree]["cpu_s"] - cpu_before[tree]["cpu_s"], 1)
        for tree in ("web", "worker", "client", "postgres")
    }
    decided = len(rec.decisions)
    figures = {
        "duration_s": args.duration,
        "offered_claims_per_min": args.rate,
        "photos_per_claim": args.photos,
        "photo_px": args.photo_size,
        "photo_kb": photo_kb,
        "claims_started": rec.started,
        "claims_decided": decided,
        "claims_failed": rec.aborted,
        "decided_per_min": round(decided / wall * 60, 2),
        "requests_per_s": round(len(rec.requests) / wall, 2),
        "uploads_per_s": round(load_lat["upload"]["n"] / wall, 2),
        "wall_s": round(wall, 1),
        "latency_ms": load_lat,
        "baseline_ms": base_lat,
        "submit_to_decision": load_dec,
        "baseline_submit_to_decision": base_dec,
        "ratios": ratios,
        "errors_by_status": statuses,
        "errors_5xx": errors_5xx,
        "throttled_429": statuses.get("429", 0),
        "failures": len(rec.failures),
        "start_lag_p95_s": round(float(np.percentile(rec.start_lags, 95)), 3),
        "queue_max": max(s["queue"] for s in samples),
        "queue_end": queue_end,
        "rss_mb_ready": {t: ready[t]["rss_mb"] for t in ("web", "worker")},
        "memory": memory,
        "cpu_s_per_claim": {t: round(cpu[t] / max(decided, 1), 3) for t in cpu},
        "cores_used": {t: round(cpu[t] / wall, 2) for t in cpu},
        "machine_cpu_busy": round(machine_share, 3),
        "loadavg_start": [round(v, 2) for v in load_start],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "quotas": "as shipped (10 claims, 60 uploads per user an hour); anon 100000/minute",
    }
    print_report(figures, issued)
    print(json.dumps(figures))
    return figures


def print_report(f: dict, issued: float) -> None:
    print(
        f"offered {f['offered_claims_per_min']} claims/min ({f['photos_per_claim']} photos of "
        f"{f['photo_px']}, {f['photo_kb']} KB) for {issued:.0f} s; wall {f['wall_s']} s"
    )
    print(
        f"claims started {f['claims_started']}, decided {f['claims_decided']}, failed "
        f"{f['claims_failed']}: {f['decided_per_min']} decided/min, {f['requests_per_s']} "
        f"requests/s, {f['uploads_per_s']} uploads/s"
    )
    print(f"{'kind':8} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'base p50':>9} ratios")
    for kind in KINDS:
        row, base = f["latency_ms"][kind], f["baseline_ms"][kind]
        ratio = f["ratios"].get(kind, {})
        print(
            f"{kind:8} {row['n']:>6} {row['p50']!s:>9} {row['p95']!s:>9} {row['p99']!s:>9} "
            f"{base['p50']!s:>9} p50 x{ratio.get('p50_over_base_p50')}, "
            f"p95 x{ratio.get('p95_over_base_p50')} (of unloaded p50)"
        )
    d, b = f["submit_to_decision"], f["baseline_submit_to_decision"]
    print(
        f"submit→decision (server clock) p50 {d['server_p50_s']} s, p95 {d['server_p95_s']} s, "
        f"p99 {d['server_p99_s']} s; unloaded p50 {b['server_p50_s']} s; as the client saw it "
        f"(polling) p50 {d['client_p50_s']} s, p95 {d['client_p95_s']} s"
    )
    print(
        f"errors by status {f['errors_by_status'] or '{}'}: 5xx {f['errors_5xx']}, 429 "
        f"{f['throttled_429']}; arrival lag p95 {f['start_lag_p95_s']} s; broker queue max "
        f"{f['queue_max']}, at end {f['queue_end']}"
    )
    m = f["memory"]
    for tree in ("web", "worker"):
        t = m[tree]
        print(
            f"{tree} RSS ready {f['rss_mb_ready'][tree]} MB, after warm-up {t['rss_start_mb']} "
            f"MB, end {t['rss_end_mb']} MB (x{t['rss_end_over_start']}), max {t['rss_max_mb']} "
            f"MB; PSS {t['pss_start_mb']} -> {t['pss_end_mb']} MB, slope "
            f"{t['pss_slope_mb_per_min']} MB/min"
        )
    print(f"memory flat (end/start <= 1.10 after warm-up): {m['flat']}")
    print(
        f"CPU per decided claim: web {f['cpu_s_per_claim']['web']} s, worker "
        f"{f['cpu_s_per_claim']['worker']} s, load client {f['cpu_s_per_claim']['client']} s; "
        f"cores used "
        f"web {f['cores_used']['web']}, worker {f['cores_used']['worker']}, client "
        f"{f['cores_used']['client']}, postgres {f['cores_used']['postgres']}; "
        f"machine busy {f['machine_cpu_busy']:.0%}; load average "
        f"{f['loadavg_start']} -> {f['loadavg_end']}"
    )


if __name__ == "__main__":
    main()
