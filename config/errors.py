"""One domain error family, mapped to one JSON error shape once, for every API view.

Every error response is ``{"error": {"code": str, "message": str, "details": {...}}}``: the
code is stable (clients branch on it), the message is for people.
"""

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A domain rule said no. Services raise it; the API maps it to ``status_code``."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        # Translated now, in the request's language (a lazy ERR_* constant becomes text): the
        # message may be stored (idempotency replays) and JSON needs plain text.
        message = str(message)
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class NotFoundError(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class ForbiddenError(ApplicationError):
    """The caller may use this endpoint, but not on this object: a rule of roles said no (a
    contested claim is a senior adjuster's)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"


class ConflictError(ApplicationError):
    """The request is valid but the object's current state forbids it (e.g. claim submitted)."""

    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class UnprocessableError(ApplicationError):
    """Well-formed request whose content cannot be used (e.g. a truncated image)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "unprocessable"


class PayloadTooLargeError(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "file_too_large"


class UnsupportedMediaTypeError(ApplicationError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"


class TooManyRequestsError(ApplicationError):
    """A limit on attempts was reached; ``retry_after`` seconds until it lifts."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailableError(ApplicationError):
    """The database cannot be reached (restarting, failing over, refusing connections)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))


# What a database that is down or restarting raises through Django: connection refused or
# reset, "terminating connection due to administrator command", a lock or statement timeout,
# SQLite's "database is locked". All pass once the database is back; other database errors
# (integrity, programming) are bugs and stay 500s.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# A PostgreSQL restart or a managed fail-over takes a few seconds to half a minute; asking
# clients to come back after 10 s spreads their retries over that window without making a
# person wait long.
DATABASE_RETRY_AFTER_S = 10
ERR_DATABASE_UNAVAILABLE = _("The service is briefly unavailable. Try again in {wait} seconds.")


def database_unavailable_error() -> ServiceUnavailableError:
    wait = DATABASE_RETRY_AFTER_S
    return ServiceUnavailableError(
        ERR_DATABASE_UNAVAILABLE.format(wait=wait), retry_after=wait, details={"retry_after": wait}
    )


class RequestBodyTooLarge(exceptions.APIException):
    """Raised from the upload handler while streaming: the body outgrew the cap."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"


class JsonBodyTooLarge(exceptions.APIException):
    """A request body other than a photo upload is over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


ERR_BODY_TOO_LARGE = _("The request body is larger than {limit_kb} KB; send less data.")
ERR_TOO_MANY_FIELDS = _("The request has too many fields.")
ERR_INVALID_FIELDS = _("Some fields are missing or invalid.")


def body_too_large_message() -> str:
    return ERR_BODY_TOO_LARGE.format(limit_kb=settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024)


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "invalid",
    RequestBodyTooLarge: "file_too_large",
    JsonBodyTooLarge: "request_too_large",
}


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


ERR_THROTTLED = _("Too many requests for now. Try again in {wait} seconds.")


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable, answering 503: %s", exc)
        exc = database_unavailable_error()
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if isinstance(exc, TooManyRequestsError | ServiceUnavailableError):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):  # Django read a form body past the cap
        exc = JsonBodyTooLarge(body_too_large_message())
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ParseError(ERR_TOO_MANY_FIELDS)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    # Imported here: rest_framework.views reads the API settings, whose classes import this.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        message = str(ERR_INVALID_FIELDS)
        details = {"fields": response.data}
    elif isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        wait = max(1, math.ceil(exc.wait))
        message = ERR_THROTTLED.format(wait=wait)
        details = {"retry_after": wait}
    else:
        message = str(getattr(exc, "detail", exc))
        details = {}
    response.data = error_body(code, message, details)
    return response
