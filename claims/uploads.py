"""Request-size limits enforced before a photo's body is read into memory or onto disk.

The middleware refuses a request whose declared ``Content-Length`` is over the cap without
touching the body; the upload handler stops a body that lied about its length (or streamed
without one) as soon as it crosses the cap.
"""

import json

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse

from config.errors import RequestBodyTooLarge, error_body

# Multipart framing and form fields add a few hundred bytes to a photo; 64 KiB of slack never
# admits a real photo over the cap but spares honest clients a false refusal.
FRAMING_SLACK = 64 * 1024


def too_large_message() -> str:
    limit_mb = settings.CLAIMVISION_MAX_UPLOAD_BYTES // (1024 * 1024)
    return f"The photo is larger than {limit_mb} MB. Send a smaller photo."


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
        if declared.isdigit() and int(declared) > body_limit():
            return HttpResponse(
                json.dumps(error_body("file_too_large", too_large_message())),
                status=413,
                content_type="application/json",
            )
        return self.get_response(request)
