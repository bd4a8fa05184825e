"""Changes to Incident IQ (check-out/transfer, check-in) and how they are applied exactly once.

A `Change` says what the operator confirmed: which device, from whom, to whom. Applying it
(`ChangeService.apply`) always starts by reading the asset as it is now:
- already as intended -> done, nothing is sent (a repeat after a lost reply);
- owned by someone other than who we saw when it was scanned -> conflict, nothing is forced;
- otherwise the change is sent once; if the reply is lost, the asset is read again to find
  out whether it arrived.
So a change can be tried any number of times (by the outbox, after a crash) and is applied
at most once. Check-in adds steps (status, location, repair ticket), each checked the same way.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import IIQError, NotFoundError
from kiosk.iiq.models import Asset, TicketRequest

log = logging.getLogger(__name__)


class ChangeKind(StrEnum):
    CHECKOUT = "checkout"  # also a transfer when the device had an owner
    CHECKIN = "checkin"


class ChangeState(StrEnum):
    PENDING = "pending"  # confirmed here, not yet known to be applied in Incident IQ
    DONE = "done"
    CONFLICT = "conflict"  # someone else changed the device; resolve by hand
    FAILED = "failed"  # Incident IQ refused it (rights, deleted record): needs attention


class Condition(StrEnum):
    GOOD = "good"
    DAMAGED = "damaged"
    BROKEN = "broken"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Change:
    """One confirmed change. Holds what the audit needs and no more personal data:
    names are shown in the session list and purged from the journal after retention."""

    kind: ChangeKind
    asset_id: str
    asset_tag: str
    from_owner_id: str | None
    to_owner_id: str | None = None
    from_owner_name: str | None = None
    to_owner_name: str | None = None
    station: str = ""
    operator: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=_now)
    # check-in only
    condition: Condition | None = None
    charger_returned: bool | None = None
    note: str | None = None
    status_type_id: str | None = None
    location_id: str | None = None
    location_room_id: str | None = None
    ticket: dict[str, Any] | None = None  # TicketRequest fields, filed when damaged/broken
    open_tickets_seen: int = 0
    # progress
    state: ChangeState = ChangeState.PENDING
    steps_done: list[str] = field(default_factory=list)
    ticket_id: str | None = None
    ticket_number: str | None = None
    attempts: int = 0
    last_error: str | None = None
    conflict_owner_id: str | None = None
    conflict_owner_name: str | None = None
    updated_at: str = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        change = cls(**known)
        change.kind = ChangeKind(change.kind)
        change.state = ChangeState(change.state)
        if change.condition is not None:
            change.condition = Condition(change.condition)
        return change

    @property
    def description(self) -> str:
        if self.kind is ChangeKind.CHECKIN:
            return f"Check in {self.asset_tag}" + (
                f" from {self.from_owner_name}" if self.from_owner_name else ""
            )
        if self.from_owner_id:
            return f"Transfer {self.asset_tag} from {self.from_owner_name} to {self.to_owner_name}"
        return f"Give {self.asset_tag} to {self.to_owner_name}"


@dataclass(frozen=True)
class ApplyResult:
    change: Change
    asset: Asset | None = None  # the asset as read last
    error: IIQError | None = None  # why it is still pending or failed


def is_permanent(error: IIQError) -> bool:
    """Errors that repeating will not fix: an operator or IT has to act."""
    return not error.transient


class ChangeService:
    """Applies changes exactly once (see the module docstring)."""

    def __init__(self, client: IIQClient) -> None:
        self._client = client

    def owner_applied(self, change: Change, asset: Asset) -> bool:
        return asset.current_owner_id == change.to_owner_id

    async def apply(self, change: Change) -> ApplyResult:
        change.attempts += 1
        change.updated_at = _now()
        try:
            result = await self._apply(change)
        except IIQError as exc:
            result = self._failed(change, exc, None)
        change.updated_at = _now()
        return result

    async def _apply(self, change: Change) -> ApplyResult:
        try:
            asset = await self._client.asset(change.asset_id)
        except NotFoundError as exc:
            return self._failed(change, exc, None)
        if asset.is_deleted:
            gone = NotFoundError(
                f"{change.asset_tag} was deleted in Incident IQ.", request_sent=False
            )
            return self._failed(change, gone, asset)
        if "owner" not in change.steps_done:
            if self.owner_applied(change, asset):
                log.info("change %s: owner already as intended; nothing sent", change.id)
            elif asset.current_owner_id != change.from_owner_id:
                return self._conflict(change, asset)
            else:
                try:
                    await self._send_owner(change)
                except IIQError as exc:
                    if not exc.request_sent or is_permanent(exc):
                        return self._failed(change, exc, asset)
                    # The reply was lost or unclear: did it arrive?
                    asset = await self._client.asset(change.asset_id)
                    if not self.owner_applied(change, asset):
                        return self._failed(change, exc, asset)
                    log.info("change %s: arrived although the reply was lost", change.id)
                else:
                    asset = await self._client.asset(change.asset_id)
                    if not self.owner_applied(change, asset):
                        log.warning(
                            "change %s: accepted but the asset does not show it yet", change.id
                        )
            change.steps_done.append("owner")
        if change.kind is ChangeKind.CHECKIN:
            asset = await self._checkin_steps(change, asset)
        change.state = ChangeState.DONE
        change.last_error = None
        return ApplyResult(change, asset)

    async def _send_owner(self, change: Change) -> None:
        if change.kind is ChangeKind.CHECKOUT:
            assert change.to_owner_id is not None
            await self._client.transfer(change.asset_id, change.to_owner_id)
        else:
            await self._client.checkin(change.asset_id, owner_id=change.from_owner_id)

    async def _checkin_steps(self, change: Change, asset: Asset) -> Asset:
        if change.status_type_id and "status" not in change.steps_done:
            if asset.status_type_id != change.status_type_id:
                await self._client.set_status(change.asset_id, change.status_type_id)
            change.steps_done.append("status")
        if change.location_id and "location" not in change.steps_done:
            # The room (cart) of the old location must not stay on the device.
            wanted: dict[str, str | None] = {
                "LocationId": change.location_id,
                "LocationRoomId": change.location_room_id,
            }
            if asset.location_id != change.location_id or (
                change.location_room_id and asset.location_room_id != change.location_room_id
            ):
                await self._client.update_asset(asset, wanted)
            change.steps_done.append("location")
        if change.ticket and "ticket" not in change.steps_done:
            fresh = await self._client.asset(change.asset_id)
            if change.attempts > 1 and fresh.open_ticket_count > change.open_tickets_seen:
                # An earlier try filed it and lost the reply: do not file a second one.
                log.info("change %s: a ticket is already open for the asset", change.id)
            else:
                ref = await self._client.create_ticket(TicketRequest(**change.ticket))
                change.ticket_id = ref.ticket_id
                change.ticket_number = ref.ticket_number
            change.steps_done.append("ticket")
            asset = fresh
        return asset

    def _conflict(self, change: Change, asset: Asset) -> ApplyResult:
        change.state = ChangeState.CONFLICT
        change.conflict_owner_id = asset.current_owner_id
        change.conflict_owner_name = asset.owner_name or ("nobody" if not asset.owner_id else None)
        change.last_error = (
            f"{change.asset_tag} changed in Incident IQ since it was scanned: it now belongs "
            f"to {change.conflict_owner_name or 'someone else'}, not "
            f"{change.from_owner_name or 'nobody'}."
        )
        log.warning("change %s: conflict, owner changed elsewhere", change.id)
        return ApplyResult(change, asset)

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
