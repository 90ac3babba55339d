"""Structured logs (config.log_context): ids on every record, the JSON format, the request id,
and a Celery task's ids taken from its arguments."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from config import log_context as lc
from config.celery_app import app

ROOT = Path(__file__).resolve().parent.parent


def _record(message: str = "hello %s", args=("world",), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("claims.tests", logging.INFO, __file__, 1, message, args, exc_info)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(lc.LogContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records():
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def test_filter_adds_the_context_ids_to_a_record():
    record = _record()

    with lc.log_context(claim_id="c-1", task_id="t-1"):
        assert lc.LogContextFilter().filter(record) is True

    assert (record.claim_id, record.task_id, record.photo_id, record.request_id) == (
        "c-1",
        "t-1",
        "",
        "",
    )
    assert record.log_context == " [task_id=t-1 claim_id=c-1]"


def test_filter_leaves_nothing_behind_once_the_context_closes():
    with lc.log_context(claim_id="c-1"):
        pass
    record = _record()

    lc.LogContextFilter().filter(record)

    assert record.claim_id == ""
    assert record.log_context == ""
    assert lc.log_context_get() == {}


def test_plain_format_of_settings_shows_the_ids(settings):
    formatter = logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"])
    record = _record()
    with lc.log_context(photo_id="p-9"):
        lc.LogContextFilter().filter(record)

    assert formatter.format(record).endswith("claims.tests [photo_id=p-9]: hello world")


def test_json_formatter_writes_one_parseable_object_with_ids_and_traceback():
    try:
        raise ValueError("bad photo")
    except ValueError:
        record = _record("failed %s", ("p-2",), exc_info=sys.exc_info())

    with lc.log_context(claim_id="c-3", request_id="r-4"):
        line = lc.JsonFormatter().format(record)

    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "failed p-2"
    assert payload["level"] == "INFO"
    assert payload["logger"] == "claims.tests"
    assert (payload["claim_id"], payload["request_id"]) == ("c-3", "r-4")
    assert "task_id" not in payload
    assert "ValueError: bad photo" in payload["exc_info"]
    assert payload["time"].endswith("+00:00")


def test_log_format_json_makes_every_line_json():
    # given the settings loaded with LOG_FORMAT=json in a fresh process
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('claims.x').warning('photo %s rejected', 'p-1')"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "config.settings"}

    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert {"level": "WARNING", "logger": "claims.x", "message": "photo p-1 rejected"}.items() <= (
        lines[-1].items()
    )


@pytest.mark.django_db
def test_request_id_is_returned_and_on_the_request_logs(records):
    response = Client().get("/metrics")  # refused (401), and django.request logs it

    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    logged = [r for r in records if r.name == "django.request"]
    assert logged
    assert logged[-1].request_id == request_id


@pytest.mark.django_db
def test_request_id_from_the_proxy_is_kept_only_when_plain():
    kept = Client().get("/metrics", HTTP_X_REQUEST_ID="lb-1234.abc")
    forged = Client().get("/metrics", HTTP_X_REQUEST_ID="x\nERROR forged line")

    assert kept["X-Request-ID"] == "lb-1234.abc"
    assert forged["X-Request-ID"] != "x\nERROR forged line"
    assert len(forged["X-Request-ID"]) == 32


@app.task(name="tests.logs.claim_task")
def _claim_task(claim_id: str, note: str = "") -> None:
    logging.getLogger("claims.tests").info("working on %s", note)


def test_task_logs_carry_task_id_and_claim_id_from_positional_arguments(records):
    result = _claim_task.apply(args=("c-77",), kwargs={"note": "n"})

    logged = [r for r in records if r.getMessage() == "working on n"]
    assert len(logged) == 1
    assert (logged[0].task_id, logged[0].claim_id) == (result.id, "c-77")
    assert lc.log_context_get() == {}  # closed with the task


def test_celery_worker_handlers_get_the_ids_appended(settings):
    # given a handler as Celery's worker sets it up, with its own plain format
    settings.LOG_FORMAT = "plain"
    logger = logging.getLogger("tests.celery-like")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.handlers = [handler]

    lc.on_logger_setup(logger=logger)
    lc.on_logger_setup(logger=logger)  # a second setup adds nothing
    record = _record("Task x received", ())
    with lc.log_context(task_id="t-5"):
        assert all(f.filter(record) for f in handler.filters)

    assert len(handler.filters) == 1
    assert handler.format(record) == "[INFO] Task x received [task_id=t-5]"
