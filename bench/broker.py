"""The embedded default's broker: kombu's filesystem transport against a private Redis server.

Both are measured in the same run on the same machine (the filesystem transport is the baseline
the ratios are against), with kombu directly, as Celery uses it:

- race: one producer (at ``--rate`` messages a second, which both keep up with) and one consumer
  process on one queue for ``--seconds``; the consumer acknowledges each message. Counted:
  messages sent and received, duplicates, messages lost (sent, never received after a drain),
  errors raised inside the consumer.
- round trip: one message sent and received at a time (the hand-off an idle worker sees).
- kill: a consumer takes a message and is killed with SIGKILL before acknowledging it; does a
  new consumer get it (``visibility_timeout`` is 2 s here; the product's is an hour and its
  sweeper re-sends the claim first), and after how long.
- restart: messages waiting in the queue when the broker stops (Redis: shutdown and start
  again; files: nothing to restart), still there afterwards?

    python bench/broker.py [--seconds 20]

Ends with one JSON line. Results: docs/benchmarks.md.
"""

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kombu import Connection  # noqa: E402

from config.broker import EmbeddedBroker  # noqa: E402

QUEUE = "bench"
VISIBILITY_S = 2


def connection_for(kind: str, where: Path) -> Connection:
    if kind == "redis":
        return Connection(
            f"redis+socket://{where / 'redis.sock'}",
            transport_options={"visibility_timeout": VISIBILITY_S},
        )
    folder = str(where / "queue")
    return Connection(
        "filesystem://",
        transport_options={
            "data_folder_in": folder,
            "data_folder_out": folder,
            "processed_folder": str(where / "processed"),
            "control_folder": str(where / "control"),
            "store_processed": False,
            "polling_interval": 0.01,  # the product used 0.1; a faster poll only helps it
        },
    )


def produce(kind: str, where: str, seconds: float, rate: float, sent) -> None:
    """Send at a fixed rate both transports keep up with: the race is about what is lost."""
    with connection_for(kind, Path(where)) as conn:
        queue = conn.SimpleQueue(QUEUE)
        start = time.monotonic()
        n = 0
        while (now := time.monotonic()) < start + seconds:
            if n < (now - start) * rate:
                queue.put({"n": n, "t": time.time()})
                n += 1
            else:
                time.sleep(0.0005)
        sent.value = n


def consume(kind: str, where: str, producing, results) -> None:
    """Receive and acknowledge until the producer is done and nothing came for 3 s."""
    received, errors = set(), 0
    duplicates = 0
    error_kinds: dict[str, int] = {}
    with connection_for(kind, Path(where)) as conn:
        queue = conn.SimpleQueue(QUEUE)
        last = time.monotonic()
        while producing.value or time.monotonic() - last < 3:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                continue
            except Exception as exc:  # the race under test: count it and carry on
                errors += 1
                error_kinds[type(exc).__name__] = error_kinds.get(type(exc).__name__, 0) + 1
                continue
            body = message.payload
            if body["n"] in received:
                duplicates += 1
            received.add(body["n"])
            message.ack()
            last = time.monotonic()
    results.put(
        {
            "received": len(received),
            "duplicates": duplicates,
            "errors": errors,
            "error_kinds": error_kinds,
        }
    )


def take_without_ack(kind: str, where: str, got) -> None:
    with connection_for(kind, Path(where)) as conn:
        message = conn.SimpleQueue(QUEUE).get(timeout=10)
        got.value = message.payload["n"]
        time.sleep(600)  # killed here, the message never acknowledged


def race(kind: str, where: Path, seconds: float, rate: float) -> dict:
    sent, producing, results = mp.Value("l", 0), mp.Value("b", 1), mp.Queue()
    consumer = mp.Process(target=consume, args=(kind, str(where), producing, results))
    producer = mp.Process(target=produce, args=(kind, str(where), seconds, rate, sent))
    consumer.start()
    producer.start()
    producer.join()
    producing.value = 0
    figures = results.get(timeout=600)
    consumer.join()
    figures["sent"] = sent.value
    figures["lost"] = sent.value - figures["received"]
    return figures


def kill(kind: str, where: Path) -> dict:
    with connection_for(kind, where) as conn:
        conn.SimpleQueue(QUEUE).put({"n": -1, "t": time.time()})
    got = mp.Value("l", 0)
    taker = mp.Process(target=take_without_ack, args=(kind, str(where), got))
    taker.start()
    deadline = time.monotonic() + 10
    while got.value != -1 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(taker.pid, signal.SIGKILL)
    taker.join()
    killed_at = time.monotonic()
    deadline = killed_at + VISIBILITY_S * 10
    with connection_for(kind, where) as conn:
        queue = conn.SimpleQueue(QUEUE)
        while time.monotonic() < deadline:
            try:
                message = queue.get(timeout=0.2)
            except queue.Empty:
                continue
            message.ack()
            after = round(time.monotonic() - killed_at, 2)
            return {"redelivered": message.payload["n"] == -1, "after_s": after}
    return {"redelivered": False, "after_s": None}


def round_trip(kind: str, where: Path, count: int = 100) -> dict:
    """One message at a time, sent and received: the hand-off latency an idle worker sees."""
    times = []
    with connection_for(kind, where) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for n in range(count):
            start = time.perf_counter()
            queue.put({"n": n, "t": time.time()})
            queue.get(timeout=10).ack()
            times.append(time.perf_counter() - start)
    return {"p50_ms": round(statistics.median(times) * 1000, 2)}


def restart(broker: EmbeddedBroker | None, kind: str, where: Path, count: int = 100) -> dict:
    with connection_for(kind, where) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for n in range(count):
            queue.put({"n": n, "t": time.time()})
    if broker is not None:
        broker.restart()
    kept = 0
    with connection_for(kind, where) as conn:
        queue = conn.SimpleQueue(QUEUE)
        while True:
            try:
                queue.get(timeout=1).ack()
                kept += 1
            except queue.Empty:
                break
    return {"queued": count, "kept": kept}


def measure(kind: str, seconds: float, rate: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="cvb-") as tmp:
        where = Path(tmp)
        broker = None
        if kind == "redis":
            broker = EmbeddedBroker(where).start()
        else:
            (where / "queue").mkdir()
            (where / "processed").mkdir()
        try:
            figures = {"round_trip": round_trip(kind, where)}
            figures["race"] = race(kind, where, seconds, rate)
            figures["kill"] = kill(kind, where)
            figures["restart"] = restart(broker, kind, where)
        finally:
            if broker:
                broker.stop()
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second sent")
    args = parser.parse_args(argv)
    results = {kind: measure(kind, args.seconds, args.rate) for kind in ("filesystem", "redis")}
    for kind, f in results.items():
        r = f["race"]
        print(
            f"{kind:10s} race {args.seconds:.0f}s: sent {r['sent']}, received {r['received']}, "
            f"lost {r['lost']}, duplicates {r['duplicates']}, consumer errors {r['errors']} "
            f"{r['error_kinds'] or ''}; one-message round trip "
            f"p50 {f['round_trip']['p50_ms']} ms"
        )
        print(
            f"{kind:10s} consumer killed before ack: redelivered {f['kill']['redelivered']} "
            f"(after {f['kill']['after_s']} s); broker restart kept "
            f"{f['restart']['kept']}/{f['restart']['queued']} queued"
        )
    fs, rd = results["filesystem"]["race"], results["redis"]["race"]
    summary = {
        "seconds": args.seconds,
        "filesystem": results["filesystem"],
        "redis": results["redis"],
        "rate": args.rate,
        "round_trip_ratio": round(
            results["redis"]["round_trip"]["p50_ms"]
            / results["filesystem"]["round_trip"]["p50_ms"],
            3,
        ),
    }
    print(
        f"redis/filesystem: lost {rd['lost']} vs {fs['lost']}, "
        f"one-message round trip x{summary['round_trip_ratio']}"
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
