"""Private file storage: photos, export zips and model artifacts, on local disk or an S3 bucket.

There is deliberately no URL: a stored photo or export reaches a browser only through a view
that checks who is asking and streams the bytes (docs/operations.md, "Object storage"). Which
backend each alias uses is settings (``CLAIMVISION_STORAGE``; the S3 one is in
``config.storage_s3``); model fields hold an :class:`AliasStorage`, which looks the alias up
on every call, so a test or a worker that changes ``STORAGES`` or ``MEDIA_ROOT`` is obeyed by
fields defined at import time.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages

ERR_NO_URL = "Private storage has no public URL; serve through a permission check."


class PrivateFileSystemStorage(FileSystemStorage):
    def __init__(self, subdir: str, **kwargs) -> None:
        self.subdir = subdir
        super().__init__(**kwargs)

    @property
    def base_location(self) -> str:  # read per access so tests and workers can re-root it
        return os.path.join(settings.MEDIA_ROOT, self.subdir)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError(ERR_NO_URL)

    def read_bytes(self, name: str) -> bytes:
        with self.open(name, "rb") as handle:
            return handle.read()


def storage_read_bytes(storage: Storage, name: str) -> bytes:
    """A whole stored file, in the fewest requests the backend allows (one GET on S3)."""
    reader = getattr(storage, "read_bytes", None)
    if reader is not None:
        return reader(name)
    with storage.open(name, "rb") as handle:
        return handle.read()


def s3_options(
    *,
    bucket: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    sse: str = "AES256",
    kms_key_id: str | None = None,
    addressing_style: str | None = None,
) -> dict:
    """Options of ``config.storage_s3.PrivateS3Storage`` shared by every alias.

    Credentials are not among them: boto3's own chain finds AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY (from the secret store) or, better, the machine's role.
    """
    object_parameters = {"ServerSideEncryption": sse}
    if kms_key_id:
        object_parameters["SSEKMSKeyId"] = kms_key_id
    return {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url,
        "region_name": region,
        "default_acl": None,  # no ACL header: the bucket's private default, never public-read
        "object_parameters": object_parameters,
        "querystring_auth": False,  # no URLs are ever made (config.storage_s3)
        "file_overwrite": True,  # names are generated (uuids, ids, hashes): never guessed
        # Reads past 8 MiB (export zips) spool to a temporary file instead of memory.
        "max_memory_size": 8 * 1024 * 1024,
        "addressing_style": addressing_style,
        "signature_version": "s3v4",
    }


PHOTO_ALIASES = ("originals", "working")


def private_storages(
    kind: str, *, prefixes: dict[str, str], s3_options: dict | None = None, s3_prefix: str = ""
) -> dict[str, dict]:
    """``STORAGES`` entries for the private aliases: folders under MEDIA_ROOT, or S3 prefixes."""
    if kind == "s3":
        return {
            alias: {
                "BACKEND": "config.storage_s3.PrivateS3Storage",
                "OPTIONS": {
                    **(s3_options or {}),
                    "location": "/".join(filter(None, (s3_prefix, p))),
                    # Photos (a few MB, one PUT each, inside an upload request) skip s3transfer's
                    # thread pool: 17.5 against 24.1 ms to store 3.3 MB on moto. Export zips
                    # and model files keep it for parallel multipart parts.
                    "transfer_threads": alias not in PHOTO_ALIASES,
                },
            }
            for alias, p in prefixes.items()
        }
    return {
        alias: {
            "BACKEND": "config.storage.PrivateFileSystemStorage",
            # Files owner-only; the default alias (export zips) had Django's default mode.
            "OPTIONS": {"subdir": p}
            | ({"file_permissions_mode": 0o600} if alias != "default" else {}),
        }
        for alias, p in prefixes.items()
    }


class AliasStorage(Storage):
    """A stand-in for ``storages[alias]``, resolved on every call (not once at import)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    @property
    def target(self) -> Storage:
        return storages[self.alias]

    def deconstruct(self):  # migrations see the alias, not the backend of the moment
        return ("config.storage.AliasStorage", (self.alias,), {})

    def __getattr__(self, name):
        return getattr(self.target, name)

    def read_bytes(self, name: str) -> bytes:
        return storage_read_bytes(self.target, name)


def _forward(method: str):
    def call(self, *args, **kwargs):
        return getattr(self.target, method)(*args, **kwargs)

    call.__name__ = method
    return call


# Every public method of Storage that FieldFile and the services call goes to the alias.
for _method in (
    "open",
    "save",
    "get_valid_name",
    "get_alternative_name",
    "get_available_name",
    "generate_filename",
    "path",
    "delete",
    "exists",
    "listdir",
    "size",
    "url",
    "get_accessed_time",
    "get_created_time",
    "get_modified_time",
):
    setattr(AliasStorage, _method, _forward(_method))
