"""Where everything the command line prints goes: plain sentences, tables, JSON, progress.

Everything printed goes through `Output`, which removes escape sequences, control and bidi
characters from names, notes, tags and server messages (`kiosk.core.text.clean_text`), so
a name in Incident IQ cannot recolour, retitle or rewrite the terminal. Tables and progress
bars are drawn with `rich` only when stdout is a terminal (imported only then); into a pipe
or a file they are plain aligned lines, and progress is not shown at all.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from kiosk.core.text import clean_text


@dataclass
class Output:
    """Where text goes: plain sentences on stdout, or, with --json, JSON on stdout and the
    sentences on stderr so a script can read stdout as is."""

    json_mode: bool
    stdout: TextIO
    stderr: TextIO

    def say(self, text: str = "") -> None:
        print(clean_lines(text), file=self.stderr if self.json_mode else self.stdout)

    def error(self, text: str) -> None:
        print(clean_lines(text), file=self.stderr)

    def data(self, value: Any) -> None:
        print(json.dumps(clean_json(value), ensure_ascii=False, indent=2), file=self.stdout)

    @property
    def terminal(self) -> bool:
        """Whether stdout is an interactive terminal (colours, tables, progress bars)."""
        return _isatty(self.stdout)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table on stdout: drawn by rich on a terminal, aligned plain lines otherwise
        (header first). Every cell is cleaned; rich markup in a cell is shown as typed."""
        cells = [[clean_text(str(c)) for c in row] for row in rows]
        if not self.terminal or self.json_mode:
            self.say("\n".join(table_lines([list(header), *cells])))
            return
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        drawn = Table(*header, header_style="bold", show_edge=False, pad_edge=False)
        for row in cells:
            drawn.add_row(*(Text(c) for c in row))
        Console(file=self.stdout, highlight=False).print(drawn)

    def progress(self, total: int | None, what: str) -> Progress:
        """A progress bar with counts and time left on a terminal (on stderr, so stdout
        stays data); nothing at all into a pipe or a file."""
        if not _isatty(self.stderr) or not self.terminal:
            return _NoProgress()
        return _RichProgress(self.stderr, total, clean_text(what))


class Progress(Protocol):
    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def advance(self, count: int = 1, *, total: int | None = None) -> None:
        """`count` more done; `total` when it became known (the first page's Paging)."""

    def note(self, text: str) -> None:
        """A short status beside the bar ("12 refused")."""


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def advance(self, count: int = 1, *, total: int | None = None) -> None:
        return None

    def note(self, text: str) -> None:
        return None


class _RichProgress:
    #: Redraw at most this often: a 50,000-row query must not spend its time drawing.
    MIN_REDRAW_S = 0.1

    def __init__(self, stream: TextIO, total: int | None, what: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._bar.add_task(what, total=total, note="")
        self._pending = 0
        self._last = 0.0

    def __enter__(self) -> _RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._flush()
        self._bar.stop()

    def advance(self, count: int = 1, *, total: int | None = None) -> None:
        if total is not None:
            self._bar.update(self._task, total=total)
        self._pending += count
        now = time.monotonic()
        if now - self._last >= self.MIN_REDRAW_S:
            self._flush()
            self._last = now

    def note(self, text: str) -> None:
        self._bar.update(self._task, note=clean_text(text))

    def _flush(self) -> None:
        if self._pending:
            self._bar.advance(self._task, self._pending)
            self._pending = 0


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def clean_lines(text: str) -> str:
    """`text` safe for a terminal: its own line breaks stay, each line is cleaned."""
    return "\n".join(clean_text(line) for line in text.split("\n"))


def clean_json(value: Any) -> Any:
    """`value` with every string in it cleaned (keys too); still the same JSON shape."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def table_lines(rows: list[list[str]]) -> list[str]:
    """Rows as lines with aligned columns (empty columns are kept, trailing blanks cut)."""
    if not rows:
        return []
    width = max(len(r) for r in rows)
    padded = [r + [""] * (width - len(r)) for r in rows]
    sizes = [max(len(r[i]) for r in padded) for i in range(width)]
    return ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in padded]


def formula_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or a
    carriage return) keeps its text behind a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@contextlib.contextmanager
def open_csv(target: str, out: Output) -> Iterator[TextIO]:
    """The file a CSV goes to (`-`: stdout): UTF-8 with a BOM, for Excel."""
    from pathlib import Path

    from kiosk.cli.session import CommandError

    if target == "-":
        yield out.stdout
        return
    path = Path(target).expanduser()
    try:
        handle = path.open("w", newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield handle
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from None
    finally:
        handle.close()
