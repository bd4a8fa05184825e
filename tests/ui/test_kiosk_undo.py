"""Undo (Ctrl+Z) at the kiosk window, keyboard only, against the simulator.

Ctrl+Z undoes the last change of this session after a dialog that says exactly what will
happen: an applied change is put back (a conflict if the device changed elsewhere since,
never forced), a change still waiting to be sent is withdrawn and never sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from kiosk_helpers import (
    CHARGER_TAG,
    WITH_CHARGER,
    add_charger,
    focused,
    gone,
    mutations,
    owner_id,
    press,
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
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from kiosk.core.changes import ChangeKind, ChangeState
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.dialogs import ConfirmTransferDialog, QuestionDialog

T = TypeVar("T")

CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"
GIVE = "Give CB-004512 to Ana Ruiz"
UNDO_QUESTION = "Give CB-004512 back to nobody (take it from Ana Ruiz)?"


def ctrl_z(qtbot: QtBot, widget: QWidget | None = None) -> None:
    """Ctrl+Z on the focused widget (a text field, the result screen...)."""
    qtbot.keyClick(widget or focused(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def wait_for(qtbot: QtBot, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the kiosk's loop (the qasync loop qtbot's waits drive)."""
    future = asyncio.ensure_future(coro)
    qtbot.waitUntil(future.done, timeout=5000)
    return future.result()


def check_out(qtbot: QtBot, k: Any, tag: str = DEMO.free_tag, title: str | None = None) -> None:
    scan(qtbot, tag)
    wait_card(qtbot, k, tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, title or f"Ana Ruiz now has {tag}")


def open_undo(qtbot: QtBot, k: Any, widget: QWidget | None = None) -> QuestionDialog:
    ctrl_z(qtbot, widget)
    return wait_dialog(qtbot, k, QuestionDialog)


def test_undo_a_check_out_on_the_result_screen(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    check_out(qtbot, k)
    qtbot.waitUntil(lambda: session_state(k, GIVE) == "done")
    (original_id,) = k.controller.session_ids
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert k.window.stack.currentWidget() is k.window.result

    dialog = open_undo(qtbot, k)
    assert dialog.sentence.text() == UNDO_QUESTION  # exactly what will happen
    assert len(mutations(sim)) == 1  # asking is not doing
    press(qtbot, Qt.Key.Key_Return)  # inside the guard: nothing
    qtbot.wait(20)
    assert dialog.isVisible() and len(mutations(sim)) == 1
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)

    wait_result(qtbot, k, "Undone")
    assert k.window.result.kind == "success"
    assert (
        k.window.result.message.text()
        == "Undo: Give CB-004512 back to nobody (take it from Ana Ruiz)"
    )
    assert gone(dialog)
    assert k.sounds.played == ["success", "success"]
    assert owner_id(sim, DEMO.free_tag) is None
    assert len(mutations(sim)) == 2
    assert mutations(sim)[-1].status == 200

    # The session list shows the change and its undo.
    qtbot.waitUntil(lambda: session_state(k, "Undo: Give CB-004512 back to nobody") == "done")
    assert session_state(k, GIVE) == "done"
    assert len(session_lines(k)) == 2
    assert k.window.status.count.text() == "This session: 2"

    # The journal has both rows; the undo points at the change it undid.
    original = wait_for(qtbot, k.journal.get(original_id))
    assert original is not None and original.state is ChangeState.DONE
    (undo,) = wait_for(qtbot, k.journal.undo_of(original_id))
    assert undo.kind is ChangeKind.UNDO
    assert undo.undo_of == original_id
    assert undo.state is ChangeState.DONE
    assert undo.asset_id == DEMO.free_asset_id
    rows = wait_for(qtbot, k.journal.recent())
    assert [e.change.id for e in rows] == [undo.id, original_id]


def test_ctrl_z_works_while_a_text_field_has_focus(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    check_out(qtbot, k)
    press(qtbot, Qt.Key.Key_Return)  # acknowledge: back to Ready
    field = k.window.ready.input
    qtbot.waitUntil(lambda: focused() is field)
    type_text(qtbot, "CB-00")
    assert field.text() == "CB-00"

    dialog = open_undo(qtbot, k, field)  # the field's own undo must not take it
    assert dialog.sentence.text() == UNDO_QUESTION
    assert field.text() == "CB-00"
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Undone")
    assert owner_id(sim, DEMO.free_tag) is None


def test_undo_a_transfer_gives_it_back_to_the_previous_owner(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    check_out(qtbot, k, DEMO.assigned_tag)
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.student_user_id
    dialog = open_undo(qtbot, k)
    assert dialog.sentence.text() == f"Give {DEMO.assigned_tag} back to Marcus Lee?"
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Undone")
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    last = mutations(sim)[-1]
    assert last.path == CHECKOUT_ROUTE
    assert last.json["OwnerId"] == DEMO.assigned_owner_id
    qtbot.waitUntil(
        lambda: session_state(k, f"Undo: Give {DEMO.assigned_tag} back to Marcus Lee") == "done"
    )


def test_a_change_waiting_to_be_sent_is_withdrawn_and_never_sent(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    # A long backoff: the sender does not try again by itself while the undo is decided
    # (a try under way would rightly refuse the undo: "being sent right now").
    k = build(outbox_options={"backoff_base_s": 30.0, "backoff_max_s": 60.0})
    sim.faults.add(
        Fault(kind="status", method="POST", path_contains=CHECKOUT_ROUTE, status=503, times=None)
    )
    check_out(qtbot, k, title="Saved, will be sent")
    assert session_state(k, GIVE) == "pending"
    qtbot.waitUntil(lambda: "1 waiting to send" in k.window.status.connection.text())
    (original_id,) = k.controller.session_ids
    tried = len(mutations(sim))
    assert tried >= 1 and all(r.status == 503 for r in mutations(sim))

    dialog = open_undo(qtbot, k)
    assert dialog.sentence.text() == f"Take back “{GIVE}” before it is sent?"
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Taken back: nothing was sent")
    assert k.window.result.message.text() == (f"{GIVE}: withdrawn before it reached Incident IQ.")
    qtbot.waitUntil(lambda: session_state(k, GIVE) == "withdrawn")
    assert "↶ taken back, not sent" in session_lines(k)[0]
    assert len(session_lines(k)) == 1
    assert "waiting" not in k.window.status.connection.text()

    # Incident IQ is back and the sender is told to try everything now: still nothing.
    sim.faults.clear()
    k.outbox.nudge()
    qtbot.wait(1000)
    assert len(mutations(sim)) == tried
    assert all(r.status == 503 for r in mutations(sim))
    assert owner_id(sim, DEMO.free_tag) is None

    original = wait_for(qtbot, k.journal.get(original_id))
    assert original is not None and original.state is ChangeState.WITHDRAWN
    (undo,) = wait_for(qtbot, k.journal.undo_of(original_id))
    assert undo.state is ChangeState.DONE
    assert undo.undo_of == original_id


def test_an_undo_whose_device_changed_elsewhere_is_a_conflict(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    check_out(qtbot, k)
    jordan = DEMO.shared_name_user_ids[0]
    with sim.state.lock:  # another station gave it to Jordan Smith meanwhile
        sim.state.set_owner(DEMO.free_asset_id, jordan, open_checkout=True)
    sent = len(mutations(sim))

    dialog = open_undo(qtbot, k)
    assert dialog.sentence.text() == UNDO_QUESTION
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Not changed: someone else changed this device")
    assert k.window.result.kind == "error"
    assert "Jordan Smith" in k.window.result.message.text()
    assert k.sounds.played[-1] == "error"
    assert owner_id(sim, DEMO.free_tag) == jordan  # not forced
    assert len(mutations(sim)) == sent
    qtbot.waitUntil(lambda: session_state(k, "Undo: Give CB-004512 back to nobody") == "conflict")


def test_escape_in_the_undo_dialog_changes_nothing(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    check_out(qtbot, k)
    lines = session_lines(k)
    dialog = open_undo(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None and gone(dialog))
    assert toast(k) == "Nothing was undone."
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert len(mutations(sim)) == 1
    assert session_lines(k) == lines
    assert k.window.status.count.text() == "This session: 1"

    # Still there to undo.
    dialog = open_undo(qtbot, k)
    assert dialog.sentence.text() == UNDO_QUESTION


def test_escape_in_the_undo_dialog_keeps_the_screen_as_it_was(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    check_out(qtbot, k)
    scan(qtbot, DEMO.assigned_tag)  # the next device is on the card already
    wait_card(qtbot, k, DEMO.assigned_tag)
    field = k.window.device.person_input
    type_text(qtbot, "Mar")
    dialog = open_undo(qtbot, k, field)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None and gone(dialog))
    assert k.window.stack.currentWidget() is k.window.device
    assert k.window.device.card.tag.text() == DEMO.assigned_tag
    assert field.text() == "Mar"
    assert focused() is field


def test_ctrl_z_with_nothing_to_undo_says_so(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    ctrl_z(qtbot)
    qtbot.waitUntil(lambda: toast(k) == "Nothing to undo in this session.")
    assert k.sounds.played == ["warning"]
    assert k.controller.dialog is None
    assert k.window.stack.currentWidget() is k.window.ready
    assert sim.requests == []


def test_ctrl_z_after_the_station_went_idle_has_nothing_to_undo(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(idle_seconds=1.0)
    check_out(qtbot, k)
    qtbot.waitUntil(lambda: session_lines(k) == [], timeout=3000)  # nobody touched it
    assert k.window.stack.currentWidget() is k.window.ready
    ctrl_z(qtbot)
    qtbot.waitUntil(lambda: toast(k) == "Nothing to undo in this session.")
    assert k.controller.dialog is None
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert len(mutations(sim)) == 1


# --- check-out (F1) with a charger, and its undo -----------------------------------------


def test_check_out_with_its_charger(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    add_charger(sim)
    k = build(settings=WITH_CHARGER)
    window = k.window
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    assert window.device.prompt.text() == "Scan its charger"
    assert focused() is window.device.person_input

    scan(qtbot, DEMO.student_id)  # the ID card too early: not a charger, nothing done
    qtbot.waitUntil(lambda: "is not a charger tag" in toast(k))
    assert k.controller.dialog is None
    assert window.device.prompt.text() == "Scan its charger"

    scan(qtbot, CHARGER_TAG)
    qtbot.waitUntil(lambda: window.device.prompt.text() == "Scan ID card or type a name")
    assert window.device.card.tag.text() == DEMO.free_tag
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == (
        f"Give CB-004512 (Dell Chromebook 3110) with {CHARGER_TAG} to Ana Ruiz, grade 07, "
        "ID 204518?"
    )
    assert f"Charger: {CHARGER_TAG}" in visible_text(k)
    assert mutations(sim) == []
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)

    wait_result(qtbot, k, f"Ana Ruiz now has CB-004512 and {CHARGER_TAG}")
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert owner_id(sim, CHARGER_TAG) == DEMO.student_user_id
    assert len(mutations(sim)) == 2
    description = f"Give CB-004512 to Ana Ruiz (with {CHARGER_TAG})"
    qtbot.waitUntil(lambda: session_state(k, description) == "done")

    # And Ctrl+Z gives both back.
    undo = open_undo(qtbot, k)
    assert CHARGER_TAG in undo.sentence.text() and "CB-004512" in undo.sentence.text()
    assert "back to nobody" in undo.sentence.text()
    wait_armed(qtbot, undo)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Undone")
    assert owner_id(sim, DEMO.free_tag) is None
    assert owner_id(sim, CHARGER_TAG) is None


def test_enter_at_the_charger_step_goes_on_without_one(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    add_charger(sim)
    k = build(settings=WITH_CHARGER)
    window = k.window
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    assert window.device.prompt.text() == "Scan its charger"
    press(qtbot, Qt.Key.Key_Return)  # nothing scanned: no charger comes with it
    qtbot.waitUntil(lambda: window.device.prompt.text() == "Scan ID card or type a name")
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == (
        "Give CB-004512 (Dell Chromebook 3110) to Ana Ruiz, grade 07, ID 204518?"
    )
    assert "Charger:" not in visible_text(k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Ana Ruiz now has CB-004512")
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert owner_id(sim, CHARGER_TAG) is None
    (sent,) = mutations(sim)
    assert sent.json["AssetId"] == DEMO.free_asset_id


def test_a_model_without_a_charger_rule_has_no_charger_step(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    with sim.state.lock:
        (lenovo,) = [
            a["AssetTag"]
            for a in sim.state.assets.values()
            if a["Name"] == "Lenovo 300e Chromebook Gen 3"
            and a["OwnerId"] is None
            and a["AssetTag"] != DEMO.duplicate_tag
            and not a["IsDeleted"]
        ][:1]
    k = build(settings=WITH_CHARGER)
    scan(qtbot, lenovo)
    wait_card(qtbot, k, lenovo)
    assert k.window.device.prompt.text() == "Scan ID card or type a name"
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert " with " not in dialog.sentence.text()


def test_undo_names_who_gets_the_charger_back(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    jordan = DEMO.shared_name_user_ids[0]
    charger_id = add_charger(sim)
    with sim.state.lock:  # the charger was Jordan Smith's, the device Marcus Lee's
        sim.state.set_owner(charger_id, jordan)
    k = build(settings=WITH_CHARGER)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    scan(qtbot, CHARGER_TAG)
    qtbot.waitUntil(lambda: k.window.device.prompt.text() == "Scan ID card or type a name")
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"Ana Ruiz now has {DEMO.assigned_tag} and {CHARGER_TAG}")

    undo = open_undo(qtbot, k)
    sentence = undo.sentence.text()
    wait_armed(qtbot, undo)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Undone")
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    assert owner_id(sim, CHARGER_TAG) == jordan  # what the undo did...
    assert f"{DEMO.assigned_tag} back to Marcus Lee" in sentence
    assert f"{CHARGER_TAG} back to Marcus Lee" not in sentence  # ...is what it said
