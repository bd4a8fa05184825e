"""The distribution line (F5) at the kiosk window, keyboard only, against the simulator.

The student's ID card first (the panel shows who it is), then the device, the one confirm
dialog, Enter, done; the next ID card starts the next student straight from the result
screen. A refused device keeps the student, so another device can be scanned for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk_helpers import (
    CHARGER_TAG,
    WITH_CHARGER,
    add_charger,
    mutations,
    owner_id,
    press,
    requests_to,
    scan,
    session_state,
    toast,
    wait_armed,
    wait_dialog,
    wait_result,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.simulator import DEMO, ROLE_STUDENT, Simulator
from kiosk.simulator.demo import RESERVED_NAMES, RESERVED_SCHOOL_IDS
from kiosk.ui.dialogs import ConfirmTransferDialog, DevicePickerDialog

CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"
GIVE_FREE_TO_ANA = "Give CB-004512 (Dell Chromebook 3110) to Ana Ruiz, grade 07, ID 204518?"


def other_student(sim: Simulator) -> dict[str, Any]:
    """An active student with a school ID number and a grade who holds no device, whose
    name nobody else has (none of the demo's named people)."""
    with sim.state.lock:
        users = list(sim.state.users.values())
        names = [u["Name"] for u in users]
        for user in users:
            if (
                user["RoleId"] == ROLE_STUDENT
                and user["IsActive"]
                and not user["IsDeleted"]
                and user["SchoolIdNumber"]
                and user["Grade"]
                and user["SchoolIdNumber"] not in RESERVED_SCHOOL_IDS
                and user["Name"] not in RESERVED_NAMES
                and names.count(user["Name"]) == 1
                and not sim.state.assets_for(user["UserId"])
            ):
                return dict(user)
    raise AssertionError("the demo data has no other active student")


def free_tag(sim: Simulator, *, besides: tuple[str, ...] = ()) -> str:
    """A device nobody has, status Available, its tag naming one device only."""
    with sim.state.lock:
        available = next(
            key for key, s in sim.state.status_types.items() if s["Name"] == "Available"
        )
        for asset in sim.state.assets.values():
            tag = asset["AssetTag"] or ""
            if (
                asset["OwnerId"] is None
                and not asset["IsDeleted"]
                and asset["StatusTypeId"] == available
                and not asset["OpenTickets"]
                and tag.startswith("CB-")
                and tag not in (DEMO.free_tag, DEMO.duplicate_tag, *besides)
                and len(sim.state.asset_by_tag(tag)) == 1
            ):
                return tag
    raise AssertionError("the demo data has no free device")


def line_kiosk(build: Callable[..., Any]) -> Any:
    k = build(default_mode="line")
    assert k.window.mode_banner.text() == "DISTRIBUTION LINE"
    assert k.window.stack.currentWidget() is k.window.ready
    assert k.window.ready.prompt.text() == "Scan the student's ID card"
    return k


def wait_panel(qtbot: QtBot, k: Any, heading: str) -> None:
    panel = k.window.panel
    qtbot.waitUntil(
        lambda: k.window.stack.currentWidget() is panel and panel.heading.text() == heading
    )


def confirm(qtbot: QtBot, k: Any) -> ConfirmTransferDialog:
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    return dialog


def test_line_id_card_then_device_then_the_next_student(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = line_kiosk(build)
    window = k.window
    assert window.focusWidget() is window.ready.input

    scan(qtbot, DEMO.student_id)
    wait_panel(qtbot, k, "Ana Ruiz, grade 07, ID 204518")
    panel = window.panel
    assert panel.detail.text() == "Scan the device for Ana Ruiz."
    qtbot.waitUntil(lambda: panel.count.text() == "Has no device yet")
    assert window.focusWidget() is panel.input
    assert requests_to(sim, "/assets/assettag/") == []  # an ID card, never a device lookup

    scan(qtbot, DEMO.free_tag)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert dialog.sentence.text() == GIVE_FREE_TO_ANA
    assert mutations(sim) == []
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, "Ana Ruiz now has CB-004512")
    assert window.result.kind == "success"
    assert window.result.hint.text() == "Scan the next student's ID card."
    assert k.sounds.played == ["success"]
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    (sent,) = mutations(sim)
    assert sent.path == CHECKOUT_ROUTE
    assert sent.json["OwnerId"] == DEMO.student_user_id
    qtbot.waitUntil(lambda: session_state(k, "Give CB-004512 to Ana Ruiz") == "done")

    # The next student's ID card, straight on the result screen: no key to dismiss it.
    student = other_student(sim)
    name, grade, number = student["Name"], student["Grade"], student["SchoolIdNumber"]
    scan(qtbot, number)
    wait_panel(qtbot, k, f"{name}, grade {grade}, ID {number}")
    assert window.panel.detail.text() == f"Scan the device for {name}."
    assert "Ana Ruiz" not in k.texts()
    qtbot.waitUntil(lambda: window.panel.count.text() == "Has no device yet")

    tag = free_tag(sim)
    scan(qtbot, tag)
    dialog = confirm(qtbot, k)
    assert dialog.sentence.text().endswith(f"to {name}, grade {grade}, ID {number}?")
    wait_result(qtbot, k, f"{name} now has {tag}")
    assert owner_id(sim, tag) == student["UserId"]
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert len(mutations(sim)) == 2
    assert window.status.count.text() == "This session: 2"


def test_a_refused_device_keeps_the_student(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = line_kiosk(build)
    window = k.window
    marcus = f"{DEMO.assigned_owner_name}, grade 07, ID {DEMO.assigned_owner_school_id}"
    scan(qtbot, DEMO.assigned_owner_school_id)
    wait_panel(qtbot, k, marcus)
    qtbot.waitUntil(lambda: window.panel.count.text() == "Has 1 device already")
    assert window.panel.lines() == [f"has {DEMO.assigned_tag} (Dell Chromebook 3110)"]

    # Already his: refused, nothing sent, and he is still the student at the kiosk.
    scan(qtbot, DEMO.assigned_tag)
    wait_result(qtbot, k, "Cannot hand out")
    assert window.result.kind == "error"
    assert window.result.message.text() == (
        f"Marcus Lee already has {DEMO.assigned_tag}. Nothing to change."
    )
    assert "Scan another device for Marcus Lee" in window.result.hint.text()
    assert k.sounds.played == ["error"]
    assert k.controller.dialog is None

    # A retired one next, scanned straight on the error screen: refused too.
    scan(qtbot, DEMO.retired_tag)
    qtbot.waitUntil(
        lambda: (
            window.result.message.text()
            == f"{DEMO.retired_tag} is retired (Retired) and cannot be handed out."
        )
    )
    assert k.sounds.played == ["error", "error"]
    assert mutations(sim) == []

    # Enter on the error screen: back to his panel, for another device.
    press(qtbot, Qt.Key.Key_Return)
    wait_panel(qtbot, k, marcus)
    assert window.focusWidget() is window.panel.input

    tag = free_tag(sim)
    scan(qtbot, tag)
    dialog = confirm(qtbot, k)
    assert dialog.sentence.text().endswith(f"to {marcus}?")
    assert "Already has 1 device" in "\n".join(
        w.text() for w in dialog.findChildren(type(dialog.sentence))
    )
    wait_result(qtbot, k, f"Marcus Lee now has {tag}")
    assert owner_id(sim, tag) == DEMO.assigned_owner_id
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    assert len(mutations(sim)) == 1


def test_escape_in_the_line_confirm_keeps_the_student(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = line_kiosk(build)
    scan(qtbot, DEMO.student_id)
    wait_panel(qtbot, k, "Ana Ruiz, grade 07, ID 204518")
    scan(qtbot, DEMO.free_tag)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None)
    assert toast(k) == "Cancelled: nothing was changed."
    wait_panel(qtbot, k, "Ana Ruiz, grade 07, ID 204518")
    assert mutations(sim) == []
    tag = free_tag(sim)
    scan(qtbot, tag)
    confirm(qtbot, k)
    wait_result(qtbot, k, f"Ana Ruiz now has {tag}")
    assert owner_id(sim, DEMO.free_tag) is None


def test_an_inactive_student_is_refused_at_the_id_card(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = line_kiosk(build)
    scan(qtbot, DEMO.inactive_id)
    wait_result(qtbot, k, "Cannot hand out")
    assert k.window.result.message.text() == (
        f"{DEMO.inactive_name} is inactive in Incident IQ and cannot be given a device."
    )
    assert k.sounds.played == ["error"]
    scan(qtbot, DEMO.student_id)  # the next ID card, on the error screen
    wait_panel(qtbot, k, "Ana Ruiz, grade 07, ID 204518")
    assert mutations(sim) == []


def test_escape_in_the_device_picker_keeps_the_student(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = line_kiosk(build)
    scan(qtbot, DEMO.student_id)
    wait_panel(qtbot, k, "Ana Ruiz, grade 07, ID 204518")
    scan(qtbot, DEMO.duplicate_tag)
    picker = wait_dialog(qtbot, k, DevicePickerDialog)
    wait_armed(qtbot, picker)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None)
    qtbot.wait(50)
    assert mutations(sim) == []
    assert k.controller.flows["line"].person is not None
    assert k.window.stack.currentWidget() is k.window.panel
    assert k.window.panel.heading.text() == "Ana Ruiz, grade 07, ID 204518"


def test_the_line_asks_for_the_charger_and_gives_both(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    add_charger(sim)
    k = build(settings=WITH_CHARGER | {"station": {"default_mode": "line"}})
    scan(qtbot, DEMO.student_id)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    scan(qtbot, DEMO.free_tag)
    qtbot.waitUntil(lambda: "Scan its charger" in k.window.panel.marker.text())
    assert k.controller.dialog is None and mutations(sim) == []
    scan(qtbot, CHARGER_TAG)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert CHARGER_TAG in dialog.sentence.text()
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"Ana Ruiz now has {DEMO.free_tag} and {CHARGER_TAG}")
    assert owner_id(sim, DEMO.free_tag) == DEMO.student_user_id
    assert owner_id(sim, CHARGER_TAG) == DEMO.student_user_id


def test_enter_with_nothing_at_the_line_charger_step_gives_the_device_alone(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    add_charger(sim)
    k = build(settings=WITH_CHARGER | {"station": {"default_mode": "line"}})
    scan(qtbot, DEMO.student_id)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    scan(qtbot, DEMO.free_tag)
    qtbot.waitUntil(lambda: "Scan its charger" in k.window.panel.marker.text())
    press(qtbot, Qt.Key.Key_Return)
    dialog = wait_dialog(qtbot, k, ConfirmTransferDialog)
    assert CHARGER_TAG not in dialog.sentence.text()
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"Ana Ruiz now has {DEMO.free_tag}")
    assert owner_id(sim, CHARGER_TAG) is None
