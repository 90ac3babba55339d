"""Request-size limits enforced before a body is read into memory or onto disk.

The middleware refuses a request whose declared ``Content-Length`` is over the cap without
touching the body: the photo cap for multipart uploads, ``DATA_UPLOAD_MAX_MEMORY_SIZE`` for
every other body (JSON, forms). The upload handler stops a photo body that lied about its
length (or streamed without one) as soon as it crosses the cap; the JSON parser reads no more
than its cap either (config.parsers).
"""

import json

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext

from config.errors import RequestBodyTooLarge, body_too_large_message, error_body

# Multipart framing and form fields add a few hundred bytes to a photo; 64 KiB of slack never
# admits a real photo over the cap but spares honest clients a false refusal.
FRAMING_SLACK = 64 * 1024


def too_large_message() -> str:
    limit_mb = settings.CLAIMVISION_MAX_UPLOAD_BYTES // (1024 * 1024)
    # The same sentence as claims.images.ERR_TOO_LARGE (one entry in the translations).
    return gettext("The photo is larger than {limit_mb} MB. Send a smaller photo.").format(
        limit_mb=limit_mb
    )


def body_limit() -> int:
    return settings.CLAIMVISION_MAX_UPLOAD_BYTES + FRAMING_SLACK


class CappedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: counts bytes as they stream and stops at the cap."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int):
        self.received += len(raw_data)
        if self.received > body_limit():
            raise RequestBodyTooLarge(too_large_message())
        return raw_data

    def file_complete(self, file_size: int):
        return None


class RequestSizeLimitMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit():
            return self.get_response(request)
        media_type = request.META.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        too_large = None
        if media_type == "multipart/form-data":
            if int(declared) > body_limit():
                too_large = ("file_too_large", too_large_message)
        elif int(declared) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            too_large = ("request_too_large", body_too_large_message)
        if too_large is None:
            return self.get_response(request)
        # Outside LocaleMiddleware (no body is read first): the browser's language, by hand.
        code, message = too_large
        with translation.override(translation.get_language_from_request(request)):
            return _too_large(code, message())


def _too_large(code: str, message: str) -> HttpResponse:
    return HttpResponse(
        json.dumps(error_body(code, str(message))), status=413, content_type="application/json"
    )
