"""Bulk files: check-outs, check-ins and updates from a CSV file, with the window's rules.

A file has rows `asset_tag,person[,action[,status[,location]]]` (a header row naming the
columns is optional; action `checkout` (the default), `checkin` or `update`). `BulkRun`
1. reads every row and refuses, by file line number, what cannot be done: a missing
   column, an unknown action, a row repeated (or a device named twice), a tag no device has
   (or several have), a person who is unknown, inactive, deleted or not one person, a
   retired device, a status or location name the site does not have;
2. applies the rest through the change desk (journal first, then Incident IQ) with at most
   `concurrency` changes under way and at most one new lookup or change per `interval_s`
   (the configured request rate), continuing past failures;
3. says each row's outcome: applied / skipped: already done / refused: why / failed: why /
   queued (saved in the journal, sent later).
Each row's change has an id made from the file's content and the row's line, so running
the same file again (after a failure, a 429 storm, a kill) finds the rows it applied in the
journal and skips them, and the outbox finishes the ones that were under way: nothing is
lost and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from kiosk.core.assets import UnknownNameError
from kiosk.core.changes import Change, ChangeState
from kiosk.core.desk import ChangeDesk
from kiosk.core.journal import AsyncJournal
from kiosk.core.transactions import SetupError, TransactionService, tag_of
from kiosk.core.updates import UpdatePlanner, UpdateRequest
from kiosk.iiq.errors import IIQError, RateLimitedError
from kiosk.iiq.models import Asset, Filter, Person

log = logging.getLogger(__name__)

T = TypeVar("T")

COLUMNS: tuple[str, ...] = ("asset_tag", "person", "action", "status", "location")
_HEADER_NAMES = {
    "asset_tag": "asset_tag",
    "assettag": "asset_tag",
    "tag": "asset_tag",
    "person": "person",
    "user": "person",
    "owner": "person",
    "action": "action",
    "status": "status",
    "location": "location",
}
#: Tags per asset query while validating (one `assettag` group, OR-ed).
TAGS_PER_QUERY = 50
_NAMESPACE = uuid.UUID("6b0f3f0e-3f7a-4c55-9a8e-2d1f5c0b7a11")


class Action(StrEnum):
    CHECKOUT = "checkout"
    CHECKIN = "checkin"
    UPDATE = "update"


class Outcome(StrEnum):
    APPLIED = "applied"
    SKIPPED = "skipped"  # already done
    REFUSED = "refused"
    FAILED = "failed"
    QUEUED = "queued"
    WOULD_APPLY = "would apply"  # --dry-run


class BulkFileError(Exception):
    """The file cannot be read as a bulk file at all; the message says why."""


@dataclass
class BulkRow:
    line: int
    cells: dict[str, str]
    action: Action | None = None
    outcome: Outcome | None = None
    why: str = ""
    change: Change | None = None

    @property
    def tag(self) -> str:
        return self.cells.get("asset_tag", "")

    @property
    def person(self) -> str:
        return self.cells.get("person", "")

    def settle(self, outcome: Outcome, why: str = "") -> None:
        self.outcome, self.why = outcome, why

    @property
    def result(self) -> str:
        """The outcome as the results file says it."""
        if self.outcome is None:
            return ""
        return f"{self.outcome.value}: {self.why}" if self.why else self.outcome.value


def read_rows(text: str) -> list[BulkRow]:
    """The rows of a bulk file (blank lines skipped), each with its file line number."""
    reader = csv.reader(io.StringIO(text))
    rows: list[BulkRow] = []
    names: list[str] | None = None
    for cells in reader:
        line = reader.line_num
        values = [c.strip() for c in cells]
        if not any(values):
            continue
        if names is None and not rows:
            folded = [_HEADER_NAMES.get(v.casefold().replace(" ", "_")) for v in values]
            if folded and folded[0] == "asset_tag":
                if any(f is None for f in folded):
                    unknown = [v for v, f in zip(values, folded, strict=True) if f is None]
                    raise BulkFileError(
                        f"Line {line}: unknown column {', '.join(unknown)} (columns: "
                        f"{', '.join(COLUMNS)})."
                    )
                names = [f for f in folded if f is not None]
                continue
        keys = names or list(COLUMNS)
        if len(values) > len(keys) and any(values[len(keys) :]):
            row = BulkRow(line, dict(zip(keys, values, strict=False)))
            row.settle(Outcome.REFUSED, f"more columns than {', '.join(keys)}")
            rows.append(row)
            continue
        rows.append(BulkRow(line, dict(zip(keys, values, strict=False))))
    return rows


def run_id(text: str) -> str:
    """The file's identity: the same rows give the same id, whatever the line endings."""
    normal = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    return hashlib.sha256(normal.strip().encode("utf-8")).hexdigest()[:16]


def change_id(run: str, line: int) -> str:
    return uuid.uuid5(_NAMESPACE, f"bulk:{run}:{line}").hex


class Pacer:
    """At most one start per `interval_s` (the configured request rate), and a pause when
    Incident IQ asks for one (429 Retry-After)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()
        self.starts: list[float] = []

    async def wait(self) -> None:
        async with self._lock:
            delay = self._next - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            now = self._clock()
            self._next = max(self._next, now) + self.interval_s
            self.starts.append(now)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._clock() + seconds)

    def highest_rate(self) -> float:
        """The most starts seen in any one second, per second."""
        best, first = 0, 0
        for last, moment in enumerate(self.starts):
            while moment - self.starts[first] >= 1.0:
                first += 1
            best = max(best, last - first + 1)
        return float(best)


@dataclass
class BulkSummary:
    rows: list[BulkRow]
    run_id: str
    concurrency: int
    elapsed_s: float = 0.0

    def counts(self) -> dict[Outcome, int]:
        found = {o: 0 for o in Outcome}
        for row in self.rows:
            if row.outcome is not None:
                found[row.outcome] += 1
        return found


@dataclass
class BulkRun:
    """One run of one file (see the module docstring)."""

    service: TransactionService
    journal: AsyncJournal | None  # None: a dry run that found no journal yet
    desk: ChangeDesk | None  # None: a dry run
    rows: list[BulkRow]
    run: str
    interval_s: float = 0.2
    concurrency: int = 8
    on_row: Callable[[BulkRow], None] | None = None
    pacer: Pacer = field(init=False)
    _assets: dict[str, list[Asset]] = field(default_factory=dict, init=False)
    _people: dict[str, Person | str | IIQError] = field(default_factory=dict, init=False)
    _lookup_errors: dict[str, IIQError] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.pacer = Pacer(self.interval_s)
        self._planner = UpdatePlanner(self.service)
        self._slots = asyncio.Semaphore(self.concurrency)

    # --- 1. validate -----------------------------------------------------------------

    async def validate(self) -> list[BulkRow]:
        """Settle every row that is refused or already done; return those to apply."""
        self._check_columns()
        await self._skip_recorded()
        open_rows = [r for r in self.rows if r.outcome is None]
        await self._find_assets({r.tag for r in open_rows})
        people = {r.person.casefold(): r.person for r in open_rows if r.action is Action.CHECKOUT}
        await self._gather(self._find_person(text) for text in people.values())
        await self._gather(self._plan(row) for row in open_rows)
        return [r for r in self.rows if r.outcome is None and r.change is not None]

    def _check_columns(self) -> None:
        seen: dict[tuple[str, ...], int] = {}
        devices: dict[str, int] = {}
        for row in self.rows:
            if row.outcome is not None:
                continue
            action_text = (row.cells.get("action") or "checkout").casefold()
            try:
                row.action = Action(action_text)
            except ValueError:
                row.settle(
                    Outcome.REFUSED,
                    f"unknown action “{row.cells.get('action')}” (checkout, checkin or update)",
                )
                continue
            missing = [] if row.tag else ["asset_tag"]
            if row.action is Action.CHECKOUT and not row.person:
                missing.append("person")
            if (
                row.action is Action.UPDATE
                and not row.cells.get("status")
                and not row.cells.get("location")
            ):
                missing.append("status or location")
            if missing:
                row.settle(Outcome.REFUSED, f"missing column: {', '.join(missing)}")
                continue
            key = tuple(row.cells.get(c, "").casefold() for c in COLUMNS)
            if key in seen:
                row.settle(Outcome.REFUSED, f"repeated row (the same as line {seen[key]})")
                continue
            seen[key] = row.line
            if row.tag.casefold() in devices:
                row.settle(
                    Outcome.REFUSED,
                    f"{row.tag} is also in line {devices[row.tag.casefold()]}: one row per device",
                )
                continue
            devices[row.tag.casefold()] = row.line

    async def _skip_recorded(self) -> None:
        """Rows an earlier run of this file recorded: done, or left to the outbox."""
        if self.journal is None:
            return
        for row in self.rows:
            if row.outcome is not None:
                continue
            earlier = await self.journal.get(change_id(self.run, row.line))
            if earlier is None:
                continue
            row.change = earlier
            if earlier.state is ChangeState.DONE:
                row.settle(Outcome.SKIPPED, "already done (an earlier run of this file)")
            elif earlier.state is ChangeState.PENDING:
                row.settle(Outcome.QUEUED, "saved by an earlier run; sending it now")
            elif earlier.state is ChangeState.WITHDRAWN:
                row.settle(Outcome.SKIPPED, "taken back before it was sent (an earlier run)")
            else:
                row.settle(
                    Outcome.FAILED,
                    f"{earlier.last_error or earlier.state.value} (an earlier run; see "
                    "iiq-kiosk outbox)",
                )

    async def _find_assets(self, tags: Iterable[str]) -> None:
        wanted = sorted({t for t in tags if t}, key=str.casefold)
        chunks = [wanted[i : i + TAGS_PER_QUERY] for i in range(0, len(wanted), TAGS_PER_QUERY)]
        await self._gather(self._find_chunk(chunk) for chunk in chunks)

    async def _find_chunk(self, tags: list[str]) -> None:
        await self.pacer.wait()
        filters = [Filter("assettag", value=t, group_index=0) for t in tags]
        found: dict[str, list[Asset]] = {t.casefold(): [] for t in tags}
        try:
            async for page in self.service.client.asset_pages(filters, page_size=len(tags) * 2):
                for asset in page.items:
                    key = (asset.asset_tag or "").casefold()
                    if key in found and not asset.is_deleted:
                        found[key].append(asset)
        except IIQError as exc:
            for key in found:
                self._lookup_errors[key] = exc
            return
        self._assets.update(found)

    async def _find_person(self, text: str) -> None:
        await self.pacer.wait()
        key = text.casefold()
        try:
            match = await self.service.find_person(text)
        except IIQError as exc:
            self._people[key] = exc
            return
        if match.exact is not None:
            self._people[key] = match.exact
        elif match.ambiguous_exact:
            self._people[key] = (
                f"{len(match.candidates)} people have “{text}” as their ID, email or "
                "username: use the UserId"
            )
        else:
            self._people[key] = f"no one has the school ID number, email or username “{text}”"

    async def _plan(self, row: BulkRow) -> None:
        failed = self._lookup_errors.get(row.tag.casefold())
        if failed is not None:
            row.settle(Outcome.FAILED, f"the device could not be looked up: {failed}")
            return
        assets = self._assets.get(row.tag.casefold(), [])
        if not assets:
            row.settle(Outcome.REFUSED, f"no device has the tag “{row.tag}”")
            return
        if len(assets) > 1:
            row.settle(Outcome.REFUSED, f"{len(assets)} devices have the tag “{row.tag}”")
            return
        asset = assets[0]
        try:
            if row.action is Action.CHECKOUT:
                await self._plan_checkout(row, asset)
            elif row.action is Action.CHECKIN:
                await self._plan_checkin(row, asset)
            else:
                await self._plan_update(row, asset)
        except (SetupError, UnknownNameError) as exc:
            row.settle(Outcome.REFUSED, str(exc))
        except IIQError as exc:
            row.settle(Outcome.FAILED, f"could not be checked: {exc}")
            row.change = None
        if row.change is not None:
            row.change.id = change_id(self.run, row.line)
            row.change.batch_id = f"bulk-{self.run}"

    async def _plan_checkout(self, row: BulkRow, asset: Asset) -> None:
        person = self._people.get(row.person.casefold())
        if isinstance(person, IIQError):
            row.settle(Outcome.FAILED, f"the person could not be looked up: {person}")
            return
        if not isinstance(person, Person):
            row.settle(Outcome.REFUSED, person or f"“{row.person}” was not looked up")
            return
        prepared = await self.service.prepare_checkout(asset, person, with_held=False)
        check = prepared.check
        if asset.current_owner_id and asset.current_owner_id == person.user_id:
            row.settle(Outcome.SKIPPED, f"already done: {person.display_name} has {row.tag}")
        elif not check.allowed:
            row.settle(Outcome.REFUSED, check.refusal or "not allowed")
        else:
            row.change = self.service.checkout_change(prepared)

    async def _plan_checkin(self, row: BulkRow, asset: Asset) -> None:
        change = await self.service.checkin_change(asset)
        if all(step.applied(asset) for step in change.steps):
            row.settle(Outcome.SKIPPED, f"already done: {tag_of(asset)} is checked in")
        else:
            row.change = change

    async def _plan_update(self, row: BulkRow, asset: Asset) -> None:
        request = UpdateRequest(
            status=row.cells.get("status") or None, location=row.cells.get("location") or None
        )
        plan = await self._planner.plan(asset, request)
        if plan.refusal:
            row.settle(Outcome.REFUSED, plan.refusal)
        elif plan.change is None:
            row.settle(Outcome.SKIPPED, "already done: the device is already so")
        else:
            row.change = plan.change

    # --- 2. apply --------------------------------------------------------------------

    async def apply(self, rows: list[BulkRow]) -> None:
        """Submit every planned row (bounded, paced), continuing past failures."""
        if self.desk is None:
            for row in rows:
                row.settle(Outcome.WOULD_APPLY)
                self._told(row)
            return
        await self._gather(self._submit(row) for row in rows)

    async def _submit(self, row: BulkRow) -> None:
        change = row.change
        assert change is not None and self.desk is not None
        await self.pacer.wait()
        outcome = await self.desk.submit(change)
        error = outcome.error
        if isinstance(error, RateLimitedError):
            self.pacer.pause(error.retry_after or 1.0)
        self.settle_change(row, change, error)

    def settle_change(self, row: BulkRow, change: Change, error: IIQError | None = None) -> None:
        """The row's outcome from its change's state now."""
        if change.state is ChangeState.DONE:
            row.settle(Outcome.APPLIED)
        elif change.state is ChangeState.PENDING:
            why = change.last_error or (str(error) if error else "waiting to be sent")
            row.settle(Outcome.QUEUED, why)
        elif change.state is ChangeState.CONFLICT:
            row.settle(Outcome.FAILED, change.last_error or "changed elsewhere")
        else:
            row.settle(Outcome.FAILED, change.last_error or change.state.value)
        self._told(row)

    def _told(self, row: BulkRow) -> None:
        if self.on_row is not None:
            self.on_row(row)

    async def _gather(self, jobs: Iterable[Awaitable[T]]) -> list[T]:
        async def bounded(job: Awaitable[T]) -> T:
            async with self._slots:
                return await job

        return list(await asyncio.gather(*(bounded(j) for j in jobs)))
