"""The check-in flow (F2) at the kiosk window, keyboard only, against the simulator.

Each test checks what the operator sees (labels, sounds asked for, the session list) and
what Incident IQ received (recorded requests, the simulator's records afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk_helpers import (
    gone,
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
from kiosk.ui.dialogs import CheckinDialog

MARCUS = "Check in CB-004513 from Marcus Lee"


# --- what the simulator holds ----------------------------------------------------------


def record(sim: Simulator, tag: str) -> dict[str, Any]:
    (asset,) = sim.state.asset_by_tag(tag)
    return dict(asset)


def status_id(sim: Simulator, name: str) -> str:
    """A status's id by its name, as the kiosk finds it (never hard-coded)."""
    status = sim.state.status_type_by_name(name)
    assert status is not None, name
    return str(status["AssetStatusTypeId"])


def tickets_for(sim: Simulator, asset_id: str) -> list[dict[str, Any]]:
    with sim.state.lock:
        return [
            dict(t)
            for t in sim.state.tickets
            if any(link["AssetId"] == asset_id for link in t["Assets"])
        ]


def owner_requests(sim: Simulator) -> list[Any]:
    """Requests that take an owner away (checkin route or remove-owner)."""
    return [
        r
        for r in mutations(sim)
        if r.path.endswith("/checkouts/checkin") or r.path.endswith("/remove-owner")
    ]


def f2(qtbot: QtBot, k: Any) -> None:
    press(qtbot, Qt.Key.Key_F2)
    assert k.window.mode_banner.text() == "CHECK IN"
    assert "Scan a device to check it in" in k.texts()


def open_checkin(qtbot: QtBot, k: Any, tag: str) -> CheckinDialog:
    scan(qtbot, tag)
    wait_card(qtbot, k, tag)
    return wait_dialog(qtbot, k, CheckinDialog)


# --- one device, good ------------------------------------------------------------------


def test_good_checkin_is_a_scan_and_an_enter(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)  # operator action 1
    shown = visible_text(k)
    assert dialog.sentence.text().startswith(f"{MARCUS}, ")
    assert f"ID {DEMO.assigned_owner_school_id}" in dialog.sentence.text()
    assert "Marcus Lee" in k.window.device.card.values["Owner"].text()
    assert "Condition: good" in shown
    assert "1 good · 2 damaged · 3 broken" in shown
    assert mutations(sim) == []  # asking is not doing

    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)  # operator action 2
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")
    assert k.window.result.kind == "success"
    assert "Checked in from Marcus Lee." in k.texts()
    assert k.sounds.played == ["success"]
    assert gone(dialog)
    qtbot.waitUntil(lambda: session_state(k, MARCUS) == "done")
    assert len(session_lines(k)) == 1
    assert k.window.status.count.text() == "This session: 1"

    asset = record(sim, DEMO.assigned_tag)
    assert asset["OwnerId"] is None
    assert asset["StatusTypeId"] == status_id(sim, DEMO.available_status_name)
    assert asset["StatusTypeId"] == DEMO.available_status_id
    assert asset["LocationId"] == DEMO.storeroom_location_id
    assert sim.state.open_checkout(DEMO.assigned_asset_id) is None
    assert len(owner_requests(sim)) == 1
    assert tickets_for(sim, DEMO.assigned_asset_id) == []
    assert not any(r.path.startswith("/tickets") for r in mutations(sim))


def test_enter_inside_the_guard_does_nothing(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(guard_ms=500)
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    press(qtbot, Qt.Key.Key_Return)  # a scanner's trailing Enter, or an eager thumb
    press(qtbot, Qt.Key.Key_2)
    assert not dialog.armed, "the keys above must arrive inside the guard"
    assert dialog.isVisible()
    assert dialog.condition.value == "good"
    assert not dialog.confirm_button.isEnabled()
    qtbot.wait(100)
    assert mutations(sim) == []
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id

    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog))
    assert mutations(sim) == []


# --- one device, damaged or broken -----------------------------------------------------


def test_damaged_files_one_repair_ticket_for_the_person_who_returned_it(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.condition_label.text())
    assert dialog.condition_label.text() == "Condition: DAMAGED: a repair ticket is filed"
    assert mutations(sim) == []
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")

    (ticket,) = tickets_for(sim, DEMO.assigned_asset_id)
    assert ticket["Assets"] == [{"AssetId": DEMO.assigned_asset_id}]
    assert ticket["ForId"] == DEMO.assigned_owner_id
    assert ticket["IssueId"] == DEMO.ticket_issue_id
    assert "damaged" in ticket["Subject"]
    assert "without its charger" not in ticket["Subject"]
    assert "Charger returned: yes." in ticket["IssueDescription"]
    texts = k.texts()
    assert f"Repair ticket #{ticket['TicketNumber']} filed." in texts
    assert "Checked in from Marcus Lee." in texts
    assert k.sounds.played == ["success"]
    qtbot.waitUntil(lambda: session_state(k, f"{MARCUS}: damaged, repair ticket") == "done")

    asset = record(sim, DEMO.assigned_tag)
    assert asset["OwnerId"] is None
    assert asset["StatusTypeId"] == status_id(sim, "In Repair")
    assert asset["LocationId"] == DEMO.storeroom_location_id
    assert len(requests_to(sim, "/tickets/new", "POST")) == 1


def test_broken_with_a_note_and_no_charger(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    assert "Charger returned: yes" in dialog.charger_label.text()
    assert "C charger yes/no" in dialog.keys.text()
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: "BROKEN" in dialog.condition_label.text())
    press(qtbot, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: dialog.charger_label.text() == "Charger returned: NO")
    assert dialog.charger_returned is False

    press(qtbot, Qt.Key.Key_Tab)  # into the note
    qtbot.waitUntil(lambda: dialog.note.hasFocus())
    type_text(qtbot, "c1 lid")  # the checklist keys are text in the note
    assert dialog.note.text() == "c1 lid"
    assert dialog.charger_returned is False
    assert "BROKEN" in dialog.condition_label.text()
    press(qtbot, Qt.Key.Key_Return)  # leaves the note, confirms nothing
    qtbot.waitUntil(lambda: not dialog.note.hasFocus())
    qtbot.wait(200)
    assert dialog.isVisible()
    assert mutations(sim) == []

    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")
    (ticket,) = tickets_for(sim, DEMO.assigned_asset_id)
    assert ticket["ForId"] == DEMO.assigned_owner_id
    assert ticket["Subject"] == f"{DEMO.assigned_tag} returned broken without its charger"
    assert "Note: c1 lid" in ticket["IssueDescription"]
    assert "Charger returned: no." in ticket["IssueDescription"]
    texts = k.texts()
    assert "The charger did not come back." in texts
    assert "filed." in texts
    assert record(sim, DEMO.assigned_tag)["StatusTypeId"] == status_id(sim, "In Repair")
    qtbot.waitUntil(
        lambda: session_state(k, f"{MARCUS}: broken, repair ticket, charger missing") == "done"
    )


def test_tab_in_and_tab_out_of_the_note(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.condition_label.text())
    press(qtbot, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: dialog.note.hasFocus())
    type_text(qtbot, "hinge")
    press(qtbot, Qt.Key.Key_Tab)  # leaves the note
    qtbot.waitUntil(lambda: not dialog.note.hasFocus())
    press(qtbot, Qt.Key.Key_1)  # a checklist key again, not text
    qtbot.waitUntil(lambda: dialog.condition_label.text() == "Condition: good")
    assert dialog.note.text() == "hinge"
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.condition_label.text())
    assert mutations(sim) == []
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")
    (ticket,) = tickets_for(sim, DEMO.assigned_asset_id)
    assert "Note: hinge" in ticket["IssueDescription"]


def test_damaged_without_a_ticket_issue_is_refused_before_anything_is_sent(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(settings={"tickets": {"issue_id": None}})
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.condition_label.text())
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.result.kind == "error" and k.window.result.isVisible())
    texts = k.texts()
    assert "[tickets] issue_id" in texts
    assert "Nothing was changed" in texts
    assert k.sounds.played == ["error"]
    assert mutations(sim) == []
    assert session_lines(k) == []
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    assert tickets_for(sim, DEMO.assigned_asset_id) == []


def test_a_scan_while_the_dialog_is_open_answers_nothing(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    wait_armed(qtbot, dialog)
    scan(qtbot, "CB-000323")  # 2s and 3s and a trailing Enter, none of them for the dialog
    qtbot.waitUntil(lambda: "Finish the open question first" in toast(k))
    assert dialog.isVisible()
    assert dialog.condition_label.text() == "Condition: good"
    press(qtbot, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: dialog.note.hasFocus())
    scan(qtbot, "CB-000322")  # nor for the note
    qtbot.wait(150)
    assert dialog.note.text() == ""
    assert dialog.isVisible()
    assert mutations(sim) == []
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog))
    assert mutations(sim) == []


def test_damaged_device_nobody_held_files_the_ticket_for_the_kiosk_account(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.free_tag)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: "BROKEN" in dialog.condition_label.text())
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.free_tag} is checked in")
    (ticket,) = tickets_for(sim, DEMO.free_asset_id)
    assert ticket["ForId"] == DEMO.api_user_id
    assert owner_requests(sim) == []
    assert record(sim, DEMO.free_tag)["StatusTypeId"] == status_id(sim, "In Repair")


# --- devices nobody holds, retired, deleted; Esc ---------------------------------------


def test_device_nobody_holds_gets_status_and_location_only(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    with sim.state.lock:  # left "Assigned" by someone: check-in puts it right
        sim.state.assets[DEMO.free_asset_id]["StatusTypeId"] = status_id(sim, "Assigned")
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.free_tag)
    assert dialog.sentence.text() == (
        f"{DEMO.free_tag} has no owner in Incident IQ. Set its status and location only?"
    )
    assert k.window.device.card.values["Owner"].text() == "nobody (free)"
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.free_tag} is checked in")
    assert k.window.result.message.text() == "Checked in."
    assert k.sounds.played == ["success"]

    asset = record(sim, DEMO.free_tag)
    assert asset["OwnerId"] is None
    assert asset["StatusTypeId"] == DEMO.available_status_id
    assert asset["LocationId"] == DEMO.storeroom_location_id
    assert asset["LocationRoomId"] is None  # the Library of the old school does not stay
    assert owner_requests(sim) == []
    paths = sorted(r.path for r in mutations(sim))
    assert paths == sorted(
        [
            f"/assets/{DEMO.free_asset_id}",
            f"/assets/{DEMO.free_asset_id}/status/{DEMO.available_status_id}",
        ]
    )


def test_retired_device_is_refused_in_words(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    f2(qtbot, k)
    scan(qtbot, DEMO.retired_tag)
    wait_result(qtbot, k, "Cannot check in")
    texts = k.texts()
    assert f"{DEMO.retired_tag} is retired (Retired)" in texts
    assert "Set it aside for IT." in texts
    assert k.window.result.kind == "error"
    assert k.sounds.played == ["error"]
    assert k.controller.dialog is None
    assert mutations(sim) == []
    assert session_lines(k) == []


def test_deleted_device_is_refused_in_words(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    with sim.state.lock:
        sim.state.assets[DEMO.assigned_asset_id]["IsDeleted"] = True
    f2(qtbot, k)
    scan(qtbot, DEMO.assigned_tag)
    wait_result(qtbot, k, "Device not found")
    assert DEMO.assigned_tag in k.texts()
    assert k.sounds.played == ["error"]
    assert k.controller.dialog is None
    assert mutations(sim) == []


def test_escape_in_the_dialog_changes_nothing(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    f2(qtbot, k)
    dialog = open_checkin(qtbot, k, DEMO.assigned_tag)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.condition_label.text())
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog))
    qtbot.waitUntil(lambda: toast(k) == "Cancelled: nothing was changed.")
    assert k.window.stack.currentWidget() is k.window.ready
    assert "Scan a device to check it in" in k.texts()
    assert mutations(sim) == []
    assert session_lines(k) == []
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    assert tickets_for(sim, DEMO.assigned_asset_id) == []


# --- a cart batch ----------------------------------------------------------------------

CART = "CART-LIB-03"


def cart_room(sim: Simulator) -> tuple[str, str]:
    """Roosevelt Middle School's Cart 03: (location id, room id)."""
    (room,) = [
        r
        for r in sim.state.rooms.values()
        if r["LocationId"] == DEMO.free_location_id and r["Name"] == "Cart 03"
    ]
    return room["LocationId"], room["LocationRoomId"]


def held_devices(sim: Simulator, count: int) -> list[dict[str, Any]]:
    """Chromebooks at Roosevelt that students hold (open checkout), first tags first."""
    with sim.state.lock:
        found = [
            dict(a)
            for a in sim.state.assets.values()
            if a["OwnerId"]
            and not a["IsDeleted"]
            and a["LocationId"] == DEMO.free_location_id
            and a["AssetTag"].startswith("CB-")
            and a["AssetTag"] != DEMO.assigned_tag
            and sim.state.open_checkout(a["AssetId"]) is not None
        ]
    found.sort(key=lambda a: a["AssetTag"])
    assert len(found) >= count
    return found[:count]


def panel_count(k: Any) -> str:
    return str(k.window.panel.count.text())


def test_cart_batch_checks_devices_into_the_cart(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    location, room = cart_room(sim)
    k = build(settings={"checkin": {"carts": {CART: {"location_id": location, "room_id": room}}}})
    first, damaged, last = held_devices(sim, 3)
    panel = k.window.panel
    f2(qtbot, k)
    assert "scan a cart's label" in k.texts()

    scan(qtbot, CART)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is panel)
    assert panel.heading.text() == f"Checking in to {CART}"
    assert panel_count(k) == "0 checked in"
    assert mutations(sim) == []

    scan(qtbot, first["AssetTag"])
    qtbot.waitUntil(lambda: panel_count(k) == "1 checked in")
    press(qtbot, Qt.Key.Key_2)  # the next device is damaged
    qtbot.waitUntil(lambda: panel.marker.isVisible())
    assert "DAMAGED" in panel.marker.text()
    assert panel.input.text() == ""
    scan(qtbot, damaged["AssetTag"])
    qtbot.waitUntil(lambda: panel_count(k) == "2 checked in")
    assert not panel.marker.isVisible()  # only that one device

    scan(qtbot, DEMO.unknown_tag)  # a problem line, a sound, and the batch goes on
    qtbot.waitUntil(lambda: any(DEMO.unknown_tag in line for line in panel.lines()))
    assert f"✗ {DEMO.unknown_tag}: not found" in panel.lines()
    assert k.sounds.played[-1] == "error"
    assert k.window.stack.currentWidget() is panel
    assert panel_count(k) == "2 checked in"

    scan(qtbot, last["AssetTag"])
    qtbot.waitUntil(lambda: panel_count(k) == "3 checked in")
    assert k.window.stack.currentWidget() is panel
    lines = panel.lines()
    assert f"✓ {first['AssetTag']}" in lines
    assert f"✓ {damaged['AssetTag']} (damaged)" in lines
    assert f"✓ {last['AssetTag']}" in lines
    assert k.sounds.played == ["success", "success", "error", "success"]

    press(qtbot, Qt.Key.Key_Escape)
    result = k.window.result
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is result)
    assert result.title.text() == f"3 devices checked in to {CART}"
    for device in (first, damaged, last):
        assert device["AssetTag"] in result.message.text()
    assert "1 not done" in result.message.text()
    details = [result.details.item(i).text() for i in range(result.details.count())]
    assert f"✗ {DEMO.unknown_tag}: not found" in details
    assert f"✓ {damaged['AssetTag']} (damaged)" in details
    assert len(details) == 4
    assert result.kind == "warning"

    for device in (first, damaged, last):
        asset = record(sim, device["AssetTag"])
        assert asset["OwnerId"] is None, device["AssetTag"]
        assert asset["LocationId"] == location
        assert asset["LocationRoomId"] == room
    assert record(sim, first["AssetTag"])["StatusTypeId"] == DEMO.available_status_id
    assert record(sim, damaged["AssetTag"])["StatusTypeId"] == status_id(sim, "In Repair")
    (ticket,) = tickets_for(sim, damaged["AssetId"])
    assert ticket["ForId"] == damaged["OwnerId"]
    assert tickets_for(sim, first["AssetId"]) == tickets_for(sim, last["AssetId"]) == []
    assert len(requests_to(sim, "/tickets/new", "POST")) == 1
    assert len(session_lines(k)) == 3
    qtbot.waitUntil(
        lambda: all(
            session_state(k, f"Check in {d['AssetTag']}") == "done" for d in (first, damaged, last)
        )
    )

    # Enter on the summary: back to Ready, the batch is over.
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.ready)


def test_unknown_cart_label_is_not_set_up(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    f2(qtbot, k)
    scan(qtbot, "CART-NOPE")
    wait_result(qtbot, k, "This cart is not set up")
    texts = k.texts()
    assert "CART-NOPE" in texts
    assert "[checkin.carts]" in texts
    assert k.sounds.played == ["error"]
    assert sim.requests == []


def slow_lookup(sim: Simulator, tag: str, ms: int = 700) -> None:
    sim.faults.add(
        Fault(kind="latency", method="GET", path_contains=f"/assettag/{tag}", latency_ms=ms)
    )


def test_cart_scans_faster_than_the_answers_all_count_with_their_own_mark(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    location, room = cart_room(sim)
    k = build(settings={"checkin": {"carts": {CART: {"location_id": location, "room_id": room}}}})
    slow, queued, damaged = held_devices(sim, 3)
    panel = k.window.panel
    f2(qtbot, k)
    scan(qtbot, CART)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is panel)
    slow_lookup(sim, slow["AssetTag"])
    scan(qtbot, slow["AssetTag"])
    qtbot.waitUntil(k.window.status.busy.isVisible)  # still waiting for the answer
    scan(qtbot, queued["AssetTag"])  # scanned as good, waits its turn
    press(qtbot, Qt.Key.Key_2)  # for the device scanned next, not the one waiting
    qtbot.waitUntil(lambda: panel.marker.isVisible())
    scan(qtbot, damaged["AssetTag"])
    qtbot.waitUntil(lambda: panel_count(k) == "3 checked in", timeout=8000)
    lines = panel.lines()
    assert f"✓ {slow['AssetTag']}" in lines
    assert f"✓ {queued['AssetTag']}" in lines
    assert f"✓ {damaged['AssetTag']} (damaged)" in lines
    assert tickets_for(sim, queued["AssetId"]) == []
    assert len(tickets_for(sim, damaged["AssetId"])) == 1
    for device in (slow, queued, damaged):
        asset = record(sim, device["AssetTag"])
        assert asset["OwnerId"] is None
        assert asset["LocationRoomId"] == room


def test_a_new_cart_label_never_moves_devices_scanned_for_the_cart_before(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    location, room = cart_room(sim)
    (library,) = [
        r
        for r in sim.state.rooms.values()
        if r["LocationId"] == location and r["Name"] == "Library"
    ]
    carts = {
        CART: {"location_id": location, "room_id": room},
        "CART-LIB-04": {"location_id": location, "room_id": library["LocationRoomId"]},
    }
    k = build(settings={"checkin": {"carts": carts}})
    (slow,) = held_devices(sim, 1)
    f2(qtbot, k)
    scan(qtbot, CART)
    qtbot.waitUntil(lambda: k.window.panel.heading.text() == f"Checking in to {CART}")
    slow_lookup(sim, slow["AssetTag"])
    scan(qtbot, slow["AssetTag"])
    qtbot.waitUntil(k.window.status.busy.isVisible)
    scan(qtbot, "CART-LIB-04")  # the next cart, before the answer for the last device
    result = k.window.result
    qtbot.waitUntil(lambda: result.title.text() == f"1 device checked in to {CART}", timeout=8000)
    assert slow["AssetTag"] in result.message.text()
    asset = record(sim, slow["AssetTag"])
    assert asset["OwnerId"] is None
    assert asset["LocationRoomId"] == room  # the cart it was scanned for
    press(qtbot, Qt.Key.Key_Return)  # seen: on with the next cart
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    assert k.window.panel.heading.text() == "Checking in to CART-LIB-04"
    assert k.window.panel.lines() == []
    assert panel_count(k) == "0 checked in"


def test_cart_damaged_without_a_ticket_issue_is_a_problem_line(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    location, room = cart_room(sim)
    k = build(
        settings={
            "checkin": {"carts": {CART: {"location_id": location, "room_id": room}}},
            "tickets": {"issue_id": None},
        }
    )
    damaged, good = held_devices(sim, 2)
    panel = k.window.panel
    f2(qtbot, k)
    scan(qtbot, CART)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is panel)
    press(qtbot, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: panel.marker.isVisible())
    scan(qtbot, damaged["AssetTag"])
    qtbot.waitUntil(lambda: any("[tickets] issue_id" in line for line in panel.lines()))
    assert k.sounds.played == ["error"]
    assert mutations(sim) == []
    scan(qtbot, good["AssetTag"])  # the batch goes on
    qtbot.waitUntil(lambda: panel_count(k) == "1 checked in")
    assert owner_id(sim, damaged["AssetTag"]) == damaged["OwnerId"]
    assert owner_id(sim, good["AssetTag"]) is None


def test_escape_while_a_cart_device_is_on_its_way_still_counts_it(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    location, room = cart_room(sim)
    k = build(settings={"checkin": {"carts": {CART: {"location_id": location, "room_id": room}}}})
    (slow,) = held_devices(sim, 1)
    f2(qtbot, k)
    scan(qtbot, CART)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    slow_lookup(sim, slow["AssetTag"])
    scan(qtbot, slow["AssetTag"])
    qtbot.waitUntil(k.window.status.busy.isVisible)
    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, f"1 device checked in to {CART}", timeout=8000)
    assert k.window.result.kind == "success"
    assert slow["AssetTag"] in k.window.result.message.text()
    assert record(sim, slow["AssetTag"])["LocationRoomId"] == room
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.ready)


# --- a device with its charger ---------------------------------------------------------

CHARGER_TAG = "CHG-000001"


def add_charger(sim: Simulator, owner: str | None) -> str:
    """A charger asset tagged CHG-..., held by `owner` through an open checkout."""
    charger_model = next(m for m in sim.state.models.values() if "65W" in m["Name"])
    with sim.state.lock:
        charger = dict(sim.state.assets[DEMO.assigned_asset_id])
        charger.update(
            AssetId="0c0ffee0-0000-4000-8000-000000000001",
            AssetTag=CHARGER_TAG,
            SerialNumber="CN0TESTCHG01",
            Name=charger_model["Name"],
            ModelId=charger_model["ModelId"],
            OwnerId=None,
            OpenTickets=0,
        )
        sim.state.assets[charger["AssetId"]] = charger
        if owner:
            sim.state.set_owner(charger["AssetId"], owner, open_checkout=True)
    return str(charger["AssetId"])


CHARGER_RULE = {"accessories": [{"model": "Chromebook 3110", "tag_pattern": "^CHG-"}]}


def test_device_and_charger_come_back_in_one_change(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    charger_id = add_charger(sim, DEMO.assigned_owner_id)
    k = build(settings=CHARGER_RULE)
    f2(qtbot, k)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    qtbot.waitUntil(lambda: k.window.device.prompt.text() == "Scan its charger")
    assert k.controller.dialog is None
    assert mutations(sim) == []

    scan(qtbot, DEMO.free_tag)  # not a charger: said so, still waiting for the charger
    qtbot.waitUntil(lambda: "is not a charger tag" in toast(k))
    assert k.controller.dialog is None

    scan(qtbot, CHARGER_TAG)
    dialog = wait_dialog(qtbot, k, CheckinDialog)
    assert f"Charger: {CHARGER_TAG}" in dialog.device.text()
    assert "C charger" not in dialog.keys.text()  # the scan answered that question
    assert mutations(sim) == []
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")
    assert "The charger did not come back." not in k.texts()
    assert k.sounds.played == ["warning", "success"]  # the wrong tag, then the check-in

    assert owner_id(sim, DEMO.assigned_tag) is None
    assert sim.state.assets[charger_id]["OwnerId"] is None
    assert sim.state.open_checkout(charger_id) is None
    assert len(owner_requests(sim)) == 2
    assert len(session_lines(k)) == 1  # one change for both
    qtbot.waitUntil(lambda: session_state(k, f"{MARCUS} (with {CHARGER_TAG})") == "done")


def test_enter_with_no_charger_says_it_did_not_come_back(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    charger_id = add_charger(sim, DEMO.assigned_owner_id)
    k = build(settings=CHARGER_RULE)
    f2(qtbot, k)
    scan(qtbot, DEMO.assigned_tag)
    qtbot.waitUntil(lambda: k.window.device.prompt.text() == "Scan its charger")
    press(qtbot, Qt.Key.Key_Return)  # nothing scanned: no charger
    dialog = wait_dialog(qtbot, k, CheckinDialog)
    assert dialog.charger_label.isVisible()
    assert dialog.charger_label.text() == "Charger returned: NO"
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    wait_result(qtbot, k, f"{DEMO.assigned_tag} is checked in")
    assert "The charger did not come back." in k.texts()

    assert owner_id(sim, DEMO.assigned_tag) is None
    assert sim.state.assets[charger_id]["OwnerId"] == DEMO.assigned_owner_id  # still out
    assert len(owner_requests(sim)) == 1
    qtbot.waitUntil(lambda: session_state(k, f"{MARCUS}: charger missing") == "done")


def test_escape_at_the_charger_step_changes_nothing(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    add_charger(sim, DEMO.assigned_owner_id)
    k = build(settings=CHARGER_RULE)
    f2(qtbot, k)
    scan(qtbot, DEMO.assigned_tag)
    qtbot.waitUntil(lambda: k.window.device.prompt.text() == "Scan its charger")
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.ready)
    assert k.controller.dialog is None
    # Scanned at Ready, the charger is a device of its own (returned without its laptop).
    dialog = open_checkin(qtbot, k, CHARGER_TAG)
    assert dialog.sentence.text().startswith(f"Check in {CHARGER_TAG} from Marcus Lee")
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog))
    assert mutations(sim) == []
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
