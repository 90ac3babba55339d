"""Owner-only files for secrets and data the server keeps on its own disk (no Django imports:
the settings module uses it)."""

import contextlib
import os
import stat
from pathlib import Path

OWNER_ONLY = 0o600


def owner_only(path: Path, *, create: bool = False) -> None:
    """Make ``path`` readable and writable by its owner alone (0600).

    With ``create``, a missing file is created empty with that mode, so a program that opens it
    next (SQLite) never makes it with the default 0644. A missing folder is left to that program
    to report.
    """
    if create and not path.exists() and path.parent.is_dir():
        with contextlib.suppress(FileExistsError):  # another process created it in between
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(mode & 0o700 or OWNER_ONLY)
