"""What the kiosk window says when something is wrong: unknown or malformed scans,
refusals by the rules, and Incident IQ failing (401, 5xx, no answer).

Every failure lands on a result screen with words, its own sound, and focus where the next
scan is expected; nothing is sent that the operator did not confirm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kiosk_helpers import (
    has_focus,
    mutations,
    owner_id,
    press,
    requests_to,
    scan,
    toast,
    wait_card,
    wait_result,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.simulator import DEMO, Fault, Simulator


def test_unknown_tag_says_not_found_and_the_next_scan_works(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    scan(qtbot, DEMO.unknown_tag)
    wait_result(qtbot, k, "Device not found")
    texts = k.texts()
    assert f"No device with tag or serial “{DEMO.unknown_tag}” is in Incident IQ." in texts
    assert "Check the label and scan again" in texts
    assert k.window.result.kind == "error"
    assert k.sounds.played == ["error"]
    # Tag first, then the serial number as the fallback.
    assert [r.path for r in sim.requests] == [
        f"/assets/assettag/{DEMO.unknown_tag}",
        f"/assets/serial/{DEMO.unknown_tag}",
    ]
    assert k.window.focusWidget() is k.window.result  # the screen takes Enter or a scan

    scan(qtbot, DEMO.free_tag)  # no click, no Enter first
    wait_card(qtbot, k, DEMO.free_tag)
    assert k.window.focusWidget() is k.window.device.person_input
    assert k.sounds.played == ["error"]


def test_enter_acknowledges_an_error_back_to_ready(qtbot: QtBot, k: Any) -> None:
    scan(qtbot, DEMO.unknown_tag)
    wait_result(qtbot, k, "Device not found")
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: k.window.stack.currentWidget() is k.window.ready)
    assert "Scan a device" in k.texts()
    assert has_focus(k.window.ready.input)


def test_found_by_serial_when_no_tag_matches(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.free_serial)
    wait_card(qtbot, k, DEMO.free_tag)
    assert k.window.device.card.values["Serial"].text() == DEMO.free_serial
    assert [r.path for r in sim.requests] == [
        f"/assets/assettag/{DEMO.free_serial}",
        f"/assets/serial/{DEMO.free_serial}",
    ]


@pytest.mark.parametrize(
    "garbage",
    ["<<>>!!", "CB-" + "7" * 45, "CB 004512"],
    ids=["symbols", "too-long", "blank-inside"],
)
def test_garbage_scan_is_not_a_device_tag_and_sends_nothing(
    qtbot: QtBot, k: Any, sim: Simulator, garbage: str
) -> None:
    scan(qtbot, garbage)
    wait_result(qtbot, k, "Not a device tag")
    assert "is not a device tag or serial number" in k.texts()
    assert k.window.result.kind == "error"
    assert k.sounds.played == ["error"]
    qtbot.wait(100)
    assert sim.requests == []
    assert k.window.ready.input.text() == ""

    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)


def test_inactive_person_is_refused(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.free_tag)
    wait_card(qtbot, k, DEMO.free_tag)
    scan(qtbot, DEMO.inactive_id)
    wait_result(qtbot, k, "Cannot hand out")
    texts = k.texts()
    assert f"{DEMO.inactive_name} is inactive in Incident IQ" in texts
    assert "Press Enter to choose someone else." in texts
    assert k.sounds.played == ["error"]
    assert k.controller.dialog is None
    assert mutations(sim) == []
    assert owner_id(sim, DEMO.free_tag) is None

    press(qtbot, Qt.Key.Key_Return)  # back to the same device's person step
    wait_card(qtbot, k, DEMO.free_tag)
    assert "Scan ID card or type a name" in k.texts()
    assert has_focus(k.window.device.person_input)


def test_retired_device_is_refused(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    scan(qtbot, DEMO.retired_tag)
    wait_card(qtbot, k, DEMO.retired_tag)
    assert k.window.device.card.values["Status"].text() == "Retired"
    scan(qtbot, DEMO.student_id)
    wait_result(qtbot, k, "Cannot hand out")
    assert f"{DEMO.retired_tag} is retired" in k.texts()
    assert k.sounds.played == ["error"]
    assert k.controller.dialog is None
    assert mutations(sim) == []
    (asset,) = sim.state.asset_by_tag(DEMO.retired_tag)
    assert asset["OwnerId"] != DEMO.student_user_id


def test_rejected_token_says_call_it(
    qtbot: QtBot, build: Callable[..., Any], sim: Simulator
) -> None:
    k = build(token="bad")  # a wrong token on purpose
    scan(qtbot, DEMO.free_tag)
    wait_result(qtbot, k, "Incident IQ refused the kiosk")
    assert "Please call IT" in k.texts()
    assert "Nothing was changed." in k.texts()
    assert k.sounds.played == ["error"]
    assert [r.status for r in sim.requests] == [401]  # not repeated: it will not get better
    assert k.window.focusWidget() is k.window.result

    scan(qtbot, DEMO.assigned_tag)  # focus came back: the next scan is taken at once
    qtbot.waitUntil(lambda: len(sim.requests) == 2)
    qtbot.waitUntil(lambda: k.sounds.played == ["error", "error"])
    assert k.window.result.title.text() == "Incident IQ refused the kiosk"
    assert sim.requests[1].path == f"/assets/assettag/{DEMO.assigned_tag}"
    assert mutations(sim) == []


def test_server_trouble_on_lookup(qtbot: QtBot, k: Any, sim: Simulator) -> None:
    sim.faults.add(
        Fault(kind="status", method="GET", path_contains="/assets/assettag/", times=None)
    )  # 503
    scan(qtbot, DEMO.free_tag)
    wait_result(qtbot, k, "Incident IQ is having trouble")
    assert "Wait a minute and scan again." in k.texts()
    assert k.sounds.played == ["error"]
    assert len(requests_to(sim, "/assets/assettag/")) == 2  # one retry, as configured
    assert "OFFLINE" not in k.window.status.connection.text()  # it answered: network fine

    sim.faults.clear()
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)


def test_no_answer_is_offline(qtbot: QtBot, build: Callable[..., Any], sim: Simulator) -> None:
    k = build(read_timeout=0.3)
    sim.faults.add(
        Fault(
            kind="latency",
            method="GET",
            path_contains="/assets/assettag/",
            latency_ms=2000,
            times=None,
        )
    )
    scan(qtbot, DEMO.free_tag)
    wait_result(qtbot, k, "No answer from Incident IQ")
    assert "Check the network, then scan again." in k.texts()
    assert k.sounds.played == ["error"]
    assert k.window.status.connection.text().startswith("OFFLINE")
    assert k.window.focusWidget() is k.window.result

    # Offline now: the next scans go to the kiosk's memory at once (nothing to show for an
    # unseen tag) while one probe checks the connection in the background.
    requests_before = len(sim.requests)
    scan(qtbot, DEMO.assigned_tag)
    qtbot.waitUntil(lambda: k.sounds.played == ["error", "error"], timeout=1000)
    assert k.window.stack.currentWidget() is k.window.result
    assert "Incident IQ" in k.window.result.title.text()
    assert len(sim.requests) == requests_before  # nothing was sent for it

    sim.faults.clear()  # the network is back: the probe sees it and the strip says so
    qtbot.waitUntil(lambda: k.window.status.connection.text() == "Online", timeout=8000)
    scan(qtbot, DEMO.assigned_tag)
    wait_card(qtbot, k, DEMO.assigned_tag)
    assert k.window.status.connection.text() == "Online"


def test_after_an_error_the_same_scan_is_welcome_again(
    qtbot: QtBot, k: Any, sim: Simulator
) -> None:
    # "Scan again" must not be met by the double-scan guard.
    scan(qtbot, DEMO.unknown_tag)
    wait_result(qtbot, k, "Device not found")
    lookups = len(requests_to(sim, "/assets/assettag/"))
    scan(qtbot, DEMO.unknown_tag)
    qtbot.waitUntil(lambda: len(requests_to(sim, "/assets/assettag/")) > lookups)
    assert "Already scanned" not in toast(k)
