"""Modes (F1 check out, F2 check in, F3 look up) and the status strip."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from kiosk_helpers import (
    has_focus,
    mutations,
    press,
    requests_to,
    scan,
    toast,
    type_text,
    wait_armed,
    wait_card,
    wait_dialog,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from kiosk.simulator import DEMO, Simulator


def test_lookup_mode_shows_card_and_history_and_changes_nothing(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    window = k.window
    assert window.mode_banner.text() == "CHECK OUT"
    press(qtbot, Qt.Key.Key_F3)
    assert window.mode_banner.text() == "LOOK UP"
    assert "Scan a device to look it up" in k.texts()
    assert "Changes nothing." in k.texts()

    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    activity = window.device.activity
    qtbot.waitUntil(lambda: activity.count() > 0)
    texts = k.texts()
    assert "Recent activity" in texts
    assert "Scan another device" in texts
    assert "Scan ID card or type a name" not in texts
    # The field takes the next tag, not a person: no people list in look-up mode.
    assert window.device.person_input.placeholderText() == "Type another asset tag, then Enter"
    assert not window.device.results.isVisible()
    assert activity.item(0).text() != "No recorded activity."
    assert window.device.card.values["Owner"].text().startswith("Marcus Lee")
    assert len(requests_to(sim, f"/assets/{DEMO.assigned_asset_id}/activities")) == 1

    # A scan on the card is the next device, never a person.
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    qtbot.waitUntil(lambda: len(requests_to(sim, f"/assets/{DEMO.free_asset_id}/activities")) == 1)
    assert requests_to(sim, "/users/") == []
    assert mutations(sim) == []
    assert k.sounds.played == []


def test_every_mode_key_names_its_mode_in_words(qtbot: QtBot, k: Any) -> None:
    window = k.window
    for key, title, prompt in (
        (Qt.Key.Key_F2, "CHECK IN", "Scan a device to check it in"),
        (Qt.Key.Key_F3, "LOOK UP", "Scan a device to look it up"),
        (Qt.Key.Key_F4, "BATCH CHECK-OUT", "Scan the ID card of the person who gets the devices"),
        (Qt.Key.Key_F5, "DISTRIBUTION LINE", "Scan the student's ID card"),
        (Qt.Key.Key_F1, "CHECK OUT", "Scan a device"),
    ):
        press(qtbot, key)
        assert window.mode_banner.text() == title
        assert window.stack.currentWidget() is window.ready
        assert window.ready.prompt.text() == prompt
        assert has_focus(window.ready.input)
    keys = window.mode_keys.text()
    for hint in ("F1 Check out", "F2 Check in", "F3 Look up", "F4 Batch", "F5 Line", "Ctrl+Z Undo"):
        assert hint in keys


def test_the_double_scan_guard_never_blocks_a_look_up_and_resets_with_the_mode(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    press(qtbot, Qt.Key.Key_F2)
    scan(qtbot, DEMO.assigned_tag)  # looked at for a check-in, then cancelled
    dialog = wait_dialog(qtbot, k, QDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    press(qtbot, Qt.Key.Key_F3)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    activities = f"/assets/{DEMO.assigned_asset_id}/activities"
    qtbot.waitUntil(lambda: len(requests_to(sim, activities)) == 1)
    scan(qtbot, DEMO.assigned_tag)  # the same again at once: fine, it changes nothing
    qtbot.waitUntil(lambda: len(requests_to(sim, activities)) == 2)
    assert "Already scanned" not in toast(k)
    assert mutations(sim) == []


def test_station_locked_to_one_mode(qtbot: QtBot, build: Any) -> None:
    k = build(mode_lock="checkin")
    assert k.window.mode_banner.text() == "CHECK IN"
    press(qtbot, Qt.Key.Key_F1)
    assert k.window.mode_banner.text() == "CHECK IN"
    assert "This station is set to Check in only." in toast(k)


def test_default_mode_is_the_stations(qtbot: QtBot, build: Any) -> None:
    k = build(default_mode="line")
    assert k.window.mode_banner.text() == "DISTRIBUTION LINE"
    press(qtbot, Qt.Key.Key_F1)
    assert k.window.mode_banner.text() == "CHECK OUT"


def test_mode_keys_clear_the_current_device(qtbot: QtBot, k: Any) -> None:
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    press(qtbot, Qt.Key.Key_F3)
    assert k.window.stack.currentWidget() is k.window.ready
    assert k.window.device.card.tag.text() == ""
    assert k.controller.asset is None


def test_lookup_card_takes_a_typed_tag(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    press(qtbot, Qt.Key.Key_F3)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    type_text(qtbot, DEMO.free_tag, enter=True)  # a label too worn to scan
    wait_card(qtbot, k, DEMO.free_tag, timeout=2000)


def test_status_strip(qtbot: QtBot, k: Any) -> None:
    status = k.window.status
    assert status.station.text() == "Station: TEST-1"
    assert status.station.isVisible()
    assert status.count.text() == "This session: 0"
    now = datetime.now()
    assert re.fullmatch(r"\d\d:\d\d", status.clock.text())
    assert status.clock.text() in {
        (now - timedelta(minutes=1)).strftime("%H:%M"),
        now.strftime("%H:%M"),
    }
    assert status.clock.isVisible()
    assert k.window.demo_banner.isVisible()
    assert "DEMO" in k.window.demo_banner.text()

    scan(qtbot, DEMO.free_tag)  # the first answer from Incident IQ
    wait_card(qtbot, k, DEMO.free_tag)
    assert status.connection.text() == "Online"
    assert status.connection.isVisible()
    assert not status.busy.isVisible()
