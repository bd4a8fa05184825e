"""Logging for the kiosk and the command line: a rotating file in the data folder and a
short console, both behind two filters: one removes control characters, escape sequences
and bidi controls (a person's name or a server message cannot forge a log line or take over
a terminal), one blanks anything that looks like a token.

The client never logs the token; the filter is defense in depth for whatever else might
(a library's debug line, an exception text that quotes a header).

The log holds what happened at a desk, so it is the user's alone: on POSIX the data folder
and the logs folder are 0700 and the log files 0600, whatever the umask. On Windows nothing
special is done: the data folder is in the user's profile (%LOCALAPPDATA%), whose ACLs
already keep other users out. Files rotate at LOG_MAX_BYTES (LOG_BACKUPS kept), and log
files untouched for `retention_days` are deleted when logging is set up.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import cast

from kiosk.core.text import clean_text

log = logging.getLogger(__name__)

LOG_FILE_NAME = "iiq-kiosk.log"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 5
#: Log files not written for this many days are deleted at start.
LOG_RETENTION_DAYS = 365
REDACTED = "[redacted]"

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(levelname)s: %(message)s"

_BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\",;]+")
# A JWT: three base64url parts, the first starting with `eyJ` (the encoding of `{"`).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

#: Marks the handlers installed here, so a second `setup_logging` replaces them.
_OWNED = "_iiq_kiosk_handler"
#: The current log file and its numbered backups; nothing else in the folder is touched.
_LOG_FILE = re.compile(re.escape(LOG_FILE_NAME) + r"(?:\.\d+)?")


def redact(text: str) -> str:
    """`text` with bearer tokens and JWTs replaced by a marker."""
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


class _Rewrite(logging.Filter):
    """Rewrites a record's message, traceback and stack with `message` and `lines`.
    Formatters reuse `exc_text` when it is set, so the rewritten text is what prints."""

    def message(self, text: str) -> str:
        return text

    def lines(self, text: str) -> str:
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        original = record.getMessage()
        rewritten = self.message(original)
        if rewritten != original:
            record.msg = rewritten
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.lines(record.exc_text)
        if record.stack_info:
            record.stack_info = self.lines(record.stack_info)
        return True


class CleanText(_Rewrite):
    """No control characters, escape sequences or bidi controls in a record (see
    `kiosk.core.text.clean_text`). The message becomes one line; a traceback keeps its line
    breaks, each line cleaned."""

    def message(self, text: str) -> str:
        return clean_text(text)

    def lines(self, text: str) -> str:
        return "\n".join(clean_text(line) for line in text.split("\n"))


class RedactSecrets(_Rewrite):
    """Nothing token-like in a record's message, traceback or stack."""

    def message(self, text: str) -> str:
        return redact(text)

    lines = message


def log_file_path(data_dir: Path) -> Path:
    return data_dir / "logs" / LOG_FILE_NAME


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log file that only its user can read (0600 on POSIX, whatever the umask;
    an older file with wider permissions is tightened when it is opened)."""

    def _open(self) -> io.TextIOWrapper:
        if sys.platform == "win32":
            return super()._open()  # the profile's ACLs apply
        stream = open(  # noqa: SIM115 - the handler owns the stream and closes it
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=_private_opener,
        )
        return cast("io.TextIOWrapper", stream)


def _private_opener(path: str, flags: int) -> int:
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    if sys.platform != "win32":  # tighten a file an older version left wider
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        except OSError:
            os.close(fd)
            raise
    return fd


def setup_logging(
    data_dir: Path | None,
    *,
    verbose: bool = False,
    console: bool = True,
    retention_days: int | None = LOG_RETENTION_DAYS,
) -> Path | None:
    """Log to `data_dir/logs/iiq-kiosk.log` (INFO, DEBUG when `verbose`) and to stderr
    (WARNING, INFO when `verbose`). Returns the log file, or None when there is none:
    a log file that cannot be opened is reported on the console, never fatal.
    Log files last written more than `retention_days` ago are deleted first (None keeps
    them all). Calling it again replaces the handlers of the previous call."""
    if retention_days is not None and retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)

    filters = (CleanText(), RedactSecrets())  # cleaned first: a token split by junk is whole
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.INFO if verbose else logging.WARNING)
        stream.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        _install(root, stream, filters)

    if data_dir is None:
        return None
    path = log_file_path(Path(data_dir))
    try:
        _private_folder(path.parent.parent, own=False)
        _private_folder(path.parent, own=True)
        deleted = _delete_old_logs(path.parent, retention_days)
        file_handler = PrivateRotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "cannot write the log file %s (%s); logging to the console only",
            path,
            exc.strerror or exc,
        )
        return None
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
    _install(root, file_handler, filters)
    if deleted:
        log.info("%d log files older than %d days deleted", deleted, retention_days)
    return path


def _install(
    root: logging.Logger, handler: logging.Handler, filters: tuple[logging.Filter, ...]
) -> None:
    for log_filter in filters:
        handler.addFilter(log_filter)
    setattr(handler, _OWNED, True)
    root.addHandler(handler)


def _private_folder(folder: Path, *, own: bool) -> None:
    """Create `folder` for this user alone (0700 on POSIX). An existing folder is tightened
    when it is the kiosk's `own` (the logs folder), or when it is the data folder, this
    user's, and not a shared place (the home folder, or a sticky one such as /tmp)."""
    if sys.platform == "win32":
        folder.mkdir(parents=True, exist_ok=True)
        return
    try:
        folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
        return  # created: mkdir's mode, narrowed by the umask, is never wider than 0700
    except FileExistsError:
        pass
    info = folder.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(20, "Not a directory", str(folder))
    if not info.st_mode & 0o077:
        return
    shared = (
        info.st_uid != os.getuid()
        or info.st_mode & stat.S_ISVTX
        or folder.resolve() == Path.home().resolve()
    )
    if own or not shared:
        try:
            folder.chmod(PRIVATE_DIR_MODE)
            return
        except OSError as exc:  # not ours after all: say so, and log anyway
            log.warning("cannot make %s private: %s", folder, exc.strerror or exc)
    else:
        log.warning("the data folder %s can be read by other users; left as it is", folder)


def _delete_old_logs(folder: Path, retention_days: int | None) -> int:
    """Delete this kiosk's log files last written before the retention period; tighten the
    permissions of the others. Returns how many were deleted."""
    cutoff = None if retention_days is None else time.time() - retention_days * 86_400
    deleted = 0
    with os.scandir(folder) as entries:
        logs = [
            e for e in entries if _LOG_FILE.fullmatch(e.name) and e.is_file(follow_symlinks=False)
        ]
    for entry in logs:
        try:
            info = entry.stat(follow_symlinks=False)
            if cutoff is not None and info.st_mtime < cutoff:
                Path(entry.path).unlink()
                deleted += 1
            elif sys.platform != "win32" and info.st_mode & 0o077:
                Path(entry.path).chmod(PRIVATE_FILE_MODE)
        except OSError as exc:
            log.warning("log file %s: %s", entry.path, exc.strerror or exc)
    return deleted
