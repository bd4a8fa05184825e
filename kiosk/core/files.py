"""Files the kiosk writes whole or not at all (settings, the PIN tries, reports, results).

`write_atomically` writes a temporary file beside the target, flushes it to disk and
renames it over the target (`os.replace`, atomic on Windows and POSIX alike): a crash or a
full disk leaves the old file, never half of a new one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


def write_atomically(
    path: Path,
    text: str,
    *,
    private: bool = False,
    encoding: str = "utf-8",
    newline: str | None = "\n",
) -> None:
    """Replace `path` with `text`. `private`: readable by this user only — on POSIX the
    folder is made 0700 and the file 0600; on Windows the per-user data folder's ACLs
    already keep other users out. Raises OSError; nothing is left behind on failure."""
    if private:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if private and sys.platform != "win32":
            Path(temporary).chmod(0o600)
        elif not private and sys.platform != "win32":
            # mkstemp makes 0600; a shared file (a report, a results file) gets the usual mode.
            umask = os.umask(0)
            os.umask(umask)
            Path(temporary).chmod(0o666 & ~umask)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
