"""A connection problem at start shows a screen that says what is wrong and retries; it
never crashes, and the kiosk is ready to scan once Incident IQ answers."""

from __future__ import annotations

import asyncio
from typing import Any

from kiosk_helpers import make_kiosk, wait_card
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from kiosk.app import _connect
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.early_keys import EarlyKeys
from kiosk.ui.main_window import MainWindow


def test_connection_problem_at_start_shows_a_screen_and_retries(
    qtbot: QtBot, kiosk: Any, sim: Simulator
) -> None:
    sim.faults.add(Fault(kind="status", status=503, path_contains="/login", times=None))
    connecting = asyncio.ensure_future(_connect(kiosk.client, kiosk.controller))
    notice = kiosk.window.notice
    qtbot.waitUntil(lambda: kiosk.window.stack.currentWidget() is notice, timeout=5000)
    assert notice.title.text() == "Cannot connect to Incident IQ"
    assert "error 503" in notice.message.text()
    assert "tries again every 10 seconds" in notice.message.text()
    assert notice.action.isVisible() and notice.action.text() == "Try again now"
    assert "OFFLINE" in kiosk.window.status.connection.text()

    sim.faults.clear()
    qtbot.mouseClick(notice.action, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(connecting.done, timeout=5000)
    assert connecting.exception() is None
    assert kiosk.window.stack.currentWidget() is kiosk.window.ready
    assert kiosk.window.status.connection.text().startswith("Online")
    assert [r.path for r in sim.requests].count("/login") >= 2


def test_a_scan_before_the_kiosk_is_ready_is_kept_and_handled(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, sim: Simulator
) -> None:
    # As kiosk.app starts: the window is shown and holds keys before the services and the
    # flows exist; a student scans in that moment.
    window = MainWindow(station="TEST-1", demo=True)
    qtbot.addWidget(window)
    early = EarlyKeys(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.keyClicks(window, DEMO.free_tag)
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert early.held == len(DEMO.free_tag) + 1
    assert window.stack.currentWidget() is window.ready  # nothing acted on it yet

    k = make_kiosk(qtbot, sim, window=window)
    try:
        assert early.release() == len(DEMO.free_tag) + 1
        wait_card(qtbot, k, DEMO.free_tag)
        assert [r.path for r in sim.requests if "assettag" in r.path] == [
            f"/assets/assettag/{DEMO.free_tag}"
        ]
    finally:
        k.close(qtbot)


def test_keys_for_other_windows_are_not_held(qtbot: QtBot) -> None:
    window = MainWindow(station="TEST-1", demo=True)
    other = QLineEdit()
    qtbot.addWidget(window)
    qtbot.addWidget(other)
    early = EarlyKeys(window)
    other.show()
    qtbot.keyClicks(other, "abc")
    assert other.text() == "abc"
    assert early.held == 0
    early.release()
