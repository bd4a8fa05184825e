"""Nothing lost, as the operator sees it: changes saved for later, the status strip's
offline / waiting / attention counts, the session list's states, look-ups from the kiosk's
memory while Incident IQ cannot be reached, and conflicts made by another station."""

from __future__ import annotations

from typing import Any

from kiosk_helpers import (
    mutations,
    owner_id,
    press,
    scan,
    session_state,
    wait_armed,
    wait_card,
    wait_dialog,
    wait_result,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.core.changes import ChangeState
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.dialogs import ConfirmTransferDialog

GIVE = f"Give {DEMO.free_tag} to Ana Ruiz"
CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"


def _give_free_device_to_ana(qtbot: QtBot, k: Any) -> ConfirmTransferDialog:
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    return dialog


def _applied(sim: Simulator) -> list[Any]:
    return [r for r in mutations(sim) if r.status == 200 and r.path == CHECKOUT_ROUTE]


def test_failed_send_waits_in_the_outbox_then_goes_out_once(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    sim.faults.add(
        Fault(kind="status", status=503, method="POST", path_contains=CHECKOUT_ROUTE, times=None)
    )
    _give_free_device_to_ana(qtbot, k)
    press(qtbot, Qt.Key.Key_Return)

    wait_result(qtbot, k, "Saved, will be sent")
    assert k.sounds.played[-1] == "queued"
    assert session_state(k, GIVE) == "pending"
    qtbot.waitUntil(lambda: "1 waiting to send" in k.window.status.connection.text())
    assert owner_id(sim, DEMO.free_tag) is None
    assert _applied(sim) == []
    # The journal has it, before and after.
    pending = k.outbox.pending_changes
    assert [c.asset_tag for c in pending] == [DEMO.free_tag]

    sim.faults.clear()
    qtbot.waitUntil(lambda: session_state(k, GIVE) == "done", timeout=10000)
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert len(_applied(sim)) == 1
    qtbot.waitUntil(lambda: "waiting" not in k.window.status.connection.text())
    assert k.outbox.counts() == {"pending": 0, "attention": 0}


def test_offline_lookup_from_memory_and_checkout_queued(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    # Seen once while online: the device and the student.
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None)
    press(qtbot, Qt.Key.Key_Escape)  # back to Ready
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.ready)

    # The Wi-Fi drops: every request now fails at the network level.
    sim.faults.add(Fault(kind="drop", times=None))
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    card = k.window.device.card
    assert card.note.isVisible()
    assert "OFFLINE: as this kiosk saw it at" in card.note.text()
    assert "OFFLINE" in k.window.status.connection.text()

    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert "Incident IQ cannot be reached" in dialog.warnings.text()
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Saved, will be sent")
    assert "cannot be reached" in k.window.result.message.text()
    assert k.sounds.played[-1] == "queued"
    assert owner_id(sim, DEMO.free_tag) is None

    # The network is back: the change goes out once, with no one touching the kiosk.
    sim.faults.clear()
    qtbot.waitUntil(lambda: session_state(k, GIVE) == "done", timeout=15000)
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert len(_applied(sim)) == 1


def test_offline_lookup_never_seen_says_so(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", times=None))
    scan(qtbot, DEMO.assigned_tag)
    wait_result(qtbot, k, "Cannot reach Incident IQ")
    assert k.sounds.played[-1] == "error"
    assert "OFFLINE" in k.window.status.connection.text()
    assert mutations(sim) == []


def test_conflict_with_another_station_is_not_forced(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert "Marcus Lee" in k.window.device.card.values["Owner"].text()
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    # Meanwhile, another station gives the device to someone else.
    (asset,) = sim.state.asset_by_tag(DEMO.assigned_tag)
    other = DEMO.shared_name_user_ids[0]
    sim.state.set_owner(asset["AssetId"], other)
    sim.clear_requests()

    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Not changed: someone else changed this device")
    assert k.sounds.played[-1] == "error"
    message = k.window.result.message.text()
    assert "Jordan Smith" in message and "Marcus Lee" in message
    assert mutations(sim) == []
    assert owner_id(sim, DEMO.assigned_tag) == other
    qtbot.waitUntil(lambda: "1 need attention" in k.window.status.connection.text())
    assert session_state(k, f"Transfer {DEMO.assigned_tag}") == ChangeState.CONFLICT.value
