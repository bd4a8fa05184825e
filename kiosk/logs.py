"""Logging for the kiosk and the command line: a rotating file in the data folder and a
short console, both behind a filter that blanks anything that looks like a token.

The client never logs the token; the filter is defense in depth for whatever else might
(a library's debug line, an exception text that quotes a header).
"""

from __future__ import annotations

import logging
import re
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILE_NAME = "iiq-kiosk.log"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 5
REDACTED = "[redacted]"

FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(levelname)s: %(message)s"

_BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\",;]+")
# A JWT: three base64url parts, the first starting with `eyJ` (the encoding of `{"`).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

#: Marks the handlers installed here, so a second `setup_logging` replaces them.
_OWNED = "_iiq_kiosk_handler"


def redact(text: str) -> str:
    """`text` with bearer tokens and JWTs replaced by a marker."""
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message, traceback or stack holds something token-like."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse `exc_text` when it is set, so the redacted text is what prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_file_path(data_dir: Path) -> Path:
    return data_dir / "logs" / LOG_FILE_NAME


def setup_logging(
    data_dir: Path | None, *, verbose: bool = False, console: bool = True
) -> Path | None:
    """Log to `data_dir/logs/iiq-kiosk.log` (INFO, DEBUG when `verbose`) and to stderr
    (WARNING, INFO when `verbose`). Returns the log file, or None when there is none:
    a log file that cannot be opened is reported on the console, never fatal.
    Calling it again replaces the handlers of the previous call."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)

    redactor = RedactSecrets()
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.INFO if verbose else logging.WARNING)
        stream.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        _install(root, stream, redactor)

    if data_dir is None:
        return None
    path = log_file_path(Path(data_dir))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = RotatingFileHandler(
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
    _install(root, file_handler, redactor)
    return path


def _install(root: logging.Logger, handler: logging.Handler, redactor: logging.Filter) -> None:
    handler.addFilter(redactor)
    setattr(handler, _OWNED, True)
    root.addHandler(handler)
