"""Prometheus metrics: the metric objects, the broker's queue depths, and the Celery hooks.

Counters and histograms are written by whichever process does the work (a gunicorn worker, a
Celery pool process) and read by ``/metrics`` (config.metrics_views). With several processes on
a host, each writes its own files under ``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums them
(prometheus_client's multiprocess mode); the variable must be set before this module is first
imported, which is why the launchers set it (config/gunicorn.conf.py, config/supervisord.conf),
never settings.py. Without it (tests, a shell) the values live in this process's memory.
Queue depths are not stored anywhere: they are asked of the broker at scrape time
(:class:`BrokerQueueCollector`). docs/operations.md, "Metrics and monitoring", lists them all.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiproc_dir() -> Path | None:
    """The multiprocess folder of this process tree, or None in single-process mode."""
    value = os.environ.get(MULTIPROC_ENV, "")
    return Path(value) if value else None


# In multiprocess mode the first metric below opens a file there: the folder must exist first.
if (_dir := multiproc_dir()) is not None:
    _dir.mkdir(mode=0o700, parents=True, exist_ok=True)

# A photo's task takes ~0.1 s, a claim's preparation a few seconds, a retraining run up to
# 55 minutes (learning.retrain) and an export up to an hour: buckets span all of them.
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
# One photo's inference is ~25 ms on 2 cores (docs/benchmarks.md); a cold first call loads the
# network (about a second); 10 s is a worker starved of CPU.
INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

TASK_SECONDS = Histogram(
    "claimvision_task_duration_seconds",
    "Time a Celery task ran, from task_prerun to task_postrun, whatever its end state.",
    ["task"],
    buckets=TASK_BUCKETS,
)
TASK_FAILURES = Counter(
    "claimvision_task_failures_total",
    "Celery tasks that ended in an exception (after their retries, or without any).",
    ["task"],
)
TASK_RETRIES = Counter(
    "claimvision_task_retries_total",
    "Celery task retries scheduled (autoretry_for or self.retry).",
    ["task"],
)
# livesum: a pool process that exits has its share removed (mark_process_dead), so a crash in
# the middle of a task does not leave it counted as running for ever.
TASKS_RUNNING = Gauge(
    "claimvision_tasks_running",
    "Celery tasks running now.",
    ["task"],
    multiprocess_mode="livesum",
)
DECISIONS = Counter(
    "claimvision_decisions_total",
    "Automated claim decisions committed, by the policy's outcome "
    "(auto_approved, no_damage, routed_to_review).",
    ["outcome"],
)
# Two bounded labels: outcome is one of the four Decision outcome codes an adjuster can give,
# contest is "true" or "false", so at most eight series.
REVIEW_DECISIONS = Counter(
    "claimvision_review_decisions_total",
    "Adjusters' claim decisions committed, by outcome (approved, approved_with_corrections, "
    "denied, more_photos) and whether the decision answered a customer's contest.",
    ["outcome", "contest"],
)
INFERENCE_SECONDS = Histogram(
    "claimvision_model_inference_seconds",
    "Time the segmentation model took to read one photo (decode, network, post-processing).",
    ["model_version"],
    buckets=INFERENCE_BUCKETS,
)


def decision_count(*, outcome: str) -> None:
    DECISIONS.labels(outcome=outcome).inc()


def review_decision_count(*, outcome: str, contest: bool) -> None:
    REVIEW_DECISIONS.labels(outcome=outcome, contest="true" if contest else "false").inc()


def inference_timer(*, model_version: str):
    """A context manager timing one model call (observed on errors too)."""
    return INFERENCE_SECONDS.labels(model_version=model_version).time()


# --------------------------------------------------------------------------- queue depths


# kombu's Redis transport keeps a queue's messages of priority p > 0 in the list
# "<queue>\x06\x16<p>" (kombu.transport.redis, PRIORITY_STEPS); without priorities all are in
# "<queue>". Counting every step keeps the depth right if priorities are ever used.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def broker_client(url: str):
    """A redis-py client for a Celery broker URL (``redis://``, ``rediss://`` or the embedded
    default's ``redis+socket:///path``), with one-second timeouts: a scrape never hangs on a
    broker that is down."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: redis-py's default three, with backoff, kept a scrape waiting ~5 s.
    timeouts = {"socket_timeout": 1, "socket_connect_timeout": 1, "retry": Retry(NoBackoff(), 0)}
    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=unquote(urlparse(url).path), **timeouts)
    return redis.Redis.from_url(url, **timeouts)


def celery_queues() -> list[str]:
    """Every queue a task is routed to (settings.CELERY_TASK_ROUTES and the default queue)."""
    from django.conf import settings

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


def queue_depths(client, queues: list[str]) -> dict[str, int]:
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
    counts = pipe.execute()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {
        queue: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


class BrokerQueueCollector:
    """``claimvision_queue_depth{queue}`` and ``claimvision_broker_up``, read at scrape time.

    Messages a worker has fetched but not yet acknowledged (``acks_late``) are not in the list
    any more: the depth is what waits for a free worker.
    """

    def __init__(self, *, url: str | None = None, queues: list[str] | None = None) -> None:
        self.url = url
        self.queues = queues

    def describe(self):
        return []  # collected fresh on each scrape; nothing to check at registration

    def collect(self):
        from django.conf import settings

        url = self.url or settings.CELERY_BROKER_URL
        queues = self.queues or celery_queues()
        up = GaugeMetricFamily(
            "claimvision_broker_up", "1 if the broker answered this scrape's queue lengths."
        )
        depth = GaugeMetricFamily(
            "claimvision_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        try:
            depths = queue_depths(broker_client(url), queues)
        except Exception as exc:  # any broker trouble is a 0 here, never a failed scrape
            logger.warning("metrics: broker queue lengths unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue, count in depths.items():
            depth.add_metric([queue], count)
        yield up
        yield depth


# --------------------------------------------------------------------------- exposition


def scrape_registry(*extra_collectors) -> CollectorRegistry:
    """The registry one scrape reads: every process's files in multiprocess mode (the
    documented way: a fresh registry with a MultiProcessCollector per scrape), this process's
    default registry otherwise, plus the collectors that ask the broker or the database."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiproc_dir()
    if path is not None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        MultiProcessCollector(registry, path=str(path))
    else:
        registry.register(REGISTRY)  # a registry is a collector too: it yields its metrics
    for collector in extra_collectors:
        registry.register(collector)
    return registry


def process_dead(pid: int) -> None:
    """Drop an exited process's live gauges (gunicorn child_exit, Celery process shutdown)."""
    path = multiproc_dir()
    if path is not None:
        mark_process_dead(pid, str(path))


# --------------------------------------------------------------------------- Celery hooks

_started: dict[str, float] = {}


def _task_name(task, sender=None) -> str:
    return getattr(task, "name", None) or getattr(sender, "name", None) or "unknown"


def on_task_prerun(sender=None, task_id=None, task=None, **_):
    name = _task_name(task, sender)
    _started[task_id] = time.perf_counter()
    TASKS_RUNNING.labels(task=name).inc()


def on_task_postrun(sender=None, task_id=None, task=None, **_):
    name = _task_name(task, sender)
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(task=name).observe(time.perf_counter() - started)
        TASKS_RUNNING.labels(task=name).dec()


def on_task_failure(sender=None, **_):
    TASK_FAILURES.labels(task=_task_name(sender)).inc()


def on_task_retry(sender=None, **_):
    TASK_RETRIES.labels(task=_task_name(sender)).inc()


def on_worker_process_shutdown(sender=None, pid=None, **_):
    process_dead(pid or os.getpid())


def celery_signals_connect() -> None:
    """Connect the metric hooks to Celery's signals (config/celery_app.py calls it once)."""
    from celery import signals

    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="cv-metrics-prerun")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="cv-metrics-postrun")
    signals.task_failure.connect(on_task_failure, weak=False, dispatch_uid="cv-metrics-failure")
    signals.task_retry.connect(on_task_retry, weak=False, dispatch_uid="cv-metrics-retry")
    signals.worker_process_shutdown.connect(
        on_worker_process_shutdown, weak=False, dispatch_uid="cv-metrics-process-shutdown"
    )
