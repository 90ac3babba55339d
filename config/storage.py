"""Private file storage for photos, rooted under MEDIA_ROOT at the time of each access.

There is deliberately no URL: a stored photo reaches a browser only through a view that checks
who is asking. In production swap the backend for an object store with private buckets (see
docs/operations.md); the model fields only know the storage aliases.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


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
        raise ValueError("Private storage has no public URL; serve through a permission check.")
