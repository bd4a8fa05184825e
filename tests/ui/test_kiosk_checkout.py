"""The check-out flow at the kiosk window, keyboard only, against the simulator.

Each test checks what the operator sees (labels, enabled buttons, sounds asked for) and
what Incident IQ received (recorded requests, the simulator's records afterwards).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kiosk_helpers import (
    gone,
    has_focus,
    mutations,
    owner_id,
    press,
    requests_to,
    scan,
    session_lines,
    session_state,
    toast,
    type_text,
    visible_text,
    wait_armed,
    wait_card,
    wait_dialog,
    wait_result,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.dialogs import GUARD_MS, ConfirmTransferDialog, DevicePickerDialog

GIVE_FREE_TO_ANA = "Give CB-004512 (Dell Chromebook 3110) to Ana Ruiz, grade 07, ID 204518?"
CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"


def test_whole_checkout_with_scanner_bursts(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    window = k.window
    assert "Scan a device" in k.texts()

    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    card = window.device.card
    assert card.values["Model"].text() == "Dell Chromebook 3110"
    assert card.values["Serial"].text() == DEMO.free_serial
    assert card.values["Owner"].text() == "nobody (free)"
    assert "Scan ID card or type a name" in k.texts()
    assert k.window.focusWidget() is window.device.person_input
    assert window.device.person_input.text() == ""  # the burst never lands in a field

    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == GIVE_FREE_TO_ANA
    assert "Has no other device" in visible_text(k)
    assert mutations(sim) == []  # asking is not doing

    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Ana Ruiz now has CB-004512")
    assert window.result.kind == "success"
    assert "Ana Ruiz now has CB-004512" in k.texts()
    assert k.sounds.played == ["success"]
    assert window.status.count.text() == "This session: 1"
    qtbot.waitUntil(lambda: session_state(k, "Give CB-004512 to Ana Ruiz") == "done")
    assert len(session_lines(k)) == 1
    assert gone(dialog)

    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    (sent,) = mutations(sim)
    assert sent.path == CHECKOUT_ROUTE
    assert sent.status == 200
    assert sent.json["AssetId"] == DEMO.free_asset_id
    assert sent.json["OwnerId"] == DEMO.student_user_id

    # The next scan starts the next transaction: nothing clicked, nothing acknowledged.
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert "Marcus Lee" in card.values["Owner"].text()
    assert "Scan ID card or type a name" in k.texts()
    assert k.window.focusWidget() is window.device.person_input
    assert window.status.count.text() == "This session: 1"
    assert len(mutations(sim)) == 1


def test_whole_checkout_by_typing_into_the_fields(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    window = k.window
    type_text(qtbot, "cb-004512")
    assert window.ready.input.text() == "cb-004512"  # typing lands in the field, as typed
    assert sim.requests == []
    press(qtbot, Qt.Key.Key_Return)
    wait_card(qtbot, k, DEMO.free_tag)  # the case rule made it a tag
    assert window.device.card.values["Owner"].text() == "nobody (free)"

    type_text(qtbot, DEMO.student_id)
    assert window.device.person_input.text() == DEMO.student_id
    assert k.controller.dialog is None
    press(qtbot, Qt.Key.Key_Return)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == GIVE_FREE_TO_ANA

    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Ana Ruiz now has CB-004512")
    assert k.sounds.played == ["success"]
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert [r.path for r in mutations(sim)] == [CHECKOUT_ROUTE]


def test_scanner_without_enter_suffix(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.free_tag, enter=False)
    wait_card(qtbot, k, DEMO.free_tag)
    assert k.window.ready.input.text() == ""
    scan(qtbot, DEMO.student_id, enter=False)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == GIVE_FREE_TO_ANA
    assert k.window.device.person_input.text() == ""
    assert mutations(sim) == []


def test_double_scan_is_said_and_looked_up_once(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.free_tag)
    scan(qtbot, DEMO.free_tag)  # the scanner fired twice, before any answer came
    qtbot.waitUntil(lambda: "Already scanned" in toast(k))
    assert toast(k) == "Already scanned: CB-004512. Nothing was done twice."
    assert k.sounds.played == ["warning"]
    wait_card(qtbot, k, DEMO.free_tag)

    scan(qtbot, DEMO.free_tag)  # again on the card: not taken for a person either
    qtbot.wait(200)
    assert k.sounds.played == ["warning", "warning"]
    assert k.window.stack.currentWidget() is k.window.device
    assert k.window.device.card.tag.text() == DEMO.free_tag
    assert k.controller.dialog is None
    assert len(requests_to(sim, "/assets/assettag/")) == 1
    assert requests_to(sim, "/users/") == []
    assert mutations(sim) == []


def test_new_scan_during_slow_lookup_wins(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    shown: list[str] = []
    card = k.window.device.card
    show_asset = card.show_asset

    def recording(asset: Any, seen_at: Any = None, *style: Any) -> None:
        shown.append(asset.asset_tag)
        show_asset(asset, seen_at, *style)

    card.show_asset = recording
    sim.faults.add(
        Fault(
            kind="latency",
            method="GET",
            path_contains=f"/assets/assettag/{DEMO.free_tag}",
            latency_ms=1500,
            times=1,
        )
    )
    began = time.monotonic()
    scan(qtbot, DEMO.free_tag)
    qtbot.waitUntil(lambda: k.window.status.busy.isVisible())  # "Working…" after ~150 ms
    assert k.window.stack.currentWidget() is k.window.ready

    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert "Marcus Lee" in card.values["Owner"].text()
    qtbot.waitUntil(lambda: not k.window.status.busy.isVisible())

    # Long after the slow answer was due, the first device has never been shown.
    qtbot.wait(int(max(0.0, 1.9 - (time.monotonic() - began)) * 1000))
    assert card.tag.text() == DEMO.assigned_tag
    assert shown == [DEMO.assigned_tag]
    assert k.window.stack.currentWidget() is k.window.device
    assert k.sounds.played == []
    assert [r.path for r in requests_to(sim, "/assets/assettag/")] == [
        f"/assets/assettag/{DEMO.free_tag}",
        f"/assets/assettag/{DEMO.assigned_tag}",
    ]


def test_keys_inside_the_guard_are_ignored(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(guard_ms=GUARD_MS)  # the production half second
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert not dialog.confirm_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()

    press(qtbot, Qt.Key.Key_Return)  # a scanner's trailing Enter
    press(qtbot, Qt.Key.Key_Escape)
    scan(qtbot, DEMO.student_id)  # a double scan while the question is open
    assert not dialog.armed, "the keys above must arrive inside the guard"
    qtbot.wait(50)
    assert k.controller.dialog is dialog and dialog.isVisible()
    assert "Finish the open question first" in toast(k)
    assert k.sounds.played == ["warning"]
    assert mutations(sim) == []

    wait_armed(qtbot, dialog)
    assert dialog.confirm_button.isEnabled()
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Ana Ruiz now has CB-004512")
    assert len(mutations(sim)) == 1
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id


def test_escape_in_confirm_dialog_cancels(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)

    qtbot.waitUntil(lambda: k.controller.dialog is None and gone(dialog))
    assert toast(k) == "Cancelled: nothing was changed."
    assert k.window.stack.currentWidget() is k.window.device
    assert k.window.device.card.tag.text() == DEMO.free_tag
    assert "Scan ID card or type a name" in k.texts()
    assert k.window.focusWidget() is k.window.device.person_input
    assert k.window.status.count.text() == "This session: 0"
    assert session_lines(k) == []
    assert mutations(sim) == []
    assert owner_id(sim, DEMO.free_tag) is None

    # Someone else steps up: the person step takes the next ID at once.
    scan(qtbot, DEMO.shared_name_ids[0])
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert "to Jordan Smith, grade 05, ID 204600?" in dialog.sentence.text()


def test_transfer_from_current_owner(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    owner = k.window.device.card.values["Owner"].text()
    assert owner.startswith("Marcus Lee")
    assert f"ID {DEMO.assigned_owner_school_id}" in owner

    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    sentence = dialog.sentence.text()
    assert sentence.startswith(f"Transfer {DEMO.assigned_tag} (")
    assert sentence.endswith("from Marcus Lee to Ana Ruiz, grade 07, ID 204518?")
    assert "Now with: Marcus Lee" in visible_text(k)

    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"Ana Ruiz now has {DEMO.assigned_tag}")
    assert k.sounds.played == ["success"]
    description = f"Transfer {DEMO.assigned_tag} from Marcus Lee to Ana Ruiz"
    qtbot.waitUntil(lambda: session_state(k, description) == "done")
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.student_user_id
    (sent,) = mutations(sim)
    assert sent.json["OwnerId"] == DEMO.student_user_id


def test_failed_send_is_saved_for_later(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    sim.faults.add(
        Fault(kind="status", method="POST", path_contains=CHECKOUT_ROUTE, status=503, times=None)
    )
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)

    wait_result(qtbot, k, "Saved, will be sent")
    assert k.window.result.kind == "queued"
    texts = k.texts()
    assert "Give CB-004512 to Ana Ruiz" in texts
    assert "saved on this computer and is sent automatically, once" in texts
    assert k.sounds.played == ["queued"]
    assert "now has" not in visible_text(k)
    assert k.window.status.count.text() == "This session: 1"
    assert session_state(k, "Give CB-004512 to Ana Ruiz") == "pending"
    assert len(session_lines(k)) == 1
    assert owner_id(sim, DEMO.free_tag) is None
    (sent,) = mutations(sim)  # tried once, never repeated blindly
    assert sent.path == CHECKOUT_ROUTE
    assert sent.status == 503


def test_idle_reset_closes_the_dialog_and_clears_people(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(idle_seconds=0.5)
    # One finished check-out, so there is a session list to clear.
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Ana Ruiz now has CB-004512")

    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert len(session_lines(k)) == 1
    assert "Marcus Lee" in visible_text(k)

    # Nobody touches the kiosk.
    qtbot.waitUntil(lambda: k.controller.dialog is None, timeout=3000)
    assert gone(dialog)
    window = k.window
    assert window.stack.currentWidget() is window.ready
    assert "Scan a device" in k.texts()
    assert k.window.focusWidget() is window.ready.input
    assert window.device.card.text().split("\n") == [
        "",
        "",
        "Model: ",
        "Serial: ",
        "Status: ",
        "Location: ",
        "Owner: ",
        "Tickets: ",
    ]
    shown = visible_text(k)
    for personal in ("Ana Ruiz", DEMO.student_id, "Marcus Lee", DEMO.assigned_owner_school_id):
        assert personal not in shown
    assert session_lines(k) == []
    assert window.device.results.count() == 0
    assert window.device.person_input.text() == ""
    assert len(mutations(sim)) == 1  # only the first check-out
    assert sim.state.asset_by_tag(DEMO.assigned_tag)[0]["OwnerId"] == DEMO.assigned_owner_id

    scan(qtbot, DEMO.broken_tag)  # and the next scan works
    wait_card(qtbot, k, DEMO.broken_tag)
    assert has_focus(window.device.person_input)


def test_escape_cancels_a_slow_lookup(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    sim.faults.add(
        Fault(kind="latency", method="GET", path_contains="/assets/assettag/", latency_ms=800)
    )
    scan(qtbot, DEMO.free_tag)
    qtbot.waitUntil(lambda: k.window.status.busy.isVisible())
    press(qtbot, Qt.Key.Key_Escape)
    assert not k.window.status.busy.isVisible()
    qtbot.wait(1000)  # past the slow answer
    assert k.window.stack.currentWidget() is k.window.ready
    assert k.window.device.card.tag.text() == ""
    assert k.controller.asset is None
    assert k.sounds.played == []
    assert has_focus(k.window.ready.input)


def test_escape_in_device_picker_goes_back_to_ready(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.duplicate_tag)
    picker = wait_dialog(qtbot, k, DevicePickerDialog)
    wait_armed(qtbot, picker)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None and gone(picker))
    assert k.window.stack.currentWidget() is k.window.ready
    assert "Scan a device" in k.texts()
    assert k.controller.asset is None
    assert mutations(sim) == []
