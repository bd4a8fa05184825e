"""The running event's pack as the first source of the transaction service's lookups.

While an event runs (`iiq-kiosk --event NAME`), a scan or a typed name is answered from
the pack at once, with no request: the same `Asset` and `Person` models as Incident IQ's
answers, with the pack's few fields (a change reads the device again by id before it is
sent, so the pack never decides what is written). A device or person the pack does not
hold is left to Incident IQ, as without an event.

The pack's picture of a device is kept as fresh as this station knows it, in memory:
- a later read from Incident IQ (`remember`: the re-read after a pack answer, the reply to
  a change this station sent) wins over the pack's row when it is newer;
- a change of this station still waiting to be sent (`note_change`, an outbox listener)
  shows its new owner on the card, so that a device checked out here offline comes up
  with its new owner when it is scanned again.

Logs carry ids and counts, never names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from kiosk.core.changes import Change, ChangeState, OwnerStep
from kiosk.core.events import EventPack, PackDevice, PackPerson
from kiosk.core.journal import utc_iso
from kiosk.core.people import PersonMatch
from kiosk.iiq.models import Asset, Person

log = logging.getLogger(__name__)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: The most people a typed name lists from the pack (as many as Incident IQ's search).
SEARCH_LIMIT = 50


class EventDirectory:
    """Lookups in `pack` first (see the module docstring). Synchronous: the pack's
    indexed queries answer in well under a millisecond on the loop's thread."""

    def __init__(self, pack: EventPack, *, clock: Callable[[], datetime] | None = None) -> None:
        self.pack = pack
        self._clock = clock or (lambda: datetime.now(UTC))
        #: asset id -> (the device as Incident IQ last answered, when: journal time).
        self._fresh: dict[str, tuple[Asset, str]] = {}
        #: asset id -> (owner id, change id) of a change of this station not sent yet.
        self._waiting: dict[str, tuple[str | None, str]] = {}
        #: Called with the ids of devices answered from the pack: the caller may read them
        #: again from Incident IQ in the background and `remember` the answer.
        self.on_answered: Callable[[list[str]], None] | None = None

    @property
    def name(self) -> str:
        return self.pack.name

    # --- devices -----------------------------------------------------------------------

    def find_device(self, text: str) -> tuple[list[Asset], Literal["tag", "serial"]] | None:
        """The pack's devices with that tag (else that serial), or None when it holds none."""
        found = self.pack.device_by_code(text)
        if not found:
            return None
        code = text.strip().casefold()
        matched: Literal["tag", "serial"] = (
            "tag" if any((d.tag or "").casefold() == code for d in found) else "serial"
        )
        assets = [self._asset(d) for d in found]
        log.info("event pack answered a device lookup: %d device(s)", len(assets))
        if self.on_answered is not None:
            self.on_answered([d.asset_id for d in found])
        return assets, matched

    def seen_at(self, assets: list[Asset]) -> datetime | None:
        """When the newest of these devices' pictures was read, in local time (what the
        card shows for an answer that may be out of date)."""
        stamps = [self._read_at(a.asset_id) for a in assets]
        known = [s for s in stamps if s]
        return datetime.fromisoformat(max(known)).astimezone() if known else None

    def pack_time(self) -> datetime | None:
        """When the pack last read Incident IQ (refreshed, else prepared), in local time."""
        stamp = self.pack.refreshed_at or self.pack.prepared_at
        return datetime.fromisoformat(stamp).astimezone() if stamp else None

    def remember(self, asset: Asset) -> None:
        """Incident IQ's answer about one of the pack's devices, read just now."""
        if self.pack.device(asset.asset_id) is None:
            return
        self._fresh[asset.asset_id] = (asset, utc_iso(self._clock()))
        waiting = self._waiting.get(asset.asset_id)
        if waiting is not None and waiting[0] == asset.current_owner_id:
            del self._waiting[asset.asset_id]  # Incident IQ has it as this station said

    def note_change(self, change: Change) -> None:
        """The outbox recorded or tried `change`: a waiting owner change of a pack device
        shows on its card; one taken back or refused does not."""
        steps = [s for s in change.steps if isinstance(s, OwnerStep) and s.role == "device"]
        for step in steps:
            current = self._waiting.get(step.asset_id)
            if change.state is ChangeState.PENDING:
                if self.pack.device(step.asset_id) is not None:
                    self._waiting[step.asset_id] = (step.to_owner_id, change.id)
            elif current is not None and current[1] == change.id:
                # Done: the reply is remembered by `remember`; withdrawn, conflict, failed:
                # Incident IQ's picture stands.
                del self._waiting[step.asset_id]

    def _asset(self, device: PackDevice) -> Asset:
        fresh = self._fresh.get(device.asset_id)
        if fresh is not None and fresh[1] >= device.read_at:
            asset = fresh[0]
        else:
            owner = self.pack.person(device.owner_id) if device.owner_id else None
            asset = device.to_asset(owner)
        waiting = self._waiting.get(device.asset_id)
        if waiting is not None and waiting[0] != asset.current_owner_id:
            owner_id = waiting[0]
            person = self.pack.person(owner_id) if owner_id else None
            asset = asset.model_copy(
                update={
                    "owner_id": owner_id,
                    "owner": person.to_person() if person else None,
                }
            )
        return asset

    def _read_at(self, asset_id: str) -> str | None:
        fresh = self._fresh.get(asset_id)
        device = self.pack.device(asset_id)
        stamps = [s for s in (fresh[1] if fresh else None, device.read_at if device else None) if s]
        return max(stamps) if stamps else None

    # --- people ------------------------------------------------------------------------

    def find_person(self, text: str, *, seen_at: datetime | None = None) -> PersonMatch | None:
        """An exact school ID, email, username (or UserId) of one person in the pack picks
        them; else the pack's people whose names start so are the candidates; None when the
        pack has nobody for `text` (then Incident IQ is asked)."""
        query = text.strip()
        if not query:
            return None
        exact = self._exact(query)
        if exact is not None:
            person = exact.to_person()
            return PersonMatch(query, exact=person, candidates=[person], seen_at=seen_at)
        people = self.search_people(query, SEARCH_LIMIT)
        if not people:
            return None
        return PersonMatch(query, candidates=people, seen_at=seen_at)

    def search_people(self, text: str, limit: int = 25) -> list[Person]:
        """Type-ahead over the pack's people (every keystroke, no request)."""
        return [p.to_person() for p in self.pack.search_people(text, limit)]

    def _exact(self, query: str) -> PackPerson | None:
        if _GUID.match(query):
            found = self.pack.person(query)
            if found is not None:
                return found
        return self.pack.person_by_code(query)
