"""The S3 backend of the private storages, imported only when ``CLAIMVISION_STORAGE=s3``.

Objects are written with no ACL of their own, so the bucket's private default applies and no
public grant is ever sent; every object asks for server-side encryption (settings); nothing has
a URL, as in ``config.storage``.
"""

from storages.backends.s3 import S3Storage

from config.storage import ERR_NO_URL


class PrivateS3Storage(S3Storage):
    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        raise ValueError(ERR_NO_URL)
