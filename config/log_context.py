"""Structured logs: the ids of the request, task, claim and photo at hand on every log record.

The ids live in a context variable: the request-id middleware sets ``request_id`` for a request,
Celery's ``task_prerun`` sets ``task_id`` (and ``claim_id`` / ``photo_id`` from the task's
arguments) for a task, and a service that learns more (the claim of a photo) adds it for the work
that follows (``with log_context(claim_id=...)``). :class:`LogContextFilter` copies them onto each
record; the plain format shows them in brackets, ``LOG_FORMAT=json`` (:class:`JsonFormatter`)
writes one JSON object a line for a log shipper. docs/operations.md, "Logs".
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from contextlib import contextmanager, suppress
from contextvars import ContextVar, Token
from datetime import UTC, datetime

FIELDS = ("request_id", "task_id", "claim_id", "photo_id")
REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's request id is kept if it is a plain token; anything else (spaces, newlines: a forged
# log line) is replaced by our own.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_context: ContextVar[dict[str, str]] = ContextVar("claimvision_log_context", default={})  # noqa: B039 - never mutated, only replaced


def log_context_get() -> dict[str, str]:
    return dict(_context.get())


def log_context_push(**ids) -> Token:
    """Add ids (None is skipped) to the context; pass the token to :func:`log_context_pop`."""
    values = {key: str(value) for key, value in ids.items() if key in FIELDS and value is not None}
    return _context.set({**_context.get(), **values})


def log_context_pop(token: Token) -> None:
    _context.reset(token)


@contextmanager
def log_context(**ids):
    token = log_context_push(**ids)
    try:
        yield
    finally:
        log_context_pop(token)


class LogContextFilter(logging.Filter):
    """Puts every id on the record (empty when unknown) and ``log_context``, their plain text
    (`` [claim_id=… task_id=…]``, or nothing), for format strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for field in FIELDS:
            if not getattr(record, field, None):
                setattr(record, field, context.get(field, ""))
        pairs = [f"{field}={getattr(record, field)}" for field in FIELDS if getattr(record, field)]
        record.log_context = f" [{' '.join(pairs)}]" if pairs else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the ids present,
    and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context.get()
        for field in FIELDS:
            value = getattr(record, field, None) or context.get(field)
            if value:
                payload[field] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str)


class ContextSuffixFormatter(logging.Formatter):
    """Celery's own plain formatter with the ids appended: the worker keeps its familiar lines
    (``Task … received``) and each carries the claim and task it belongs to."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return self.inner.format(record) + getattr(record, "log_context", "")


class RequestIdMiddleware:
    """Gives each request an id (the proxy's ``X-Request-ID`` if it sent a plain one), puts it
    in the log context for the request and returns it in the response header."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        request.request_id = request_id
        with log_context(request_id=request_id):
            response = self.get_response(request)
            if response.status_code >= 400:
                # Django's handler logs an error status after the middleware returned, outside
                # this context; logged here (the same line, once: log_response marks it), the
                # "Forbidden: /path" and "Service Unavailable: /path" lines carry the id too.
                from django.utils.log import log_response

                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
        response[REQUEST_ID_HEADER] = request_id
        return response


# --------------------------------------------------------------------------- Celery

_task_tokens: dict[str, Token] = {}


def task_arguments(task, args, kwargs) -> dict:
    """A task's arguments by parameter name (``claim_prepare_task(claim_id)``)."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError, AttributeError):
        return dict(kwargs or {})
    return dict(bound.arguments)


def on_task_prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    arguments = task_arguments(task, args, kwargs)
    _task_tokens[task_id] = log_context_push(
        task_id=task_id, claim_id=arguments.get("claim_id"), photo_id=arguments.get("photo_id")
    )


def on_task_postrun(sender=None, task_id=None, **_):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        # ValueError: set in another context (a thread pool), which ends with it anyway.
        with suppress(ValueError):
            log_context_pop(token)


def on_logger_setup(logger=None, **_):
    """Celery replaces the root logger's handlers in a worker: give its handlers the ids too."""
    from django.conf import settings

    for handler in getattr(logger, "handlers", []):
        if any(isinstance(f, LogContextFilter) for f in handler.filters):
            continue
        handler.addFilter(LogContextFilter())
        if settings.LOG_FORMAT == "json":
            handler.setFormatter(JsonFormatter())
        elif handler.formatter is not None:
            handler.setFormatter(ContextSuffixFormatter(handler.formatter))


def celery_signals_connect() -> None:
    from celery import signals

    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="cv-logs-prerun")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="cv-logs-postrun")
    signals.after_setup_logger.connect(on_logger_setup, weak=False, dispatch_uid="cv-logs-setup")
    signals.after_setup_task_logger.connect(
        on_logger_setup, weak=False, dispatch_uid="cv-logs-task-setup"
    )
