"""The local journal: every confirmed change, written to disk before anything is sent.

One SQLite file in the data folder (WAL mode, `synchronous=FULL`, readable by the user only).
A row per `Change`: the columns an audit reads (who, where, which device, from whom, to whom,
when, how it ended) plus the whole change as JSON so the outbox can resume it after a crash.
There is never a token in it, and the names in it are blanked after the retention period
(`purge_personal_data`); ids, tags and states stay for the audit.

`Journal` is synchronous and must be used from ONE thread (sqlite3 enforces it).
`AsyncJournal` runs it on a dedicated single-thread executor, so the event loop never waits
for the disk. Only one process at a time may hold a journal for sending (`lock=True`, the
default): a second kiosk or `outbox --send` on the same folder would otherwise race it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import errno
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import IO, Any, TypeVar

from kiosk.core.changes import ATTENTION_STATES, Change, ChangeState

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 2
JOURNAL_FILE = "journal.sqlite3"

#: The audit columns, in the order of `export` and the CSV file.
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "updated_at",
    "state",
    "resolved_at",
    "resolution_note",
    "kind",
    "station",
    "operator",
    "asset_id",
    "asset_tag",
    "from_owner_id",
    "from_owner_name",
    "to_owner_id",
    "to_owner_name",
    "condition",
    "ticket_number",
    "attempts",
    "last_error",
    "conflict_owner_id",
    "conflict_owner_name",
    "batch_id",
    "undo_of",
    "purged_at",
)

#: Columns filled from the change itself on every write (the rest belong to the journal:
#: the id is the key, resolution and purge are set by their own calls).
_CHANGE_COLUMNS: tuple[str, ...] = tuple(
    c for c in EXPORT_COLUMNS if c not in ("id", "resolved_at", "resolution_note", "purged_at")
)

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order changes were confirmed in
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        state TEXT NOT NULL,
        kind TEXT NOT NULL,
        station TEXT NOT NULL,
        operator TEXT,
        asset_id TEXT NOT NULL,
        asset_tag TEXT NOT NULL,
        from_owner_id TEXT,
        from_owner_name TEXT,
        to_owner_id TEXT,
        to_owner_name TEXT,
        condition TEXT,
        ticket_number TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        conflict_owner_id TEXT,
        conflict_owner_name TEXT,
        resolved_at TEXT,          -- an operator settled a conflict or failure by hand
        resolution_note TEXT,
        purged_at TEXT,            -- personal data blanked after the retention period
        data TEXT NOT NULL         -- Change.to_dict() as JSON, to resume it
    );
    CREATE INDEX changes_state ON changes (state, seq);
    CREATE INDEX changes_created ON changes (created_at);
    CREATE INDEX changes_updated ON changes (updated_at);
    """,
    # 2: changes are plans of steps (in `data`); batches and undo.
    2: """
    ALTER TABLE changes ADD COLUMN batch_id TEXT;
    ALTER TABLE changes ADD COLUMN undo_of TEXT;
    CREATE INDEX changes_undo ON changes (undo_of);
    """,
}

#: States the journal knows; a row with any other is set aside as unreadable.
_KNOWN_STATES = tuple(state.value for state in ChangeState)
#: Rows that need a person: unresolved conflicts and failures, and damaged rows.
_ATTENTION_SQL = (
    "resolved_at IS NULL AND (state IN ('conflict', 'failed', 'unreadable') "
    f"OR state NOT IN ({', '.join(repr(v) for v in _KNOWN_STATES)}))"
)

#: What `purge_personal_data` blanks in the JSON copy of a change.
_PERSONAL_FIELDS = (
    "from_owner_name",
    "to_owner_name",
    "conflict_owner_name",
    "note",
    "last_error",
    "summary",
)


class JournalError(Exception):
    """The journal cannot be opened or written; the message says what to do."""


class JournalFullError(JournalError):
    """The disk is full: the change could not be written, so nothing was sent."""


class JournalLockedError(JournalError):
    """Another process (a running kiosk, `outbox --send`) holds the journal for sending."""


@dataclass(frozen=True)
class JournalEntry:
    """A change as the journal holds it, with what only the journal knows."""

    change: Change
    resolved_at: str | None = None
    resolution_note: str | None = None
    purged_at: str | None = None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def needs_attention(self) -> bool:
        return self.change.state in ATTENTION_STATES and not self.resolved


@dataclass(frozen=True)
class UnreadableRow:
    """A journal row that cannot be read back as a change (damaged data, an unknown kind
    or state). It is set aside and reported; it never stops other changes."""

    id: str
    created_at: str
    asset_tag: str
    reason: str


def utc_iso(when: datetime) -> str:
    """`when` in the journal's time format (UTC, seconds); naive times are local time."""
    if when.tzinfo is None:
        when = when.astimezone()
    return when.astimezone(UTC).isoformat(timespec="seconds")


def default_path(data_dir: Path) -> Path:
    return data_dir / JOURNAL_FILE


class Journal:
    """The journal file. Use from one thread only; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, path: Path, lock: _FileLock | None) -> None:
        self._conn = conn
        self.path = path
        self._lock = lock
        #: Rows found damaged in this process: id -> why (see `_set_aside`).
        self.bad_rows: dict[str, str] = {}

    @classmethod
    def open(cls, path: Path, *, lock: bool = True) -> Journal:
        """Open (or create) the journal at `path`. With `lock`, fail with
        `JournalLockedError` when another process holds it for sending."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            file_lock = _FileLock.acquire(path.with_name(path.name + ".lock")) if lock else None
        except OSError as exc:
            raise JournalError(f"Cannot create the journal folder {path.parent}: {exc}") from exc
        try:
            _make_private(path)
            conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            if file_lock is not None:
                file_lock.release()
            raise JournalError(f"Cannot open the journal {path}: {exc}") from exc
        journal = cls(conn, path, file_lock)
        try:
            journal._setup()
        except sqlite3.Error as exc:
            journal.close()
            raise JournalError(
                f"The journal {path} cannot be used ({exc}). Move it aside and call IT; "
                "it may hold changes that were not sent yet."
            ) from exc
        return journal

    def _setup(self) -> None:
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"WAL mode not available (got {mode})")
        # FULL: a commit is on disk (the WAL fsynced) when it returns. The outbox relies on
        # it: a change is recorded durably before it is sent.
        conn.execute("PRAGMA synchronous=FULL")
        # Deleted or overwritten personal data is zeroed, not left in free pages.
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"it was written by a newer kiosk (schema {version}, this one reads "
                f"{SCHEMA_VERSION})"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction():
                for statement in _statements(_MIGRATIONS[target]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={target}")
            log.info("journal %s: schema now version %d", self.path, target)
        if self._lock is not None:
            marks = ", ".join("?" for _ in _KNOWN_STATES)
            conn.execute(
                "UPDATE changes SET last_error = 'unreadable: unknown state ' || state, "  # noqa: S608
                f"state = ? WHERE state NOT IN ({marks})",
                (ChangeState.UNREADABLE.value, *_KNOWN_STATES),
            )

    # --- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # --- writes ----------------------------------------------------------------------

    def record(self, change: Change) -> None:
        """Insert a newly confirmed change. Durable on disk when this returns."""
        values = _row_values(change)
        columns = ("id", *_CHANGE_COLUMNS, "data")
        marks = ", ".join("?" for _ in columns)
        with _writing():
            self._conn.execute(
                f"INSERT INTO changes ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                (change.id, *values, _to_json(change)),
            )

    def update(self, change: Change) -> None:
        """Write the change's progress (state, attempts, steps, errors)."""
        sets = ", ".join(f"{name} = ?" for name in (*_CHANGE_COLUMNS, "data"))
        with _writing():
            cursor = self._conn.execute(
                f"UPDATE changes SET {sets} WHERE id = ?",  # noqa: S608
                (*_row_values(change), _to_json(change), change.id),
            )
        if cursor.rowcount != 1:
            raise JournalError(f"change {change.id} is not in the journal")

    def resolve(self, change_id: str, note: str | None = None) -> JournalEntry:
        """An operator settled a conflict or a failure by hand: it stays in the journal with
        its state, marked resolved, and no longer needs attention."""
        entry = self.entry(change_id)
        if entry is None:
            raise JournalError(f"change {change_id} is not in the journal or cannot be read")
        if entry.change.state not in (ChangeState.CONFLICT, ChangeState.FAILED):
            raise JournalError(
                f"change {change_id} is {entry.change.state.value}; only conflicts and "
                "failures are resolved by hand"
            )
        now = utc_iso(datetime.now(UTC))
        self._conn.execute(
            "UPDATE changes SET resolved_at = ?, resolution_note = ? WHERE id = ?",
            (now, note, change_id),
        )
        return JournalEntry(entry.change, now, note, entry.purged_at)

    def purge_personal_data(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Blank names and notes in settled rows (done, or resolved by hand) last changed or
        resolved more than `older_than` ago. Ids, tags, states and times stay. Returns the count."""
        cutoff = utc_iso((now or datetime.now(UTC)) - older_than)
        stamp = utc_iso(now or datetime.now(UTC))
        purged = 0
        with self._transaction():
            rows = self._conn.execute(
                "SELECT id, data FROM changes WHERE purged_at IS NULL "
                "AND max(updated_at, coalesce(resolved_at, '')) < ? "
                "AND (state = ? OR resolved_at IS NOT NULL)",
                (cutoff, ChangeState.DONE.value),
            ).fetchall()
            for change_id, data in rows:
                blanked = _blank_personal(json.loads(data))
                self._conn.execute(
                    "UPDATE changes SET from_owner_name = NULL, to_owner_name = NULL, "
                    "conflict_owner_name = NULL, last_error = NULL, resolution_note = NULL, "
                    "purged_at = ?, data = ? WHERE id = ?",
                    (stamp, json.dumps(blanked, sort_keys=True), change_id),
                )
                purged += 1
        if purged:
            # Do not leave the old text in the write-ahead log either.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            log.info("journal: personal data purged from %d changes", purged)
        return purged

    # --- reads -----------------------------------------------------------------------

    def get(self, change_id: str) -> Change | None:
        entry = self.entry(change_id)
        return entry.change if entry else None

    def entry(self, change_id: str) -> JournalEntry | None:
        rows = self._entries("WHERE id = ?", (change_id,))
        return rows[0] if rows else None

    def pending(self) -> list[Change]:
        """Changes not yet known to be applied, oldest first (the order to send them in)."""
        rows = self._entries("WHERE state = ? ORDER BY seq", (ChangeState.PENDING.value,))
        return [row.change for row in rows]

    def attention(self) -> list[Change]:
        """Conflicts and failures nobody has resolved yet, oldest first."""
        rows = self._entries(
            "WHERE state IN (?, ?) AND resolved_at IS NULL ORDER BY seq",
            (ChangeState.CONFLICT.value, ChangeState.FAILED.value),
        )
        return [row.change for row in rows]

    def unreadable(self) -> list[UnreadableRow]:
        """Rows set aside because they cannot be read back, oldest first."""
        marks = ", ".join("?" for _ in _KNOWN_STATES)
        cursor = self._conn.execute(
            "SELECT id, created_at, asset_tag, state, last_error FROM changes "  # noqa: S608
            f"WHERE resolved_at IS NULL AND (state = ? OR state NOT IN ({marks})) ORDER BY seq",
            (ChangeState.UNREADABLE.value, *_KNOWN_STATES),
        )
        found = {
            row_id: UnreadableRow(
                row_id,
                created,
                tag,
                error if state == ChangeState.UNREADABLE.value else f"unknown state “{state}”",
            )
            for row_id, created, tag, state, error in cursor
        }
        for row_id, reason in self.bad_rows.items():
            found.setdefault(row_id, UnreadableRow(row_id, "", "", reason))
        return list(found.values())

    def undo_of(self, change_id: str) -> list[Change]:
        """The undo changes recorded for `change_id`."""
        return [e.change for e in self._entries("WHERE undo_of = ? ORDER BY seq", (change_id,))]

    def session(self, since: datetime) -> list[JournalEntry]:
        """Changes confirmed at or after `since`, newest first (the "this session" list)."""
        return self._entries("WHERE created_at >= ? ORDER BY seq DESC", (utc_iso(since),))

    def recent(self, limit: int = 50) -> list[JournalEntry]:
        """The last `limit` changes, newest first."""
        return self._entries("ORDER BY seq DESC LIMIT ?", (limit,))

    def counts(self) -> dict[str, int]:
        """How many changes are in each state, and `attention`: unresolved conflicts and
        failures."""
        counts = {state.value: 0 for state in ChangeState}
        for state, count in self._conn.execute(
            "SELECT state, COUNT(*) FROM changes GROUP BY state"
        ):
            counts[str(state)] = int(count)
        row = self._conn.execute(
            f"SELECT COUNT(*) FROM changes WHERE {_ATTENTION_SQL}"  # noqa: S608
        ).fetchone()
        unknown = {k for k in counts if k not in _KNOWN_STATES}
        counts[ChangeState.UNREADABLE.value] += sum(counts.pop(k) for k in unknown)
        counts["attention"] = int(row[0]) + len(set(self.bad_rows) - self._marked_bad())
        return counts

    def _marked_bad(self) -> set[str]:
        """The damaged rows not to count again: marked unreadable, or counted by
        `_ATTENTION_SQL` already (a conflict or failure a reader without the lock could not
        mark)."""
        if not self.bad_rows:
            return set()
        marks = ", ".join("?" for _ in self.bad_rows)
        cursor = self._conn.execute(
            f"SELECT id FROM changes WHERE (state = ? OR {_ATTENTION_SQL}) "  # noqa: S608
            f"AND id IN ({marks})",
            (ChangeState.UNREADABLE.value, *self.bad_rows),
        )
        return {row[0] for row in cursor}

    def export(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The audit rows (no JSON, no check-in internals), oldest first."""
        where, params = ("WHERE created_at >= ?", (utc_iso(since),)) if since else ("", ())
        cursor = self._conn.execute(
            f"SELECT {', '.join(EXPORT_COLUMNS)} FROM changes {where} ORDER BY seq",  # noqa: S608
            params,
        )
        return [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in cursor]

    def export_csv(self, path: Path, since: datetime | None = None) -> int:
        """Write `export(since)` to a CSV file (UTF-8 with BOM, for Excel). Returns rows."""
        rows = self.export(since)
        with Path(path).open("w", newline="", encoding="utf-8-sig") as handle:
            write_csv(handle, rows)
        return len(rows)

    # --- plumbing --------------------------------------------------------------------

    def _entries(self, clause: str, params: Iterable[Any]) -> list[JournalEntry]:
        cursor = self._conn.execute(
            "SELECT id, data, state, resolved_at, resolution_note, purged_at "  # noqa: S608
            f"FROM changes {clause}",
            tuple(params),
        )
        entries = []
        bad: list[tuple[str, str]] = []
        for row_id, data, state, resolved_at, note, purged_at in cursor.fetchall():
            try:
                change = Change.from_dict(json.loads(data))
                change.state = ChangeState(state)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                bad.append((row_id, f"{type(exc).__name__}: {str(exc)[:120]}"))
                continue
            if change.state is ChangeState.UNREADABLE:
                continue
            entries.append(JournalEntry(change, resolved_at, note, purged_at))
        for row_id, reason in bad:
            self._set_aside(row_id, reason)
        return entries

    def _set_aside(self, row_id: str, reason: str) -> None:
        """A damaged row: marked unreadable (when this process may write) and reported,
        never a reason to stop reading the others."""
        if row_id not in self.bad_rows:
            log.error("journal: change %s cannot be read (%s); set aside", row_id, reason)
        self.bad_rows[row_id] = reason
        if self._lock is None:
            return
        try:
            self._conn.execute(
                "UPDATE changes SET state = ?, last_error = ? WHERE id = ?",
                (ChangeState.UNREADABLE.value, f"unreadable: {reason}", row_id),
            )
        except sqlite3.Error as exc:
            log.warning("journal: could not mark change %s unreadable (%s)", row_id, exc)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


def write_csv(handle: IO[str], rows: list[dict[str, Any]]) -> None:
    writer = csv.DictWriter(handle, fieldnames=list(EXPORT_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_cell(value) for key, value in row.items()})


def _csv_cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet: names and notes come from
    # other people, so never let them run as one (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _to_json(change: Change) -> str:
    return json.dumps(change.to_dict(), sort_keys=True, default=str)


def _row_values(change: Change) -> tuple[Any, ...]:
    values: list[Any] = []
    for name in _CHANGE_COLUMNS:
        value = getattr(change, name)
        values.append(value.value if isinstance(value, Enum) else value)
    return tuple(values)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """A full disk is said in words: the change was not written, so nothing was sent."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "full" in str(exc).lower():
            raise JournalFullError("The kiosk's disk is full: nothing was sent.") from exc
        raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise JournalFullError("The kiosk's disk is full: nothing was sent.") from exc
        raise


def _blank_personal(data: dict[str, Any]) -> dict[str, Any]:
    for name in _PERSONAL_FIELDS:
        if data.get(name) is not None:
            data[name] = None
    ticket = data.get("ticket")  # schema 1
    if isinstance(ticket, dict) and ticket.get("description"):
        ticket["description"] = None
    for step in data.get("steps") or []:
        request = step.get("request") if isinstance(step, dict) else None
        if isinstance(request, dict) and request.get("description"):
            request["description"] = ""
    return data


def _make_private(path: Path) -> None:
    """Create the file readable and writable by its owner only. SQLite creates the -wal and
    -shm files with the same permissions as the database file.

    On Windows the per-user data folder (%LOCALAPPDATA%) is private to the user already
    and POSIX modes mean nothing there, so nothing is done."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    path.chmod(0o600)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.chmod(0o600)


class _FileLock:
    """An OS lock on a small file next to the journal, held while the journal is open.
    The OS drops it when the process dies, so a killed kiosk never leaves it behind."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle: IO[bytes] | None = handle

    @classmethod
    def acquire(cls, path: Path) -> _FileLock:
        if sys.platform != "win32":  # the user's alone, like the journal itself
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            path.chmod(0o600)
        handle = path.open("a+b")
        try:
            _lock_file(handle)
        except OSError:
            handle.close()
            raise JournalLockedError(
                f"The journal {path.with_suffix('')} is in use by another kiosk process "
                "(the kiosk window or 'outbox --send'). Close it first."
            ) from None
        return cls(handle)

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):  # closing the file drops the lock anyway
                _unlock_file(self._handle)
            self._handle.close()
            self._handle = None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows
    import msvcrt

    def _lock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class AsyncJournal:
    """The journal for async code: each call runs on one dedicated worker thread (the one
    that opened the SQLite connection), so the event loop never blocks on the disk.

    Changes are copied on the loop's thread before they are handed over, so the outbox may
    keep changing its own object while the copy is written."""

    def __init__(self, journal: Journal, executor: ThreadPoolExecutor) -> None:
        self._journal = journal
        self._executor = executor
        self.path = journal.path

    @classmethod
    async def open(cls, path: Path, *, lock: bool = True) -> AsyncJournal:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        loop = asyncio.get_running_loop()
        try:
            journal = await loop.run_in_executor(executor, lambda: Journal.open(path, lock=lock))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(journal, executor)

    async def _call(self, func: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func)

    async def record(self, change: Change) -> None:
        snapshot = _copy(change)
        await self._call(lambda: self._journal.record(snapshot))

    async def update(self, change: Change) -> None:
        snapshot = _copy(change)
        await self._call(lambda: self._journal.update(snapshot))

    async def resolve(self, change_id: str, note: str | None = None) -> JournalEntry:
        return await self._call(lambda: self._journal.resolve(change_id, note))

    async def get(self, change_id: str) -> Change | None:
        return await self._call(lambda: self._journal.get(change_id))

    async def entry(self, change_id: str) -> JournalEntry | None:
        return await self._call(lambda: self._journal.entry(change_id))

    async def pending(self) -> list[Change]:
        return await self._call(self._journal.pending)

    async def attention(self) -> list[Change]:
        return await self._call(self._journal.attention)

    async def session(self, since: datetime) -> list[JournalEntry]:
        return await self._call(lambda: self._journal.session(since))

    async def recent(self, limit: int = 50) -> list[JournalEntry]:
        return await self._call(lambda: self._journal.recent(limit))

    async def counts(self) -> dict[str, int]:
        return await self._call(self._journal.counts)

    async def unreadable(self) -> list[UnreadableRow]:
        return await self._call(self._journal.unreadable)

    async def undo_of(self, change_id: str) -> list[Change]:
        return await self._call(lambda: self._journal.undo_of(change_id))

    async def export(self, since: datetime | None = None) -> list[dict[str, Any]]:
        return await self._call(lambda: self._journal.export(since))

    async def export_csv(self, path: Path, since: datetime | None = None) -> int:
        return await self._call(lambda: self._journal.export_csv(path, since))

    async def purge_personal_data(self, older_than: timedelta) -> int:
        return await self._call(lambda: self._journal.purge_personal_data(older_than))

    async def aclose(self) -> None:
        try:
            await self._call(self._journal.close)
        finally:
            self._executor.shutdown(wait=False)


def _copy(change: Change) -> Change:
    return change.copy()
