"""``Idempotency-Key`` support: a retried create or upload returns the first result.

The key's row is inserted first, in the same transaction as the work. A concurrent request with
the same key blocks on the unique index until the first commits, then replays its response; if
the first fails, its row rolls back with it and the retry does the work. Error responses are
not stored, so a client can fix its request and retry with the same key.
"""

import hashlib
from collections.abc import Callable

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.response import Response

from claims.models import IdempotencyRecord
from config.errors import ApplicationError, UnprocessableError
from config.transactions import atomic_or_undo

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
ERR_KEY_INVALID = _("The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
ERR_KEY_REUSED = _(
    "This Idempotency-Key was already used for a different request. Use a new key for new work."
)


class _ErrorResponse(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    data = request.data
    items = data.lists() if hasattr(data, "lists") else ((k, [v]) for k, v in data.items())
    for name, values in sorted(items, key=lambda kv: kv[0]):
        for value in values:
            digest.update(name.encode() + b"=")
            if isinstance(value, UploadedFile):
                for chunk in value.chunks():
                    digest.update(chunk)
                value.seek(0)
            else:
                digest.update(repr(value).encode())
            digest.update(b"\n")
    if hasattr(request, "FILES"):
        for name, upload in sorted(request.FILES.items()):
            if name not in data:
                digest.update(name.encode() + b"=")
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    return digest.hexdigest()


def idempotent(request: Request, compute: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return compute()
    if not (0 < len(key) <= MAX_KEY_LENGTH) or not key.isascii() or not key.isprintable():
        raise ApplicationError(ERR_KEY_INVALID, code="idempotency_key_invalid")
    scope = f"{request.method} {request.path}"
    fingerprint = _fingerprint(request)
    try:
        # The work's side effects outside the database (a photo's files) are undone if this
        # transaction does not commit (config.transactions).
        with atomic_or_undo():
            record = IdempotencyRecord.objects.create(
                user=request.user,
                key=key,
                scope=scope,
                fingerprint=fingerprint,
                status_code=0,
                response_body={},
            )
            response = compute()
            if response.status_code >= 400:
                raise _ErrorResponse(response)
            record.status_code = response.status_code
            record.response_body = response.data
            record.save(update_fields=["status_code", "response_body"])
            return response
    except _ErrorResponse as failed:
        return failed.response
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if record is None:
            raise
    if record.scope != scope or record.fingerprint != fingerprint:
        # 422, as the IETF Idempotency-Key draft says: the request is well formed, but the key
        # already stands for other work.
        raise UnprocessableError(ERR_KEY_REUSED, code="idempotency_key_reused") from None
    replay = Response(record.response_body, status=record.status_code)
    replay["Idempotent-Replayed"] = "true"
    return replay
