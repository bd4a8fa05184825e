"""Audit (F6) at the window: a place first, then devices that belong here, belong
elsewhere or are unknown; a second scan counted once; Esc's summary; nothing changed in
Incident IQ. Without an event the seen list lives in memory; with an audit event it is the
pack's."""

from __future__ import annotations

from typing import Any

from kiosk_helpers import mutations, press, scan, type_text, visible_text, wait_result
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from test_kiosk_event import Packs, packs  # noqa: F401 - the fixture, shared

from kiosk.core.events import AuditVerdict, EventKind, EventScope
from kiosk.simulator import DEMO, Simulator

RMS = "Roosevelt Middle School"


def location_id(sim: Simulator, name: str) -> str:
    return next(k for k, v in sim.state.locations.items() if v["Name"] == name)


def tag_at(sim: Simulator, place: str) -> str:
    """A device tag (on one device only) at `place`."""
    where = location_id(sim, place)
    for asset in sim.state.assets.values():
        tag = asset["AssetTag"]
        if (
            asset["LocationId"] == where
            and not asset["IsDeleted"]
            and tag
            and len(sim.state.asset_by_tag(tag)) == 1
        ):
            return str(tag)
    raise AssertionError(f"no device at {place}")


def devices_at(sim: Simulator, place: str) -> int:
    where = location_id(sim, place)
    return sum(
        1 for a in sim.state.assets.values() if a["LocationId"] == where and not a["IsDeleted"]
    )


def panel_lines(k: Any) -> list[str]:
    return k.window.panel.lines()


def wait_line(qtbot: QtBot, k: Any, text: str) -> None:
    qtbot.waitUntil(lambda: bool(panel_lines(k)) and panel_lines(k)[0] == text, timeout=5000)


def walk(qtbot: QtBot, k: Any, sim: Simulator, elsewhere: str) -> None:
    """Here, misplaced, unknown, and "here" again."""
    scan(qtbot, DEMO.free_tag)
    wait_line(qtbot, k, f"✓ {DEMO.free_tag} belongs here.")
    scan(qtbot, elsewhere)
    wait_line(qtbot, k, f"⚠ {elsewhere} is misplaced: it belongs at Central High School.")
    scan(qtbot, DEMO.unknown_tag)
    wait_line(qtbot, k, f"✗ {DEMO.unknown_tag} is not known to this audit or Incident IQ.")
    scan(qtbot, DEMO.free_tag)
    wait_line(qtbot, k, f"✓ {DEMO.free_tag} belongs here (scanned before: counted once).")
    assert k.window.panel.count.text() == "3 seen · 1 misplaced · 1 unknown"


def test_audit_without_an_event_keeps_the_seen_list_for_the_walk(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    press(qtbot, Qt.Key.Key_F6)
    assert k.window.mode_banner.text() == "AUDIT"
    assert "F6 Audit" in k.window.mode_keys.text()
    assert "Scan the room's or cart's label" in k.texts()

    type_text(qtbot, RMS, enter=True)
    qtbot.waitUntil(lambda: f"Audit: {RMS}" in visible_text(k), timeout=5000)
    assert "No event runs: the seen list is kept for this audit only" in visible_text(k)
    elsewhere = tag_at(sim, "Central High School")
    walk(qtbot, k, sim, elsewhere)

    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Audit finished")
    assert k.window.result.kind == "warning"
    shown = k.texts()
    expected = devices_at(sim, RMS) - 1  # all of them but the one seen
    assert (
        f"3 seen at {RMS}: 1 belong here, 1 misplaced, 1 unknown; {expected} belong here "
        "but were not seen." in shown
    )
    details = k.window.result.details
    assert [details.item(i).text() for i in range(details.count())] == [
        f"Misplaced: {elsewhere} belongs at Central High School",
        f"Unknown: {DEMO.unknown_tag}",
    ]
    assert mutations(sim) == []  # an audit changes nothing


def test_an_unknown_place_is_said_and_nothing_is_counted(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    press(qtbot, Qt.Key.Key_F6)
    type_text(qtbot, "Nowhere Hall", enter=True)
    wait_result(qtbot, k, "Not a place this kiosk knows")
    assert "is not a cart's label, a location or a room" in k.texts()
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Scan the room's or cart's label" in k.texts())
    # Enter with nothing: the station's own location ([checkin] location_id).
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: f"Audit: {DEMO.storeroom_name}" in visible_text(k), timeout=5000)


def test_audit_event_marks_seen_rows_in_its_pack(
    qtbot: QtBot,
    packs: Packs,  # noqa: F811 - the fixture
    build: Any,
    sim: Simulator,
) -> None:
    pack = packs.prepare("RMS audit", EventKind.AUDIT, EventScope(devices_at=RMS))
    k = build(event=pack, event_refresh_s=3600)
    expected = len(pack.audit_missing())
    assert expected > 1
    press(qtbot, Qt.Key.Key_F6)
    # The place is the event's: no place to scan first.
    qtbot.waitUntil(lambda: f"Audit: {RMS}" in visible_text(k), timeout=5000)
    assert "Each scan is saved in the event “RMS audit”." in visible_text(k)
    elsewhere = tag_at(sim, "Central High School")
    walk(qtbot, k, sim, elsewhere)

    seen = {s.tag: s for s in pack.audit_seen()}
    assert seen[DEMO.free_tag].verdict is AuditVerdict.HERE
    assert seen[DEMO.free_tag].scans == 2  # counted once, scanned twice
    assert seen[elsewhere].verdict is AuditVerdict.MISPLACED
    assert seen[DEMO.unknown_tag].verdict is AuditVerdict.UNKNOWN

    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Audit finished")
    assert (
        f"3 seen at {RMS}: 1 belong here, 1 misplaced, 1 unknown; {expected - 1} belong "
        "here but were not seen." in k.texts()
    )
    assert mutations(sim) == []
