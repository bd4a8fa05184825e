"""The running event on screen: a progress panel readable from across the room, kept
right as this station works and as the other stations' changes are read back.

`EventPanel` is layout only: the event's name and the pack's age, two big numbers and
their words (collect: returned / still out; distribute: handed out / students still
without a device), a progress bar, the counts by grade or homeroom, and a line that says
when the other stations' changes were last read.

`EventBoard` keeps it up to date, never blocking the window:
- after every change this station records or sends (an outbox listener), the pack's
  `progress` over this station's journal rows, read off the loop's thread;
- every `refresh_s` (and when Incident IQ answers again after a drop), the pack's devices
  read again from Incident IQ (`EventPack.refresh`: paged, one request at a time, at most
  one per `min_interval_s`), so the panel includes what the other stations did;
- the devices a lookup answered from the pack, read again by id in the background, so that
  the next lookup of them shows what Incident IQ says now (`EventDirectory.remember`).

Every task stays referenced and a failure is logged; the panel shows counts, never names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QProgressBar, QVBoxLayout, QWidget

from kiosk.core.event_directory import EventDirectory
from kiosk.core.events import EventKind, EventPack, EventProgress
from kiosk.core.journal import AsyncJournal
from kiosk.core.outbox import Outbox
from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import IIQError
from kiosk.ui.views import label, shown

log = logging.getLogger(__name__)

#: The groups the panel lists at most (the rest are summed up in one line).
MAX_GROUPS = 8


def age_words(age: timedelta | None) -> str:
    """How old the pack's picture is, in words: "pack 2 h old"."""
    if age is None:
        return "pack not prepared"
    minutes = int(age / timedelta(minutes=1))
    if minutes < 1:
        return "pack just read"
    if minutes < 120:
        return f"pack {minutes} min old"
    hours = minutes // 60
    if hours < 48:
        return f"pack {hours} h old"
    return f"pack {hours // 24} days old"


def number_words(progress: EventProgress) -> tuple[int, str, int, str]:
    """The two big numbers and their words for the event's kind."""
    if progress.kind is EventKind.COLLECT:
        return progress.done, "returned", progress.left, "still out"
    if progress.kind is EventKind.DISTRIBUTE:
        who = "student" if progress.left == 1 else "students"
        return progress.devices_done, "handed out", progress.left, f"{who} still without a device"
    return progress.done, "seen", progress.left, "not seen yet"


def group_lines(progress: EventProgress) -> list[str]:
    """ "Grade 07: 12 of 40 returned" per group, the largest number left first."""
    word = {
        EventKind.COLLECT: "returned",
        EventKind.DISTRIBUTE: "given a device",
    }.get(progress.kind, "done")
    by = "Homeroom" if progress.group_by == "homeroom" else "Grade"
    groups = sorted(progress.groups, key=lambda g: (-g.left, g.group))
    lines = [
        f"{by} {shown(g.group, 40)}: {g.done} of {g.total} {word}" for g in groups[:MAX_GROUPS]
    ]
    rest = groups[MAX_GROUPS:]
    if rest:
        left = sum(g.left for g in rest)
        lines.append(f"{len(rest)} more {by.lower()}s: {left} left")
    return lines


class EventPanel(QWidget):
    """The event's progress (layout only; `EventBoard` fills it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("eventPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.title = label("", "eventTitle")
        self.done_number = label("0", "eventNumber", wrap=False)
        self.done_word = label("", "eventWord")
        self.left_number = label("0", "eventNumber", wrap=False)
        self.left_word = label("", "eventWord")
        self.bar = QProgressBar()
        self.bar.setObjectName("eventBar")
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.headline = label("", "eventHeadline")
        self.groups = label("", "eventGroups")
        self.note = label("", "eventNote")
        numbers = QGridLayout()
        numbers.addWidget(self.done_number, 0, 0)
        numbers.addWidget(self.left_number, 0, 1)
        numbers.addWidget(self.done_word, 1, 0)
        numbers.addWidget(self.left_word, 1, 1)
        column = QVBoxLayout(self)
        column.addWidget(self.title)
        column.addLayout(numbers)
        column.addWidget(self.bar)
        column.addWidget(self.headline)
        column.addWidget(self.groups)
        column.addWidget(self.note)

    def set_title(self, name: str, age: timedelta | None) -> None:
        self.title.setText(f"Event: {shown(name, 60)} · {age_words(age)}")

    def show_progress(self, progress: EventProgress) -> None:
        done, done_word, left, left_word = number_words(progress)
        self.done_number.setText(str(done))
        self.done_word.setText(done_word)
        self.left_number.setText(str(left))
        self.left_word.setText(left_word)
        self.bar.setValue(round(progress.fraction * 1000))
        self.bar.setFormat(f"{progress.done} of {progress.total}")
        self.headline.setText(progress.headline())
        self.groups.setText("\n".join(group_lines(progress)))

    def set_note(self, text: str) -> None:
        self.note.setText(text)


class EventBoard(QObject):
    """Keeps `panel` right for `pack` (see the module docstring). `start()` once the
    services run; `stop()` before they close."""

    def __init__(
        self,
        panel: EventPanel,
        directory: EventDirectory,
        *,
        client: IIQClient,
        journal: AsyncJournal,
        outbox: Outbox,
        refresh_s: float,
        min_interval_s: float,
        reread: bool = True,
        now: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.directory = directory
        self.pack: EventPack = directory.pack
        self._client = client
        self._journal = journal
        self._outbox = outbox
        self.refresh_s = refresh_s
        self._min_interval_s = min_interval_s
        self._reread = reread
        self._now = now
        #: The panel's numbers as last shown (None until the first count).
        self.progress: EventProgress | None = None
        #: Refreshes from Incident IQ that finished (tests and the log follow it).
        self.refreshes = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._updating: asyncio.Task[Any] | None = None
        self._dirty = False
        self._refresh_lock = asyncio.Lock()
        self._to_reread: list[str] = []
        self._rereading: asyncio.Task[Any] | None = None
        self._removers: list[Callable[[], None]] = []
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(30_000)
        self._age_timer.timeout.connect(self._show_age)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._show_age()
        self.panel.set_note("Counting…")
        self._removers.append(self._outbox.add_listener(self._changed))
        self._removers.append(self._client.add_connectivity_listener(self._connectivity))
        if self._reread:
            self.directory.on_answered = self.reread
        self._age_timer.start()
        self.update_soon()
        self._spawn(self._refresh_every(), "event-refresh")

    def stop(self) -> None:
        if shiboken6.isValid(self._age_timer):  # gone already when the window went first
            self._age_timer.stop()
        self.directory.on_answered = None
        for remove in self._removers:
            remove()
        self._removers.clear()
        for task in list(self._tasks):
            task.cancel()

    # --- counting ----------------------------------------------------------------------

    def update_soon(self) -> None:
        """Count again (after the count under way, if one runs): never two at once."""
        self._dirty = True
        if self._updating is None or self._updating.done():
            self._updating = self._spawn(self._update(), "event-progress")

    async def _update(self) -> None:
        since = self.pack.prepared_at or self.pack.created_at
        when = datetime.fromisoformat(since)
        while self._dirty:
            self._dirty = False
            rows = await self._journal.export(when)
            progress = await asyncio.to_thread(self.pack.progress, rows)
            self.progress = progress
            self.panel.show_progress(progress)
            self._show_age()
            if self.panel.note.text() == "Counting…":
                self.panel.set_note(self._refreshed_words())

    def _changed(self, _change: object) -> None:
        self.update_soon()

    # --- what other stations did -------------------------------------------------------

    async def _refresh_every(self) -> None:
        while True:
            await self.refresh_now()
            await asyncio.sleep(self.refresh_s)

    async def refresh_now(self) -> bool:
        """Read the pack's devices again from Incident IQ, then count. False when it could
        not (offline, an error: the panel says so, the next turn tries again)."""
        if self._refresh_lock.locked():
            return False
        async with self._refresh_lock:
            if not self._client.online:
                self.panel.set_note(
                    "OFFLINE: other stations' changes show once Incident IQ answers again."
                )
                return False
            try:
                result = await self.pack.refresh(self._client, min_interval_s=self._min_interval_s)
            except IIQError as exc:
                log.warning("event pack refresh failed: %s", exc.kind)
                minutes = max(1, round(self.refresh_s / 60))
                self.panel.set_note(
                    "Other stations' changes could not be read just now; the kiosk tries "
                    f"again in {minutes} min."
                )
                return False
            self.refreshes += 1
            log.info("event pack refreshed: %d devices changed", result.changed)
            self.panel.set_note(self._refreshed_words())
            self.update_soon()
            return True

    def _refreshed_words(self) -> str:
        stamp = self.pack.refreshed_at
        if stamp is None:
            return "Counts this station's changes; other stations' once Incident IQ is read."
        when = datetime.fromisoformat(stamp).astimezone()
        return f"Includes other stations' changes read at {when:%H:%M}."

    def _connectivity(self, online: bool) -> None:
        if online and self._stale():
            self._spawn(self.refresh_now(), "event-refresh-online")

    def _stale(self) -> bool:
        age = self.pack.age
        return age is not None and age.total_seconds() >= self.refresh_s

    # --- devices answered from the pack ---------------------------------------------------

    def reread(self, asset_ids: list[str]) -> None:
        """Read these devices again by id in the background (when online)."""
        if not self._client.online:
            return
        self._to_reread += [a for a in asset_ids if a not in self._to_reread]
        if self._rereading is None or self._rereading.done():
            self._rereading = self._spawn(self._reread_queue(), "event-reread")

    async def _reread_queue(self) -> None:
        while self._to_reread and self._client.online:
            asset_id = self._to_reread.pop(0)
            try:
                asset = await self._client.asset(asset_id)
            except IIQError as exc:
                log.info("event: device %s not read again (%s)", asset_id, exc.kind)
                continue
            self.directory.remember(asset)
        self._to_reread.clear()

    # --- helpers -----------------------------------------------------------------------

    def _show_age(self) -> None:
        now = self._now() if self._now is not None else None
        age = self.pack.age_at(now) if now is not None else self.pack.age
        self.panel.set_title(self.pack.name, age)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event task %s failed", task.get_name(), exc_info=task.exception())
