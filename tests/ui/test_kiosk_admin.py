"""The admin PIN and the lock-down: closing, F12 and unlocking a mode need the PIN; wrong
PINs slow down and the count survives a restart; settings saved from the admin's dialog
are written to the user's file and restart the station."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kiosk_helpers import Kiosk, make_kiosk, press, start, type_text
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox
from pytestqt.qtbot import QtBot

from kiosk.core.audit import EventKind
from kiosk.core.pin import hash_pin
from kiosk.simulator import Simulator
from kiosk.ui.admin import PIN_STATE_FILE, AdminDialog, PinDialog, ReportDialog, StationAdmin
from kiosk.ui.settings_dialog import SettingsDialog

PIN = "2468"
LOCK = Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint


class Station:
    """A kiosk with its admin, as kiosk.app wires them."""

    def __init__(self, qtbot: QtBot, k: Kiosk, *, fullscreen: bool) -> None:
        self.k = k
        self.quits = 0
        self.saved = 0

        def quit_kiosk() -> None:
            self.quits += 1

        def settings_saved() -> None:
            self.saved += 1

        self.events: list[str | None] = []
        self.admin = StationAdmin(
            k.window,
            k.controller,
            k.services,
            fullscreen=fullscreen,
            on_settings_saved=settings_saved,
            quit_kiosk=quit_kiosk,
            on_run_event=self.events.append,
            guard_ms=0,
        )
        start(qtbot, k)

    @property
    def dialog(self) -> Any:
        return self.k.controller.screens.dialog


@pytest.fixture
def station(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, sim: Simulator
) -> Iterator[Callable[..., Station]]:
    made: list[Station] = []

    def build(*, pin: str | None = PIN, fullscreen: bool = True, **settings: Any) -> Station:
        sections = {"admin": {"pin_hash": hash_pin(pin) if pin else ""}} | settings
        k = make_kiosk(qtbot, sim, settings=sections, guard_ms=0)
        s = Station(qtbot, k, fullscreen=fullscreen)
        made.append(s)
        return s

    yield build
    for s in made:
        s.admin.remove()
        s.k.close(qtbot)


def wait_for(qtbot: QtBot, s: Station, kind: type[Any]) -> Any:
    qtbot.waitUntil(lambda: isinstance(s.dialog, kind), timeout=3000)
    return s.dialog


def type_pin(qtbot: QtBot, dialog: PinDialog, pin: str) -> None:
    qtbot.waitUntil(lambda: not dialog.checking, timeout=3000)
    dialog.field.setText(pin)
    dialog.on_enter()


def test_locked_down_closing_asks_for_the_pin(qtbot: QtBot, station: Any) -> None:
    s = station()
    window = s.k.window
    assert s.admin.locked
    assert window.windowFlags() & LOCK == LOCK  # no frame, on top
    assert "F12 Admin" in window.mode_keys.text()
    window.close()  # what Alt+F4 does
    assert window.isVisible()
    dialog = wait_for(qtbot, s, PinDialog)
    assert "to quit the kiosk" in dialog.sentence.text()
    assert dialog.field.echoMode() == dialog.field.EchoMode.Password

    type_pin(qtbot, dialog, "1111")
    qtbot.waitUntil(lambda: "Wrong PIN" in dialog.message.text(), timeout=3000)
    assert s.quits == 0 and window.isVisible()
    assert dialog.field.text() == ""  # the wrong PIN does not stay on screen
    type_pin(qtbot, dialog, PIN)
    qtbot.waitUntil(lambda: s.quits == 1, timeout=3000)


def test_wrong_pins_slow_down_and_the_count_survives_a_restart(qtbot: QtBot, station: Any) -> None:
    s = station()
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    dialog = wait_for(qtbot, s, PinDialog)
    for attempt in range(3):
        type_pin(qtbot, dialog, "0000")
        qtbot.waitUntil(
            lambda a=attempt: s.admin.gate.failures == a + 1 and not dialog.checking,
            timeout=3000,
        )
    assert "Wait 5 seconds" in dialog.message.text()
    type_pin(qtbot, dialog, PIN)  # too soon: not even looked at
    qtbot.waitUntil(lambda: "Too many wrong PINs" in dialog.message.text(), timeout=3000)
    assert not isinstance(s.dialog, AdminDialog)
    press(qtbot, Qt.Key.Key_Escape)

    state = Path(s.k.services.settings.data_dir) / PIN_STATE_FILE
    assert state.exists() and PIN not in state.read_text(encoding="utf-8")
    again = StationAdmin(
        s.k.window,
        s.k.controller,
        s.k.services,
        fullscreen=True,
        on_settings_saved=lambda: None,
        quit_kiosk=lambda: None,
        guard_ms=0,
    )
    try:
        assert again.gate is not None and again.gate.failures == 3
        assert again.gate.wait_s() > 0
    finally:
        again.remove()


def test_f12_opens_the_admin_choices_behind_the_pin(qtbot: QtBot, station: Any) -> None:
    s = station(station={"mode_lock": "checkin"})
    assert s.k.controller.mode == "checkin"
    press(qtbot, Qt.Key.Key_F1)
    assert s.k.controller.mode == "checkin"  # locked to one mode
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    type_pin(qtbot, wait_for(qtbot, s, PinDialog), PIN)
    admin = wait_for(qtbot, s, AdminDialog)
    assert set(admin.buttons) == {"settings", "doctor", "events", "unlock", "fullscreen", "quit"}
    assert "set to Check in" in admin.buttons["unlock"].text()
    admin.buttons["unlock"].click()
    qtbot.waitUntil(lambda: s.dialog is None, timeout=3000)
    press(qtbot, Qt.Key.Key_F1)
    assert s.k.controller.mode == "checkout"
    s.k.controller.idle_reset()  # the unlock lasts until the kiosk is idle
    assert s.k.controller.mode == "checkin" and s.k.controller.mode_lock == "checkin"


def test_without_a_pin_nothing_is_locked(qtbot: QtBot, station: Any) -> None:
    s = station(pin=None)
    assert not s.admin.locked
    assert s.k.window.windowFlags() & LOCK != LOCK
    assert s.k.window.close_guard is not None and s.k.window.close_guard()
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    admin = wait_for(qtbot, s, AdminDialog)  # no PIN asked
    admin.buttons["quit"].click()
    qtbot.waitUntil(lambda: s.quits == 1, timeout=3000)


def test_leaving_fullscreen_lifts_the_lock(qtbot: QtBot, station: Any) -> None:
    s = station()
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    type_pin(qtbot, wait_for(qtbot, s, PinDialog), PIN)
    wait_for(qtbot, s, AdminDialog).buttons["fullscreen"].click()
    qtbot.waitUntil(lambda: not s.admin.fullscreen, timeout=3000)
    assert not s.admin.locked
    assert s.k.window.windowFlags() & LOCK != LOCK
    assert s.k.window.close_guard is not None and s.k.window.close_guard()


def test_the_self_check_from_the_admin_dialog(qtbot: QtBot, station: Any) -> None:
    s = station(pin=None)
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    wait_for(qtbot, s, AdminDialog).buttons["doctor"].click()
    report = wait_for(qtbot, s, ReportDialog)
    text = report.text.toPlainText()
    assert "Incident IQ self-check" in text and "Connection and token" in text
    assert s.k.sim.token not in text


def test_settings_saved_from_the_admin_dialog(
    qtbot: QtBot, station: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file = tmp_path / "config.toml"
    monkeypatch.setattr("kiosk.config.default_config_path", lambda: user_file)
    s = station(pin=None)
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    wait_for(qtbot, s, AdminDialog).buttons["settings"].click()
    dialog = wait_for(qtbot, s, SettingsDialog)
    idle = dialog.editors["station.idle_seconds"].widget
    assert isinstance(idle, QSpinBox | QDoubleSpinBox)
    idle.setValue(90)
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: s.saved == 1, timeout=3000)
    text = user_file.read_text(encoding="utf-8")
    assert "idle_seconds = 90" in text
    assert s.k.sim.token not in text


def test_a_pin_typed_slowly_is_the_operator_typing_not_a_scan(qtbot: QtBot, station: Any) -> None:
    s = station()
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    dialog = wait_for(qtbot, s, PinDialog)
    qtbot.waitUntil(dialog.field.hasFocus, timeout=3000)
    type_text(qtbot, PIN)
    assert dialog.field.text() == PIN
    press(qtbot, Qt.Key.Key_Return)
    wait_for(qtbot, s, AdminDialog)


def test_an_event_prepared_and_run_from_the_window(
    qtbot: QtBot, station: Any, sim: Simulator
) -> None:
    """F12 > Events… > Prepare a new event…: read from Incident IQ with a progress bar, then
    "Run it now" starts the station again on it; the list shows it for the next time."""
    from kiosk.core.events import list_packs
    from kiosk.simulator import DEMO
    from kiosk.ui.events_dialog import EventsDialog, PrepareEventDialog

    s = station(pin=None)
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    wait_for(qtbot, s, AdminDialog).buttons["events"].click()
    events = wait_for(qtbot, s, EventsDialog)
    assert events.packs == [] and "run" not in events.buttons  # nothing prepared yet
    events.buttons["prepare"].click()
    preparing = wait_for(qtbot, s, PrepareEventDialog)
    preparing.name.setText("Storeroom audit")
    preparing.kind.setCurrentIndex(preparing.kind.findData(EventKind.AUDIT.value))
    preparing.devices_at.setText("")
    preparing.on_enter()
    assert "Devices at" in preparing.status.text()  # said before anything is read
    preparing.devices_at.setText(DEMO.storeroom_name)
    preparing.on_enter()
    qtbot.waitUntil(lambda: preparing.prepared == "Storeroom audit", timeout=15000)
    assert "is prepared" in preparing.status.text() and "Run it now" in preparing.status.text()
    assert any("/assets" in r.path and r.method == "POST" for r in sim.requests)
    preparing.on_enter()  # Run it now
    qtbot.waitUntil(lambda: s.events == ["Storeroom audit"], timeout=3000)
    (info,) = list_packs(Path(s.k.services.settings.data_dir))
    assert info.name == "Storeroom audit" and info.ready

    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    wait_for(qtbot, s, AdminDialog).buttons["events"].click()
    events = wait_for(qtbot, s, EventsDialog)
    assert [p.name for p in events.packs] == ["Storeroom audit"]
    events.on_enter()  # run the chosen (newest) one
    qtbot.waitUntil(lambda: s.events == ["Storeroom audit", "Storeroom audit"], timeout=3000)


def test_preparing_an_unknown_place_says_so_and_reads_nothing(
    qtbot: QtBot, station: Any, sim: Simulator
) -> None:
    from kiosk.ui.events_dialog import EventsDialog, PrepareEventDialog

    s = station(pin=None)
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    wait_for(qtbot, s, AdminDialog).buttons["events"].click()
    wait_for(qtbot, s, EventsDialog).buttons["prepare"].click()
    preparing = wait_for(qtbot, s, PrepareEventDialog)
    preparing.name.setText("Nowhere")
    preparing.kind.setCurrentIndex(preparing.kind.findData(EventKind.AUDIT.value))
    preparing.devices_at.setText("Atlantis High")
    preparing.on_enter()
    qtbot.waitUntil(lambda: "Nothing was read" in preparing.status.text(), timeout=10000)
    assert preparing.prepared is None and s.events == []


def test_closing_the_prepare_dialog_stops_the_prepare(
    qtbot: QtBot, station: Any, sim: Simulator
) -> None:
    from kiosk.core.events import list_packs
    from kiosk.simulator import DEMO, Fault
    from kiosk.ui.events_dialog import EventsDialog, PrepareEventDialog

    sim.faults.add(Fault(kind="latency", latency_ms=400, path_contains="/assets", times=None))
    s = station(pin=None)
    qtbot.keyClick(s.k.window, Qt.Key.Key_F12)
    wait_for(qtbot, s, AdminDialog).buttons["events"].click()
    wait_for(qtbot, s, EventsDialog).buttons["prepare"].click()
    preparing = wait_for(qtbot, s, PrepareEventDialog)
    preparing.name.setText("Slow audit")
    preparing.kind.setCurrentIndex(preparing.kind.findData(EventKind.AUDIT.value))
    preparing.devices_at.setText(DEMO.storeroom_name)
    preparing.on_enter()
    qtbot.waitUntil(lambda: preparing.busy, timeout=3000)
    reading = preparing._task
    assert reading is not None
    preparing.reject()  # Esc while it reads
    qtbot.waitUntil(lambda: s.dialog is None and reading.done(), timeout=3000)
    assert reading.cancelled()  # stopped, not left to run into a closed dialog
    qtbot.wait(1000)
    assert s.events == []
    assert s.k.window.isVisible()
    # Stopped, not finished behind the closed dialog: the pack is not ready (its stored
    # pages, if any, wait for the next prepare).
    packs = list_packs(Path(s.k.services.settings.data_dir))
    assert not any(p.ready for p in packs)
