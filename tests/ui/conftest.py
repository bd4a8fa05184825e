"""Fixtures for window tests: a qasync loop on the test's QApplication, and a kiosk
(window + controller + real client) talking to the simulator over loopback.

Tests stay synchronous and wait with `qtbot.waitUntil`; qtbot's waits drive both Qt and
asyncio because the loop is a qasync loop bound to the running QApplication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from kiosk.core.scan import ScanSettings
from kiosk.core.transactions import CheckinPolicy, TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Simulator
from kiosk.ui.controller import KioskController
from kiosk.ui.main_window import MainWindow
from kiosk.ui.sound import SoundPlayer

# Loops are kept alive for the whole session: a collected qasync loop has crashed suites.
_LOOPS: list[Any] = []


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    _LOOPS.append(loop)
    asyncio.set_event_loop(loop)
    yield loop
    # Cancel what is left and let it finish; never loop.stop() (later waits would return
    # at once). Detaching an already_running loop has no public API in qasync.
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    deadline = 200
    while any(not t.done() for t in pending) and deadline:
        qapp.processEvents()
        deadline -= 1
    asyncio.set_event_loop(None)


@dataclass
class Kiosk:
    window: MainWindow
    controller: KioskController
    client: IIQClient
    sounds: SoundPlayer
    sim: Simulator

    def texts(self) -> str:
        """Every visible label's text on the current screen (what a person reads)."""
        from PySide6.QtWidgets import QLabel

        page = self.window.stack.currentWidget()
        return "\n".join(
            w.text() for w in page.findChildren(QLabel) if w.isVisibleTo(self.window) and w.text()
        )


def make_kiosk(
    qtbot: Any,
    sim: Simulator,
    *,
    token: str | None = None,
    read_timeout: float = 15.0,
    retry: RetryPolicy | None = None,
    **controller_options: Any,
) -> Kiosk:
    client = IIQClient(
        Connection(
            site_url=sim.url,
            site_id=sim.site_id,
            token=token or sim.token,
            read_timeout=read_timeout,
        ),
        retry=retry or RetryPolicy(attempts=2, base_delay=0.01),
    )
    service = TransactionService(
        client,
        station="TEST-1",
        checkin=CheckinPolicy(location_id=DEMO.storeroom_location_id),
    )
    window = MainWindow(station="TEST-1", demo=True)
    qtbot.addWidget(window)
    sounds = SoundPlayer(muted=True)
    options: dict[str, Any] = {"guard_ms": 150, "debounce_ms": 120}
    options.update(controller_options)
    controller = KioskController(
        window, service, service.apply, sounds, scan_settings=ScanSettings(), **options
    )
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return Kiosk(window, controller, client, sounds, sim)


@pytest.fixture
def kiosk(qtbot: Any, qloop: asyncio.AbstractEventLoop, sim: Simulator) -> Iterator[Kiosk]:
    k = make_kiosk(qtbot, sim)
    yield k
    k.controller.shutdown()
    closing = asyncio.ensure_future(k.client.aclose())
    qtbot.waitUntil(closing.done, timeout=5000)
