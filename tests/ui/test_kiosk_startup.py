"""A connection problem at start shows a screen that says what is wrong and retries; it
never crashes, and the kiosk is ready to scan once Incident IQ answers."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.app import _connect
from kiosk.simulator import Fault, Simulator


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
