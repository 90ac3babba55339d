"""gunicorn settings for the web processes: Prometheus multiprocess mode across its workers.

``gunicorn -c config/gunicorn.conf.py config.wsgi -b 0.0.0.0:8000 -w $((2*CORES))``. Each worker
writes its metrics under ``PROMETHEUS_MULTIPROC_DIR`` (default ``$CLAIMVISION_VAR_DIR/prometheus``,
set here, in the master, before any worker imports prometheus_client) and any worker's
``/metrics`` sums them all. The folder is emptied when the master starts, and an exited worker's
live gauges are dropped (``child_exit``). Celery workers on the same host may share the folder
(set the same variable for them) so that the web's ``/metrics`` shows their task metrics too.
"""

import os
from pathlib import Path

_var = Path(os.environ.get("CLAIMVISION_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_var / "prometheus"))


def on_starting(server):
    """Before the first worker: files of a previous run would be summed with the new ones."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(worker.pid)
