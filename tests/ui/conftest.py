"""Fixtures for window tests: a qasync loop on the test's QApplication, and a kiosk
(window + shell + the real services) talking to the simulator over loopback.

Tests stay synchronous and wait with `qtbot.waitUntil`; qtbot's waits drive both Qt and
asyncio because the loop is a qasync loop bound to the running QApplication. The kiosk
itself is built by `kiosk_helpers.make_kiosk`, with the same wiring as the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import qasync
from kiosk_helpers import Kiosk, kiosk_factory, make_kiosk, start
from PySide6.QtWidgets import QApplication

from kiosk.simulator import Simulator

# Loops are kept alive for the whole session: a collected qasync loop has crashed suites.
_LOOPS: list[Any] = []


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    # As kiosk.app does: asyncio.to_thread in plain Python threads, not Qt ones.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="test-worker"))
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
    # An `already_running` loop registered itself as the thread's running loop (so that
    # asyncio finds it); a later plain `asyncio.run()` in the same process would refuse to
    # start. qasync has no public way to detach it: undo what its constructor did.
    asyncio.events._set_running_loop(None)
    loop._after_run_forever()  # type: ignore[attr-defined]
    asyncio.set_event_loop(None)


@pytest.fixture
def kiosk(qtbot: Any, qloop: asyncio.AbstractEventLoop, sim: Simulator) -> Iterator[Kiosk]:
    k = make_kiosk(qtbot, sim)
    yield k
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
