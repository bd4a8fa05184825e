"""Events at the window, behind the admin PIN (F12 > Events…): the events prepared on this
station, to run one (or stop running one), and a new one prepared from Incident IQ, as
`iiq-kiosk event prepare` does (same scope, same pack, resumable, rate-bounded)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLineEdit,
    QListWidgetItem,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from kiosk.core.assets import UnknownNameError
from kiosk.core.audit import EventKind
from kiosk.core.events import EventError, EventScope, PackInfo, PrepareProgress
from kiosk.iiq.errors import IIQError
from kiosk.ui.dialogs import GUARD_MS, GuardedDialog
from kiosk.ui.views import label, shown, wrapping_list

log = logging.getLogger(__name__)

KIND_WORDS = {
    EventKind.COLLECT: "Collection: take back the devices the people in scope hold",
    EventKind.DISTRIBUTE: "Hand-out: devices waiting at a place, to the people who have none",
    EventKind.AUDIT: "Audit: the devices at a place, to be seen there",
}


def pack_line(info: PackInfo) -> str:
    """ "June returns · collect · 850 people, 900 devices · prepared 2026-12-04 08:10"."""
    when = (info.refreshed_at or info.prepared_at or info.created_at or "")[:16].replace("T", " ")
    state = f"prepared {when}" if info.ready else "not fully prepared: prepare it again"
    return (
        f"{shown(info.name)} · {info.kind.value} · {info.people} people, "
        f"{info.devices} devices · {state}"
    )


class EventsDialog(GuardedDialog):
    """The events on this station. `choice`: "run" (with `chosen`), "prepare", "stop"."""

    def __init__(
        self,
        parent: QWidget | None,
        packs: list[PackInfo],
        *,
        running: str | None,
        guard_ms: int = GUARD_MS,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Events")
        self.choice: str | None = None
        self.chosen: str | None = None
        self.packs = [p for p in packs if p.ready]
        heading = "Events on this station" + (f" (running: {shown(running)})" if running else "")
        self.list = wrapping_list("pickList")
        for info in self.packs:
            item = QListWidgetItem(pack_line(info))
            self.list.addItem(item)
        if self.packs:
            self.list.setCurrentRow(len(self.packs) - 1)  # the newest
        empty = label("No event is prepared on this station yet.", "detail")
        empty.setVisible(not self.packs)
        layout = QVBoxLayout(self)
        layout.addWidget(label(heading, "confirmSentence"))
        layout.addWidget(self.list, 1)
        layout.addWidget(empty)
        self.buttons = {}
        for key, text in (
            ("run", "Run the chosen event (Enter)"),
            ("prepare", "Prepare a new event…"),
            ("stop", "Stop running the event"),
        ):
            if (key == "run" and not self.packs) or (key == "stop" and not running):
                continue
            button = self._big_button(text, "primary" if key == "run" else "secondary")
            button.clicked.connect(lambda _=False, k=key: self._choose(k))
            self.buttons[key] = button
            layout.addWidget(button)
        close = self._big_button("Close (Esc)", "secondary")
        close.clicked.connect(self.reject)
        layout.addWidget(close)
        self.setMinimumWidth(900)

    def _choose(self, key: str) -> None:
        if key == "run":
            row = self.list.currentRow()
            if not 0 <= row < len(self.packs):
                return
            self.chosen = self.packs[row].name
        self.choice = key
        self.accept()

    def on_enter(self) -> None:
        if "run" in self.buttons:
            self._choose("run")


Preparer = Callable[
    [str, EventKind, EventScope, Callable[[PrepareProgress], None]], Coroutine[Any, Any, str]
]


class PrepareEventDialog(GuardedDialog):
    """A new event: its name, kind and scope; "Prepare" reads it from Incident IQ with a
    progress bar (the window stays usable meanwhile); then "Run it now". `prepared`: the
    event's name once it is ready."""

    def __init__(
        self, parent: QWidget | None, prepare: Preparer, *, guard_ms: int = GUARD_MS
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Prepare an event")
        self._prepare = prepare
        self._task: asyncio.Task[None] | None = None
        self.prepared: str | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Grade 6 hand-out")
        self.kind = QComboBox()
        for kind, words in KIND_WORDS.items():
            self.kind.addItem(words, kind.value)
        self.locations = QLineEdit()
        self.locations.setPlaceholderText("the people's school(s), comma between")
        self.grades = QLineEdit()
        self.grades.setPlaceholderText("e.g. 06, 07")
        self.roles = QLineEdit("Student")
        self.devices_at = QLineEdit()
        self.devices_at.setPlaceholderText("hand-out / audit: a location or a cart's label")
        self.models = QLineEdit()
        form = QFormLayout()
        for text, widget in (
            ("Name", self.name),
            ("Kind", self.kind),
            ("School", self.locations),
            ("Grades", self.grades),
            ("Roles", self.roles),
            ("Devices at", self.devices_at),
            ("Models", self.models),
        ):
            form.addRow(text, widget)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = label("", "detail")
        buttons = self._buttons("Prepare (Enter)", "Close (Esc)", on_confirm=self.on_enter)
        layout = QVBoxLayout(self)
        layout.addWidget(label("Prepare an event", "confirmSentence"))
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.setMinimumWidth(900)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def done(self, result: int) -> None:
        """Closed while preparing (Esc, the idle reset): the prepare stops; the pages it
        stored stay, and preparing the same event again goes on from there."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().done(result)

    def scope(self) -> EventScope:
        def words(field: QLineEdit) -> tuple[str, ...]:
            return tuple(w.strip() for w in field.text().split(",") if w.strip())

        return EventScope(
            locations=words(self.locations),
            grades=words(self.grades),
            roles=words(self.roles),
            devices_at=self.devices_at.text().strip() or None,
            models=words(self.models),
        )

    def on_enter(self) -> None:
        if not self.armed or self.busy:
            return
        if self.prepared is not None:
            self.accept()  # "Run it now"
            return
        name = self.name.text().strip()
        kind = EventKind(self.kind.currentData())  # Qt hands the enum back as its text
        scope = self.scope()
        if not name:
            self.status.setText("Give the event a name.")
            return
        if kind is EventKind.COLLECT and scope.devices_at:
            self.status.setText("“Devices at” is for hand-outs and audits.")
            return
        if kind is not EventKind.COLLECT and not scope.devices_at:
            self.status.setText("Say where the devices are: “Devices at”.")
            return
        self._task = asyncio.ensure_future(self._run(name, kind, scope))

    async def _run(self, name: str, kind: EventKind, scope: EventScope) -> None:
        self.confirm_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText("Reading people and devices from Incident IQ…")

        def on_page(where: PrepareProgress) -> None:
            if where.total:
                self.progress.setRange(0, where.total)
                self.progress.setValue(min(where.rows, where.total))
            self.status.setText(f"{where.pages} pages read, {where.rows} rows.")

        try:
            message = await self._prepare(name, kind, scope, on_page)
        except (UnknownNameError, EventError) as exc:
            self.status.setText(f"{exc} Nothing was read.")
            self.progress.setVisible(False)
            return
        except IIQError as exc:
            self.status.setText(f"{exc} Prepare again to go on from where it stopped.")
            self.progress.setVisible(False)
            return
        except Exception:
            log.exception("preparing an event failed")
            self.status.setText("The event could not be prepared: see the log.")
            self.progress.setVisible(False)
            return
        finally:
            if isValid(self):  # not when the dialog went meanwhile
                self.confirm_button.setEnabled(True)
        self.prepared = name
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.status.setText(message)
        self.confirm_button.setText("Run it now (Enter)")
