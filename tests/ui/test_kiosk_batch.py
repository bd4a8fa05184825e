"""Batch check-out (F4) at the kiosk window, keyboard only, against the simulator.

One person, many devices: the first scan is the person (whatever it looks like), one
question, then every device scan gives that device at once; a device that is someone
else's needs an explicit Enter; Esc ends the batch with one summary screen.
"""

from __future__ import annotations

from typing import Any

from kiosk_helpers import (
    gone,
    mutations,
    owner_id,
    press,
    requests_to,
    scan,
    session_lines,
    toast,
    wait_armed,
    wait_dialog,
    wait_result,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.dialogs import ConfirmTransferDialog, QuestionDialog

CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"
ANA = "Ana Ruiz, grade 07, ID 204518"


def free_tags(sim: Simulator, count: int, *, model: str | None = None) -> list[str]:
    """Tags of devices nobody has, with a status that lets them go out as they are, each
    tag naming one device only (the demo's named records left out)."""
    with sim.state.lock:
        available = {
            key
            for key, status in sim.state.status_types.items()
            if status["Name"] == "Available" and not status["IsRetired"]
        }
        tags: list[str] = []
        for asset in sim.state.assets.values():
            tag = asset["AssetTag"]
            if (
                asset["OwnerId"] is None
                and not asset["IsDeleted"]
                and asset["StatusTypeId"] in available
                and not asset["OpenTickets"]
                and tag
                and tag.startswith("CB-")
                and tag not in (DEMO.free_tag, DEMO.duplicate_tag)
                and (model is None or asset["Name"] == model)
                and len(sim.state.asset_by_tag(tag)) == 1
            ):
                tags.append(tag)
            if len(tags) == count:
                return tags
    raise AssertionError(f"the demo data has fewer than {count} free devices")


def panel_lines(k: Any) -> list[str]:
    return k.window.panel.lines()


def pages_shown(k: Any) -> list[QWidget]:
    """Every page the window switches to from now on, in order."""
    shown: list[QWidget] = []
    k.window.stack.currentChanged.connect(lambda i: shown.append(k.window.stack.widget(i)))
    return shown


def start_batch(qtbot: QtBot, k: Any, code: str = DEMO.student_id) -> QuestionDialog:
    press(qtbot, Qt.Key.Key_F4)
    assert k.window.mode_banner.text() == "BATCH CHECK-OUT"
    scan(qtbot, code)
    return wait_dialog(qtbot, k, QuestionDialog)


def give(qtbot: QtBot, k: Any, tag: str, given: int) -> None:
    """One device scanned in the batch; waits for the panel to count it."""
    scan(qtbot, tag)
    qtbot.waitUntil(lambda: k.window.panel.count.text() == f"{given} given")
    assert f"✓ {tag}" in panel_lines(k)


def test_batch_gives_each_scanned_device_at_once(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    window = k.window
    shown = pages_shown(k)
    dialog = start_batch(qtbot, k)
    # The ID number fits the tag pattern: still the person, never a device lookup.
    assert requests_to(sim, "/assets/assettag/") == []
    assert dialog.sentence.text() == f"Give the next devices to {ANA}?"
    assert not dialog.armed

    press(qtbot, Qt.Key.Key_Return)  # the scanner's trailing Enter, inside the guard
    qtbot.wait(20)
    assert k.controller.dialog is dialog and dialog.isVisible()
    assert k.controller.flows["batch"].batch is None
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.panel)
    assert gone(dialog)
    assert window.panel.heading.text() == "Giving devices to Ana Ruiz"
    assert window.panel.count.text() == "0 given"
    assert window.focusWidget() is window.panel.input
    assert mutations(sim) == []

    tags = free_tags(sim, 5)
    for n, tag in enumerate(tags, start=1):
        give(qtbot, k, tag, n)
        assert k.controller.dialog is None  # no question: the scan was the one action
        assert len(mutations(sim)) == n
        assert owner_id(sim, tag) == DEMO.student_user_id
    sent = mutations(sim)
    assert [r.path for r in sent] == [CHECKOUT_ROUTE] * 5
    assert [r.status for r in sent] == [200] * 5
    assert [r.json["OwnerId"] for r in sent] == [DEMO.student_user_id] * 5
    assert k.sounds.played == ["success"] * 5
    assert window.status.count.text() == "This session: 5"
    assert len(session_lines(k)) == 5
    assert window.result not in shown  # nothing but the panel so far

    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Ana Ruiz got 5 devices")
    assert window.result.kind == "success"
    assert window.result.message.text().startswith(", ".join(tags))
    assert [window.result.details.item(i).text() for i in range(5)] == [f"✓ {t}" for t in tags]
    assert shown.count(window.result) == 1  # one summary, not one screen per device
    assert k.sounds.played == ["success"] * 6
    assert len(mutations(sim)) == 5

    # The next ID card starts the next batch.
    scan(qtbot, DEMO.shared_name_ids[0])
    dialog = wait_dialog(qtbot, k, QuestionDialog)
    assert "Jordan Smith, grade 05, ID 204600" in dialog.sentence.text()


def test_someone_elses_device_needs_an_enter_and_a_retired_one_is_refused(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    window = k.window
    shown = pages_shown(k)
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.panel)
    first, last = free_tags(sim, 2)
    give(qtbot, k, first, 1)

    # Marcus Lee's device: a transfer is never done on a scan alone.
    scan(qtbot, DEMO.assigned_tag)
    confirm = wait_dialog(qtbot, k, ConfirmTransferDialog)
    sentence = confirm.sentence.text()
    assert sentence.startswith(f"Transfer {DEMO.assigned_tag} (")
    assert sentence.endswith(f"from Marcus Lee to {ANA}?")
    assert len(mutations(sim)) == 1
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    press(qtbot, Qt.Key.Key_Return)  # inside the guard: nothing
    qtbot.wait(20)
    assert confirm.isVisible() and len(mutations(sim)) == 1
    wait_armed(qtbot, confirm)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.panel.count.text() == "2 given")
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.student_user_id
    assert len(mutations(sim)) == 2
    assert f"✓ {DEMO.assigned_tag}" in panel_lines(k)

    # A retired device: refused in words and with the error sound, the batch goes on.
    scan(qtbot, DEMO.retired_tag)
    problem = f"✗ {DEMO.retired_tag} is retired (Retired) and cannot be handed out."
    qtbot.waitUntil(lambda: problem in panel_lines(k))
    assert k.sounds.played[-1] == "error"
    assert window.panel.count.text() == "2 given"
    assert window.stack.currentWidget() is window.panel
    assert window.focusWidget() is window.panel.input
    assert len(mutations(sim)) == 2
    assert owner_id(sim, DEMO.retired_tag) is None

    give(qtbot, k, last, 3)
    assert k.sounds.played == ["success", "success", "error", "success"]
    assert len(mutations(sim)) == 3

    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Ana Ruiz got 3 devices")
    assert window.result.kind == "warning"
    message = window.result.message.text()
    assert message.startswith(", ".join([first, DEMO.assigned_tag, last]))
    assert "1 not done: see the list." in message
    details = [window.result.details.item(i).text() for i in range(window.result.details.count())]
    assert problem in details
    assert shown.count(window.result) == 1
    assert k.sounds.played[-1] == "warning"


def test_escape_in_the_transfer_question_skips_that_device(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    window = k.window
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.panel)
    scan(qtbot, DEMO.assigned_tag)
    confirm = wait_dialog(qtbot, k, ConfirmTransferDialog)
    wait_armed(qtbot, confirm)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: f"✗ {DEMO.assigned_tag}: skipped" in panel_lines(k))
    assert k.controller.flows["batch"].batch is not None  # still in the batch
    assert window.stack.currentWidget() is window.panel
    assert mutations(sim) == []
    assert owner_id(sim, DEMO.assigned_tag) == DEMO.assigned_owner_id
    (tag,) = free_tags(sim, 1)
    give(qtbot, k, tag, 1)


def test_a_double_scan_in_a_batch_sends_nothing_twice(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    (tag,) = free_tags(sim, 1)
    scan(qtbot, tag)
    scan(qtbot, tag)  # the scanner fired twice
    qtbot.waitUntil(lambda: "Already scanned" in toast(k))
    qtbot.waitUntil(lambda: k.window.panel.count.text() == "1 given")
    qtbot.wait(200)
    assert toast(k) == f"Already scanned: {tag}. Nothing was done twice."
    assert k.window.panel.count.text() == "1 given"
    assert panel_lines(k) == [f"✓ {tag}"]
    assert len(requests_to(sim, f"/assets/assettag/{tag}")) == 1
    assert len(mutations(sim)) == 1
    assert sorted(k.sounds.played) == ["success", "warning"]


def test_quick_scans_in_a_row_each_give_their_device(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    """A student worker scans the next device before the last one is confirmed: every
    device scanned is given (or said not to be), none is silently dropped."""
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    tags = free_tags(sim, 4)
    for tag in tags:
        scan(qtbot, tag)  # no wait between them
    qtbot.waitUntil(lambda: k.window.panel.count.text() == "4 given", timeout=8000)
    assert sorted(panel_lines(k)) == sorted(f"✓ {t}" for t in tags)
    assert all(owner_id(sim, t) == DEMO.student_user_id for t in tags)
    assert len(mutations(sim)) == 4

    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Ana Ruiz got 4 devices")
    assert k.window.result.message.text().startswith(", ".join(tags))


def test_an_inactive_person_cannot_get_a_batch(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    press(qtbot, Qt.Key.Key_F4)
    scan(qtbot, DEMO.inactive_id)
    wait_result(qtbot, k, "Cannot hand out")
    assert k.window.result.kind == "error"
    assert (
        k.window.result.message.text()
        == f"{DEMO.inactive_name} is inactive in Incident IQ and cannot be given devices."
    )
    assert k.sounds.played == ["error"]
    assert k.controller.dialog is None
    assert k.controller.flows["batch"].batch is None
    assert requests_to(sim, "/assets/assettag/") == []

    # A device scanned now is not given to anyone: nobody is the batch's person yet.
    (tag,) = free_tags(sim, 1)
    scan(qtbot, tag)
    wait_result(qtbot, k, "Person not found")
    assert mutations(sim) == []
    assert owner_id(sim, tag) is None

    # The next ID card is a person again.
    scan(qtbot, DEMO.student_id)
    dialog = wait_dialog(qtbot, k, QuestionDialog)
    assert dialog.sentence.text() == f"Give the next devices to {ANA}?"


def test_escape_in_the_start_question_cancels_the_batch(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: k.controller.dialog is None and gone(dialog))
    assert toast(k) == "Cancelled: nothing was changed."
    assert k.window.stack.currentWidget() is k.window.ready
    assert k.window.ready.prompt.text() == "Scan the ID card of the person who gets the devices"
    assert k.controller.flows["batch"].batch is None
    assert mutations(sim) == []


def test_escape_right_after_a_scan_waits_for_that_device(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    """Esc ends the batch after the devices scanned before it: the summary counts them,
    and a scan while it ends is not taken for a device nor for the next person."""
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    first, slow = free_tags(sim, 2)
    give(qtbot, k, first, 1)
    sim.faults.add(
        Fault(kind="latency", method="GET", path_contains=f"/assettag/{slow}", latency_ms=800)
    )
    scan(qtbot, slow)
    qtbot.waitUntil(k.window.status.busy.isVisible)  # still waiting for the answer
    press(qtbot, Qt.Key.Key_Escape)  # the batch ends before the answer came
    scan(qtbot, DEMO.shared_name_ids[0])  # the next person, too early
    qtbot.waitUntil(lambda: "Ending the batch" in toast(k))
    wait_result(qtbot, k, "Ana Ruiz got 2 devices")
    assert k.window.result.kind == "success"
    assert k.window.result.message.text().startswith(f"{first}, {slow}")
    assert owner_id(sim, slow) == DEMO.student_user_id
    assert len(mutations(sim)) == 2
    qtbot.wait(100)
    assert k.controller.dialog is None  # the early scan started no batch for Jordan
    assert k.window.stack.currentWidget() is k.window.result


def test_a_device_that_cannot_be_looked_up_is_a_problem_line(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    """The batch goes on: the failure stays in the list, not on an error screen that the
    next scan would hide."""
    dialog = start_batch(qtbot, k)
    wait_armed(qtbot, dialog)
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.panel)
    failing, good = free_tags(sim, 2)
    sim.faults.add(
        Fault(kind="status", method="GET", path_contains=f"/assettag/{failing}", times=None)
    )
    scan(qtbot, failing)
    scan(qtbot, good)
    qtbot.waitUntil(lambda: k.window.panel.count.text() == "1 given")
    problem = f"✗ {failing}: not given (Incident IQ is having trouble)"
    assert problem in panel_lines(k)
    assert k.window.stack.currentWidget() is k.window.panel
    assert sorted(k.sounds.played) == ["error", "success"]
    assert owner_id(sim, failing) is None
    assert owner_id(sim, good) == DEMO.student_user_id
    press(qtbot, Qt.Key.Key_Escape)
    wait_result(qtbot, k, "Ana Ruiz got 1 device")
    details = [
        k.window.result.details.item(i).text() for i in range(k.window.result.details.count())
    ]
    assert problem in details
