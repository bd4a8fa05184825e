"""The transactions a kiosk (or the command line) performs, in one service.

`TransactionService` identifies devices and people, checks the rules, and turns what the
operator confirmed into a `Change` that `ChangeService` applies exactly once. Both the window
and the command line use it, so they refuse, warn and record alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from kiosk.core.cache import DirectoryCache
from kiosk.core.changes import (
    ApplyResult,
    Change,
    ChangeKind,
    ChangeService,
    Condition,
    LocationStep,
    OwnerStep,
    StatusStep,
    Step,
    TicketStep,
)
from kiosk.core.people import PersonMatch, exact_matches, identify_person
from kiosk.core.rules import TransferCheck, check_transfer, retired_status_ids
from kiosk.core.text import clean_text
from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import NetworkError
from kiosk.iiq.models import Activity, Asset, Person, StatusType, TicketRequest

if TYPE_CHECKING:  # the event pack's module needs this one's CartTarget
    from kiosk.core.event_directory import EventDirectory

log = logging.getLogger(__name__)


class SetupError(Exception):
    """The district's settings do not fit its Incident IQ site (a status name that does not
    exist, a repair ticket with no issue configured). The message says what to set."""


@dataclass(frozen=True)
class CheckinPolicy:
    """What check-in does besides removing the owner; ids as configured for the district."""

    status_name: str | None = "Available"
    repair_status_name: str | None = "In Repair"
    location_id: str | None = None
    location_room_id: str | None = None
    ticket_issue_id: str | None = None
    ticket_issue_category_id: str | None = None
    ticket_issue_type_id: str | None = None
    ticket_wizard_category_id: str | None = None


@dataclass(frozen=True)
class DeviceLookup:
    """What a scan found. `seen_at` is set when Incident IQ could not be reached and the
    answer comes from what this kiosk saw earlier (it may be out of date)."""

    query: str
    assets: list[Asset]
    matched_by: Literal["tag", "serial"] | None
    seen_at: datetime | None = None


@dataclass(frozen=True)
class PreparedCheckout:
    asset: Asset
    person: Person
    check: TransferCheck
    held: list[Asset]
    offline: bool = False

    def change(
        self,
        *,
        station: str,
        operator: str | None,
        accessory: Asset | None = None,
        batch_id: str | None = None,
    ) -> Change:
        """The plan: the device's new owner, and its charger's when one was scanned."""
        owner = self.check.from_owner
        tag = tag_of(self.asset)
        steps: list[Step] = [
            OwnerStep(self.asset.asset_id, tag, self.asset.current_owner_id, self.person.user_id)
        ]
        if accessory is not None:
            steps.append(accessory_step(accessory, self.person.user_id))
        return Change(
            kind=ChangeKind.CHECKOUT,
            asset_id=self.asset.asset_id,
            asset_tag=tag,
            from_owner_id=self.asset.current_owner_id,
            from_owner_name=owner.display_name if owner else None,
            to_owner_id=self.person.user_id,
            to_owner_name=self.person.display_name,
            station=station,
            operator=operator,
            steps=steps,
            batch_id=batch_id,
        )


@dataclass(frozen=True)
class CartTarget:
    """Where a batch check-in puts devices: a cart or box label mapped in the config to a
    location, and a room and storage unit there."""

    label: str
    location_id: str
    room_id: str | None = None
    storage_unit: str | None = None


#: The longest name and note the journal keeps (a hostile 600-character value stops here).
NAME_LIMIT = 120
NOTE_LIMIT = 300


def recorded_name(person: Person | None) -> str | None:
    """A name as the journal, the session list and the terminal may hold it: no control or
    bidi-override characters, bounded length."""
    return clean_text(person.display_name, NAME_LIMIT) if person is not None else None


def tag_of(asset: Asset) -> str:
    return asset.asset_tag or asset.serial_number or asset.asset_id


def accessory_step(accessory: Asset, to_owner_id: str | None) -> OwnerStep:
    return OwnerStep(
        accessory.asset_id,
        tag_of(accessory),
        accessory.current_owner_id,
        to_owner_id,
        role="accessory",
    )


class TransactionService:
    def __init__(
        self,
        client: IIQClient,
        *,
        station: str,
        checkin: CheckinPolicy | None = None,
        changes: ChangeService | None = None,
    ) -> None:
        self.client = client
        self.station = station
        self.operator: str | None = None
        self.checkin_policy = checkin or CheckinPolicy()
        self.changes = changes or ChangeService(client)
        self.cache = DirectoryCache()
        self._status_types: list[StatusType] | None = None
        self._token_user: str | None = None
        #: The running event's pack (`iiq-kiosk --event NAME`): lookups ask it first.
        self.event: EventDirectory | None = None

    # --- reference data (read once) --------------------------------------------------

    async def status_types(self) -> list[StatusType]:
        if self._status_types is None:
            self._status_types = await self.client.status_types()
        return self._status_types

    async def status_id(self, name: str | None) -> str | None:
        """The id of the status called `name` (case-insensitive); never hard-coded."""
        if not name:
            return None
        for status in await self.status_types():
            if status.name.casefold() == name.casefold():
                return status.asset_status_type_id
        known = ", ".join(s.name for s in await self.status_types())
        raise SetupError(
            f"Incident IQ has no asset status called “{name}” (it has: {known}). "
            "Set [checkin] status_name / repair_status_name in the config file."
        )

    # --- identify ------------------------------------------------------------------

    async def find_device(self, text: str) -> DeviceLookup:
        """Tag first, then serial. Offline, what this kiosk saw of that scan before. While
        an event runs, its pack answers first, with no request (`seen_at` is the pack's
        read time when Incident IQ cannot be reached, as for the cache)."""
        if self.event is not None and (local := self.event.find_device(text)) is not None:
            pack_assets, pack_match = local
            seen_at = None if self.client.online else self.event.seen_at(pack_assets)
            return DeviceLookup(text, pack_assets, pack_match, seen_at)
        try:
            found = await self.client.find_assets(text)
        except NetworkError:
            cached = self.cache.devices(text)
            if cached is None:
                raise
            assets, matched_by, seen_at = cached
            log.info("offline: device answered from the kiosk's cache")
            return DeviceLookup(text, assets, _matched(matched_by), seen_at)
        self.cache.remember_devices(text, found.assets, found.matched_by)
        return DeviceLookup(text, found.assets, found.matched_by)

    async def find_person(self, text: str) -> PersonMatch:
        """Exact identifier or a list to pick from. Offline, only an exact identifier this
        kiosk has seen before is recognised. While an event runs, its pack's people answer
        first (an exact identifier, else the names that start so), with no request."""
        if self.event is not None:
            offline_since = None if self.client.online else self.event.pack_time()
            local = self.event.find_person(text, seen_at=offline_since)
            if local is not None:
                return local
        try:
            match = await identify_person(self.client, text)
        except NetworkError:
            cached = self.cache.person(text)
            if cached is None or not exact_matches(text, [cached[0]]):
                raise
            log.info("offline: person answered from the kiosk's cache")
            return PersonMatch(
                text.strip(), exact=cached[0], candidates=[cached[0]], seen_at=cached[1]
            )
        self.cache.remember_people(match.candidates or ([match.exact] if match.exact else []))
        return match

    async def refresh(self, asset: Asset) -> Asset:
        return await self.client.asset(asset.asset_id)

    async def recent_activity(self, asset: Asset, limit: int = 10) -> list[Activity]:
        return await self.client.activities(asset.asset_id, limit=limit)

    # --- check-out / transfer ----------------------------------------------------

    async def prepare_checkout(
        self, asset: Asset, person: Person, *, with_held: bool = True
    ) -> PreparedCheckout:
        """Check the rules for giving `asset` to `person` (nothing is changed). Offline,
        the check uses what the kiosk saw and says so; the change is queued when confirmed.
        `with_held=False` skips reading the devices the person has (a batch gives them
        many on purpose and never warns about it)."""
        offline = False
        held: list[Asset] = []
        retired: frozenset[str] = frozenset()
        try:
            if person.user_id and with_held:
                held = await self.client.assets_for(person.user_id)
                self.cache.remember_held(person.user_id, held)
            retired = retired_status_ids(await self.status_types())
        except NetworkError:
            offline = True
            cached = self.cache.held(person.user_id) if person.user_id else None
            held = cached[0] if cached else []
        check = check_transfer(asset, person, held=held, retired_ids=retired)
        if offline and check.allowed:
            check = TransferCheck(
                None,
                [
                    "Incident IQ cannot be reached: this uses what the kiosk saw earlier. "
                    "The change is saved and sent once the connection is back.",
                    *check.warnings,
                ],
                check.from_owner,
            )
        return PreparedCheckout(asset, person, check, held, offline)

    def checkout_change(
        self,
        prepared: PreparedCheckout,
        *,
        accessory: Asset | None = None,
        batch_id: str | None = None,
    ) -> Change:
        return prepared.change(
            station=self.station, operator=self.operator, accessory=accessory, batch_id=batch_id
        )

    # --- check-in ------------------------------------------------------------------

    async def token_user_id(self) -> str | None:
        """The person the API token belongs to: who a repair ticket is for when the device
        came back from nobody."""
        if self._token_user is None:
            self._token_user = (await self.client.login()).user_id or ""
        return self._token_user or None

    async def checkin_change(
        self,
        asset: Asset,
        *,
        condition: Condition = Condition.GOOD,
        charger_returned: bool | None = None,
        note: str | None = None,
        returned_by: str | None = None,
        cart: CartTarget | None = None,
        accessory: Asset | None = None,
        batch_id: str | None = None,
    ) -> Change:
        """What confirming a check-in of `asset` will do: owner removed (when it has one),
        status and location set from the policy (or the cart), and for a damaged or broken
        device one repair ticket. `returned_by` (a UserId) is who the repair ticket is for
        when the device has no owner. Raises SetupError before anything is sent when the
        district's settings cannot do it."""
        policy = self.checkin_policy
        note = clean_text(note, NOTE_LIMIT) or None if note else None
        damaged = condition is not Condition.GOOD
        status_name = policy.repair_status_name if damaged else policy.status_name
        status_id = await self.status_id(status_name)
        owner = asset.owner
        tag = tag_of(asset)
        steps: list[Step] = []
        if asset.current_owner_id:
            steps.append(OwnerStep(asset.asset_id, tag, asset.current_owner_id, None))
        if accessory is not None and accessory.current_owner_id:
            steps.append(accessory_step(accessory, None))
        if status_id:
            steps.append(
                StatusStep(
                    asset.asset_id,
                    tag,
                    status_id,
                    status_name,
                    asset.status_type_id,
                    asset.status_name,
                )
            )
        location_id = cart.location_id if cart else policy.location_id
        if location_id:
            steps.append(
                LocationStep(
                    asset.asset_id,
                    tag,
                    location_id,
                    cart.room_id if cart else policy.location_room_id,
                    cart.storage_unit if cart else None,
                    asset.location_id,
                    asset.location_room_id,
                    asset.storage_unit_number,
                )
            )
        if damaged:
            steps.append(
                self._repair_ticket(
                    asset,
                    condition,
                    for_id=asset.current_owner_id or returned_by,
                    charger_returned=charger_returned,
                    note=note,
                )
            )
        return Change(
            kind=ChangeKind.CHECKIN,
            asset_id=asset.asset_id,
            asset_tag=tag,
            from_owner_id=asset.current_owner_id,
            from_owner_name=recorded_name(owner),
            station=self.station,
            operator=self.operator,
            steps=steps,
            condition=condition,
            charger_returned=charger_returned,
            note=note,
            batch_id=batch_id,
        )

    def _repair_ticket(
        self,
        asset: Asset,
        condition: Condition,
        *,
        for_id: str | None,
        charger_returned: bool | None,
        note: str | None,
    ) -> TicketStep:
        policy = self.checkin_policy
        tag = tag_of(asset)
        if not policy.ticket_issue_id:
            raise SetupError(
                f"A {condition.value} device needs a repair ticket, but no ticket issue is "
                "set: set [tickets] issue_id in the config file. Nothing was changed."
            )
        if not for_id:
            raise SetupError(
                f"{tag} has no owner to file the repair ticket for; check it in as good "
                "and file the ticket in Incident IQ."
            )
        lines = [
            f"Returned {condition.value} at check-in ({self.station}).",
            f"Charger returned: {_yes_no(charger_returned)}.",
        ]
        if self.operator:
            lines.append(f"Checked in at {self.station} by {self.operator}.")
        if note:
            lines.append(f"Note: {note}")
        request = TicketRequest(
            subject=f"{tag} returned {condition.value}"
            + (" without its charger" if charger_returned is False else ""),
            description="\n".join(lines),
            for_user_id=for_id,
            asset_id=asset.asset_id,
            issue_id=policy.ticket_issue_id,
            issue_category_id=policy.ticket_issue_category_id,
            issue_type_id=policy.ticket_issue_type_id,
            wizard_category_id=policy.ticket_wizard_category_id,
            location_id=asset.location_id,
        )
        return TicketStep(asset.asset_id, tag, request, asset.open_ticket_count)

    # --- apply -----------------------------------------------------------------------

    async def apply(self, change: Change) -> ApplyResult:
        result = await self.changes.apply(change)
        if result.asset is not None:
            # The cached card follows what Incident IQ now says.
            self.cache.remember_devices(change.asset_tag, [result.asset], "tag")
            if self.event is not None:
                self.event.remember(result.asset)
        return result


def _matched(value: str | None) -> Literal["tag", "serial"] | None:
    return "serial" if value == "serial" else ("tag" if value == "tag" else None)


def _yes_no(value: bool | None) -> str:
    return "not asked" if value is None else ("yes" if value else "no")
