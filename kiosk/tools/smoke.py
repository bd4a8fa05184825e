"""Smoke mode: `iiq-kiosk --demo --smoke`, a check of every build (the PyInstaller bundle too).

The real kiosk starts (the composition root of `iiq-kiosk --demo`, windowed, offscreen on
Linux without a display) and, once it is ready to scan, this drives it through the window
with the keys a person presses: a check-out (F1, the demo's free tag and Enter as a scanner
burst, the student's ID and Enter, half a second for the dialog's guard, Enter), then a
check-in (F2, the demo's assigned tag and Enter, the guard, Enter). Each step is checked on
the screen (the result's kind and title) and in the in-process simulator (the owner changed,
then removed). One line is printed per step, then `smoke: passed` (exit 0), or
`smoke: FAILED: <what>` (exit 1) at the first failure or after `SMOKE_TIMEOUT_S` in all.

Importing this module does nothing; `kiosk.app.run_gui(smoke=True)` calls into it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDialog, QWidget

    from kiosk.config import Settings
    from kiosk.simulator import Simulator
    from kiosk.ui.main_window import MainWindow
    from kiosk.ui.shell import KioskShell

log = logging.getLogger(__name__)

#: The whole run, from the connection check to the last step.
SMOKE_TIMEOUT_S = 60.0
#: How long a window may take to get the keyboard (on a desktop another window may keep it).
FOCUS_TIMEOUT_S = 5.0
POLL_S = 0.005


class SmokeError(Exception):
    """A step did not end as it should: the message says what was seen instead."""


def use_offscreen_without_display() -> None:
    """On Linux with no display (and no platform chosen), render offscreen. Call it before
    the QApplication exists. Windows and macOS keep their own platform."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(_qt_message)


def _qt_message(kind: Any, context: Any, message: str) -> None:
    # The offscreen platform says so for every window it cannot resize by hints or raise.
    if not message.startswith("This plugin does not support"):
        print(message, file=sys.stderr)


def smoke_settings(settings: Settings) -> tuple[Settings, tempfile.TemporaryDirectory[str]]:
    """`settings` with a temporary data folder (journal and logs), which the caller cleans
    up: a smoke run leaves the demo's journal alone, and runs beside an open demo kiosk."""
    folder = tempfile.TemporaryDirectory(prefix="iiq-kiosk-smoke-", ignore_cleanup_errors=True)
    return settings.model_copy(update={"data_dir": Path(folder.name)}), folder


def remove_folder(folder: tempfile.TemporaryDirectory[str]) -> None:
    """Close the log file in `folder` (Windows cannot delete an open file), then delete it."""
    root = logging.getLogger()
    inside = str(Path(folder.name).resolve())
    for handler in list(root.handlers):
        filename = getattr(handler, "baseFilename", None)
        if filename and str(Path(filename).resolve()).startswith(inside):
            root.removeHandler(handler)
            handler.close()
    folder.cleanup()


def say(line: str) -> None:
    """Print a line at once (a windowed build has no stdout: then only the exit code)."""
    log.info("%s", line)
    if sys.stdout is not None:
        print(line, flush=True)


def failed(what: str, out: Callable[[str], None] = say) -> int:
    out(f"smoke: FAILED: {what}")
    return 1


async def run_smoke(
    window: MainWindow,
    shell: KioskShell,
    sim: Simulator,
    ready: Awaitable[Any],
    *,
    limit_s: float = SMOKE_TIMEOUT_S,
    out: Callable[[str], None] = say,
) -> int:
    """Wait for `ready` (the connection check), run the steps; the exit code (0 or 1)."""
    smoke = _Smoke(window, shell, sim, out)
    try:
        async with asyncio.timeout(limit_s):
            await smoke.ready(ready)
            await smoke.check_out()
            await smoke.check_in()
    except TimeoutError:
        return failed(f"gave up after {limit_s:.0f} s waiting for {smoke.waiting_for}", out)
    except SmokeError as exc:
        return failed(str(exc), out)
    except Exception as exc:  # a smoke test reports whatever breaks, and exits 1
        log.exception("smoke run failed")
        return failed(f"{smoke.step}: {type(exc).__name__}: {exc}", out)
    out("smoke: passed")
    return 0


class _Smoke:
    def __init__(
        self, window: MainWindow, shell: KioskShell, sim: Simulator, out: Callable[[str], None]
    ) -> None:
        self.window = window
        self.shell = shell
        self.sim = sim
        self.out = out
        self.step = "start-up"
        self.waiting_for = "the kiosk to start"

    # --- the steps ---------------------------------------------------------------------

    async def ready(self, connected: Awaitable[Any]) -> None:
        started = time.monotonic()
        self.waiting_for = "the connection check (GET /login)"
        await connected
        window = self.window
        handle = window.windowHandle()
        await self.wait_until(
            lambda: window.isVisible() and handle is not None and handle.isExposed(),
            "the window to be shown",
        )
        await self.focus_window()
        await self.wait_until(lambda: self.shell.screens.page == "ready", "the Ready screen")
        self.out(f"smoke: ready to scan ({time.monotonic() - started:.2f} s)")

    async def check_out(self) -> None:
        from kiosk.simulator import DEMO

        self.step = f"check-out {DEMO.free_tag} -> {DEMO.student_name}"
        if self.owner(DEMO.free_asset_id) is not None:
            raise SmokeError(f"{self.step}: the demo's free device already has an owner")
        started = time.monotonic()
        await self.mode("F1", "checkout")
        await self.scan(DEMO.free_tag)
        card = self.window.device
        await self.wait_until(
            lambda: (
                self.window.stack.currentWidget() is card
                and card.card.tag.text() == DEMO.free_tag
                and card.person_input.hasFocus()
            ),
            f"the card of {DEMO.free_tag} asking for the person",
            result_ends_step=True,
        )
        await self.scan(DEMO.student_id)
        await self.confirm()
        await self.result(f"{DEMO.student_name} now has {DEMO.free_tag}")
        owner = self.owner(DEMO.free_asset_id)
        if owner != DEMO.student_user_id:
            raise SmokeError(
                f"{self.step}: the screen says done, but the simulator has owner {owner!r}"
            )
        self.out(f"smoke: {self.step}: done ({time.monotonic() - started:.2f} s)")

    async def check_in(self) -> None:
        from kiosk.simulator import DEMO

        self.step = f"check-in {DEMO.assigned_tag} from {DEMO.assigned_owner_name}"
        if self.owner(DEMO.assigned_asset_id) != DEMO.assigned_owner_id:
            raise SmokeError(
                f"{self.step}: the demo's assigned device is not {DEMO.assigned_owner_name}'s"
            )
        started = time.monotonic()
        await self.mode("F2", "checkin")
        await self.scan(DEMO.assigned_tag)
        await self.confirm()
        await self.result(f"{DEMO.assigned_tag} is checked in")
        owner = self.owner(DEMO.assigned_asset_id)
        if owner is not None:
            raise SmokeError(
                f"{self.step}: the screen says done, but the simulator still has owner {owner!r}"
            )
        self.out(f"smoke: {self.step}: done ({time.monotonic() - started:.2f} s)")

    # --- what a person does ------------------------------------------------------------

    async def mode(self, key_name: str, mode: str) -> None:
        from PySide6.QtCore import Qt

        await self.key(getattr(Qt.Key, f"Key_{key_name}"))
        await self.wait_until(
            lambda: self.shell.mode == mode and self.shell.screens.page == "ready",
            f"{mode} mode ({key_name}) on its Ready screen",
        )

    async def scan(self, text: str) -> None:
        """A scanner burst into whatever has the keyboard: the characters, then Enter."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        target = await self.key_target()
        QTest.keyClicks(target, text)
        QTest.keyClick(target, Qt.Key.Key_Return)

    async def key(self, key: Any) -> None:
        from PySide6.QtTest import QTest

        QTest.keyClick(await self.key_target(), key)

    async def confirm(self) -> None:
        """The confirm dialog: shown, holding the keyboard, its guard over; then Enter."""
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        dialog = await self.dialog()
        await self.wait_until(
            lambda: QApplication.activeWindow() is dialog,
            "the dialog to take the keyboard",
            limit_s=FOCUS_TIMEOUT_S,
        )
        await self.wait_until(lambda: getattr(dialog, "armed", True), "the dialog's guard")
        await self.key(Qt.Key.Key_Return)
        await self.wait_until(lambda: not dialog.isVisible(), "the dialog to close on Enter")

    async def dialog(self) -> QDialog:
        def shown() -> bool:
            dialog = self.shell.dialog
            return dialog is not None and dialog.isVisible()

        await self.wait_until(shown, "the confirm dialog", result_ends_step=True)
        dialog = self.shell.dialog
        assert dialog is not None
        return dialog

    async def result(self, title: str) -> None:
        result = self.window.result
        await self.wait_until(
            lambda: self.window.stack.currentWidget() is result, f"the result “{title}”"
        )
        shown = result.title.text()
        if result.kind != "success" or shown != title:
            message = result.message.text()
            raise SmokeError(
                f"{self.step}: expected a success screen “{title}”, got {result.kind or '?'} "
                f"“{shown}”" + (f" ({message})" if message else "")
            )

    # --- plumbing ------------------------------------------------------------------------

    async def key_target(self) -> QWidget:
        """Where a keyboard delivers keys now: the focused widget of the active window (a
        dialog while one is open). With no active window at all (the offscreen platform
        after a dialog closed), the kiosk window gets it back, as a window manager does."""
        from PySide6.QtWidgets import QApplication

        if QApplication.activeWindow() is None:
            await self.focus_window()
        active = QApplication.activeWindow()
        assert active is not None
        return active.focusWidget() or active

    async def focus_window(self) -> None:
        from PySide6.QtWidgets import QApplication

        self.window.activateWindow()
        await self.wait_until(
            lambda: QApplication.activeWindow() is not None,
            "the kiosk window to get the keyboard (does another window keep it?)",
            limit_s=FOCUS_TIMEOUT_S,
        )

    async def wait_until(
        self,
        predicate: Callable[[], object],
        what: str,
        *,
        result_ends_step: bool = False,
        limit_s: float | None = None,
    ) -> None:
        """Let the loop run until `predicate()` (the overall timeout applies; `limit_s`
        fails sooner); with `result_ends_step`, a result screen shown instead (a refusal,
        an error) fails the step at once, saying what it says."""
        self.waiting_for = f"{what} ({self.step})"
        result = self.window.result
        deadline = None if limit_s is None else time.monotonic() + limit_s
        while not predicate():
            if deadline is not None and time.monotonic() > deadline:
                raise SmokeError(f"{self.step}: gave up after {limit_s:.0f} s waiting for {what}")
            if result_ends_step and self.window.stack.currentWidget() is result:
                raise SmokeError(
                    f"{self.step}: waiting for {what}, the kiosk showed {result.kind} "
                    f"“{result.title.text()}”"
                )
            await asyncio.sleep(POLL_S)

    def owner(self, asset_id: str) -> str | None:
        """The device's owner in the simulator (None: nobody)."""
        state = self.sim.state
        with state.lock:
            owner = state.assets[asset_id]["OwnerId"]
        return str(owner) if owner else None
