"""Updating a device's status, location, room and notes: the rules and the plan.

`UpdatePlanner.plan` resolves the names (status types, locations, the location's rooms)
and turns what was asked into a `Change` of kind UPDATE whose steps are the existing ones:
`StatusStep` (the status route), `LocationStep` (the partial update with `LocationId` and
`LocationRoomId`) and `NoteStep` (the partial update with `Notes`). The partial update always
carries the device's own `AssetTag` and `SerialNumber` (`IIQClient.update_asset`). Steps
already as asked are left out; a deleted or retired device is refused, as in the window.
Each step expects what was read when planning, so a device changed elsewhere in between is
a conflict, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.core.assets import Named, UnknownNameError, location_names, resolve_names
from kiosk.core.changes import Change, ChangeKind, LocationStep, NoteStep, StatusStep, Step
from kiosk.core.operators import signed
from kiosk.core.rules import is_retired, retired_status_ids
from kiosk.core.text import clean_text
from kiosk.core.transactions import NOTE_LIMIT, TransactionService, tag_of
from kiosk.iiq.models import Asset, Location, Room


@dataclass(frozen=True)
class UpdateRequest:
    """What to change, by name (None: leave it as it is)."""

    status: str | None = None
    location: str | None = None
    room: str | None = None
    note: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.status or self.location or self.room or self.note)


@dataclass(frozen=True)
class UpdatePlan:
    """`change` is None when nothing is sent: `refusal` says why (a rule), or, with no
    refusal, everything is already as asked. `details` describe each step in words."""

    asset: Asset
    change: Change | None
    refusal: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def already_done(self) -> bool:
        return self.change is None and self.refusal is None


class UpdatePlanner:
    """Plans updates for one station; the site's lists are read once per planner."""

    def __init__(self, service: TransactionService) -> None:
        self._service = service
        self._locations: list[Location] | None = None
        self._rooms: dict[str, list[Room]] = {}

    async def locations(self) -> list[Location]:
        if self._locations is None:
            self._locations = await self._service.client.locations()
        return self._locations

    async def location_id(self, name: str) -> str:
        ids = resolve_names("location", [name], location_names(await self.locations()))
        if len(ids) > 1:
            raise UnknownNameError("single location", name, [])
        return ids[0]

    async def room_id(self, location_id: str, name: str) -> str:
        rooms = self._rooms.get(location_id)
        if rooms is None:
            rooms = self._rooms[location_id] = await self._service.client.rooms(location_id)
        where = await self._location_name(location_id)
        return resolve_names(
            f"room at {where}", [name], [Named(r.location_room_id, r.name) for r in rooms]
        )[0]

    async def status(self, name: str) -> tuple[str, str]:
        """(id, name as the site spells it) of the status called `name`."""
        types = await self._service.status_types()
        known = [Named(t.asset_status_type_id, t.name) for t in types]
        status_id = resolve_names("asset status", [name], known)[0]
        return status_id, next(t.name for t in types if t.asset_status_type_id == status_id)

    async def plan(
        self,
        asset: Asset,
        request: UpdateRequest,
        *,
        batch_id: str | None = None,
        change_id: str | None = None,
    ) -> UpdatePlan:
        """The plan for `request` on `asset` (read fresh). Raises UnknownNameError for a
        status, location or room the site does not have; nothing is sent here."""
        tag = tag_of(asset)
        if asset.is_deleted:
            return UpdatePlan(asset, None, f"{tag} was deleted in Incident IQ.")
        retired = retired_status_ids(await self._service.status_types())
        if is_retired(asset, retired):
            return UpdatePlan(
                asset,
                None,
                f"{tag} is retired ({asset.status_name}) and is not changed here: change it "
                "in Incident IQ.",
            )
        steps: list[Step] = []
        details: list[str] = []
        if request.status:
            status_id, status_name = await self.status(request.status)
            details.append(f"status “{asset.status_name or '-'}” to “{status_name}”")
            steps.append(
                StatusStep(
                    asset.asset_id,
                    tag,
                    status_id,
                    status_name,
                    asset.status_type_id,
                    asset.status_name,
                    expect=asset.status_type_id,
                )
            )
        if request.location or request.room:
            step, words = await self._location_step(asset, request)
            if step is None:
                return UpdatePlan(asset, None, words)
            steps.append(step)
            details.append(words)
        if request.note:
            note = clean_text(request.note, NOTE_LIMIT)
            line = signed(note, station=self._service.station, operator=self._service.operator)
            old = asset.notes or ""
            new = f"{old}\n{line}" if old else line
            if note and not old.endswith(line):
                steps.append(NoteStep(asset.asset_id, tag, new, asset.notes))
                details.append(f"note “{note}” added")
        todo = [step for step in steps if not step.applied(asset)]
        if not todo:
            return UpdatePlan(asset, None, None, details)
        change = Change(
            kind=ChangeKind.UPDATE,
            asset_id=asset.asset_id,
            asset_tag=tag,
            from_owner_id=asset.current_owner_id,
            station=self._service.station,
            operator=self._service.operator,
            steps=todo,
            batch_id=batch_id,
            note=clean_text(request.note, NOTE_LIMIT) if request.note else None,
        )
        if change_id is not None:
            change.id = change_id
        return UpdatePlan(asset, change, None, details)

    async def _location_step(
        self, asset: Asset, request: UpdateRequest
    ) -> tuple[LocationStep | None, str]:
        """The location step and its words, or (None, why not)."""
        tag = tag_of(asset)
        location_id = (
            await self.location_id(request.location) if request.location else asset.location_id
        )
        if location_id is None:
            return None, f"{tag} has no location in Incident IQ: give --location with --room."
        room_id = await self.room_id(location_id, request.room) if request.room else None
        where = await self._location_name(location_id)
        words = f"location {asset.location_name or '-'} to {where}" if request.location else ""
        if request.room:
            room = next(
                (r.name for r in self._rooms.get(location_id, []) if r.location_room_id == room_id),
                request.room,
            )
            words = (words + ", " if words else "") + f"room {asset.room_name or '-'} to {room}"
        step = LocationStep(
            asset.asset_id,
            tag,
            location_id,
            room_id,
            None,
            asset.location_id,
            asset.location_room_id,
            asset.storage_unit_number,
            expect=asset.location_id,
        )
        return step, words

    async def _location_name(self, location_id: str) -> str:
        for loc in await self.locations():
            if loc.location_id.casefold() == location_id.casefold():
                return loc.name
        return "the device's location"
