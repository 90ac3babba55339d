"""A database that is down or restarting gets a 503 with ``Retry-After``, never a 500.

API views map the error themselves (config.errors.api_exception_handler). This middleware covers
everything else: Django views (``process_exception``), and middleware that reads the database
around the view (the session and the signed-in user, claims.sessions, the session save). Django
turns an exception raised in a middleware into a 500 response right there, before any outer
middleware sees it; the ``got_request_exception`` receiver below notes a database error on the
request so that this middleware, further out, can replace that 500.
"""

import json
import logging
import sys

from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation

from config.errors import DATABASE_UNAVAILABLE, database_unavailable_error, error_body

logger = logging.getLogger(__name__)

_NOTED = "_claimvision_database_unavailable"


def _note_database_error(sender, request=None, **kwargs) -> None:
    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, DATABASE_UNAVAILABLE):
        setattr(request, _NOTED, exc)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The API's error shape for API clients, a plain page for people. Rendered without the
    request, so no context processor reads the user from the missing database; in the
    browser's language (cookie or Accept-Language: no database read), as this middleware
    answers outside LocaleMiddleware."""
    with translation.override(translation.get_language_from_request(request)):
        return _database_unavailable_response(request)


def _database_unavailable_response(request: HttpRequest) -> HttpResponse:
    error = database_unavailable_error()
    if _wants_json(request):
        response = HttpResponse(
            json.dumps(error_body(error.code, error.message, error.details)),
            status=error.status_code,
            content_type="application/json",
        )
    else:
        response = HttpResponse(
            render_to_string("503.html", {"wait": error.retry_after}), status=error.status_code
        )
    response["Retry-After"] = str(error.retry_after)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Near the top of MIDDLEWARE: outside every middleware that may touch the database."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        got_request_exception.connect(
            _note_database_error, dispatch_uid="claimvision-database-unavailable"
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        noted = getattr(request, _NOTED, None)
        if noted is not None and response.status_code == 500:
            logger.warning("database unavailable, answering 503 for %s: %s", request.path, noted)
            return database_unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        logger.warning("database unavailable, answering 503 for %s: %s", request.path, exception)
        return database_unavailable_response(request)
