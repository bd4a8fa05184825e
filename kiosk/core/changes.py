"""Changes to Incident IQ as plans of steps, and how a plan is applied exactly once.

A `Change` says what the operator confirmed (device, from whom, to whom, station, operator)
and holds the plan that carries it out: a list of steps. Each step is a small value that
knows three things about the asset as Incident IQ shows it now:
- `applied(asset)`: the step is already as intended (a repeat after a lost reply);
- `conflicts(asset)`: someone else changed the device since it was scanned;
- `send(client, asset)`: how to make it so, with one request.

Steps: `OwnerStep` (give, transfer, take back; the charger of a device is an owner step on
its own asset), `StatusStep`, `LocationStep` (with the old room cleared) and `TicketStep`
(a repair ticket, filed at most once). `ChangeService.apply` walks the plan: it reads each
step's asset first, skips what is applied, stops at a conflict without forcing anything,
sends the rest once, and reads again to learn whether it arrived. A change can therefore be
tried any number of times (by the outbox, after a crash) and is applied at most once.

What a change is called ("Give CB-004512 to Ana Ruiz") is worded here, once, for the
window, the command line and the journal alike.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import IIQError, NetworkError, NotFoundError
from kiosk.iiq.models import Asset, TicketRequest

log = logging.getLogger(__name__)


class ChangeKind(StrEnum):
    CHECKOUT = "checkout"  # also a transfer when the device had an owner
    CHECKIN = "checkin"
    UNDO = "undo"  # puts back what an earlier change of this station did
    UPDATE = "update"  # status, location, room or notes (`iiq-kiosk update`, bulk files)


class ChangeState(StrEnum):
    PENDING = "pending"  # confirmed here, not yet known to be applied in Incident IQ
    DONE = "done"
    CONFLICT = "conflict"  # someone else changed the device; resolve by hand
    FAILED = "failed"  # Incident IQ refused it (rights, deleted record): needs attention
    WITHDRAWN = "withdrawn"  # undone before it was sent: nothing went to Incident IQ
    UNREADABLE = "unreadable"  # a damaged journal row, set aside (see the journal)


#: States that need a person to look at them.
ATTENTION_STATES = (ChangeState.CONFLICT, ChangeState.FAILED, ChangeState.UNREADABLE)


class Condition(StrEnum):
    GOOD = "good"
    DAMAGED = "damaged"
    BROKEN = "broken"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- steps -------------------------------------------------------------------------------


@dataclass
class OwnerStep:
    """Give the asset to `to_owner_id` (None: take it back) from `from_owner_id`, the owner
    seen when it was scanned. Anyone else holding it now is a conflict."""

    asset_id: str
    asset_tag: str
    from_owner_id: str | None
    to_owner_id: str | None
    role: Literal["device", "accessory"] = "device"
    done: bool = False
    type: ClassVar[str] = "owner"

    def applied(self, asset: Asset) -> bool:
        return asset.current_owner_id == self.to_owner_id

    def conflicts(self, asset: Asset) -> bool:
        return not self.applied(asset) and asset.current_owner_id != self.from_owner_id

    async def send(self, client: IIQClient, asset: Asset) -> None:
        if self.to_owner_id is None:
            await client.checkin(self.asset_id, owner_id=self.from_owner_id)
        else:
            await client.transfer(self.asset_id, self.to_owner_id)

    def reverse(self) -> OwnerStep:
        return OwnerStep(
            self.asset_id, self.asset_tag, self.to_owner_id, self.from_owner_id, self.role
        )


@dataclass
class StatusStep:
    """Set the asset's status. `previous_status_type_id` is what undo puts back; `expect`
    (set on undo) is the status this station left: anything else now is a conflict."""

    asset_id: str
    asset_tag: str
    status_type_id: str
    status_name: str | None = None
    previous_status_type_id: str | None = None
    previous_status_name: str | None = None
    expect: str | None = None
    done: bool = False
    type: ClassVar[str] = "status"

    def applied(self, asset: Asset) -> bool:
        return asset.status_type_id == self.status_type_id

    def conflicts(self, asset: Asset) -> bool:
        return self.expect is not None and asset.status_type_id not in (
            self.expect,
            self.status_type_id,
        )

    async def send(self, client: IIQClient, asset: Asset) -> None:
        await client.set_status(self.asset_id, self.status_type_id)

    def reverse(self) -> StatusStep | None:
        if not self.previous_status_type_id:
            return None
        return StatusStep(
            self.asset_id,
            self.asset_tag,
            self.previous_status_type_id,
            self.previous_status_name,
            self.status_type_id,
            self.status_name,
            expect=self.status_type_id,
        )


@dataclass
class LocationStep:
    """Put the asset at a location, and in a room / storage unit (a cart) there. The room
    of the old location never stays on the device."""

    asset_id: str
    asset_tag: str
    location_id: str
    room_id: str | None = None
    storage_unit: str | None = None
    previous_location_id: str | None = None
    previous_room_id: str | None = None
    previous_storage_unit: str | None = None
    expect: str | None = None
    done: bool = False
    type: ClassVar[str] = "location"

    def applied(self, asset: Asset) -> bool:
        return (
            asset.location_id == self.location_id
            and (self.room_id is None or asset.location_room_id == self.room_id)
            and (self.storage_unit is None or asset.storage_unit_number == self.storage_unit)
        )

    def conflicts(self, asset: Asset) -> bool:
        return self.expect is not None and asset.location_id not in (
            self.expect,
            self.location_id,
        )

    async def send(self, client: IIQClient, asset: Asset) -> None:
        wanted: dict[str, str | None] = {
            "LocationId": self.location_id,
            "LocationRoomId": self.room_id,
        }
        if self.storage_unit is not None:
            wanted["StorageUnitNumber"] = self.storage_unit
        await client.update_asset(asset, wanted)

    def reverse(self) -> LocationStep | None:
        if not self.previous_location_id:
            return None
        return LocationStep(
            self.asset_id,
            self.asset_tag,
            self.previous_location_id,
            self.previous_room_id,
            self.previous_storage_unit,
            self.location_id,
            self.room_id,
            self.storage_unit,
            expect=self.location_id,
        )


@dataclass
class TicketStep:
    """File one repair ticket linked to the asset. `open_tickets_seen` is the asset's open
    ticket count when it was scanned: after a try that may have filed it (a lost reply, a
    crash), a higher count means it was filed, and it is not filed again."""

    asset_id: str
    asset_tag: str
    request: TicketRequest
    open_tickets_seen: int = 0
    ticket_id: str | None = None
    ticket_number: str | None = None
    done: bool = False
    type: ClassVar[str] = "ticket"

    def applied(self, asset: Asset) -> bool:
        return self.ticket_id is not None

    def conflicts(self, asset: Asset) -> bool:
        return False

    async def send(self, client: IIQClient, asset: Asset) -> None:
        ref = await client.create_ticket(self.request)
        self.ticket_id = ref.ticket_id
        self.ticket_number = ref.ticket_number

    def filed_earlier(self, asset: Asset) -> bool:
        return asset.open_ticket_count > self.open_tickets_seen

    def reverse(self) -> None:
        return None  # a ticket stays: undo says so


@dataclass
class NoteStep:
    """Set the asset's notes to `notes` (the partial update's `Notes`; `iiq-kiosk update
    --note` adds a line to what was there). `previous_notes` are the notes seen when the
    change was planned: notes that are neither those nor `notes` now were edited elsewhere
    since, a conflict (nobody's text is overwritten unseen)."""

    asset_id: str
    asset_tag: str
    notes: str
    previous_notes: str | None = None
    done: bool = False
    type: ClassVar[str] = "notes"

    def applied(self, asset: Asset) -> bool:
        return (asset.notes or "") == self.notes

    def conflicts(self, asset: Asset) -> bool:
        return (asset.notes or "") not in ((self.previous_notes or ""), self.notes)

    async def send(self, client: IIQClient, asset: Asset) -> None:
        await client.update_asset(asset, {"Notes": self.notes})

    def reverse(self) -> NoteStep:
        return NoteStep(self.asset_id, self.asset_tag, self.previous_notes or "", self.notes)


Step = OwnerStep | StatusStep | LocationStep | TicketStep | NoteStep
_STEP_TYPES: dict[str, type[Step]] = {
    cls.type: cls for cls in (OwnerStep, StatusStep, LocationStep, TicketStep, NoteStep)
}


def step_to_dict(step: Step) -> dict[str, Any]:
    return {"type": step.type, **asdict(step)}


def step_from_dict(data: dict[str, Any]) -> Step:
    values = dict(data)
    cls = _STEP_TYPES[values.pop("type")]
    if cls is TicketStep:
        values["request"] = TicketRequest(**values["request"])
    known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
    return cls(**known)


# --- the change ------------------------------------------------------------------------


@dataclass
class Change:
    """One confirmed change: the audit record (who, where, which device, from whom, to whom)
    and the plan of steps that carries it out. Names are shown in the session list and
    blanked in the journal after the retention period."""

    kind: ChangeKind
    asset_id: str
    asset_tag: str
    from_owner_id: str | None = None
    to_owner_id: str | None = None
    from_owner_name: str | None = None
    to_owner_name: str | None = None
    station: str = ""
    operator: str | None = None
    steps: list[Step] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=now_iso)
    batch_id: str | None = None
    undo_of: str | None = None
    # what the operator said at check-in
    condition: Condition | None = None
    charger_returned: bool | None = None
    note: str | None = None
    # progress
    state: ChangeState = ChangeState.PENDING
    attempts: int = 0
    attempt_started_at: str | None = None
    #: The last try may have reached Incident IQ without an answer (a timeout, a dropped
    #: reply, a crash mid-request): it is not checked or sent again before the outbox's
    #: `verify_after_s` from `attempt_started_at`.
    in_doubt: bool = False
    last_error: str | None = None
    conflict_owner_id: str | None = None
    conflict_owner_name: str | None = None
    updated_at: str = field(default_factory=now_iso)
    #: Set instead of a description when undo wording was decided at planning time.
    summary: str | None = None

    # --- derived -------------------------------------------------------------------------

    @property
    def ticket(self) -> TicketStep | None:
        return next((s for s in self.steps if isinstance(s, TicketStep)), None)

    @property
    def ticket_id(self) -> str | None:
        return self.ticket.ticket_id if self.ticket else None

    @property
    def ticket_number(self) -> str | None:
        return self.ticket.ticket_number if self.ticket else None

    @property
    def steps_done(self) -> list[str]:
        """The kinds of the steps already applied, in plan order."""
        return [s.type for s in self.steps if s.done]

    @property
    def accessory_tags(self) -> list[str]:
        return [
            s.asset_tag for s in self.steps if isinstance(s, OwnerStep) and s.role == "accessory"
        ]

    @property
    def description(self) -> str:
        return describe(self)

    # --- JSON (the journal) ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "steps"}
        data["steps"] = [step_to_dict(s) for s in self.steps]
        for key, value in data.items():
            if isinstance(value, StrEnum):
                data[key] = value.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        """Read a change back; also one written by the first journal schema (flat check-in
        fields, `steps_done`), which becomes the same plan of steps."""
        if "steps" not in data:
            data = _legacy_plan(data)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["steps"] = [step_from_dict(s) for s in data.get("steps") or []]
        change = cls(**known)
        change.kind = ChangeKind(change.kind)
        change.state = ChangeState(change.state)
        if change.condition is not None:
            change.condition = Condition(change.condition)
        if not change.asset_id or not change.asset_tag:
            raise ValueError("a change needs an asset id and tag")
        return change

    def copy(self) -> Change:
        return Change.from_dict(self.to_dict())


def owner_change(
    asset_id: str,
    asset_tag: str,
    from_owner_id: str | None,
    to_owner_id: str | None,
    **fields: Any,
) -> Change:
    """A change whose plan is one owner step: a check-out or transfer (`to_owner_id` set)
    or a plain check-in (None). For tests, tools and bulk files; the window and the
    command line plan theirs with `TransactionService`."""
    kind = ChangeKind.CHECKOUT if to_owner_id else ChangeKind.CHECKIN
    step = OwnerStep(asset_id, asset_tag, from_owner_id, to_owner_id)
    return Change(kind, asset_id, asset_tag, from_owner_id, to_owner_id, steps=[step], **fields)


def _legacy_plan(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 stored check-in details as flat fields; turn them into steps."""
    data = dict(data)
    done = set(data.get("steps_done") or [])
    asset_id, tag = data["asset_id"], data["asset_tag"]
    kind = ChangeKind(data["kind"])
    steps: list[dict[str, Any]] = [
        step_to_dict(
            OwnerStep(
                asset_id,
                tag,
                data.get("from_owner_id"),
                data.get("to_owner_id") if kind is ChangeKind.CHECKOUT else None,
                done="owner" in done,
            )
        )
    ]
    if data.get("status_type_id"):
        steps.append(
            step_to_dict(StatusStep(asset_id, tag, data["status_type_id"], done="status" in done))
        )
    if data.get("location_id"):
        steps.append(
            step_to_dict(
                LocationStep(
                    asset_id,
                    tag,
                    data["location_id"],
                    data.get("location_room_id"),
                    done="location" in done,
                )
            )
        )
    ticket = data.get("ticket")
    if isinstance(ticket, dict):
        steps.append(
            step_to_dict(
                TicketStep(
                    asset_id,
                    tag,
                    TicketRequest(**{**ticket, "description": ticket.get("description") or ""}),
                    int(data.get("open_tickets_seen") or 0),
                    data.get("ticket_id"),
                    data.get("ticket_number"),
                    done="ticket" in done,
                )
            )
        )
    data["steps"] = steps
    return data


# --- wording: the one place a change is put into words -----------------------------------


def give_sentence(tag: str, to_name: str, from_name: str | None = None) -> str:
    """ "Give CB-004512 to Ana Ruiz" or "Transfer CB-004512 from Ben Li to Ana Ruiz"."""
    if from_name:
        return f"Transfer {tag} from {from_name} to {to_name}"
    return f"Give {tag} to {to_name}"


def checkin_sentence(
    tag: str,
    from_name: str | None,
    condition: Condition | None = None,
    *,
    ticket: bool = False,
    charger_returned: bool | None = None,
) -> str:
    """ "Check in CB-004512 from Ana Ruiz: damaged, repair ticket, charger missing"."""
    text = f"Check in {tag}" + (f" from {from_name}" if from_name else "")
    details = []
    if condition is not None and condition is not Condition.GOOD:
        details.append(condition.value)
    if ticket:
        details.append("repair ticket")
    if charger_returned is False:
        details.append("charger missing")
    return text + (": " + ", ".join(details) if details else "")


def update_sentence(tag: str, steps: list[Step]) -> str:
    """ "Update CB-004512: status “In Repair”, location and room, notes"."""
    parts: list[str] = []
    for step in steps:
        if isinstance(step, StatusStep):
            parts.append(f"status “{step.status_name}”" if step.status_name else "status")
        elif isinstance(step, LocationStep):
            parts.append("location and room" if step.room_id else "location")
        elif isinstance(step, NoteStep):
            parts.append("notes")
    return f"Update {tag}" + (": " + ", ".join(parts) if parts else "")


def describe(change: Change, name: Callable[[str], str] | None = None) -> str:
    """The change in one line ("Give CB-004512 to Ana Ruiz"). `name` turns each recorded
    name into the text printed (the window's privacy style, `kiosk.core.privacy`); without
    it names are printed as recorded (the journal, the outbox, the command line)."""
    show = name or _as_recorded
    if change.summary:
        return change.summary
    if change.kind is ChangeKind.UPDATE:
        return update_sentence(change.asset_tag, change.steps)
    accessories = change.accessory_tags
    if change.kind is ChangeKind.CHECKIN:
        text = checkin_sentence(
            change.asset_tag,
            show(change.from_owner_name) if change.from_owner_name else None,
            change.condition,
            ticket=change.ticket is not None,
            charger_returned=change.charger_returned,
        )
    elif change.kind is ChangeKind.UNDO:
        text = f"Undo on {change.asset_tag}"
    else:
        text = give_sentence(
            change.asset_tag,
            show(change.to_owner_name) if change.to_owner_name else "someone",
            (show(change.from_owner_name) if change.from_owner_name else "someone else")
            if change.from_owner_id
            else None,
        )
    if accessories:
        text += " (with " + ", ".join(accessories) + ")"
    return text


def _as_recorded(name: str) -> str:
    return name


# --- applying a plan -----------------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    change: Change
    asset: Asset | None = None  # the main asset as read last
    error: IIQError | None = None  # why it is still pending or failed


def is_permanent(error: IIQError) -> bool:
    """Errors that repeating will not fix: an operator or IT has to act."""
    return not error.transient


SAME_MOMENT = "at the same moment"


class _ConflictError(Exception):
    def __init__(self, step: Step, asset: Asset, when: str | None) -> None:
        """`when`: the other station's write landed "at the same moment" or "a moment
        later" than ours; None: before, since the device was scanned."""
        self.step, self.asset, self.when = step, asset, when


class _StopError(Exception):
    """Stop this try: the change is pending (transient) or failed (permanent)."""

    def __init__(self, error: IIQError, asset: Asset | None, ambiguous: bool = False) -> None:
        self.error, self.asset, self.ambiguous = error, asset, ambiguous


class ChangeService:
    """Applies plans exactly once (see the module docstring).

    `confirm_pause_s`: when the read after a send shows an owner other than the one sent,
    how long to wait before the second read that decides (the other write may be landing);
    still different then, it is a conflict, never a success."""

    def __init__(
        self,
        client: IIQClient,
        *,
        confirm_pause_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self.confirm_pause_s = confirm_pause_s
        self._sleep = sleep

    async def apply(self, change: Change) -> ApplyResult:
        change.attempts += 1
        change.updated_at = now_iso()
        reads: dict[str, Asset] = {}
        try:
            # Always read the device as it is now first: the answer, the cache and the
            # deleted check rest on it, even when every step is done already.
            await self._read(change.asset_id, reads)
            for step in change.steps:
                if not step.done:
                    await self._step(change, step, reads)
        except _ConflictError as conflict:
            result = self._conflict(change, conflict)
        except _StopError as stop:
            change.in_doubt = stop.ambiguous
            result = self._failed(change, stop.error, stop.asset or reads.get(change.asset_id))
        except IIQError as exc:
            # Only reads get here (a failed send stops with _StopError): a read changes
            # nothing, so it neither raises a doubt nor settles one left by an earlier try.
            result = self._failed(change, exc, reads.get(change.asset_id))
        else:
            change.state = ChangeState.DONE
            change.in_doubt = False
            change.last_error = None
            result = ApplyResult(change, reads.get(change.asset_id))
        change.updated_at = now_iso()
        return result

    async def confirm(self, change: Change) -> bool:
        """Read the device again a moment after its new owner was confirmed. Still as
        intended: True. Otherwise another station's write landed just after ours (there
        is no conditional write): the change becomes a conflict, with who has it now."""
        step = next(
            (s for s in change.steps if isinstance(s, OwnerStep) and s.role == "device"), None
        )
        if step is None or change.state is not ChangeState.DONE:
            return True
        asset = await self._client.asset(step.asset_id)
        if step.applied(asset):
            return True
        self._conflict(change, _ConflictError(step, asset, when="a moment later"))
        change.updated_at = now_iso()
        return False

    async def _read(self, asset_id: str, reads: dict[str, Asset]) -> Asset:
        try:
            asset = await self._client.asset(asset_id)
        except NotFoundError as exc:
            raise _StopError(exc, None) from None
        reads[asset_id] = asset
        return asset

    async def _step(self, change: Change, step: Step, reads: dict[str, Asset]) -> None:
        asset = reads.get(step.asset_id) or await self._read(step.asset_id, reads)
        if asset.is_deleted:
            gone = NotFoundError(
                f"{step.asset_tag} was deleted in Incident IQ.", request_sent=False
            )
            raise _StopError(gone, asset)
        if step.applied(asset):
            log.info("change %s: %s step already as intended; nothing sent", change.id, step.type)
            step.done = True
            return
        if step.conflicts(asset):
            raise _ConflictError(step, asset, when=None)
        if isinstance(step, TicketStep) and change.attempts > 1:
            # An earlier try may have filed it and lost the reply: look before filing again.
            asset = await self._read(step.asset_id, reads)
            if step.filed_earlier(asset):
                log.info("change %s: a ticket is already open for the asset", change.id)
                step.done = True
                return
        try:
            await step.send(self._client, asset)
        except IIQError as exc:
            if not exc.request_sent or is_permanent(exc):
                raise _StopError(exc, asset) from None
            # The reply was lost or unclear: did it arrive?
            asset = await self._read_after_send(step, reads, exc)
            if isinstance(step, TicketStep) and step.filed_earlier(asset):
                step.done = True
                return
            if not isinstance(step, TicketStep) and step.applied(asset):
                log.info("change %s: %s arrived although the reply was lost", change.id, step.type)
                step.done = True
                return
            if step.conflicts(asset):
                raise _ConflictError(step, asset, when=SAME_MOMENT) from None
            # No answer at all (timeout, dropped reply): it may still land. An error reply
            # means Incident IQ finished with it, and the re-read shows it did not apply.
            raise _StopError(exc, asset, ambiguous=isinstance(exc, NetworkError)) from None
        if isinstance(step, TicketStep):
            step.done = True
            return
        asset = await self._read_after_send(step, reads)
        if not step.applied(asset) and isinstance(step, OwnerStep):
            # Another write may be landing at this moment: look once more before deciding.
            await self._sleep(self.confirm_pause_s)
            asset = await self._read_after_send(step, reads)
            if not step.applied(asset):
                raise _ConflictError(step, asset, when=SAME_MOMENT)
        elif not step.applied(asset):
            log.warning(
                "change %s: %s step accepted but not shown yet by Incident IQ", change.id, step.type
            )
        step.done = True

    async def _read_after_send(
        self, step: Step, reads: dict[str, Asset], sent: IIQError | None = None
    ) -> Asset:
        """Read the asset after a send. When that read fails, the send may have landed
        unseen: the change is in doubt (never withdrawn, verified before any repeat)."""
        try:
            return await self._read(step.asset_id, reads)
        except IIQError as exc:
            raise _StopError(sent or exc, reads.get(step.asset_id), ambiguous=True) from None

    def _conflict(self, change: Change, conflict: _ConflictError) -> ApplyResult:
        asset, step = conflict.asset, conflict.step
        change.state = ChangeState.CONFLICT
        change.in_doubt = False
        tag = step.asset_tag
        if isinstance(step, OwnerStep):
            change.conflict_owner_id = asset.current_owner_id
            change.conflict_owner_name = asset.owner_name or (
                "nobody" if not asset.current_owner_id else None
            )
            holder = f"with {change.conflict_owner_name or 'someone else'}"
            if conflict.when:
                change.last_error = (
                    f"{tag} is now {holder}: another station changed it {conflict.when}."
                )
            else:
                seen = change.from_owner_name if step.role == "device" else None
                seen = "nobody" if not step.from_owner_id else (seen or "someone else")
                change.last_error = (
                    f"{tag} changed in Incident IQ since it was scanned: it is now {holder}, "
                    f"not with {seen}."
                )
        elif isinstance(step, StatusStep):
            change.last_error = (
                f"{tag}'s status changed in Incident IQ since (it is now "
                f"“{asset.status_name or 'another status'}”)."
            )
        elif isinstance(step, NoteStep):
            change.last_error = (
                f"{tag}'s notes were changed in Incident IQ since it was read: nothing was "
                "overwritten."
            )
        else:
            change.last_error = (
                f"{tag}'s location changed in Incident IQ since (it is now at "
                f"{asset.location_name or 'another location'})."
            )
        log.warning("change %s: conflict on its %s step", change.id, step.type)
        return ApplyResult(change, asset if asset.asset_id == change.asset_id else None)

    def _failed(self, change: Change, error: IIQError, asset: Asset | None) -> ApplyResult:
        change.last_error = str(error)
        change.state = ChangeState.PENDING if error.transient else ChangeState.FAILED
        log.warning(
            "change %s (%s %s): %s, now %s",
            change.id,
            change.kind.value,
            change.asset_tag,
            error.kind,
            change.state.value,
        )
        return ApplyResult(change, asset, error)
