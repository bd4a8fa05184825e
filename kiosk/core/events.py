"""Events: a distribution or collection drive prepared ahead into an event pack, run with or
without the network, and counted live across stations; and audit scans of a room or cart.

An event pack is one SQLite file per event and station, `<data_dir>/events/<slug>.sqlite3`,
readable by the user only (POSIX modes; on Windows the per-user data folder is private
already), holding the fewest fields that let a station work without Incident IQ:

- `event`: name, kind (collect | distribute | audit), the scope as given and as resolved to
  ids, when it was made, prepared and last refreshed, and the station;
- `people`: id, name, first and last name, school ID, email, username, grade, homeroom,
  location; `name_words` holds each word of a name folded (lower case, accents and
  punctuation removed) for type-ahead by prefix of any word;
- `devices`: id, tag, serial, model, owner (now, and at prepare), location, room, status,
  modified date, and when this pack read it;
- `cursors`: one row per paged query of the prepare, with the next page to read: each page
  is stored in the same transaction as its cursor, so a prepare that was interrupted goes
  on where it stopped and never reads a stored page again;
- `audit_seen`: one row per device scanned in an audit (tag, id, time, station, verdict).

What the kinds hold:
- collect: the people in scope (`POST /users`, facets role, location, grade) and the
  devices they hold (`POST /assets`, facet user: each page of people is one query of
  their devices, model too when given);
- distribute: the devices waiting (no owner) at `devices_at` (a location or a configured
  cart), and the people in scope who hold none (of the model, when given);
- audit: every device at `devices_at` (what an audit walk expects to see there).

Incident IQ stays the only system of record. A station counts its own journal at once
(`progress(journal_rows=...)`: check-outs and check-ins of the pack's devices, read from the
journal, never written to it) and learns what other stations did by `refresh`: the pack's
devices re-read by tag in paged queries, one request at a time, never faster than
`min_interval_s`.

`EventPack` is synchronous (SQLite) and safe to share between the event loop's thread and
worker threads (one lock); `prepare` and `refresh` do their disk work in a worker thread.
Searches and lookups are indexed and answer in well under a millisecond on the loop's
thread. `close()` ends an event: the file (and its -wal / -shm) is deleted; `release()`
only closes the connection. Logs carry ids and counts, never names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sqlite3
import sys
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

# Re-exported: an event's kinds and audit results are part of its pack's API.
from kiosk.core.audit import AuditResult as AuditResult
from kiosk.core.audit import AuditSeen as AuditSeen
from kiosk.core.audit import AuditVerdict as AuditVerdict
from kiosk.core.audit import EventKind as EventKind
from kiosk.core.journal import Journal, utc_iso
from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import NotFoundError
from kiosk.iiq.models import (
    Asset,
    Filter,
    LocationRef,
    ModelRef,
    Page,
    Person,
    StatusRef,
)

if TYPE_CHECKING:
    # kiosk.core.transactions (and the name resolving that needs it) is imported where it
    # is used: the window's modules that read packs import this one early.
    from kiosk.core.transactions import CartTarget

log = logging.getLogger(__name__)

T = TypeVar("T")

EVENTS_FOLDER = "events"
PACK_SUFFIX = ".sqlite3"
SCHEMA_VERSION = 1
#: Rows asked for per page of a prepare or refresh.
PAGE_SIZE = 250
#: Owners (or tags) per query: one page of people becomes one query of their devices.
BATCH_SIZE = 250
#: The request rate of a prepare or refresh unless told otherwise ([events] min_interval_s).
MIN_INTERVAL_S = 0.05

_SCHEMA = """
CREATE TABLE event (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,            -- EventScope as given (names), JSON
    resolved TEXT,                  -- the scope as ids, JSON (set once, kept on resume)
    station TEXT NOT NULL,
    created_at TEXT NOT NULL,
    prepared_at TEXT,               -- every query read to its end
    refreshed_at TEXT
);
CREATE TABLE people (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    school_id TEXT COLLATE NOCASE,
    email TEXT COLLATE NOCASE,
    username TEXT COLLATE NOCASE,
    grade TEXT,
    homeroom TEXT,
    location_id TEXT,
    location_name TEXT,
    sort_key TEXT NOT NULL,
    holds INTEGER NOT NULL DEFAULT 0    -- devices held at prepare (distribute keeps 0s)
);
CREATE INDEX people_school_id ON people (school_id);
CREATE INDEX people_email ON people (email);
CREATE INDEX people_username ON people (username);
CREATE TABLE name_words (
    word TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (word, sort_key, user_id)
) WITHOUT ROWID;
CREATE INDEX name_words_user ON name_words (user_id, word);
CREATE TABLE devices (
    asset_id TEXT PRIMARY KEY,
    tag TEXT COLLATE NOCASE,
    serial TEXT COLLATE NOCASE,
    model_name TEXT,
    owner_id TEXT,
    owner_at_prepare TEXT,
    location_id TEXT,
    location_name TEXT,
    room_id TEXT,
    status_name TEXT,
    modified_date TEXT,
    read_at TEXT NOT NULL
);
CREATE INDEX devices_tag ON devices (tag);
CREATE INDEX devices_serial ON devices (serial);
CREATE INDEX devices_owner ON devices (owner_id);
CREATE TABLE cursors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    route TEXT NOT NULL,            -- users | assets
    purpose TEXT NOT NULL,          -- people | held | waiting | expected
    filters TEXT NOT NULL,          -- Filter.to_json() list
    next_page INTEGER NOT NULL DEFAULT 0,
    page_count INTEGER,
    total_rows INTEGER,
    rows INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit_seen (
    key TEXT PRIMARY KEY,           -- the asset id, or "tag:" + the code for an unknown one
    asset_id TEXT,
    tag TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    station TEXT NOT NULL,
    verdict TEXT NOT NULL,
    scans INTEGER NOT NULL DEFAULT 1
);
"""


# --- errors, kinds, scope ---------------------------------------------------------------


class EventError(Exception):
    """An event pack cannot be made, opened or used; the message says what to do."""


class EventNotFoundError(EventError):
    """No pack of that name on this station."""


class EventExistsError(EventError):
    """A pack of that name is prepared already (or half prepared with another scope)."""


@dataclass(frozen=True)
class EventScope:
    """Who and what an event is about, as the operator gave it (names, not ids). Each
    option is one filter group: several values of one option are OR-ed, options AND-ed."""

    locations: tuple[str, ...] = ()  # the people's school (name or abbreviation)
    grades: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # Student, Faculty, Staff...
    devices_at: str | None = None  # distribute / audit: a location name or a cart label
    models: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "locations": list(self.locations),
            "grades": list(self.grades),
            "roles": list(self.roles),
            "devices_at": self.devices_at,
            "models": list(self.models),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventScope:
        return cls(
            locations=tuple(data.get("locations") or ()),
            grades=tuple(data.get("grades") or ()),
            roles=tuple(data.get("roles") or ()),
            devices_at=data.get("devices_at"),
            models=tuple(data.get("models") or ()),
        )

    def describe(self) -> str:
        """The scope in words: "grade 07, Student at Roosevelt Middle School"."""
        parts: list[str] = []
        if self.grades:
            parts.append("grade " + " or ".join(self.grades))
        if self.roles:
            parts.append(" or ".join(self.roles))
        if self.locations:
            parts.append("at " + " or ".join(self.locations))
        if self.models:
            parts.append("model " + " or ".join(self.models))
        if self.devices_at:
            parts.append(f"devices at {self.devices_at}")
        return ", ".join(parts) or "everyone"


@dataclass(frozen=True)
class ResolvedScope:
    """The scope as ids, resolved once when the prepare starts (and kept on resume)."""

    location_ids: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    role_ids: tuple[str, ...] = ()
    devices_at_location_id: str | None = None
    devices_at_location_name: str | None = None
    devices_at_room_id: str | None = None
    model_ids: tuple[str, ...] = ()
    model_names: tuple[str, ...] = ()  # a site without a models list filters by name

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResolvedScope:
        fields_: dict[str, Any] = {}
        for name, default in cls().__dict__.items():
            value = data.get(name, default)
            fields_[name] = tuple(value or ()) if isinstance(default, tuple) else value
        return cls(**fields_)

    def people_filters(self) -> list[Filter]:
        return _grouped(
            [Filter("role", id=i) for i in self.role_ids],
            [Filter("location", id=i) for i in self.location_ids],
            [Filter("grade", value=g) for g in self.grades],
        )

    def model_group(self) -> list[Filter]:
        return [Filter("model", id=i) for i in self.model_ids] + [
            Filter("model", value=n) for n in self.model_names
        ]

    def place_filters(self) -> list[Filter]:
        place = [Filter("location", id=self.devices_at_location_id)]
        return _grouped(place if self.devices_at_location_id else [], self.model_group())


def _grouped(*groups: list[Filter]) -> list[Filter]:
    """Filters with one GroupIndex per non-empty group (OR inside, AND between)."""
    out: list[Filter] = []
    index = 0
    for group in groups:
        if not group:
            continue
        out += [Filter(f.facet, id=f.id, value=f.value, group_index=index) for f in group]
        index += 1
    return out


# --- records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PackPerson:
    user_id: str
    name: str
    first_name: str | None
    last_name: str | None
    school_id: str | None
    email: str | None
    username: str | None
    grade: str | None
    homeroom: str | None
    location_id: str | None
    location_name: str | None

    def to_person(self) -> Person:
        """The person as the rest of the kiosk knows people (the pack keeps no role or
        active flag: a change still reads Incident IQ before it is sent)."""
        return Person(
            user_id=self.user_id,
            name=self.name,
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            username=self.username,
            school_id_number=self.school_id,
            grade=self.grade,
            homeroom=self.homeroom,
            location_id=self.location_id,
            location_name=self.location_name,
        )


@dataclass(frozen=True)
class PackDevice:
    asset_id: str
    tag: str | None
    serial: str | None
    model_name: str | None
    owner_id: str | None
    owner_at_prepare: str | None
    location_id: str | None
    location_name: str | None
    room_id: str | None
    status_name: str | None
    modified_date: str | None
    read_at: str

    @property
    def label(self) -> str:
        tag = self.tag or self.serial or self.asset_id
        return f"{tag} ({self.model_name})" if self.model_name else tag

    def to_asset(self, owner: PackPerson | None = None) -> Asset:
        """The device as last read (a card to show; a change reads it again first)."""
        return Asset(
            asset_id=self.asset_id,
            asset_tag=self.tag,
            serial_number=self.serial,
            model=ModelRef(name=self.model_name) if self.model_name else None,
            owner_id=self.owner_id,
            owner=owner.to_person() if owner is not None else None,
            location_id=self.location_id,
            location=LocationRef(location_id=self.location_id, name=self.location_name)
            if self.location_id
            else None,
            location_room_id=self.room_id,
            status=StatusRef(name=self.status_name) if self.status_name else None,
            modified_date=self.modified_date,
        )


@dataclass(frozen=True)
class PackInfo:
    """A pack as `event list` shows it."""

    path: Path
    name: str
    kind: EventKind
    scope: EventScope
    created_at: str
    prepared_at: str | None
    refreshed_at: str | None
    people: int
    devices: int

    @property
    def ready(self) -> bool:
        return self.prepared_at is not None


@dataclass(frozen=True)
class PrepareProgress:
    """Where a prepare stands: rows and pages stored so far (this run and earlier ones),
    requests sent in this run, and the rows Incident IQ says the queries known so far
    have in all (grows as the devices of each page of people are queried)."""

    rows: int
    pages: int
    total: int | None
    requests: int


@dataclass(frozen=True)
class RefreshResult:
    devices_read: int
    changed: int
    requests: int
    refreshed_at: str


# --- text folding -----------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case without accents: "Ángel" -> "angel", "Straße" -> "strasse"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_words(*parts: str | None) -> set[str]:
    """The words a name is found by: every word of every part, folded, and a word with an
    apostrophe or hyphen also whole ("O'Brien" -> o, brien, obrien)."""
    words: set[str] = set()
    for part in parts:
        if not part:
            continue
        for chunk in fold(part).split():
            pieces = _WORD.findall(chunk)
            words.update(pieces)
            if len(pieces) > 1:
                words.add("".join(pieces))
    return words


def search_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for chunk in fold(text).split():
        joined = "".join(_WORD.findall(chunk))
        if joined:
            tokens.append(joined)
    return tokens


_TOP = chr(0x10FFFF)


# --- where packs live -------------------------------------------------------------------


def slug(name: str) -> str:
    """The file name of an event: "June returns, CHS" -> "june-returns-chs"."""
    text = re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")
    if not text:
        raise EventError("Give the event a name with letters or digits in it.")
    return text[:60].rstrip("-")


def events_dir(data_dir: Path) -> Path:
    return Path(data_dir) / EVENTS_FOLDER


def pack_path(data_dir: Path, name: str) -> Path:
    return events_dir(data_dir) / (slug(name) + PACK_SUFFIX)


def pack_files(path: Path) -> list[Path]:
    """The pack's file and SQLite's companions (-wal, -shm, -journal)."""
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))]


def remove_pack(path: Path) -> bool:
    """Delete the pack and its companion files. True when anything was there."""
    removed = False
    for part in pack_files(path):
        try:
            part.unlink()
            removed = True
        except FileNotFoundError:
            continue
    return removed


def list_packs(data_dir: Path) -> list[PackInfo]:
    """The packs on this station, oldest first (a damaged one is left out and logged)."""
    found: list[PackInfo] = []
    folder = events_dir(data_dir)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*" + PACK_SUFFIX)):
        try:
            pack = EventPack.open(path)
        except EventError as exc:
            log.warning("event pack %s cannot be read (%s)", path.name, exc)
            continue
        with pack:
            found.append(pack.info())
    found.sort(key=lambda info: info.created_at)
    return found


def expire_packs(data_dir: Path, keep_days: int, now: datetime | None = None) -> list[Path]:
    """Delete the packs made more than `keep_days` ago (a pack that cannot be read goes by
    its file's time). Returns the paths removed. A pack in use elsewhere (Windows refuses
    to delete an open file) is left for next time."""
    moment = now or datetime.now(UTC)
    cutoff = utc_iso(moment - timedelta(days=keep_days))
    removed: list[Path] = []
    folder = events_dir(data_dir)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob("*" + PACK_SUFFIX)):
        try:
            created = _created_at(path)
        except (sqlite3.Error, OSError):
            created = utc_iso(datetime.fromtimestamp(path.stat().st_mtime, UTC))
        if created >= cutoff:
            continue
        try:
            remove_pack(path)
        except OSError as exc:
            log.warning("event pack %s expired but cannot be deleted yet (%s)", path.name, exc)
            continue
        log.info(
            "event pack %s expired (made %s, kept %d days): deleted", path.name, created, keep_days
        )
        removed.append(path)
    return removed


def _created_at(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        row = conn.execute("SELECT created_at FROM event WHERE id = 1").fetchone()
    finally:
        conn.close()
    if row is None:
        raise sqlite3.DatabaseError("no event row")
    return str(row[0])


def _make_private(path: Path) -> None:
    """Create the file readable by its owner only (SQLite gives -wal and -shm the same
    mode). On Windows the per-user data folder is private already: nothing to do."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    path.chmod(0o600)
    for extra in pack_files(path)[1:]:
        if extra.exists():
            extra.chmod(0o600)


# --- the rate gate ----------------------------------------------------------------------


class RateGate:
    """At least `min_interval_s` between the starts of two requests (one at a time)."""

    def __init__(
        self,
        min_interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.min_interval_s = max(0.0, min_interval_s)
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self.requests = 0

    async def wait(self) -> None:
        if self._last is not None:
            delay = self._last + self.min_interval_s - self._clock()
            if delay > 0:
                await self._sleep(delay)
        self._last = self._clock()
        self.requests += 1


# --- the pack ---------------------------------------------------------------------------


class EventPack:
    """One event's pack. See the module docstring. Use `create`/`open`, then `release()`
    (or `with pack:`) when done with it; `close()` deletes it."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()
        row = conn.execute(
            "SELECT name, kind, scope, resolved, station, created_at FROM event WHERE id = 1"
        ).fetchone()
        if row is None:
            raise EventError(f"The event pack {path.name} is empty: close it and prepare again.")
        self.name: str = row[0]
        self.kind = EventKind(row[1])
        self.scope = EventScope.from_json(json.loads(row[2]))
        self.resolved: ResolvedScope | None = (
            ResolvedScope.from_json(json.loads(row[3])) if row[3] else None
        )
        self.station: str = row[4]
        self.created_at: str = row[5]

    # --- lifecycle ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        name: str,
        kind: EventKind,
        scope: EventScope,
        *,
        station: str = "",
        now: datetime | None = None,
    ) -> EventPack:
        """A new, empty pack (nothing read yet). Raises EventExistsError if one is there."""
        path = Path(path)
        if path.exists():
            raise EventExistsError(f"There is an event pack {path.name} already.")
        try:
            _make_private(path)
            conn = _connect(path)
            with _transaction(conn):
                for statement in _statements(_SCHEMA):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute(
                    "INSERT INTO event (id, name, kind, scope, station, created_at) "
                    "VALUES (1, ?, ?, ?, ?, ?)",
                    (
                        name.strip(),
                        kind.value,
                        json.dumps(scope.to_json()),
                        station,
                        utc_iso(now or datetime.now(UTC)),
                    ),
                )
        except (OSError, sqlite3.Error) as exc:
            remove_pack(path)
            raise EventError(f"Cannot create the event pack {path}: {exc}") from exc
        _make_private(path)
        log.info("event pack %s created (%s)", path.name, kind.value)
        return cls(conn, path)

    @classmethod
    def open(cls, path: Path) -> EventPack:
        path = Path(path)
        if not path.exists():
            raise EventNotFoundError(f"There is no event pack {path.name} on this station.")
        try:
            conn = _connect(path)
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version != SCHEMA_VERSION:
                conn.close()
                raise EventError(
                    f"The event pack {path.name} was made by another version of the kiosk "
                    f"(schema {version}): close it and prepare the event again."
                )
            return cls(conn, path)
        except sqlite3.Error as exc:
            raise EventError(
                f"The event pack {path.name} cannot be read ({exc}): close it and prepare "
                "the event again."
            ) from exc

    def release(self) -> None:
        """Close the connection; the pack stays on disk."""
        with self._lock:
            self._conn.close()

    def close(self) -> bool:
        """End the event on this station: the pack's personal data is deleted (the file,
        its -wal and -shm). True when there was a file to delete."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            removed = remove_pack(self.path)
        log.info("event pack %s closed and deleted", self.path.name)
        return removed

    def __enter__(self) -> EventPack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):
            self.release()

    # --- what it is ----------------------------------------------------------------------

    def _event_row(self) -> tuple[str | None, str | None]:
        with self._lock:
            row = self._conn.execute(
                "SELECT prepared_at, refreshed_at FROM event WHERE id = 1"
            ).fetchone()
        return row[0], row[1]

    @property
    def prepared_at(self) -> str | None:
        return self._event_row()[0]

    @property
    def refreshed_at(self) -> str | None:
        return self._event_row()[1]

    @property
    def ready(self) -> bool:
        """Every query of the prepare was read to its end."""
        return self.prepared_at is not None

    def age_at(self, now: datetime) -> timedelta | None:
        """How old the pack's picture of Incident IQ is: since the last refresh, or since
        it was prepared (None while it is not prepared)."""
        prepared, refreshed = self._event_row()
        stamp = refreshed or prepared
        if stamp is None:
            return None
        return max(timedelta(0), now - datetime.fromisoformat(stamp))

    @property
    def age(self) -> timedelta | None:
        return self.age_at(datetime.now(UTC))

    def counts(self) -> tuple[int, int]:
        """(people, devices) in the pack."""
        with self._lock:
            people = self._conn.execute("SELECT COUNT(*) FROM people").fetchone()[0]
            devices = self._conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0]
        return int(people), int(devices)

    def info(self) -> PackInfo:
        prepared, refreshed = self._event_row()
        people, devices = self.counts()
        return PackInfo(
            self.path,
            self.name,
            self.kind,
            self.scope,
            self.created_at,
            prepared,
            refreshed,
            people,
            devices,
        )

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in pack_files(self.path) if p.exists())

    # --- lookups -----------------------------------------------------------------------

    def search_people(self, text: str, limit: int = 20) -> list[PackPerson]:
        """Type-ahead: people each typed word of whom is the start of a word of their name
        (any case, any accents), by the matched word and then by last name."""
        tokens = search_tokens(text)
        if not tokens or limit <= 0:
            return []
        anchor = max(tokens, key=len)
        others = list(tokens)
        others.remove(anchor)
        sql = "SELECT w.user_id FROM name_words w WHERE w.word >= ? AND w.word < ?"
        params: list[Any] = [anchor, anchor + _TOP]
        for token in others:
            sql += (
                " AND EXISTS (SELECT 1 FROM name_words x WHERE x.user_id = w.user_id "
                "AND x.word >= ? AND x.word < ?)"
            )
            params += [token, token + _TOP]
        sql += " ORDER BY w.word, w.sort_key"
        ids: list[str] = []
        seen: set[str] = set()
        with self._lock:
            for (user_id,) in self._conn.execute(sql, params):
                if user_id not in seen:
                    seen.add(user_id)
                    ids.append(user_id)
                    if len(ids) >= limit:
                        break
            people = self._people_by_ids(ids)
        return [people[i] for i in ids if i in people]

    def person(self, user_id: str) -> PackPerson | None:
        with self._lock:
            return self._people_by_ids([user_id]).get(user_id)

    def person_by_code(self, code: str) -> PackPerson | None:
        """The one person whose school ID, email or username is exactly `code` (any case),
        tried in that order; None when nobody or several match (then ask Incident IQ)."""
        text = code.strip()
        if not text:
            return None
        with self._lock:
            for column in ("school_id", "email", "username"):
                rows = self._conn.execute(
                    f"SELECT {_PERSON_COLUMNS} FROM people WHERE {column} = ? LIMIT 2",  # noqa: S608
                    (text,),
                ).fetchall()
                if len(rows) == 1:
                    return PackPerson(*rows[0])
                if rows:
                    return None
        return None

    def device_by_code(self, code: str) -> list[PackDevice]:
        """The devices whose tag is `code` (any case), else whose serial is (duplicate
        tags exist: the caller lets the operator pick)."""
        text = code.strip()
        if not text:
            return []
        with self._lock:
            for column in ("tag", "serial"):
                rows = self._conn.execute(
                    f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE {column} = ?",  # noqa: S608
                    (text,),
                ).fetchall()
                if rows:
                    return [PackDevice(*row) for row in rows]
        return []

    def device(self, asset_id: str) -> PackDevice | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE asset_id = ?",  # noqa: S608
                (asset_id,),
            ).fetchone()
        return PackDevice(*row) if row else None

    def devices(self) -> list[PackDevice]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices ORDER BY tag, asset_id"  # noqa: S608
            ).fetchall()
        return [PackDevice(*row) for row in rows]

    def people(self) -> list[PackPerson]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_PERSON_COLUMNS} FROM people ORDER BY sort_key, user_id"  # noqa: S608
            ).fetchall()
        return [PackPerson(*row) for row in rows]

    def _people_by_ids(self, ids: Sequence[str]) -> dict[str, PackPerson]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self._conn.execute(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE user_id IN ({marks})",  # noqa: S608
            tuple(ids),
        ).fetchall()
        return {row[0]: PackPerson(*row) for row in rows}

    # --- writing (prepare, refresh; also for tools that build a pack) ------------------------

    def add_people(self, people: Iterable[Person]) -> int:
        with self._lock, _transaction(self._conn):
            return self._insert_people(people)

    def add_devices(self, assets: Iterable[Asset], *, read_at: str | None = None) -> int:
        with self._lock, _transaction(self._conn):
            return self._insert_devices(assets, read_at or utc_iso(datetime.now(UTC)))

    def _insert_people(self, people: Iterable[Person]) -> int:
        rows = []
        words = []
        for p in people:
            if not p.user_id:
                continue
            name = p.display_name
            sort_key = fold(f"{p.last_name or ''} {p.first_name or ''} {name}").strip()
            rows.append(
                (
                    p.user_id,
                    name,
                    p.first_name,
                    p.last_name,
                    p.school_id_number,
                    p.email,
                    p.username,
                    p.grade,
                    p.homeroom,
                    p.location_id,
                    p.location_name,
                    sort_key,
                )
            )
            words += [(w, sort_key, p.user_id) for w in name_words(name, p.first_name, p.last_name)]
        self._conn.executemany(
            "INSERT OR REPLACE INTO people (user_id, name, first_name, last_name, school_id, "
            "email, username, grade, homeroom, location_id, location_name, sort_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._conn.executemany("INSERT OR IGNORE INTO name_words VALUES (?, ?, ?)", words)
        return len(rows)

    def _insert_devices(self, assets: Iterable[Asset], read_at: str) -> int:
        rows = [
            (
                a.asset_id,
                a.asset_tag,
                a.serial_number,
                a.model_name,
                a.current_owner_id,
                a.current_owner_id,
                a.location_id,
                a.location_name,
                a.location_room_id,
                a.status_name,
                a.modified_date,
                read_at,
            )
            for a in assets
        ]
        self._conn.executemany(
            "INSERT OR REPLACE INTO devices (asset_id, tag, serial, model_name, owner_id, "
            "owner_at_prepare, location_id, location_name, room_id, status_name, "
            "modified_date, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    # --- the prepare's queries ------------------------------------------------------------

    def _set_resolved(self, resolved: ResolvedScope) -> None:
        with self._lock, _transaction(self._conn):
            self._conn.execute(
                "UPDATE event SET resolved = ? WHERE id = 1", (json.dumps(resolved.to_json()),)
            )
        self.resolved = resolved

    def _add_query(self, key: str, route: str, purpose: str, filters: Sequence[Filter]) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO cursors (key, route, purpose, filters) VALUES (?, ?, ?, ?)",
            (key, route, purpose, json.dumps([f.to_json() for f in filters])),
        )

    def _next_query(self) -> _Query | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT key, route, purpose, filters, next_page FROM cursors WHERE done = 0 "
                "ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return _Query(row[0], row[1], row[2], _filters_from_json(row[3]), int(row[4]))

    def _stats(self) -> tuple[int, int, int | None]:
        with self._lock:
            rows, pages, total, known = self._conn.execute(
                "SELECT COALESCE(SUM(rows), 0), COALESCE(SUM(next_page), 0), "
                "SUM(total_rows), COUNT(total_rows) FROM cursors"
            ).fetchone()
        return int(rows), int(pages), int(total) if known else None

    def _store_page(self, query: _Query, page: Page[Any], last: bool, read_at: str) -> None:
        """One page and its cursor, in one transaction: after a crash either both are
        there or neither."""
        with self._lock, _transaction(self._conn):
            kept = 0
            if query.purpose == "people":
                people = [p for p in page.items if isinstance(p, Person)]
                if self.kind is EventKind.DISTRIBUTE:
                    people = [p for p in people if p.can_own_devices]
                kept = self._insert_people(people)
                ids = [p.user_id for p in people if p.user_id]
                if ids and self.kind is not EventKind.AUDIT and self.resolved is not None:
                    owners = [Filter("user", id=i) for i in ids]
                    self._add_query(
                        f"held:{query.next_page}",
                        "assets",
                        "held",
                        _grouped(owners, self.resolved.model_group()),
                    )
            else:
                assets = [a for a in page.items if isinstance(a, Asset) and not a.is_deleted]
                if query.purpose == "held" and self.kind is EventKind.DISTRIBUTE:
                    holders = {a.current_owner_id for a in assets if a.current_owner_id}
                    self._conn.executemany(
                        "UPDATE people SET holds = holds + 1 WHERE user_id = ?",
                        [(o,) for o in holders],
                    )
                    kept = len(holders)
                else:
                    room = self.resolved.devices_at_room_id if self.resolved else None
                    if query.purpose == "waiting":
                        assets = [a for a in assets if a.current_owner_id is None]
                    if query.purpose in ("waiting", "expected") and room:
                        assets = [a for a in assets if (a.location_room_id or "") == room]
                    kept = self._insert_devices(assets, read_at)
            self._conn.execute(
                "UPDATE cursors SET next_page = next_page + 1, rows = rows + ?, "
                "page_count = ?, total_rows = ?, done = ? WHERE key = ?",
                (kept, page.page_count, page.total_rows, 1 if last else 0, query.key),
            )

    def _finish_prepare(self, now: str) -> None:
        with self._lock, _transaction(self._conn):
            if self.kind is EventKind.DISTRIBUTE:
                held = "SELECT user_id FROM people WHERE holds > 0"
                self._conn.execute(f"DELETE FROM name_words WHERE user_id IN ({held})")  # noqa: S608
                self._conn.execute("DELETE FROM people WHERE holds > 0")
            self._conn.execute("UPDATE event SET prepared_at = ? WHERE id = 1", (now,))

    def _apply_refresh(self, assets: Sequence[Asset], read_at: str) -> int:
        changed = 0
        with self._lock, _transaction(self._conn):
            for a in assets:
                row = self._conn.execute(
                    "SELECT owner_id, status_name, location_id FROM devices WHERE asset_id = ?",
                    (a.asset_id,),
                ).fetchone()
                if row is None:
                    continue
                if tuple(row) != (a.current_owner_id, a.status_name, a.location_id):
                    changed += 1
                self._conn.execute(
                    "UPDATE devices SET owner_id = ?, status_name = ?, location_id = ?, "
                    "location_name = ?, room_id = ?, modified_date = ?, read_at = ? "
                    "WHERE asset_id = ?",
                    (
                        a.current_owner_id,
                        a.status_name,
                        a.location_id,
                        a.location_name,
                        a.location_room_id,
                        a.modified_date,
                        read_at,
                        a.asset_id,
                    ),
                )
        return changed

    def _set_refreshed(self, stamp: str) -> None:
        with self._lock, _transaction(self._conn):
            self._conn.execute("UPDATE event SET refreshed_at = ? WHERE id = 1", (stamp,))

    # --- refresh: what other stations did ---------------------------------------------

    async def refresh(
        self,
        client: IIQClient,
        *,
        min_interval_s: float = MIN_INTERVAL_S,
        page_size: int = PAGE_SIZE,
        batch_size: int = BATCH_SIZE,
        gate: RateGate | None = None,
    ) -> RefreshResult:
        """Re-read the owner, status and location of the pack's devices from Incident IQ
        (asset queries by tag, `batch_size` tags a query, one request at a time, at most
        one per `min_interval_s`), so progress includes what other stations did. Each
        page is written as it arrives; `refreshed_at` is set when all were read."""
        gate = gate or RateGate(min_interval_s)
        first = gate.requests
        with self._lock:
            tags = [
                str(t)
                for (t,) in self._conn.execute(
                    "SELECT DISTINCT tag FROM devices WHERE tag IS NOT NULL ORDER BY tag"
                )
            ]
        read = changed = 0
        for start in range(0, len(tags), batch_size):
            filters = _grouped(
                [Filter("assettag", value=t) for t in tags[start : start + batch_size]]
            )
            page_index = 0
            while True:
                await gate.wait()
                stamp = utc_iso(datetime.now(UTC))
                page = await client.asset_page(filters, page_size=page_size, page=page_index)
                read += len(page.items)
                changed += await asyncio.to_thread(self._apply_refresh, page.items, stamp)
                if _last_page(page, page_size):
                    break
                page_index += 1
        stamp = utc_iso(datetime.now(UTC))
        await asyncio.to_thread(self._set_refreshed, stamp)
        requests = gate.requests - first
        log.info(
            "event pack %s refreshed: %d devices read, %d changed, %d requests",
            self.path.name,
            read,
            changed,
            requests,
        )
        return RefreshResult(read, changed, requests, stamp)

    # --- progress ------------------------------------------------------------------------

    def progress(self, journal_rows: Iterable[Mapping[str, Any]] = ()) -> EventProgress:
        """Where the event stands: the pack's picture of Incident IQ (as last refreshed)
        with this station's journal rows on top (`Journal.export(since=prepared_at)`, or
        `read_journal`): a change made here counts at once, also while it waits to be sent."""
        state = self._state(journal_rows)
        return state.progress()

    def report(self, journal_rows: Iterable[Mapping[str, Any]] = ()) -> EventReport:
        """Outstanding devices with their holder, damaged returns with tickets, devices
        handed out, people with none, and per-station counts of the journal rows given
        (this station's and any other journals read)."""
        state = self._state(journal_rows)
        return state.report()

    def _state(self, journal_rows: Iterable[Mapping[str, Any]]) -> _EventState:
        rows = [JournalRow.from_export(r) for r in journal_rows]
        devices = {d.asset_id: d for d in self.devices()}
        with self._lock:
            holds = dict(self._conn.execute("SELECT user_id, holds FROM people").fetchall())
        return _EventState(self, devices, {p.user_id: p for p in self.people()}, holds, rows)

    # --- audit -----------------------------------------------------------------------------

    def expected_place(self) -> tuple[str | None, str | None]:
        """(location id, room id) an audit of this pack expects devices at."""
        if self.resolved is None:
            return None, None
        return self.resolved.devices_at_location_id, self.resolved.devices_at_room_id

    def audit_scan(
        self,
        code: str,
        *,
        station: str,
        asset: Asset | None = None,
        now: datetime | None = None,
    ) -> AuditResult:
        """An audit scan: whether the device belongs at the place audited (the pack's
        `devices_at`), belongs elsewhere (misplaced: where Incident IQ has it), or is
        unknown. A device not in the pack is judged by `asset` when the caller looked it
        up in Incident IQ. Marked seen once: a second scan says so and counts nothing.
        Changes nothing in Incident IQ."""
        text = code.strip()
        place_id, room_id = self.expected_place()
        found = self.device_by_code(text)
        device = found[0] if len(found) == 1 else None
        location_id = location_name = asset_id = tag = model = None
        room: str | None = None
        if device is not None:
            asset_id, tag, model = device.asset_id, device.tag, device.model_name
            location_id, location_name, room = (
                device.location_id,
                device.location_name,
                device.room_id,
            )
        elif asset is not None:
            asset_id, tag, model = asset.asset_id, asset.asset_tag, asset.model_name
            location_id, location_name, room = (
                asset.location_id,
                asset.location_name,
                asset.location_room_id,
            )
        if asset_id is None or place_id is None:
            verdict = AuditVerdict.UNKNOWN
        elif location_id == place_id and (room_id is None or room == room_id):
            verdict = AuditVerdict.HERE
        else:
            verdict = AuditVerdict.MISPLACED
        key = asset_id or f"tag:{text.upper()}"
        stamp = utc_iso(now or datetime.now(UTC))
        with self._lock, _transaction(self._conn):
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO audit_seen (key, asset_id, tag, seen_at, station, "
                "verdict) VALUES (?, ?, ?, ?, ?, ?)",
                (key, asset_id, tag or text, stamp, station, verdict.value),
            )
            first = cursor.rowcount == 1
            if not first:
                self._conn.execute("UPDATE audit_seen SET scans = scans + 1 WHERE key = ?", (key,))
            seen = int(self._conn.execute("SELECT COUNT(*) FROM audit_seen").fetchone()[0])
        log.info(
            "audit %s: asset %s %s (first scan: %s)",
            self.path.name,
            asset_id or "-",
            verdict.value,
            first,
        )
        return AuditResult(
            code=text,
            verdict=verdict,
            asset_id=asset_id,
            tag=tag or text,
            model_name=model,
            location_name=location_name,
            place_name=self.resolved.devices_at_location_name if self.resolved else None,
            first_scan=first,
            seen=seen,
        )

    def audit_seen(self) -> list[AuditSeen]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT asset_id, tag, seen_at, station, verdict, scans FROM audit_seen "
                "ORDER BY seen_at, tag"
            ).fetchall()
        return [AuditSeen(r[0], r[1], r[2], r[3], AuditVerdict(r[4]), int(r[5])) for r in rows]

    def audit_missing(self) -> list[PackDevice]:
        """The devices expected at the place audited that nobody scanned yet."""
        place_id, room_id = self.expected_place()
        if place_id is None:
            return []
        with self._lock:
            seen = {
                r[0]
                for r in self._conn.execute(
                    "SELECT asset_id FROM audit_seen WHERE asset_id IS NOT NULL"
                )
            }
        return [
            d
            for d in self.devices()
            if d.asset_id not in seen
            and d.location_id == place_id
            and (room_id is None or d.room_id == room_id)
        ]


_PERSON_COLUMNS = (
    "user_id, name, first_name, last_name, school_id, email, username, grade, homeroom, "
    "location_id, location_name"
)
_DEVICE_COLUMNS = (
    "asset_id, tag, serial, model_name, owner_id, owner_at_prepare, location_id, "
    "location_name, room_id, status_name, modified_date, read_at"
)


@dataclass(frozen=True)
class _Query:
    key: str
    route: Literal["users", "assets"] | str
    purpose: str
    filters: list[Filter]
    next_page: int


def _filters_from_json(text: str) -> list[Filter]:
    return [
        Filter(
            f["Facet"],
            id=f.get("Id"),
            value=f.get("Value"),
            negative=bool(f.get("Negative")),
            group_index=f.get("GroupIndex"),
        )
        for f in json.loads(text)
    ]


def _last_page(page: Page[Any], page_size: int) -> bool:
    """Paging is trusted over the page's length (a server may cap `$s`); only without
    Paging does a short or empty page end the list."""
    if page.page_count is not None:
        return not page.items or page.page_index + 1 >= page.page_count
    return len(page.items) < page_size


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.info("event pack %s: WAL not available (%s)", path.name, mode)
    # A pack can always be prepared again: NORMAL keeps it consistent after a crash.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA secure_delete=ON")
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    cleaned = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [part.strip() for part in cleaned.split(";") if part.strip()]


# --- prepare ----------------------------------------------------------------------------


async def resolve_scope(
    client: IIQClient,
    kind: EventKind,
    scope: EventScope,
    *,
    carts: Mapping[str, CartTarget] | None = None,
) -> ResolvedScope:
    """The scope's names as ids (UnknownNameError, with the closest names, for one the
    site does not have). `devices_at` is a configured cart's label or a location."""
    from kiosk.core.assets import Named, resolve_names
    from kiosk.core.report import role_ids

    if kind is not EventKind.COLLECT and not scope.devices_at:
        raise EventError(
            f"A {kind.value} event needs the place its devices are: --devices-at "
            "LOCATION or a cart's label."
        )
    need_locations = bool(scope.locations) or bool(scope.devices_at)
    locations = await client.locations() if need_locations else []
    known = [Named(loc.location_id, loc.name) for loc in locations]
    known += [Named(loc.location_id, loc.abbreviation) for loc in locations if loc.abbreviation]
    names = {loc.location_id: loc.name for loc in locations}
    location_ids = tuple(resolve_names("location", list(scope.locations), known))
    place_id = place_name = room_id = None
    if scope.devices_at:
        cart = next(
            (
                c
                for label, c in (carts or {}).items()
                if label.casefold() == scope.devices_at.casefold()
            ),
            None,
        )
        if cart is not None:
            place_id, room_id = cart.location_id, cart.room_id
            place_name = f"{cart.label} ({names.get(cart.location_id, 'its location')})"
        else:
            place_id = resolve_names("location", [scope.devices_at], known)[0]
            place_name = names.get(place_id, scope.devices_at)
    model_ids: tuple[str, ...] = ()
    model_names: tuple[str, ...] = ()
    if scope.models:
        try:
            models = await client.asset_models()
        except NotFoundError as exc:
            if not exc.route_missing:
                raise
            model_names = scope.models
        else:
            model_ids = tuple(
                resolve_names(
                    "model", list(scope.models), [Named(m.model_id, m.name) for m in models]
                )
            )
    return ResolvedScope(
        location_ids=location_ids,
        grades=scope.grades,
        role_ids=tuple(role_ids(list(scope.roles))),
        devices_at_location_id=place_id,
        devices_at_location_name=place_name,
        devices_at_room_id=room_id,
        model_ids=model_ids,
        model_names=model_names,
    )


async def prepare(
    client: IIQClient,
    pack_path: Path,
    name: str,
    kind: EventKind,
    scope: EventScope,
    *,
    station: str = "",
    carts: Mapping[str, CartTarget] | None = None,
    progress: Callable[[PrepareProgress], None] | None = None,
    min_interval_s: float = MIN_INTERVAL_S,
    page_size: int = PAGE_SIZE,
    gate: RateGate | None = None,
) -> EventPack:
    """Fetch the event's people and devices into its pack (see the module docstring), one
    request at a time and at most one per `min_interval_s`. Resumable: run it again after
    an interruption (a dropped network, a killed process) and it reads on from the first
    page not stored; a pack that is ready already raises EventExistsError, as does a half
    prepared one of another kind or scope. Network and Incident IQ errors propagate (what
    was stored stays)."""
    gate = gate or RateGate(min_interval_s)
    first_request = gate.requests
    path = Path(pack_path)
    early: ResolvedScope | None = None
    if await asyncio.to_thread(path.exists):
        pack = EventPack.open(path)
        if pack.ready:
            pack.release()
            raise EventExistsError(
                f"The event “{pack.name}” is prepared already: refresh it, or close it "
                "first to prepare it again."
            )
        if pack.kind is not kind or pack.scope != scope:
            pack.release()
            raise EventExistsError(
                f"The event “{pack.name}” was begun with another kind or scope "
                f"({pack.kind.value}: {pack.scope.describe()}): close it first."
            )
        log.info("event pack %s: resuming the prepare", path.name)
    else:
        # Names first: a scope naming something the site does not have leaves no pack.
        early = await resolve_scope(client, kind, scope, carts=carts)
        pack = EventPack.create(path, name, kind, scope, station=station)
    try:
        if pack.resolved is None:
            resolved = early or await resolve_scope(client, kind, scope, carts=carts)
            pack._set_resolved(resolved)
            with pack._lock, _transaction(pack._conn):
                if kind is not EventKind.AUDIT:
                    pack._add_query("people", "users", "people", resolved.people_filters())
                if kind is EventKind.DISTRIBUTE:
                    pack._add_query("waiting", "assets", "waiting", resolved.place_filters())
                elif kind is EventKind.AUDIT:
                    pack._add_query("expected", "assets", "expected", resolved.place_filters())
        while (query := pack._next_query()) is not None:
            await gate.wait()
            fetch = client.user_page if query.route == "users" else client.asset_page
            page: Page[Any] = await fetch(query.filters, page_size=page_size, page=query.next_page)
            stamp = utc_iso(datetime.now(UTC))
            await asyncio.to_thread(
                pack._store_page, query, page, _last_page(page, page_size), stamp
            )
            if progress is not None:
                rows, pages, total = pack._stats()
                progress(PrepareProgress(rows, pages, total, gate.requests - first_request))
        await asyncio.to_thread(pack._finish_prepare, utc_iso(datetime.now(UTC)))
    except BaseException:
        pack.release()
        raise
    people, devices = pack.counts()
    log.info(
        "event pack %s prepared: %d people, %d devices, %d requests this run",
        path.name,
        people,
        devices,
        gate.requests - first_request,
    )
    return pack


# --- journal rows -----------------------------------------------------------------------

_COUNTED_STATES = ("pending", "done")


@dataclass(frozen=True)
class JournalRow:
    """The columns of a journal row an event reads (`Journal.export()`)."""

    id: str
    created_at: str
    updated_at: str
    state: str
    kind: str
    station: str
    asset_id: str
    asset_tag: str
    from_owner_id: str | None
    to_owner_id: str | None
    to_owner_name: str | None
    condition: str | None
    ticket_number: str | None
    undo_of: str | None

    @classmethod
    def from_export(cls, row: Mapping[str, Any]) -> JournalRow:
        def text(name: str) -> str | None:
            value = row.get(name)
            return None if value is None else str(value)

        return cls(
            id=str(row.get("id") or ""),
            created_at=str(row.get("created_at") or ""),
            updated_at=str(row.get("updated_at") or row.get("created_at") or ""),
            state=str(row.get("state") or ""),
            kind=str(row.get("kind") or ""),
            station=str(row.get("station") or ""),
            asset_id=str(row.get("asset_id") or ""),
            asset_tag=str(row.get("asset_tag") or ""),
            from_owner_id=text("from_owner_id"),
            to_owner_id=text("to_owner_id"),
            to_owner_name=text("to_owner_name"),
            condition=text("condition"),
            ticket_number=text("ticket_number"),
            undo_of=text("undo_of"),
        )


def read_journal(path: Path, since: str | None = None) -> list[dict[str, Any]]:
    """The rows of a journal file (this station's, or another station's copy) written at
    or after `since` (a journal time), read without taking the journal's lock and without
    creating it: a missing file is no rows."""
    path = Path(path)
    if not path.exists():
        return []
    journal = Journal.open(path, lock=False)
    try:
        when = datetime.fromisoformat(since) if since else None
        return journal.export(when)
    finally:
        journal.close()


# --- progress and report ----------------------------------------------------------------


@dataclass(frozen=True)
class GroupCount:
    """One grade or homeroom: `done` of `total` (returned, or given a device)."""

    group: str
    total: int
    done: int

    @property
    def left(self) -> int:
        return self.total - self.done


@dataclass(frozen=True)
class EventProgress:
    """The progress panel's numbers.

    collect: `total` devices out at prepare, `done` returned, `left` still out.
    distribute: `total` people without a device at prepare, `done` given one since, `left`
    still without; `devices_total` waiting devices, `devices_done` handed out.
    audit: `total` devices expected, `done` seen; `misplaced` and `unknown` scans.
    Groups are by grade (by homeroom when the scope is one grade)."""

    kind: EventKind
    total: int
    done: int
    devices_total: int
    devices_done: int
    group_by: Literal["grade", "homeroom"]
    groups: tuple[GroupCount, ...]
    #: Journal rows of this station counted over the pack's picture (not refreshed yet).
    local_changes: int
    refreshed_at: str | None
    misplaced: int = 0
    unknown: int = 0

    @property
    def left(self) -> int:
        return self.total - self.done

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def headline(self) -> str:
        """The panel's line in words, readable from across the room."""
        if self.kind is EventKind.COLLECT:
            return f"{self.done} returned, {self.left} still out (of {self.total})"
        if self.kind is EventKind.DISTRIBUTE:
            return (
                f"{self.devices_done} handed out, {self.left} "
                f"{'student' if self.left == 1 else 'students'} still without a device"
            )
        return (
            f"{self.done} of {self.total} seen, {self.misplaced} misplaced, {self.unknown} unknown"
        )


@dataclass(frozen=True)
class OutstandingDevice:
    asset_id: str
    tag: str | None
    model_name: str | None
    holder_id: str | None
    holder_name: str | None
    school_id: str | None
    grade: str | None
    homeroom: str | None


@dataclass(frozen=True)
class DamagedReturn:
    asset_id: str
    tag: str
    condition: str
    ticket_number: str | None
    station: str
    when: str


@dataclass(frozen=True)
class StationCount:
    station: str
    checkouts: int = 0
    checkins: int = 0
    damaged: int = 0
    pending: int = 0


@dataclass(frozen=True)
class EventReport:
    progress: EventProgress
    #: collect: devices still held, with their holder.
    outstanding: tuple[OutstandingDevice, ...]
    #: collect and distribute: check-ins of the pack's devices as damaged or broken.
    damaged: tuple[DamagedReturn, ...]
    #: distribute: waiting devices that have an owner now, with the owner.
    handed_out: tuple[OutstandingDevice, ...]
    #: distribute: people in scope still without a device.
    without: tuple[PackPerson, ...]
    #: per station, from the journal rows given.
    stations: tuple[StationCount, ...]
    #: audit: expected devices nobody scanned.
    not_seen: tuple[PackDevice, ...] = ()


@dataclass
class _EventState:
    pack: EventPack
    devices: dict[str, PackDevice]
    people: dict[str, PackPerson]
    holds: dict[str, int]
    rows: list[JournalRow]
    owners: dict[str, str | None] = field(default_factory=dict)
    local: int = 0
    served_here: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rows.sort(key=lambda r: r.created_at)
        self.owners = {a: d.owner_id for a, d in self.devices.items()}
        withdrawn = {r.id for r in self.rows if r.state == "withdrawn"}
        for row in self.rows:
            if row.state not in _COUNTED_STATES:
                continue
            if row.kind == "checkout" and row.to_owner_id:
                self.served_here.add(row.to_owner_id)
            device = self.devices.get(row.asset_id)
            if device is None or row.kind not in ("checkout", "checkin", "undo"):
                continue
            if row.kind == "undo" and (row.undo_of in withdrawn or row.undo_of is None):
                continue
            # A change Incident IQ had before the pack last read the device is in the
            # pack's picture already (and whatever happened after it, too).
            if row.state == "done" and row.updated_at < device.read_at:
                continue
            owner = None if row.kind == "checkin" else row.to_owner_id
            if self.owners.get(row.asset_id) != owner:
                self.local += 1
            self.owners[row.asset_id] = owner

    def _group_by(self) -> Literal["grade", "homeroom"]:
        return "homeroom" if len(self.pack.scope.grades) == 1 else "grade"

    def _group_of(self, person: PackPerson | None) -> str:
        if person is None:
            return "(not in scope)"
        value = person.homeroom if self._group_by() == "homeroom" else person.grade
        return value or "(none)"

    def progress(self) -> EventProgress:
        kind = self.pack.kind
        refreshed = self.pack.refreshed_at
        by = self._group_by()
        totals: Counter[str] = Counter()
        done: Counter[str] = Counter()
        if kind is EventKind.COLLECT:
            for asset_id, device in self.devices.items():
                group = self._group_of(self.people.get(device.owner_at_prepare or ""))
                totals[group] += 1
                if self.owners.get(asset_id) is None:
                    done[group] += 1
            total = len(self.devices)
            returned = sum(done.values())
            return EventProgress(
                kind,
                total,
                returned,
                total,
                returned,
                by,
                _groups(totals, done),
                self.local,
                refreshed,
            )
        if kind is EventKind.DISTRIBUTE:
            served = self._served()
            for user_id, person in self.people.items():
                group = self._group_of(person)
                totals[group] += 1
                if user_id in served:
                    done[group] += 1
            handed = sum(1 for a in self.devices if self.owners.get(a) is not None)
            return EventProgress(
                kind,
                len(self.people),
                sum(done.values()),
                len(self.devices),
                handed,
                by,
                _groups(totals, done),
                self.local,
                refreshed,
            )
        seen = self.pack.audit_seen()
        place_id, room_id = self.pack.expected_place()
        expected = {
            a
            for a, d in self.devices.items()
            if d.location_id == place_id and (room_id is None or d.room_id == room_id)
        }
        seen_ids = {s.asset_id for s in seen if s.asset_id}
        found = len(expected & seen_ids)
        return EventProgress(
            kind,
            len(expected),
            found,
            len(self.devices),
            found,
            by,
            (),
            0,
            refreshed,
            misplaced=sum(1 for s in seen if s.verdict is AuditVerdict.MISPLACED),
            unknown=sum(1 for s in seen if s.verdict is AuditVerdict.UNKNOWN),
        )

    def _served(self) -> set[str]:
        holders = {o for o in self.owners.values() if o is not None}
        return (holders | self.served_here) & set(self.people)

    def _holder(self, asset_id: str, owner_id: str | None) -> OutstandingDevice:
        device = self.devices[asset_id]
        person = self.people.get(owner_id or "")
        return OutstandingDevice(
            asset_id,
            device.tag,
            device.model_name,
            owner_id,
            person.name if person else None,
            person.school_id if person else None,
            person.grade if person else None,
            person.homeroom if person else None,
        )

    def report(self) -> EventReport:
        kind = self.pack.kind
        outstanding: list[OutstandingDevice] = []
        handed: list[OutstandingDevice] = []
        for asset_id in sorted(self.devices, key=lambda a: self.devices[a].tag or a):
            owner = self.owners.get(asset_id)
            if owner is None:
                continue
            if kind is EventKind.COLLECT:
                outstanding.append(self._holder(asset_id, owner))
            elif kind is EventKind.DISTRIBUTE:
                handed.append(self._holder(asset_id, owner))
        damaged = [
            DamagedReturn(
                r.asset_id, r.asset_tag, r.condition or "", r.ticket_number, r.station, r.created_at
            )
            for r in self.rows
            if r.kind == "checkin"
            and r.state in _COUNTED_STATES
            and r.condition in ("damaged", "broken")
            and r.asset_id in self.devices
        ]
        without: list[PackPerson] = []
        if kind is EventKind.DISTRIBUTE:
            served = self._served()
            without = sorted(
                (p for u, p in self.people.items() if u not in served),
                key=lambda p: (fold(p.last_name or p.name), fold(p.name)),
            )
        stations: dict[str, Counter[str]] = {}
        for r in self.rows:
            if r.asset_id not in self.devices or r.state not in _COUNTED_STATES:
                continue
            counts = stations.setdefault(r.station or "(no name)", Counter())
            if r.kind in ("checkout", "checkin"):
                counts[r.kind + "s"] += 1
            if r.kind == "checkin" and r.condition in ("damaged", "broken"):
                counts["damaged"] += 1
            if r.state == "pending":
                counts["pending"] += 1
        station_counts = tuple(
            StationCount(name, c["checkouts"], c["checkins"], c["damaged"], c["pending"])
            for name, c in sorted(stations.items())
        )
        not_seen = tuple(self.pack.audit_missing()) if kind is EventKind.AUDIT else ()
        return EventReport(
            self.progress(),
            tuple(outstanding),
            tuple(damaged),
            tuple(handed),
            tuple(without),
            station_counts,
            not_seen,
        )


def _groups(totals: Counter[str], done: Counter[str]) -> tuple[GroupCount, ...]:
    return tuple(GroupCount(g, totals[g], done[g]) for g in sorted(totals))


# --- audit ------------------------------------------------------------------------------
