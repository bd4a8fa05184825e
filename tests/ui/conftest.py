"""Fixtures for window tests: a qasync loop on the test's QApplication, and a kiosk
(window + controller + real client) talking to the simulator over loopback.

Tests stay synchronous and wait with `qtbot.waitUntil`; qtbot's waits drive both Qt and
asyncio because the loop is a qasync loop bound to the running QApplication.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from kiosk.core.journal import AsyncJournal
from kiosk.core.outbox import Outbox
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
    service: TransactionService
    outbox: Outbox
    journal: AsyncJournal
    sender: asyncio.Task[None]

    def close(self, qtbot: Any) -> None:
        """Shut down as the app does: controller, sender, client, journal."""
        sending = self.controller.shutdown()
        self.sender.cancel()

        async def close_all() -> None:
            await asyncio.gather(self.sender, *sending, return_exceptions=True)
            await self.client.aclose()
            await self.journal.aclose()

        closing = asyncio.ensure_future(close_all())
        qtbot.waitUntil(closing.done, timeout=5000)

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
    outbox_options: dict[str, Any] | None = None,
    **controller_options: Any,
) -> Kiosk:
    """A kiosk wired like `kiosk.app` (journal, outbox and its sender included), talking
    to `sim` over loopback. Call it with the qasync loop (`qloop`) running."""
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
    path = Path(os.environ["IIQ_KIOSK_DATA"]) / f"journal-{uuid.uuid4().hex}.sqlite3"
    opening = asyncio.ensure_future(AsyncJournal.open(path))
    qtbot.waitUntil(opening.done, timeout=5000)
    journal = opening.result()
    outbox = Outbox(
        journal,
        service.apply,
        **(
            {"min_interval_s": 0.0, "backoff_base_s": 0.05, "backoff_max_s": 0.5}
            | (outbox_options or {})
        ),
    )
    window = MainWindow(station="TEST-1", demo=True)
    qtbot.addWidget(window)
    sounds = SoundPlayer(muted=True)
    options: dict[str, Any] = {
        "guard_ms": 150,
        "debounce_ms": 120,
        "on_online": lambda: outbox.nudge() if outbox.offline else None,
    }
    options.update(controller_options)
    controller = KioskController(
        window, service, outbox.submit, sounds, scan_settings=ScanSettings(), **options
    )
    controller.attach_outbox(outbox)
    sender = asyncio.ensure_future(outbox.run())
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return Kiosk(window, controller, client, sounds, sim, service, outbox, journal, sender)


@pytest.fixture
def kiosk(qtbot: Any, qloop: asyncio.AbstractEventLoop, sim: Simulator) -> Iterator[Kiosk]:
    k = make_kiosk(qtbot, sim)
    yield k
    k.close(qtbot)


def start(qtbot: Any, k: Kiosk) -> None:
    """The window is active and the Ready field has focus, as after start-up."""
    k.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is k.window.ready.input, timeout=3000)


@contextmanager
def kiosk_factory(qtbot: Any, sim: Simulator) -> Iterator[Callable[..., Kiosk]]:
    """`build(**opts)` makes a started kiosk like `k` but with options (token,
    read_timeout, guard_ms, idle_seconds...); each is shut down like the fixture's."""
    made: list[Kiosk] = []

    def build(**options: Any) -> Kiosk:
        k = make_kiosk(qtbot, sim, **options)
        made.append(k)
        start(qtbot, k)
        return k

    try:
        yield build
    finally:
        for k in made:
            k.close(qtbot)


@pytest.fixture
def k(qtbot: Any, kiosk: Kiosk) -> Kiosk:
    """The `kiosk`, started: active window, focus in the Ready field."""
    start(qtbot, kiosk)
    return kiosk


@pytest.fixture
def build(
    qtbot: Any, qloop: asyncio.AbstractEventLoop, sim: Simulator
) -> Iterator[Callable[..., Kiosk]]:
    with kiosk_factory(qtbot, sim) as factory:
        yield factory
