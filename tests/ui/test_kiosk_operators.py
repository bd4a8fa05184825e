"""Operators at the kiosk window (`[station] require_operator = true`), against the simulator.

Staff sign in with a badge scan or their name before anything else; the strip shows who;
every change records them (the journal's operator column, the repair ticket's text); F10
ends the shift and a quiet kiosk signs them out by itself. Each test checks what a person
sees and what Incident IQ received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from kiosk_helpers import (
    Kiosk,
    mutations,
    press,
    requests_to,
    scan,
    session_lines,
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

from kiosk.simulator import DEMO, Simulator
from kiosk.ui.dialogs import CheckinDialog, ConfirmTransferDialog, PickerDialog

T = TypeVar("T")

#: Staff badges at the test district are six-digit numbers, like the ID cards of students.
BADGE = r"\d{6}"
OPERATORS = {"station": {"require_operator": True}, "operators": {"badge_pattern": BADGE}}
SIGN_IN = "Staff: scan your badge, or type your name"
PAT = "P. Morgan"  # DEMO.staff_name, Pat Morgan, as an operator is named
RECORDED = f"{PAT} ({DEMO.staff_user_id})"
#: A six-digit number no one has: students are 100000-899999, staff 900000-999999.
UNKNOWN_BADGE = "000001"


def wait_for(qtbot: QtBot, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the kiosk's loop (the qasync loop qtbot's waits drive)."""
    future = asyncio.ensure_future(coro)
    qtbot.waitUntil(future.done, timeout=5000)
    return future.result()


def signed_out_screen(k: Kiosk) -> bool:
    return k.window.stack.currentWidget() is k.window.panel and SIGN_IN in k.texts()


def strip(k: Kiosk) -> str:
    return k.window.status.operator.text()


def sign_in_pat(qtbot: QtBot, k: Kiosk) -> None:
    scan(qtbot, DEMO.staff_badge)
    qtbot.waitUntil(lambda: strip(k) == f"Operator: {PAT}", timeout=5000)
    qtbot.waitUntil(lambda: "Scan a device" in k.texts(), timeout=3000)


def user_searches(sim: Simulator) -> int:
    return len(requests_to(sim, "/users"))


# --- signing in -------------------------------------------------------------------------


def test_the_kiosk_starts_at_the_sign_in_screen(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    assert signed_out_screen(k)
    assert k.window.focusWidget() is k.window.panel.input
    assert strip(k) == "Operator: nobody signed in"
    assert "F10 End shift" in k.window.mode_keys.text()
    assert k.service.operator is None


def test_a_staff_badge_signs_in_and_the_strip_shows_who(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    sign_in_pat(qtbot, k)
    assert f"Signed in: {PAT}. F10 ends the shift." in toast(k)
    assert k.sounds.played == ["success"]
    assert k.window.stack.currentWidget() is k.window.ready
    assert k.window.focusWidget() is k.window.ready.input
    assert k.service.operator == RECORDED
    assert k.window.mode_banner.text() == "CHECK OUT"
    assert mutations(sim) == []  # signing in changes nothing in Incident IQ


def test_a_typed_name_lists_the_staff_who_fit_and_the_pick_signs_in(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    type_text(qtbot, "Morgan", enter=True)
    dialog = wait_dialog(qtbot, k, PickerDialog)
    rows = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    pats = [i for i, row in enumerate(rows) if row.startswith("Pat Morgan, Staff")]
    assert pats == [pats[0]], rows
    assert not any(DEMO.staff_badge in row for row in rows)  # no badge numbers in the list
    assert "Who is signing in?" in dialog.title.text()
    wait_armed(qtbot, dialog)
    for _ in range(pats[0]):
        press(qtbot, Qt.Key.Key_Down)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: strip(k) == f"Operator: {PAT}", timeout=5000)
    assert k.service.operator == RECORDED


def test_an_exact_email_signs_in_with_no_list(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    type_text(qtbot, "pat.morgan@example.org", enter=True)
    qtbot.waitUntil(lambda: strip(k) == f"Operator: {PAT}", timeout=5000)
    assert k.controller.dialog is None
    assert "Scan a device" in k.texts()


def test_a_name_that_fits_only_students_signs_nobody_in(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    type_text(qtbot, DEMO.student_name, enter=True)
    wait_result(qtbot, k, "No staff member found")
    assert f"No staff member in Incident IQ matches “{DEMO.student_name}”" in k.texts()
    assert k.controller.dialog is None
    assert strip(k) == "Operator: nobody signed in"
    assert k.sounds.played == ["error"]


# --- refusals ---------------------------------------------------------------------------


def test_a_student_card_is_refused_in_plain_words(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    scan(qtbot, DEMO.student_id)
    wait_result(qtbot, k, "Students cannot sign in")
    shown = k.texts()
    assert "This is a student's card. Only staff can sign in at this kiosk" in shown
    assert DEMO.student_name not in visible_text(k)  # the card's owner is not named
    assert k.sounds.played == ["error"]
    assert strip(k) == "Operator: nobody signed in"
    assert k.service.operator is None
    press(qtbot, Qt.Key.Key_Return)  # acknowledged: back to the sign-in screen
    qtbot.waitUntil(lambda: signed_out_screen(k), timeout=3000)


def test_an_inactive_staff_badge_is_refused(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    with sim.state.lock:
        sim.state.users[DEMO.staff_user_id]["IsActive"] = False
    k = build(settings=OPERATORS)
    scan(qtbot, DEMO.staff_badge)
    wait_result(qtbot, k, "Staff account not active")
    assert "This staff account is not active in Incident IQ" in k.texts()
    assert k.sounds.played == ["error"]
    assert strip(k) == "Operator: nobody signed in"


def test_an_unknown_badge_is_refused_and_the_next_badge_works(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    assert sim.state.user_by_school_id(UNKNOWN_BADGE) is None
    k = build(settings=OPERATORS)
    scan(qtbot, UNKNOWN_BADGE)
    wait_result(qtbot, k, "Badge not found")
    assert f"No one in Incident IQ has the badge “{UNKNOWN_BADGE}”." in k.texts()
    assert k.sounds.played == ["error"]
    sign_in_pat(qtbot, k)  # the next scan, straight from the error screen


def test_a_scan_that_is_no_badge_asks_nothing_of_incident_iq(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    scan(qtbot, DEMO.free_tag)
    wait_result(qtbot, k, "Not a staff badge")
    assert f"“{DEMO.free_tag}” is not a staff badge. Sign in first" in k.texts()
    assert k.sounds.played == ["warning"]
    assert user_searches(sim) == 0
    assert requests_to(sim, "/assets") == []  # the device was not looked up either


def test_mode_keys_do_nothing_before_sign_in(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    press(qtbot, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: "Sign in first" in toast(k), timeout=2000)
    assert k.window.mode_banner.text() == "CHECK OUT"
    assert signed_out_screen(k)
    press(qtbot, Qt.Key.Key_F10)  # nobody to sign out
    qtbot.waitUntil(lambda: toast(k) == "Nobody is signed in.", timeout=2000)
    sign_in_pat(qtbot, k)
    press(qtbot, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: k.window.mode_banner.text() == "CHECK IN", timeout=2000)
    assert "Scan a device to check it in" in k.texts()


# --- what the changes record --------------------------------------------------------------


def test_a_check_out_records_the_operator_in_the_journal(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    sign_in_pat(qtbot, k)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.student_name} now has {DEMO.free_tag}")
    (row,) = wait_for(qtbot, k.journal.export())
    assert row["operator"] == RECORDED
    assert row["station"] == "TEST-1"
    assert row["to_owner_id"] == DEMO.student_user_id
    (asset,) = sim.state.asset_by_tag(DEMO.free_tag)
    assert asset["OwnerId"] == DEMO.student_user_id
    assert strip(k) == f"Operator: {PAT}"  # still signed in for the next device


def test_a_damaged_check_in_says_who_took_it_back_in_the_ticket(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    sign_in_pat(qtbot, k)
    press(qtbot, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: "Scan a device to check it in" in k.texts(), timeout=2000)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    dialog = wait_dialog(qtbot, k, CheckinDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.condition_label.text())
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")
    (sent,) = requests_to(sim, "/tickets/new", "POST")
    description = sent.json["IssueDescription"]
    assert f"Checked in at TEST-1 by {RECORDED}." in description.split("\n")
    (row,) = wait_for(qtbot, k.journal.export())
    assert row["operator"] == RECORDED


# --- signing out ------------------------------------------------------------------------


def test_f10_ends_the_shift_and_the_next_scan_is_a_badge_again(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS)
    sign_in_pat(qtbot, k)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.student_name} now has {DEMO.free_tag}")
    assert len(session_lines(k)) == 1

    press(qtbot, Qt.Key.Key_F10)  # asks nothing
    qtbot.waitUntil(lambda: signed_out_screen(k), timeout=2000)
    assert k.controller.dialog is None
    assert toast(k).startswith(f"{PAT} is signed out.")
    assert strip(k) == "Operator: nobody signed in"
    assert k.service.operator is None
    assert session_lines(k) == []  # the last shift's people are gone from view
    assert DEMO.student_name not in visible_text(k)

    searches = user_searches(sim)
    scan(qtbot, DEMO.free_tag)  # a device scan now is a (wrong) badge, not a device
    wait_result(qtbot, k, "Not a staff badge")
    assert user_searches(sim) == searches
    sign_in_pat(qtbot, k)  # the same badge again, at once: no "already scanned"
    assert k.service.operator == RECORDED


def test_a_quiet_kiosk_signs_the_operator_out(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS, operator_idle_seconds=3.0)
    sign_in_pat(qtbot, k)
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    for _ in range(8):  # someone keeps working: 4 s of keys, never 3 s without one
        qtbot.wait(500)
        press(qtbot, Qt.Key.Key_Shift)
    assert strip(k) == f"Operator: {PAT}"

    qtbot.waitUntil(lambda: strip(k) == "Operator: nobody signed in", timeout=6000)
    assert signed_out_screen(k)
    assert f"{PAT} was signed out: nobody used the kiosk" in toast(k)
    assert k.service.operator is None
    assert DEMO.free_tag not in visible_text(k)  # the device card was cleared


def test_the_idle_minutes_setting_sets_the_sign_out(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build(settings=OPERATORS | {"operators": {"badge_pattern": BADGE, "idle_minutes": 2}})
    assert k.controller.operator_timer.interval() == 120_000
    assert not k.controller.operator_timer.isActive()  # nobody to sign out yet
    sign_in_pat(qtbot, k)
    assert k.controller.operator_timer.isActive()


# --- without require_operator -------------------------------------------------------------


def test_without_operators_nothing_asks_anyone_to_sign_in(
    qtbot: QtBot, build: Callable[..., Kiosk], sim: Simulator
) -> None:
    k = build()
    assert k.window.stack.currentWidget() is k.window.ready
    assert "Scan a device" in k.texts()
    assert strip(k) == ""
    assert "F10" not in k.window.mode_keys.text()
    press(qtbot, Qt.Key.Key_F10)
    qtbot.wait(100)
    assert toast(k) == ""
    assert k.window.stack.currentWidget() is k.window.ready
