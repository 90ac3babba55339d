"""The S3 backend of the private storages, imported only when ``CLAIMVISION_STORAGE=s3``.

Objects are written with no ACL of their own, so the bucket's private default applies and no
public grant is ever sent; every object asks for server-side encryption (settings); nothing has
a URL, as in ``config.storage``.
"""

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from config.storage import ERR_NO_URL


class PrivateS3Storage(S3Storage):
    def __init__(self, *, transfer_threads: bool = True, **options) -> None:
        # ``transfer_threads=False``: s3transfer without its thread pool (django-storages'
        # own ``use_threads`` option is deprecated in favour of a TransferConfig).
        if not transfer_threads and "transfer_config" not in options:
            options["transfer_config"] = TransferConfig(use_threads=False)
        super().__init__(**options)

    def read_bytes(self, name: str) -> bytes:
        """The whole object in one GET. ``open().read()`` costs three requests (a HEAD when
        opened, then s3transfer's HEAD and GET on its thread pool): measured on moto, 27 ms
        against 5 ms for a 1 MB working copy (docs/benchmarks.md)."""
        key = self._normalize_name(clean_name(name))
        try:
            response = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from err
            raise
        return response["Body"].read()

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        raise ValueError(ERR_NO_URL)
