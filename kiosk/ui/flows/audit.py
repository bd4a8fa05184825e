"""Audit (F6): walk a room or open a cart and scan what is there. Changes nothing.

First the place: a cart's label (`[checkin.carts]`), a location's name, a room of the
station's location, or Enter with nothing for the station's own location (`[checkin]
location_id`). While an audit event runs (`iiq-kiosk --event NAME` on a pack prepared with
`--kind audit`), the place is the event's and this step is skipped. Then each device scan
says whether the device belongs here, is misplaced (and where it belongs) or is unknown;
a device scanned twice is counted once. Esc ends with one summary: seen, misplaced,
unknown, and how many devices belong here but were not seen.

Where the seen list is kept: in the audit event's pack (`EventPack.audit_scan`, for
`iiq-kiosk audit report`), or, with no audit event, in memory until the summary (the screen
says so). The walks below hold no Qt: they are the audit's rules, the flow shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kiosk.core.audit import AuditResult, AuditVerdict, EventKind
from kiosk.core.scan import clean_scan
from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import IIQError, NetworkError
from kiosk.iiq.models import Asset, Filter, Location
from kiosk.ui import feedback
from kiosk.ui.feedback import Feedback, Kind
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.views import shown

if TYPE_CHECKING:  # the event pack loads only when an event runs
    from kiosk.core.events import EventPack

log = logging.getLogger(__name__)

MARKS: dict[AuditVerdict, str] = {
    AuditVerdict.HERE: "✓",
    AuditVerdict.MISPLACED: "⚠",
    AuditVerdict.UNKNOWN: "✗",
}
SOUNDS: dict[AuditVerdict, Kind] = {
    AuditVerdict.HERE: "success",
    AuditVerdict.MISPLACED: "warning",
    AuditVerdict.UNKNOWN: "error",
}
#: Misplaced and unknown devices the summary names at most.
SUMMARY_LINES = 12
PLACE_HINT = "Scan the room's or cart's label, or type a location's name and press Enter."


@dataclass(frozen=True)
class AuditPlace:
    location_id: str
    room_id: str | None
    name: str


@dataclass(frozen=True)
class AuditSummary:
    seen: int
    here: int
    misplaced: tuple[str, ...]  # "CB-1 belongs at Central High School"
    unknown: tuple[str, ...]  # tags
    #: Devices that belong here and were not scanned; None when it could not be read.
    not_seen: int | None

    @property
    def all_well(self) -> bool:
        return not self.misplaced and not self.unknown and self.not_seen == 0


class AuditWalk(Protocol):
    place_name: str
    #: What the screen says about where the seen list is kept.
    kept: str

    def scan(self, code: str, asset: Asset | None) -> AuditResult: ...

    def count_text(self) -> str: ...

    async def summary(self, client: IIQClient) -> AuditSummary: ...


def _verdict(asset: Asset | None, place: AuditPlace) -> AuditVerdict:
    if asset is None:
        return AuditVerdict.UNKNOWN
    if asset.location_id == place.location_id and (
        place.room_id is None or asset.location_room_id == place.room_id
    ):
        return AuditVerdict.HERE
    return AuditVerdict.MISPLACED


def _count_text(seen: int, misplaced: int, unknown: int) -> str:
    return f"{seen} seen · {misplaced} misplaced · {unknown} unknown"


def _summary_parts(results: Iterable[AuditResult]) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    here = 0
    misplaced: list[str] = []
    unknown: list[str] = []
    for r in results:
        if r.verdict is AuditVerdict.HERE:
            here += 1
        elif r.verdict is AuditVerdict.MISPLACED:
            where = r.location_name or "no location in Incident IQ"
            misplaced.append(f"{r.tag} belongs at {where}")
        else:
            unknown.append(r.tag)
    return here, tuple(misplaced), tuple(unknown)


class MemoryAudit:
    """An audit of `place` whose seen list lives in memory until its summary."""

    def __init__(self, place: AuditPlace, kept: str) -> None:
        self.place = place
        self.place_name = place.name
        self.kept = kept
        self._seen: dict[str, AuditResult] = {}

    def scan(self, code: str, asset: Asset | None) -> AuditResult:
        verdict = _verdict(asset, self.place)
        key = asset.asset_id if asset is not None else f"tag:{code.upper()}"
        first = key not in self._seen
        result = AuditResult(
            code=code,
            verdict=verdict,
            asset_id=asset.asset_id if asset is not None else None,
            tag=(asset.asset_tag if asset is not None else None) or code,
            model_name=asset.model_name if asset is not None else None,
            location_name=asset.location_name if asset is not None else None,
            place_name=self.place.name,
            first_scan=first,
            seen=len(self._seen) + (1 if first else 0),
        )
        if first:
            self._seen[key] = result
        log.info("audit: asset %s %s (first scan: %s)", result.asset_id or "-", verdict, first)
        return result

    def count_text(self) -> str:
        results = list(self._seen.values())
        return _count_text(
            len(results),
            sum(r.verdict is AuditVerdict.MISPLACED for r in results),
            sum(r.verdict is AuditVerdict.UNKNOWN for r in results),
        )

    async def summary(self, client: IIQClient) -> AuditSummary:
        here, misplaced, unknown = _summary_parts(self._seen.values())
        not_seen: int | None
        try:
            at_place = await client.query_assets([Filter("location", id=self.place.location_id)])
        except IIQError as exc:
            log.info("audit: the devices of the place could not be read (%s)", exc.kind)
            not_seen = None
        else:
            expected = {
                a.asset_id
                for a in at_place
                if not a.is_deleted
                and (self.place.room_id is None or a.location_room_id == self.place.room_id)
            }
            seen = {r.asset_id for r in self._seen.values() if r.asset_id}
            not_seen = len(expected - seen)
        return AuditSummary(len(self._seen), here, misplaced, unknown, not_seen)


class PackAudit:
    """An audit event's walk: every scan is a seen row of its pack."""

    def __init__(self, pack: EventPack, station: str) -> None:
        self.pack = pack
        self.station = station
        self.place_name = (pack.resolved.devices_at_location_name if pack.resolved else None) or (
            pack.scope.devices_at or "the event's place"
        )
        self.kept = f"Each scan is saved in the event “{shown(pack.name, 60)}”."
        self._results: dict[str, AuditResult] = {}

    def scan(self, code: str, asset: Asset | None) -> AuditResult:
        result = self.pack.audit_scan(code, station=self.station, asset=asset)
        self._results.setdefault(result.asset_id or f"tag:{code.upper()}", result)
        return result

    def count_text(self) -> str:
        seen = self.pack.audit_seen()
        return _count_text(
            len(seen),
            sum(s.verdict is AuditVerdict.MISPLACED for s in seen),
            sum(s.verdict is AuditVerdict.UNKNOWN for s in seen),
        )

    async def summary(self, client: IIQClient) -> AuditSummary:
        seen = self.pack.audit_seen()
        _here, misplaced, unknown = _summary_parts(self._results.values())
        return AuditSummary(
            len(seen),
            sum(s.verdict is AuditVerdict.HERE for s in seen),
            misplaced,
            tuple(s.tag for s in seen if s.verdict is AuditVerdict.UNKNOWN) or unknown,
            len(self.pack.audit_missing()),
        )


class AuditFlow(Flow):
    mode = "audit"
    #: A second scan of a device is said ("counted once"), not refused as a double scan.
    repeats_allowed = True

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.walk: AuditWalk | None = None
        self._ending = False
        self._locations: list[Location] | None = None

    def reset(self) -> None:
        self.walk = None
        self._ending = False

    def show_ready(self) -> None:
        self.reset()
        pack = self._audit_pack()
        if pack is not None:
            self._begin(PackAudit(pack, self.ctx.service.station))
            return
        detail = "Then scan each device; nothing is changed. Esc ends with a summary."
        if self.ctx.service.checkin_policy.location_id:
            detail = "Enter with nothing: this station's location. " + detail
        self.screens.ready("Scan the room's or cart's label", detail)

    # --- input -----------------------------------------------------------------------

    def on_scan(self, text: str) -> None:
        if self._ending:
            self.screens.toast("Ending the audit: scan again in a moment.", "warning")
        elif self.walk is None:
            self.runner.start(self._place(text))
        elif self.device_tag_ok(text):
            self.runner.enqueue(self._device(text))

    def on_entry(self, raw: str) -> None:
        if self.walk is None and not raw.strip():
            self.runner.start(self._station_place())
        elif self.walk is None:
            self.runner.start(self._place(raw.strip()))
        else:
            text = clean_scan(raw, self.ctx.options.scan_settings)
            if text:
                self.on_scan(text)

    def on_escape(self) -> None:
        if self.walk is not None:
            if not self._ending:
                self._ending = True
                self.runner.enqueue(self._finish())  # the devices scanned before still count
        else:
            super().on_escape()

    def on_acknowledge(self) -> None:
        if self.walk is not None:
            self.screens.panel_focus()
        else:
            self.show_ready()

    # --- the place -------------------------------------------------------------------

    def _audit_pack(self) -> EventPack | None:
        event = self.ctx.service.event
        if event is None or event.pack.kind is not EventKind.AUDIT:
            return None
        return event.pack if event.pack.expected_place()[0] is not None else None

    def _kept(self) -> str:
        event = self.ctx.service.event
        if event is None:
            return "No event runs: the seen list is kept for this audit only, until Esc."
        return (
            f"The event “{shown(event.name, 60)}” is no audit: the seen list is kept for "
            "this audit only, until Esc."
        )

    async def _station_place(self) -> None:
        policy = self.ctx.service.checkin_policy
        if not policy.location_id:
            self.screens.toast(f"This station has no location set. {PLACE_HINT}", "warning")
            return
        with self.runner.working("finding the station's location"):
            name = "this station's location"
            try:
                locations = await self._all_locations()
            except NetworkError:
                self.ctx.set_online(False)
                locations = []
            name = next(
                (loc.name for loc in locations if loc.location_id == policy.location_id), name
            )
            place = AuditPlace(policy.location_id, policy.location_room_id, name)
            self._begin(MemoryAudit(place, self._kept()))

    async def _place(self, text: str) -> None:
        with self.runner.working("finding the place"):
            place = await self._find_place(text)
            if place is None:
                self.show(
                    feedback.error(
                        "Not a place this kiosk knows",
                        f"“{shown(text)}” is not a cart's label, a location or a room of this "
                        "station's location in Incident IQ.",
                        PLACE_HINT,
                    )
                )
                return
            self._begin(MemoryAudit(place, self._kept()))

    async def _find_place(self, text: str) -> AuditPlace | None:
        key = text.strip().casefold()
        for label, cart in self.ctx.options.carts.items():
            if label.casefold() == key:
                return AuditPlace(cart.location_id, cart.room_id, f"cart {label}")
        locations = await self._all_locations()
        for loc in locations:
            if key in (loc.name.casefold(), (loc.abbreviation or "").casefold()):
                return AuditPlace(loc.location_id, None, loc.name)
        station = self.ctx.service.checkin_policy.location_id
        if station:
            for room in await self.ctx.service.client.rooms(station):
                if room.name.casefold() == key:
                    where = next((loc.name for loc in locations if loc.location_id == station), "")
                    name = f"{room.name}, {where}" if where else room.name
                    return AuditPlace(station, room.location_room_id, name)
        return None

    async def _all_locations(self) -> list[Location]:
        if self._locations is None:
            self._locations = await self.ctx.service.client.locations()
        return self._locations

    def _begin(self, walk: AuditWalk) -> None:
        self.walk = walk
        self._ending = False
        self.screens.panel(
            f"Audit: {shown(walk.place_name, 80)}",
            f"Scan each device here. Nothing is changed in Incident IQ. {walk.kept} "
            "Esc ends with a summary.",
            placeholder="…or type a tag and press Enter",
        )
        self.screens.panel_count(walk.count_text())

    # --- devices ---------------------------------------------------------------------

    async def _device(self, text: str) -> None:
        walk = self.walk
        if walk is None:
            return
        with self.runner.working("checking the device"):
            try:
                found = await self.ctx.service.find_device(text)
            except IIQError as exc:
                if isinstance(exc, NetworkError):
                    self.ctx.set_online(False)
                said = feedback.for_exception(exc, doing="looking up the device")
                self.screens.panel_line(
                    f"⚠ {shown(text)}: not checked ({said.title}). Scan it again later."
                )
                self.screens.sound("warning")
                return
            self.ctx.set_online(found.seen_at is None)
            if len(found.assets) > 1:
                self.screens.panel_line(
                    f"⚠ {shown(text)}: several devices have this tag. Look them up in "
                    "Incident IQ; it was not counted."
                )
                self.screens.sound("warning")
                return
            result = walk.scan(text, found.assets[0] if found.assets else None)
            self.screens.panel_line(f"{MARKS[result.verdict]} {shown(result.sentence(), 200)}")
            self.screens.panel_count(walk.count_text())
            self.screens.sound(SOUNDS[result.verdict])

    async def _finish(self) -> None:
        walk = self.walk
        if walk is None:
            return
        with self.runner.working("counting what was not seen"):
            summary = await walk.summary(self.ctx.service.client)
            self.walk = None
            self._ending = False
            self.show(summary_feedback(walk.place_name, summary))


def summary_feedback(place: str, s: AuditSummary) -> Feedback:
    """The audit's one summary screen."""
    missing = (
        "how many belong here but were not seen is not known (Incident IQ cannot be reached)"
        if s.not_seen is None
        else f"{s.not_seen} belong here but were not seen"
    )
    message = (
        f"{s.seen} seen at {shown(place, 80)}: {s.here} belong here, {len(s.misplaced)} "
        f"misplaced, {len(s.unknown)} unknown; {missing}."
    )
    details = [f"Misplaced: {line}" for line in s.misplaced[:SUMMARY_LINES]]
    details += [f"Unknown: {tag}" for tag in s.unknown[:SUMMARY_LINES]]
    hint = "Scan the next room's or cart's label, or press Enter."
    kind: Kind = "success" if s.all_well else "warning"
    return Feedback(kind, "Audit finished", message, hint, tuple(shown(d, 120) for d in details))
