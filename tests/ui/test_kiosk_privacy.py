"""Privacy at the kiosk window (`[station] privacy = true`), against the simulator.

Every screen that shows a person shows the first name and the last name's initial ("Ana
R.") and only the last four characters of an ID number ("ID ••••4518"); the full last
name and the full ID number appear nowhere in the window, its lists or its dialogs. The
journal keeps the full names: it is the audit record.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from kiosk_helpers import (
    gone,
    press,
    scan,
    session_lines,
    session_state,
    type_text,
    visible_text,
    wait_armed,
    wait_card,
    wait_dialog,
    wait_result,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QLineEdit, QListWidget, QWidget
from pytestqt.qtbot import QtBot

from kiosk.core.changes import ChangeState
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.dialogs import (
    CheckinDialog,
    ConfirmTransferDialog,
    DevicePickerDialog,
    PersonPickerDialog,
    QuestionDialog,
)

T = TypeVar("T")

PRIVATE = {"privacy": True}
CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"
ANA = "Ana R., grade 07, ID ••••4518"
#: What privacy hides of the demo's people: last names and ID numbers.
HIDDEN = (
    "Ruiz",
    "Lee",
    "Smith",
    "Carter",
    DEMO.student_id,
    DEMO.assigned_owner_school_id,
    DEMO.inactive_id,
    *DEMO.shared_name_ids,
)


def everything_shown(k: Any) -> str:
    """Every visible label and list line of the window and of any dialog on top of it:
    what a person walking past can read. (Text the operator types into a field is theirs.)"""
    tops: list[QWidget] = [k.window]
    tops += [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]
    texts = [visible_text(k)]
    for top in tops:
        for widget in top.findChildren(QListWidget):
            if widget.isVisible():
                texts += [widget.item(i).text() for i in range(widget.count())]
    return "\n".join(texts)


def assert_private(k: Any) -> str:
    """No full last name and no full ID number is on screen; the text shown, for more."""
    shown = everything_shown(k)
    for secret in HIDDEN:
        assert re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", shown) is None, (secret, shown)
    return shown


def wait_for(qtbot: QtBot, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the kiosk's loop (the qasync loop qtbot's waits drive)."""
    future = asyncio.ensure_future(coro)
    qtbot.waitUntil(future.done, timeout=5000)
    return future.result()


def confirm(qtbot: QtBot, dialog: QDialog) -> None:
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)


# --- check-out: card, confirm, result, session list -------------------------------------


def test_checkout_names_people_privately_and_the_journal_in_full(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    owner = k.window.device.card.values["Owner"].text()
    assert owner.startswith("Marcus L., ")
    assert owner.endswith("ID ••••4519")
    assert_private(k)

    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == (
        f"Transfer CB-004513 (Dell Chromebook 3110) from Marcus L. to {ANA}?"
    )
    shown = assert_private(k)
    assert "Now with: Marcus L." in shown  # the device's side
    assert "ID ••••4518" in shown  # the person's side

    confirm(qtbot, dialog)
    wait_result(qtbot, k, "Ana R. now has CB-004513")
    assert k.window.result.message.text() == ANA
    assert_private(k)

    # The audit record keeps the full names.
    (entry,) = wait_for(qtbot, k.journal.recent())
    change = entry.change
    assert (change.from_owner_name, change.to_owner_name) == ("Marcus Lee", "Ana Ruiz")
    assert change.description == "Transfer CB-004513 from Marcus Lee to Ana Ruiz"


def test_the_session_list_shows_a_private_rendering_of_the_change(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    confirm(qtbot, wait_dialog(qtbot, k, ConfirmTransferDialog))
    wait_result(qtbot, k, "Ana R. now has CB-004512")
    # The line is written again when the outbox reports the change done: private too.
    qtbot.waitUntil(lambda: session_state(k, "Give CB-004512 to Ana R.") == "done")
    assert len(session_lines(k)) == 1
    assert_private(k)
    (entry,) = wait_for(qtbot, k.journal.recent())
    assert entry.change.description == "Give CB-004512 to Ana Ruiz"


def test_undo_asks_and_answers_privately(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    scan(qtbot, DEMO.student_id)
    confirm(qtbot, wait_dialog(qtbot, k, ConfirmTransferDialog))
    wait_result(qtbot, k, "Ana R. now has CB-004513")
    qtbot.waitUntil(lambda: session_state(k, "Transfer CB-004513") == "done")

    qtbot.keyClick(k.window.result, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    dialog = wait_dialog(qtbot, k, QuestionDialog)
    assert dialog.sentence.text() == "Give CB-004513 back to Marcus L.?"
    assert_private(k)
    confirm(qtbot, dialog)
    wait_result(qtbot, k, "Undone")
    assert k.window.result.message.text() == "Undo: Give CB-004513 back to Marcus L."
    qtbot.waitUntil(lambda: session_state(k, "Undo: Give CB-004513 back to Marcus L.") == "done")
    assert any("Transfer CB-004513 from Marcus L. to Ana R." in line for line in session_lines(k))
    assert_private(k)
    rows = wait_for(qtbot, k.journal.recent())
    assert [e.change.description for e in rows] == [
        "Undo: Give CB-004513 back to Marcus Lee",
        "Transfer CB-004513 from Marcus Lee to Ana Ruiz",
    ]


def test_a_conflict_names_the_other_owner_privately(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    with sim.state.lock:  # another station gives it to Jordan Smith meanwhile
        sim.state.set_owner(DEMO.free_asset_id, DEMO.shared_name_user_ids[0], open_checkout=True)
    confirm(qtbot, dialog)
    wait_result(qtbot, k, "Not changed: someone else changed this device")
    assert "with Jordan S." in k.window.result.message.text()
    assert_private(k)
    (entry,) = wait_for(qtbot, k.journal.recent())
    assert entry.change.state is ChangeState.CONFLICT
    assert entry.change.conflict_owner_name == "Jordan Smith"


def test_a_change_saved_for_later_is_worded_privately(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    sim.faults.add(
        Fault(kind="status", status=503, method="POST", path_contains=CHECKOUT_ROUTE, times=None)
    )
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    confirm(qtbot, wait_dialog(qtbot, k, ConfirmTransferDialog))
    wait_result(qtbot, k, "Saved, will be sent")
    assert k.window.result.message.text().startswith(
        "Give CB-004512 to Ana R. Incident IQ did not confirm it"
    )
    assert_private(k)
    (entry,) = wait_for(qtbot, k.journal.recent())
    assert entry.change.description == "Give CB-004512 to Ana Ruiz"


def test_the_device_picker_names_owners_privately(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    with sim.state.lock:  # both devices with the tag have an owner now
        sim.state.set_owner(DEMO.duplicate_asset_ids[0], DEMO.student_user_id, open_checkout=True)
        owners = [
            sim.state.users[sim.state.assets[asset_id]["OwnerId"]]["Name"]
            for asset_id in DEMO.duplicate_asset_ids
        ]
    assert "Ana Ruiz" in owners and len(set(owners)) == 2
    press(qtbot, Qt.Key.Key_F3)
    scan(qtbot, DEMO.duplicate_tag)
    picker = wait_dialog(qtbot, k, DevicePickerDialog)
    rows = "\n".join(picker.list.item(i).text() for i in range(picker.list.count()))
    for full in owners:
        first, *_, last = full.split()
        assert f"with {first} {last[0]}." in rows
        assert last not in rows
    assert_private(k)


def test_a_refusal_names_the_person_privately(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.inactive_id)
    wait_result(qtbot, k, "Cannot hand out")
    assert k.window.result.message.text().startswith("Sam C. is inactive in Incident IQ")
    assert_private(k)


# --- people lists ---------------------------------------------------------------------


def test_the_people_list_and_the_picker_are_private(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    type_text(qtbot, "Jordan")  # the first name only: the last name is never typed here
    results = k.window.device.results
    qtbot.waitUntil(lambda: results.count() >= 2)
    lines = [results.item(i).text() for i in range(results.count())]
    assert "Jordan S.\nID ••••4600  ·  grade 05" in lines
    assert "Jordan S.\nID ••••4601  ·  grade 09" in lines
    assert_private(k)

    # The line has no list on screen: several people open the picker dialog.
    press(qtbot, Qt.Key.Key_F5)
    k.window.ready.input.setText("Jordan")
    press(qtbot, Qt.Key.Key_Return)
    picker = wait_dialog(qtbot, k, PersonPickerDialog)
    rows = [picker.list.item(i).text() for i in range(picker.list.count())]
    assert "Jordan S., grade 05, ID ••••4600" in rows
    assert "Jordan S., grade 09, ID ••••4601" in rows
    assert_private(k)


# --- check-in -------------------------------------------------------------------------


def test_checkin_dialog_and_result_are_private(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    press(qtbot, Qt.Key.Key_F2)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    dialog = wait_dialog(qtbot, k, CheckinDialog)
    assert dialog.sentence.text().startswith("Check in CB-004513 from Marcus L., ")
    assert dialog.sentence.text().endswith("ID ••••4519?")
    assert_private(k)
    confirm(qtbot, dialog)
    wait_result(qtbot, k, "CB-004513 is checked in")
    assert k.window.result.message.text() == "Checked in from Marcus L."
    assert_private(k)
    qtbot.waitUntil(lambda: session_state(k, "Check in CB-004513 from Marcus L.") == "done")
    (entry,) = wait_for(qtbot, k.journal.recent())
    assert entry.change.description == "Check in CB-004513 from Marcus Lee"


def test_look_up_names_nobody_in_full(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    press(qtbot, Qt.Key.Key_F3)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    activity = k.window.device.activity
    qtbot.waitUntil(lambda: activity.count() > 0 and "No recorded" not in activity.item(0).text())
    assert k.window.device.card.values["Owner"].text().startswith("Marcus L., ")
    lines = [activity.item(i).text() for i in range(activity.count())]
    # Incident IQ's descriptions name past owners in full: privately, only what happened.
    assert any(line.endswith("  Check out") or "Owner changed" in line for line in lines), lines
    assert_private(k)


# --- batch and line -------------------------------------------------------------------


def test_batch_question_panel_and_summary_are_private(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    press(qtbot, Qt.Key.Key_F4)
    scan(qtbot, DEMO.student_id)
    question = wait_dialog(qtbot, k, QuestionDialog)
    assert question.sentence.text() == f"Give the next devices to {ANA}?"
    assert_private(k)
    confirm(qtbot, question)
    panel = k.window.panel
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is panel)
    assert panel.heading.text() == "Giving devices to Ana R."

    # Marcus's device needs a look and an Enter: the transfer dialog is private too.
    scan(qtbot, DEMO.assigned_tag)
    transfer = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert "from Marcus L. to Ana R., " in transfer.sentence.text()
    assert_private(k)
    confirm(qtbot, transfer)
    qtbot.waitUntil(lambda: panel.count.text() == "1 given")
    assert_private(k)

    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Ana R. got 1 device")
    assert_private(k)
    qtbot.waitUntil(
        lambda: session_state(k, "Transfer CB-004513 from Marcus L. to Ana R.") == "done"
    )


def test_line_panel_confirm_and_result_are_private(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE)
    press(qtbot, Qt.Key.Key_F5)
    scan(qtbot, DEMO.student_id)
    panel = k.window.panel
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is panel)
    assert panel.heading.text() == ANA
    assert panel.detail.text() == "Scan the device for Ana R."
    assert_private(k)
    scan(qtbot, DEMO.free_tag)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == f"Give CB-004512 (Dell Chromebook 3110) to {ANA}?"
    assert_private(k)
    confirm(qtbot, dialog)
    wait_result(qtbot, k, "Ana R. now has CB-004512")
    assert k.window.result.message.text() == ANA
    assert_private(k)


# --- the setting, and idle --------------------------------------------------------------


def test_the_station_setting_turns_privacy_on(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(settings={"station": {"privacy": True}})
    assert k.controller.options.privacy is True
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert k.window.device.card.values["Owner"].text().startswith("Marcus L., ")
    assert_private(k)


def test_without_privacy_names_and_ids_are_shown_in_full(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert k.window.device.card.values["Owner"].text().startswith("Marcus Lee, ")
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == (
        "Transfer CB-004513 (Dell Chromebook 3110) from Marcus Lee to "
        "Ana Ruiz, grade 07, ID 204518?"
    )


def test_idle_reset_with_an_open_dialog_leaves_no_name_on_screen(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(options=PRIVATE, idle_seconds=0.7)
    # One finished check-out: a result page and a session list that name Ana.
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    confirm(qtbot, wait_dialog(qtbot, k, ConfirmTransferDialog))
    wait_result(qtbot, k, "Ana R. now has CB-004512")
    # Then a transfer dialog left open.
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert "from Marcus L. to Ana R." in dialog.sentence.text()

    # Nobody touches the kiosk.
    qtbot.waitUntil(lambda: k.controller.dialog is None, timeout=3000)
    assert gone(dialog)
    assert k.window.stack.currentWidget() is k.window.ready
    shown = assert_private(k)
    for name in ("Ana", "Marcus", "••••"):
        assert name not in shown
    assert session_lines(k) == []
    # Nor does any page keep them out of view, for a later screen to bring back.
    pages = k.window.stack
    for i in range(pages.count()):
        page = pages.widget(i)
        kept = [w.text() for w in page.findChildren(QLabel) + page.findChildren(QLineEdit)]
        for widget in page.findChildren(QListWidget):
            kept += [widget.item(row).text() for row in range(widget.count())]
        assert not [text for text in kept if "Ana" in text or "Marcus" in text], kept
    # The journal keeps the finished change in full.
    (entry,) = wait_for(qtbot, k.journal.recent())
    assert entry.change.to_owner_name == "Ana Ruiz"
