"""Choosing among several: devices sharing a tag (picker dialog) and people found by name
(type-ahead list), by arrow keys and Enter only."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from kiosk_helpers import (
    has_focus,
    mutations,
    press,
    requests_to,
    result_lines,
    scan,
    type_text,
    wait_armed,
    wait_card,
    wait_dialog,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.dialogs import ConfirmTransferDialog, DevicePickerDialog

SEARCH = "/users/search/"
JORDANS = [
    "Jordan Smith\nID 204600  ·  grade 05",
    "Jordan Smith\nID 204601  ·  grade 09",
]


def test_duplicate_tag_opens_picker_and_arrows_pick(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.duplicate_tag)
    picker = wait_dialog(qtbot, k, DevicePickerDialog)
    assert picker.title.text() == (
        f"2 devices have the tag or serial “{DEMO.duplicate_tag}”. Which one is it?"
    )
    rows = [picker.list.item(i).text() for i in range(picker.list.count())]
    assert len(rows) == 2
    serials = [re.search(r"serial (\S+)", row).group(1) for row in rows]  # type: ignore[union-attr]
    stored = {a["SerialNumber"] for a in sim.state.asset_by_tag(DEMO.duplicate_tag)}
    assert set(serials) == stored
    assert all(row.startswith(DEMO.duplicate_tag) for row in rows)
    assert k.window.stack.currentWidget() is k.window.ready  # no card until one is picked

    wait_armed(qtbot, picker)
    press(qtbot, Qt.Key.Key_Down)
    press(qtbot, Qt.Key.Key_Return)
    wait_card(qtbot, k, DEMO.duplicate_tag)
    assert k.controller.dialog is None
    assert k.window.device.card.values["Serial"].text() == serials[1]
    assert "Scan ID card or type a name" in k.texts()
    assert k.window.focusWidget() is k.window.device.person_input
    assert mutations(sim) == []


def test_name_search_type_ahead_then_arrows(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(debounce_ms=300)  # the production pause; keys come ~160 ms apart
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    device = k.window.device

    type_text(qtbot, DEMO.shared_name)
    assert device.person_input.text() == DEMO.shared_name
    assert len(requests_to(sim, SEARCH)) <= 2  # debounced: not one search per key
    qtbot.waitUntil(lambda: result_lines(k) == JORDANS)
    searches = requests_to(sim, SEARCH)
    assert 1 <= len(searches) <= 2
    assert searches[-1].path == SEARCH + "Jordan%20Smith"
    assert device.results_note.text() == "2 found. Arrow down to pick, or keep typing."
    assert k.controller.dialog is None  # a list, never a guess

    press(qtbot, Qt.Key.Key_Down)  # into the list, on the first
    assert has_focus(device.results)
    press(qtbot, Qt.Key.Key_Down)  # the second Jordan Smith
    press(qtbot, Qt.Key.Key_Return)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == (
        "Give CB-004512 (Dell Chromebook 3110) to Jordan Smith, grade 09, ID 204601?"
    )
    assert mutations(sim) == []


def test_typed_name_and_enter_lists_people_with_the_first_selected(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    k.window.device.person_input.setText(DEMO.shared_name)  # typed, then Enter at once
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: result_lines(k) == JORDANS)
    assert has_focus(k.window.device.results)
    assert k.window.device.results.currentRow() == 0
    press(qtbot, Qt.Key.Key_Return)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert "to Jordan Smith, grade 05, ID 204600?" in dialog.sentence.text()


def test_type_ahead_never_shows_an_older_answer(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(debounce_ms=300)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    # The first search ("Jo": dozens of people) answers slowly.
    sim.faults.add(
        Fault(kind="latency", method="GET", path_contains=SEARCH, latency_ms=2500, times=1)
    )
    type_text(qtbot, "Jo")
    qtbot.waitUntil(lambda: [r.path for r in requests_to(sim, SEARCH)] == [SEARCH + "Jo"])
    assert result_lines(k) == []

    type_text(qtbot, "rdan Smith")  # typing on while "Jo" is still out
    qtbot.waitUntil(lambda: result_lines(k) == JORDANS)
    # Wait until the slow answer for "Jo" has come and gone.
    (slow,) = [r for r in requests_to(sim, SEARCH) if r.path == SEARCH + "Jo"]
    qtbot.wait(max(0, int((slow.time + 2.8 - time.time()) * 1000)))
    assert result_lines(k) == JORDANS
    assert k.window.device.results_note.text().startswith("2 found")
    assert k.window.device.person_input.text() == DEMO.shared_name


def test_emptied_name_field_clears_the_old_list(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    device = k.window.device
    device.person_input.setText(DEMO.shared_name)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: result_lines(k) == JORDANS)
    press(qtbot, Qt.Key.Key_Up)  # back to the field: wrong family, start again
    assert has_focus(device.person_input)
    for _ in DEMO.shared_name:
        press(qtbot, Qt.Key.Key_Backspace)
    assert device.person_input.text() == ""
    qtbot.wait(400)  # well past the type-ahead pause
    assert result_lines(k) == []
    assert "found" not in device.results_note.text()
