"""Running a flow's work: task slots (latest wins), the busy indicator, the error funnel.

A flow starts its coroutines here and never keeps tasks of its own: each slot holds at most
one task (a newer scan cancels the older lookup), every task stays referenced, and whatever
escapes one is logged and shown through the one error funnel (`kiosk.ui.feedback`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)


class TaskSlot:
    """At most one task at a time: starting a new one cancels the one before (latest wins).
    The running task stays referenced, and a failure that escapes it is logged, not lost."""

    def __init__(self, name: str, on_crash: Callable[[BaseException], None]) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._on_crash = on_crash

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self.cancel()
        task = asyncio.ensure_future(coro)
        self._task = task
        task.add_done_callback(self._finished)
        return task

    def cancel(self) -> bool:
        if self.running:
            assert self._task is not None
            self._task.cancel()
            return True
        return False

    def _finished(self, task: asyncio.Task[None]) -> None:
        if task is self._task:
            self._task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s failed", self.name, exc_info=exc)
            self._on_crash(exc)


class Runner(QObject):
    """`work` runs the step in progress (lookups, confirming, sending): a newer step
    cancels it. `search` runs the type-ahead. `enqueue` runs steps one after another that
    must not cancel each other (the devices of a batch, scanned faster than Incident IQ
    answers). `working(doing)` wraps a step: busy indicator after a short delay, and any
    failure worded by the funnel (`on_failure(exc, doing)`)."""

    def __init__(
        self,
        parent: QObject,
        *,
        set_busy: Callable[[bool], None],
        on_failure: Callable[[BaseException, str], None],
        busy_delay_ms: int = 150,
    ) -> None:
        super().__init__(parent)
        self._set_busy = set_busy
        self._on_failure = on_failure
        self.work = TaskSlot("work", self._crashed)
        self.search = TaskSlot("search", self._crashed)
        self.queued = TaskSlot("queue", self._crashed)
        self._queue: deque[Coroutine[Any, Any, None]] = deque()
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(busy_delay_ms)
        self._busy_timer.timeout.connect(lambda: self._set_busy(True))

    def start(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as the step in progress, cancelling the one before."""
        self.work.start(coro)

    def enqueue(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` after every step queued before it (batches keep scan order)."""
        self._queue.append(coro)
        if not self.queued.running:
            self.queued.start(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            await self._queue.popleft()

    def cancel(self) -> bool:
        """Cancel the step in progress and the type-ahead (not the queue); True when
        something ran."""
        searched = self.search.cancel()
        cancelled = self.work.cancel()
        self.busy(False)
        return cancelled or searched

    def cancel_all(self) -> None:
        """Cancel everything, the queue too (a new mode, idle, shutting down)."""
        self.cancel()
        self.queued.cancel()
        while self._queue:
            self._queue.popleft().close()  # never started: nothing to undo

    def busy(self, busy: bool) -> None:
        if busy:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
            self._set_busy(False)

    @contextmanager
    def working(self, doing: str) -> Iterator[None]:
        """Busy indicator on; anything that goes wrong is worded by the one funnel."""
        self.busy(True)
        try:
            yield
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the funnel words every failure
            self._on_failure(exc, doing)
        finally:
            self.busy(False)

    def _crashed(self, exc: BaseException) -> None:
        self._on_failure(exc, "working")
