"""The station's admin: F12, the admin PIN, and what only an admin may do.

With an admin PIN set (`[admin] pin_hash`, written by the setup as a salted scrypt hash),
the fullscreen kiosk is locked down: no frame, on top, and closing it (Alt+F4, the window's
close) asks for the PIN instead. F12 asks for the PIN and then offers: the settings, the
self-check ("Test connection"), leaving or returning to fullscreen, unlocking the modes of
a station locked to one (until the next idle reset), and quitting. Wrong PINs slow down
after three tries, and the count survives a restart (`kiosk.core.pin.PinGate`).

Without a PIN nothing is locked: F12 opens the admin's choices at once, the window closes
as any window does, and the log says that the station is not locked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget
from shiboken6 import isValid

from kiosk.core.pin import PIN_MAX_DIGITS, PinCheck, PinGate
from kiosk.ui.dialogs import GUARD_MS, GuardedDialog
from kiosk.ui.main_window import MODE_TITLES, MainWindow
from kiosk.ui.screens import FINISH_FIRST
from kiosk.ui.views import label

if TYPE_CHECKING:
    from kiosk.core.audit import EventKind
    from kiosk.core.events import EventScope, PrepareProgress
    from kiosk.ui.shell import KioskShell
    from kiosk.wiring import Services

log = logging.getLogger(__name__)

ADMIN_KEY = Qt.Key.Key_F12
PIN_STATE_FILE = "admin-pin-tries.json"


class PinDialog(GuardedDialog):
    """ "Admin PIN to quit the kiosk": the PIN field, what a wrong try means, OK / Cancel.
    The PIN is checked off the window's thread (scrypt takes a moment)."""

    def __init__(
        self, parent: QWidget | None, gate: PinGate, reason: str, *, guard_ms: int = GUARD_MS
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Admin PIN")
        self._gate = gate
        self._checking = False
        self._task: asyncio.Task[None] | None = None
        self.sentence = label(f"Admin PIN {reason}", "confirmSentence")
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setObjectName("pinField")
        self.field.setMaxLength(PIN_MAX_DIGITS)
        self.message = label("", "detail")
        waiting = gate.wait_s()
        if waiting > 0:
            self.message.setText(PinCheck("wait", waiting).message)
        buttons = self._buttons("OK (Enter)", on_confirm=self.on_enter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addWidget(self.field)
        layout.addWidget(self.message)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        self.setMinimumWidth(640)

    @property
    def checking(self) -> bool:
        """A PIN is being checked (Enter meanwhile does nothing)."""
        return self._checking

    def open(self) -> None:
        super().open()
        self.field.setFocus()

    def on_enter(self) -> None:
        if not self.armed or self._checking:
            return
        pin, self._checking = self.field.text(), True
        self.field.clear()
        self._task = asyncio.ensure_future(self._check(pin))

    async def _check(self, pin: str) -> None:
        try:
            result = await asyncio.to_thread(self._gate.check, pin)  # scrypt takes a moment
        finally:
            self._checking = False
        if not isValid(self) or not self.isVisible():
            return  # closed meanwhile (Esc, the idle reset): nothing to answer
        if result.ok:
            self.accept()
            return
        self.message.setText(result.message)
        self.field.setFocus()


class AdminDialog(GuardedDialog):
    """The admin's choices, one button each; `choice` is the one taken (None: closed)."""

    def __init__(
        self, parent: QWidget | None, choices: list[tuple[str, str]], *, guard_ms: int = GUARD_MS
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Admin")
        self.choice: str | None = None
        self.buttons: dict[str, QPushButton] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(label("Admin", "confirmSentence"))
        for key, text in choices:
            button = self._big_button(text, "secondary")
            button.clicked.connect(lambda _=False, k=key: self._choose(k))
            self.buttons[key] = button
            layout.addWidget(button)
        close = self._big_button("Close (Esc)", "primary")
        close.clicked.connect(self.reject)
        layout.addSpacing(16)
        layout.addWidget(close)
        self.setMinimumWidth(640)

    def _choose(self, key: str) -> None:
        self.choice = key
        self.accept()

    def on_enter(self) -> None:  # Enter decides nothing here: each choice is a button
        return


class ReportDialog(GuardedDialog):
    """A long text to read (the self-check's report), and Close."""

    def __init__(
        self, parent: QWidget | None, title: str, text: str, *, guard_ms: int = GUARD_MS
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle(title)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setMinimumHeight(420)
        close = self._big_button("Close (Enter)", "primary")
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(label(title, "confirmSentence"))
        layout.addWidget(self.text, 1)
        layout.addWidget(close)
        self.setMinimumWidth(900)


class StationAdmin(QObject):
    """F12, the PIN and the lock-down of one station (see the module)."""

    def __init__(
        self,
        window: MainWindow,
        shell: KioskShell,
        services: Services,
        *,
        fullscreen: bool,
        on_settings_saved: Callable[[], None],
        quit_kiosk: Callable[[], None],
        on_run_event: Callable[[str | None], None] | None = None,
        running_event: str | None = None,
        guard_ms: int = GUARD_MS,
    ) -> None:
        """`on_run_event(name)`: start the station again on that event (None: on none);
        `running_event`: the event this station runs now."""
        super().__init__(window)
        self.window = window
        self.shell = shell
        self.services = services
        self.settings = services.settings
        self.fullscreen = fullscreen
        self._on_settings_saved = on_settings_saved
        self._on_run_event = on_run_event
        self.running_event = running_event
        self._quit = quit_kiosk
        self._guard_ms = guard_ms
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        pin_hash = self.settings.admin.pin_hash
        state = Path(self.settings.data_dir) / PIN_STATE_FILE
        self.gate: PinGate | None = PinGate(pin_hash, state) if pin_hash else None
        if self.gate is None and fullscreen:
            log.warning("no admin PIN is set: this station is not locked down")
        self.shortcut = QShortcut(QKeySequence(ADMIN_KEY), window)
        self.shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.shortcut.activated.connect(lambda: self._start(self.open_admin()))
        window.add_key_hint(ADMIN_KEY, "Admin")
        window.close_guard = self.may_close
        window.set_locked(self.locked)

    @property
    def locked(self) -> bool:
        return self.settings.locks_down(self.fullscreen)

    def remove(self) -> None:
        self.shortcut.setEnabled(False)
        self.shortcut.deleteLater()
        self.window.close_guard = None

    # --- closing ----------------------------------------------------------------------

    def may_close(self) -> bool:
        """The window asks before it closes: yes unless locked; then the PIN decides."""
        if not self.locked:
            return True
        if self.shell.screens.dialog is not None:
            self.shell.screens.toast(FINISH_FIRST)
            return False
        self._start(self._close_with_pin())
        return False

    async def _close_with_pin(self) -> None:
        if await self.ask_pin("to quit the kiosk"):
            self.quit()

    def quit(self) -> None:
        log.info("the admin quits the kiosk")
        self.window.close_guard = None
        self._quit()

    # --- the PIN and the choices --------------------------------------------------------

    async def ask_pin(self, reason: str) -> bool:
        """True when there is no PIN, or the right one was typed."""
        if self.gate is None:
            return True
        dialog = PinDialog(self.window, self.gate, reason, guard_ms=self._guard_ms)
        return await self.shell.screens.ask(dialog)

    def choices(self) -> list[tuple[str, str]]:
        out = [("settings", "Settings…"), ("doctor", "Test connection (self-check)")]
        if self._on_run_event is not None:
            out.append(("events", "Events… (run or prepare one)"))
        if self.shell.mode_lock:
            title = MODE_TITLES[self.shell.mode_lock].capitalize()
            out.append(("unlock", f"Allow every mode (this station is set to {title})"))
        out.append(("fullscreen", "Leave fullscreen" if self.fullscreen else "Back to fullscreen"))
        out.append(("quit", "Quit the kiosk"))
        return out

    async def open_admin(self) -> None:
        if self.shell.screens.dialog is not None:
            self.shell.screens.toast(FINISH_FIRST)
            return
        if not await self.ask_pin("for the admin's choices"):
            return
        dialog = AdminDialog(self.window, self.choices(), guard_ms=self._guard_ms)
        if not await self.shell.screens.ask(dialog) or dialog.choice is None:
            return
        log.info("admin: %s", dialog.choice)
        if dialog.choice == "settings":
            await self.open_settings()
        elif dialog.choice == "doctor":
            await self.run_doctor()
        elif dialog.choice == "events":
            await self.open_events()
        elif dialog.choice == "unlock":
            self.shell.unlock_modes()
        elif dialog.choice == "fullscreen":
            self.set_fullscreen(not self.fullscreen)
        elif dialog.choice == "quit":
            self.quit()

    def set_fullscreen(self, fullscreen: bool) -> None:
        self.fullscreen = fullscreen
        self.window.set_locked(self.locked)
        if fullscreen:
            self.window.showFullScreen()
        else:
            self.window.showNormal()
            self.window.resize(1280, 800)

    async def open_settings(self) -> None:
        from kiosk.config import ConfigError, user_settings_path, write_user_settings
        from kiosk.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.window, self.settings, scanner=self.shell.router.scanner, guard_ms=self._guard_ms
        )
        if not await self.shell.screens.ask(dialog):
            return
        changes = dialog.changes()
        if not changes:
            self.shell.screens.toast("Nothing was changed.")
            return
        try:
            path = await asyncio.to_thread(
                write_user_settings, user_settings_path(self.settings), changes
            )
        except ConfigError as exc:
            self.shell.screens.toast(str(exc), "error")
            return
        log.info("settings saved to %s: %s", path, ", ".join(sorted(changes)))
        self._on_settings_saved()

    async def open_events(self) -> None:
        """The events prepared here: run one, stop running one, or prepare a new one."""
        from kiosk.core.events import list_packs
        from kiosk.ui.events_dialog import EventsDialog, PrepareEventDialog

        packs = await asyncio.to_thread(list_packs, Path(self.settings.data_dir))
        dialog = EventsDialog(
            self.window, packs, running=self.running_event, guard_ms=self._guard_ms
        )
        if not await self.shell.screens.ask(dialog) or self._on_run_event is None:
            return
        if dialog.choice == "run" and dialog.chosen is not None:
            log.info("admin: run an event")
            self._on_run_event(dialog.chosen)
        elif dialog.choice == "stop":
            log.info("admin: stop running the event")
            self._on_run_event(None)
        elif dialog.choice == "prepare":
            preparing = PrepareEventDialog(self.window, self._prepare, guard_ms=self._guard_ms)
            if await self.shell.screens.ask(preparing) and preparing.prepared is not None:
                self._on_run_event(preparing.prepared)

    async def _prepare(
        self,
        name: str,
        kind: EventKind,
        scope: EventScope,
        progress: Callable[[PrepareProgress], None],
    ) -> str:
        """As `iiq-kiosk event prepare` does: the pack of `name`, from paged queries."""
        from kiosk.core.events import pack_path, prepare

        settings = self.settings
        pack = await prepare(
            self.services.client,
            pack_path(Path(settings.data_dir), name),
            name,
            kind,
            scope,
            station=settings.station.name,
            carts=settings.cart_targets(),
            progress=progress,
            min_interval_s=settings.events.min_interval_s,
        )
        with pack:
            people, devices = pack.counts()
        log.info("event pack %s prepared: %d people, %d devices", pack.path.name, people, devices)
        return f"“{name}” is prepared: {people} people, {devices} devices. Run it now?"

    async def run_doctor(self) -> None:
        from kiosk.core.doctor import run_doctor

        self.shell.screens.toast("Running the self-check (read-only)…")
        report = await run_doctor(self.services.client, self.settings)
        dialog = ReportDialog(
            self.window, "Self-check", report.render(who=True), guard_ms=self._guard_ms
        )
        await self.shell.screens.ask(dialog)

    def _start(self, work: Any) -> None:
        """Run one admin step at a time (a second F12 while one is open does nothing)."""
        if self._busy:
            work.close()
            return
        self._busy = True

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("admin step failed")
                if isValid(self.window):  # not when the window went meanwhile
                    self.shell.screens.toast("That did not work: see the log.", "error")
            finally:
                self._busy = False

        self._task = asyncio.ensure_future(run())
