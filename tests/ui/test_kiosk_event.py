"""An event at the window (`iiq-kiosk --event NAME`): lookups and type-ahead from the pack
with no request, changes through the journal and outbox while the simulator is away (each
sent once when it is back), the progress panel right throughout, and two stations whose
panels see each other's changes after a refresh."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kiosk_helpers import (
    make_kiosk,
    press,
    result_lines,
    scan,
    session_state,
    start,
    type_text,
    visible_text,
    wait_card,
    wait_dialog,
    wait_result,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.config import Settings
from kiosk.core.events import (
    EventError,
    EventKind,
    EventPack,
    EventScope,
    pack_path,
    prepare,
)
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Simulator
from kiosk.simulator.faults import Fault
from kiosk.ui.dialogs import CheckinDialog
from kiosk.ui.event_panel import EventBoard
from tests.conftest import run

GRADE7 = EventScope(locations=("Roosevelt Middle School",), grades=("07",), roles=("Student",))


class Packs:
    """Event packs prepared against the simulator (released at the end of the test)."""

    def __init__(self, qtbot: QtBot, sim: Simulator) -> None:
        self.qtbot = qtbot
        self.sim = sim
        self.made: list[EventPack] = []

    def prepare(
        self,
        name: str = "Grade 7",
        kind: EventKind = EventKind.COLLECT,
        scope: EventScope = GRADE7,
        *,
        folder: Path | None = None,
    ) -> EventPack:
        path = pack_path(folder or Path(os.environ["IIQ_KIOSK_DATA"]), name)

        async def go() -> EventPack:
            client = IIQClient(
                Connection(self.sim.url, self.sim.site_id, self.sim.token),
                retry=RetryPolicy(attempts=2, base_delay=0.01),
                offline_probe_s=None,
            )
            try:
                return await prepare(client, path, name, kind, scope, min_interval_s=0.0)
            finally:
                await client.aclose()

        task = asyncio.ensure_future(go())
        self.qtbot.waitUntil(task.done, timeout=30000)
        pack = task.result()
        self.made.append(pack)
        return pack


@pytest.fixture
def packs(qtbot: QtBot, qloop: asyncio.AbstractEventLoop, sim: Simulator) -> Iterator[Packs]:
    # Requested before `build`: torn down after the kiosks that use the packs are closed.
    made = Packs(qtbot, sim)
    yield made
    for pack in made.made:
        pack.release()


def board_of(k: Any) -> EventBoard:
    board = k.controller.event_board
    assert isinstance(board, EventBoard)
    return board


def ready_board(qtbot: QtBot, k: Any, refreshes: int = 1) -> EventBoard:
    """The kiosk's event board once its first refresh and count are in."""
    board = board_of(k)
    qtbot.waitUntil(
        lambda: board.refreshes >= refreshes and board.progress is not None, timeout=15000
    )
    return board


def panel_numbers(k: Any) -> tuple[str, str, str, str]:
    panel = board_of(k).panel
    return (
        panel.done_number.text(),
        panel.done_word.text(),
        panel.left_number.text(),
        panel.left_word.text(),
    )


def lookups_since(sim: Simulator, first: int) -> list[str]:
    """Paths of device lookups by tag or serial after request number `first`."""
    return [
        r.path
        for r in sim.requests[first:]
        if r.path.startswith(("/assets/assettag/", "/assets/serial/"))
    ]


def held_tags(sim: Simulator, pack: EventPack, count: int) -> list[str]:
    """Tags of the pack's held devices that check in plainly (one device per tag, the
    status Marcus Lee's device has)."""
    status = next(a["StatusTypeId"] for a in sim.state.asset_by_tag(DEMO.assigned_tag))
    tags = [DEMO.assigned_tag]
    for device in pack.devices():
        tag = device.tag or ""
        if tag in tags or not device.owner_id or len(sim.state.asset_by_tag(tag)) != 1:
            continue
        if sim.state.asset_by_tag(tag)[0]["StatusTypeId"] == status:
            tags.append(tag)
        if len(tags) == count:
            break
    return tags


def check_in(qtbot: QtBot, k: Any, tag: str, title: str, *, f2: bool = True) -> None:
    """F2, scan, Enter in the check-in dialog once it is armed; wait for the result."""
    if f2:
        press(qtbot, Qt.Key.Key_F2)
    scan(qtbot, tag)
    wait_card(qtbot, k, tag)
    dialog = wait_dialog(qtbot, k, CheckinDialog)
    qtbot.waitUntil(lambda: all(b.isEnabled() for b in dialog._guarded_buttons), timeout=3000)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, title, timeout=10000)


def sent_checkins(sim: Simulator, asset_id: str) -> int:
    """Owner removals of `asset_id` that Incident IQ carried out."""
    return sum(
        1
        for r in sim.requests
        if r.method == "POST"
        and (asset_id in r.path or asset_id in json.dumps(r.json))
        and (r.path.endswith("/checkouts/checkin") or r.path.endswith("/remove-owner"))
        and r.status is not None
        and r.status < 300
    )


# --- lookups from the pack ----------------------------------------------------------------


def test_a_scan_and_a_name_answer_from_the_pack_with_no_request(
    qtbot: QtBot, packs: Packs, build: Any, sim: Simulator
) -> None:
    pack = packs.prepare()
    k = build(event=pack, event_refresh_s=3600)
    board = ready_board(qtbot, k)
    total = board.progress.total if board.progress else -1
    assert total == len(pack.devices()) > 1
    shown = visible_text(k)
    assert "Event: Grade 7 · pack just read" in shown
    assert panel_numbers(k) == ("0", "returned", str(total), "still out")
    assert f"0 returned, {total} still out (of {total})" in shown

    first = len(sim.requests)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert "Marcus Lee" in k.window.device.card.values["Owner"].text()
    assert lookups_since(sim, first) == []  # the pack answered

    type_text(qtbot, "Ana Ru")  # every keystroke answered from the pack, no pause needed
    qtbot.waitUntil(lambda: any(DEMO.student_name in line for line in result_lines(k)))
    assert [r.path for r in sim.requests[first:] if r.path.startswith("/users")] == []

    # A device the pack does not hold is Incident IQ's to answer, as without an event.
    press(qtbot, Qt.Key.Key_Escape)
    press(qtbot, Qt.Key.Key_Escape)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    assert lookups_since(sim, first) == [f"/assets/assettag/{DEMO.free_tag}"]


def test_offline_half_way_every_change_queued_then_sent_once_and_the_panel_right(
    qtbot: QtBot, packs: Packs, build: Any, sim: Simulator
) -> None:
    pack = packs.prepare()
    k = build(event=pack, event_refresh_s=3600)
    board = ready_board(qtbot, k)
    total = len(pack.devices())
    tags = held_tags(sim, pack, 3)
    ids = [sim.state.asset_by_tag(t)[0]["AssetId"] for t in tags]

    check_in(qtbot, k, tags[0], f"{tags[0]} is checked in")
    qtbot.waitUntil(lambda: panel_numbers(k)[0] == "1")
    assert panel_numbers(k)[2] == str(total - 1)

    sim.faults.add(Fault(kind="drop", times=None))  # the gym's Wi-Fi is gone
    for n, tag in enumerate(tags[1:], start=2):
        check_in(qtbot, k, tag, "Saved, will be sent")
        # Counted at once, while it waits to be sent.
        qtbot.waitUntil(lambda n=n: panel_numbers(k)[0] == str(n))
        assert panel_numbers(k)[2] == str(total - n)
    assert "OFFLINE" in k.window.status.connection.text()
    assert "waiting to send" in k.window.status.connection.text()
    qtbot.waitUntil(lambda: "OFFLINE" in board.panel.note.text() or not k.client.online)
    assert sum(sent_checkins(sim, i) for i in ids[1:]) == 0

    sim.faults.clear()  # back: the outbox sends what waited
    qtbot.waitUntil(lambda: k.outbox.counts()["pending"] == 0, timeout=20000)
    for tag in tags:
        qtbot.waitUntil(lambda tag=tag: session_state(k, tag) == "done", timeout=10000)
    assert [sent_checkins(sim, i) for i in ids] == [1, 1, 1]
    assert all(sim.state.assets[i]["OwnerId"] is None for i in ids)
    assert panel_numbers(k)[0] == "3"

    # Refreshed from Incident IQ, the panel still says the same (nothing counted twice).
    refreshed = asyncio.ensure_future(board.refresh_now())
    qtbot.waitUntil(refreshed.done, timeout=15000)
    assert refreshed.result() is True
    qtbot.waitUntil(lambda: board.progress is not None and board.progress.local_changes == 0)
    assert panel_numbers(k) == ("3", "returned", str(total - 3), "still out")
    assert [sent_checkins(sim, i) for i in ids] == [1, 1, 1]


def test_two_stations_see_each_others_changes_after_a_refresh(
    qtbot: QtBot, packs: Packs, build: Any, sim: Simulator, tmp_path: Path
) -> None:
    here, there = tmp_path / "station-1", tmp_path / "station-2"
    pack_1 = packs.prepare(folder=here)
    pack_2 = packs.prepare(folder=there)
    total = len(pack_1.devices())
    k1 = build(event=pack_1, event_refresh_s=1.0, settings={"data_dir": str(here)})
    # Station 2 is closed before station 1 (the factory closes in the order made, and a
    # second kiosk closed after the first loses its timers with it).
    k2 = make_kiosk(
        qtbot,
        sim,
        event=pack_2,
        event_refresh_s=3600,
        settings={"data_dir": str(there), "station": {"name": "TEST-2"}},
        # Two kiosks in one process share the F-keys' application shortcuts (Qt then
        # fires neither): station 2 starts in check-in instead.
        default_mode="checkin",
    )
    try:
        start(qtbot, k2)
        ready_board(qtbot, k1)
        ready_board(qtbot, k2)
        assert panel_numbers(k1)[0] == panel_numbers(k2)[0] == "0"

        check_in(qtbot, k2, DEMO.assigned_tag, f"{DEMO.assigned_tag} is checked in", f2=False)
        qtbot.waitUntil(lambda: panel_numbers(k2)[0] == "1")  # its own journal, at once

        # Station 1 did nothing; its next background refresh reads station 2's change.
        qtbot.waitUntil(lambda: panel_numbers(k1)[0] == "1", timeout=15000)
        assert panel_numbers(k1)[2] == str(total - 1)
        assert "Includes other stations' changes read at" in board_of(k1).panel.note.text()
        assert k1.window.session_list.count() == 0
    finally:
        k2.close(qtbot)


# --- a pack that cannot run -------------------------------------------------------------


def _settings(folder: Path) -> Settings:
    return Settings.model_validate({"data_dir": str(folder)})


def test_a_missing_unfinished_or_expired_pack_is_said_in_words(tmp_path: Path) -> None:
    from kiosk.app import _open_event

    settings = _settings(tmp_path)
    with pytest.raises(EventError, match="There is no event “Gym hand-out” on this station"):
        run(_open_event(settings, "Gym hand-out"))

    half = EventPack.create(pack_path(tmp_path, "Half"), "Half", EventKind.COLLECT, GRADE7)
    half.release()
    with pytest.raises(EventError, match="not fully prepared"):
        run(_open_event(settings, "Half"))

    old = pack_path(tmp_path, "Old")
    made = datetime.now(UTC) - timedelta(days=settings.events.keep_days + 1)
    EventPack.create(old, "Old", EventKind.COLLECT, GRADE7, now=made).release()
    with pytest.raises(EventError, match="deleted 7 days after it was prepared"):
        run(_open_event(settings, "Old"))
    assert not old.exists()
