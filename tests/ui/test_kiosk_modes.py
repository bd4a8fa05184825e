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
    wait_card,
)
from PySide6.QtCore import Qt
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


def test_check_in_notice_then_back_to_check_out(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    window = k.window
    press(qtbot, Qt.Key.Key_F2)
    assert window.mode_banner.text() == "CHECK IN"
    assert window.stack.currentWidget() is window.notice
    texts = k.texts()
    assert "Check-in is not available at this station yet" in texts
    assert "Press F1 to check out or F3 to look up." in texts

    scan(qtbot, DEMO.assigned_tag)  # a scan here says so, and does nothing
    qtbot.waitUntil(lambda: "Check-in is not available" in toast(k))
    assert k.sounds.played == ["warning"]
    assert sim.requests == []

    press(qtbot, Qt.Key.Key_F1)
    assert window.mode_banner.text() == "CHECK OUT"
    assert window.stack.currentWidget() is window.ready
    assert "Scan a device" in k.texts()
    assert has_focus(window.ready.input)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    assert "Scan ID card or type a name" in k.texts()


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
