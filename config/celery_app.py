"""The one Celery app, configured from Django settings under the ``CELERY_`` namespace."""

import os

from celery import Celery

from config import log_context, metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("claimvision")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task latency, failures and retries (config.metrics); task, claim and photo ids on every log
# line a task writes (config.log_context). Explicit hooks on Celery's signals, not domain flow.
metrics.celery_signals_connect()
log_context.celery_signals_connect()
