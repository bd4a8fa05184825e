"""Render every screen of the demo to PNG files, for looking at them without a kiosk.

    python -m kiosk.tools.screens OUTDIR [--size 1920x1080]

Drives the real window and shell against an in-process simulator (as demo mode does),
waits on the qasync loop for each state and saves `NN-name.png`. Dialogs are drawn over
the window they belong to. Renders offscreen when there is no display, on a screen of
`--size` (Qt's offscreen screen is 800x800 otherwise, and dialogs are sized against the
screen). Prints the files.

The wiring (`open_kiosk`, `run_qt`, `wait_until`, `scan`) is also what `bench/` uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import qasync
from PySide6.QtCore import QMessageLogContext, QPoint, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from kiosk.config import Settings
from kiosk.core.transactions import TransactionService
from kiosk.demo import DEMO_CART
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.resources import resource_path
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.main_window import MainWindow
from kiosk.ui.shell import KioskShell, open_shell
from kiosk.ui.sound import SoundPlayer
from kiosk.wiring import Services, build_services

T = TypeVar("T")

# --- wiring: a kiosk window + shell + the real services against a simulator --------------


class SimulatorLike(Protocol):
    """What the wiring needs of a simulator: a `Simulator`, or one in another process."""

    @property
    def url(self) -> str: ...
    @property
    def site_id(self) -> str: ...
    @property
    def token(self) -> str: ...


@dataclass
class Kiosk:
    sim: SimulatorLike
    services: Services
    window: MainWindow
    controller: KioskShell
    sounds: SoundPlayer
    extra_clients: list[IIQClient] = field(default_factory=list)
    folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def client(self) -> IIQClient:
        return self.services.client

    @property
    def service(self) -> TransactionService:
        return self.services.transactions

    async def aclose(self) -> None:
        self.controller.shutdown()
        await self.services.aclose()
        for client in self.extra_clients:
            await client.aclose()
        self.window.hide()
        self.window.deleteLater()
        if self.folder is not None:
            self.folder.cleanup()


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    # The offscreen platform says so for every window it cannot resize by hints or raise.
    if not message.startswith("This plugin does not support"):
        print(message, file=sys.stderr)


def run_qt(main: Callable[[], Coroutine[Any, Any, T]], *, stylesheet: bool = True) -> T:
    """Create the QApplication (with the kiosk's style sheet) and run `main()` on a qasync
    loop until it returns."""
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    if stylesheet:
        app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    result: T = qasync.run(main())
    return result


async def open_kiosk(
    sim: SimulatorLike,
    *,
    size: tuple[int, int] = (1280, 800),
    station: str = "DEMO-1",
    examples: bool = True,
    settings: dict[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    token: str | None = None,
    **shell_options: Any,
) -> Kiosk:
    """Build a kiosk the way `kiosk.app` does (`build_services` + `open_shell`), with its
    journal in a temporary folder that goes when it closes, show it and wait until it has
    the keyboard focus (call it on the running qasync loop). `settings` are config
    sections; `shell_options` are FlowOptions fields (guard_ms, debounce_ms...) or
    KioskShell options."""
    from kiosk.app import demo_examples
    from kiosk.demo import demo_overrides

    folder = tempfile.TemporaryDirectory(prefix="iiq-kiosk-")
    data: dict[str, Any] = demo_overrides(sim) | {"station": {"name": station}}  # type: ignore[arg-type]
    for section, values in (settings or {}).items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    config = Settings.model_validate({**data, "data_dir": folder.name})
    services = await build_services(
        config, token or sim.token, retry=retry or RetryPolicy(attempts=2, base_delay=0.05)
    )
    window = MainWindow(station=station, demo=True)
    sounds = SoundPlayer(muted=True)
    shell = open_shell(
        window, services, sounds, examples=demo_examples() if examples else None, **shell_options
    )
    services.start()
    window.resize(*size)
    window.show()
    window.activateWindow()
    kiosk = Kiosk(sim, services, window, shell, sounds, folder=folder)
    handle = window.windowHandle()
    await wait_until(
        lambda: window.isActiveWindow() and handle is not None and handle.isExposed(),
        what="the window to be shown and active",
    )
    shell.connected()
    shell.reset_to_ready()
    return kiosk


async def wait_until(
    predicate: Callable[[], object], *, what: str = "a state", limit_s: float = 10.0
) -> None:
    """Let the loop run (Qt events and asyncio) until `predicate()` is true; TimeoutError
    after `limit_s` seconds."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {limit_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.005)


async def activate(window: QWidget) -> None:
    """Give `window` the keyboard again and wait until it has it."""
    window.activateWindow()
    await wait_until(window.isActiveWindow, what="the window to become active")


def key_target(window: QWidget) -> QWidget:
    """Where a keyboard would deliver keys now."""
    focus = QApplication.focusWidget()
    return focus if focus is not None else window


def scan(window: QWidget, text: str, *, enter: bool = True) -> None:
    """A scanner burst: the characters with no delay, then Enter, into the focused widget."""
    target = key_target(window)
    QTest.keyClicks(target, text)
    if enter:
        QTest.keyClick(target, Qt.Key.Key_Return)


def compose(window: QWidget, dialog: QDialog | None = None) -> QPixmap:
    """The window as shown, with `dialog` (if any) drawn on top where it sits."""
    shot = window.grab()
    if dialog is None or not dialog.isVisible():
        return shot
    over = dialog.grab()
    top_left = dialog.mapToGlobal(QPoint(0, 0)) - window.mapToGlobal(QPoint(0, 0))
    x, y = top_left.x(), top_left.y()
    if x < 0 or y < 0 or x + over.width() > shot.width() or y + over.height() > shot.height():
        x = max(0, (shot.width() - over.width()) // 2)
        y = max(0, (shot.height() - over.height()) // 2)
    painter = QPainter(shot)
    painter.fillRect(shot.rect(), QColor(0, 0, 0, 70))  # a modal dialog: the rest is inactive
    painter.drawPixmap(x, y, over)
    painter.setPen(QPen(QColor("#111111"), 3))
    painter.drawRect(x, y, over.width() - 1, over.height() - 1)
    painter.end()
    return shot


# --- the screens --------------------------------------------------------------------------


class Shooter:
    def __init__(self, kiosk: Kiosk, sim: Simulator, outdir: Path) -> None:
        self.k = kiosk
        self.sim = sim
        self.outdir = outdir
        self.files: list[Path] = []

    @property
    def window(self) -> MainWindow:
        return self.k.window

    @property
    def controller(self) -> KioskShell:
        return self.k.controller

    async def settle(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0.02)
            QApplication.processEvents()

    async def shoot(self, name: str, dialog: QDialog | None = None) -> None:
        await self.settle()
        path = self.outdir / f"{len(self.files) + 1:02d}-{name}.png"
        if not compose(self.window, dialog).save(str(path)):
            raise OSError(f"could not write {path}")
        self.files.append(path)

    async def fresh(self) -> None:
        """Back to Ready with pristine data, no toast left over, the window active again
        (a closed dialog leaves no active window on the offscreen platform)."""
        self.sim.reset()
        self.controller.reset_to_ready()
        self.window.toast.setVisible(False)
        await activate(self.window)

    async def device(self, tag: str) -> None:
        scan(self.window, tag)
        card = self.window.device.card
        await wait_until(
            lambda: (
                self.window.stack.currentWidget() is self.window.device and card.tag.text() == tag
            ),
            what=f"the card of {tag}",
        )

    async def dialog(self) -> QDialog:
        await wait_until(
            lambda: self.controller.dialog is not None and self.controller.dialog.isVisible(),
            what="a dialog",
        )
        dialog = self.controller.dialog
        assert dialog is not None
        return dialog

    async def lines(self, count: int) -> None:
        panel = self.window.panel
        await wait_until(lambda: len(panel.lines()) == count, what=f"{count} lines")

    async def result(self, kind: str) -> None:
        result = self.window.result
        await wait_until(
            lambda: self.window.stack.currentWidget() is result and result.kind == kind,
            what=f"a {kind} screen",
        )

    async def run(self) -> list[Path]:
        window, controller, sim = self.window, self.controller, self.sim
        device = window.device

        await self.fresh()
        await self.shoot("ready")

        await self.device(DEMO.free_tag)
        await self.shoot("device-free")

        await self.fresh()
        await self.device(DEMO.assigned_tag)
        await self.shoot("device-assigned")

        # Type-ahead: a person typing (not a scanner burst), so the scanner filter is off.
        await self.fresh()
        await self.device(DEMO.free_tag)
        controller.router.scanner.setEnabled(False)
        QTest.keyClicks(device.person_input, DEMO.shared_name)
        controller.router.scanner.setEnabled(True)
        await wait_until(lambda: device.results.count() > 0, what="type-ahead results")
        await self.shoot("person-typeahead")

        scan(window, DEMO.student_id)
        dialog = await self.dialog()
        await self.shoot("confirm-give", dialog)
        dialog.reject()

        await self.fresh()
        await self.device(DEMO.assigned_tag)
        scan(window, holder_with_a_device(sim))
        dialog = await self.dialog()
        await self.shoot("confirm-transfer-warning", dialog)
        dialog.reject()

        await self.fresh()
        scan(window, DEMO.duplicate_tag)
        dialog = await self.dialog()
        await self.shoot("duplicate-picker", dialog)
        dialog.reject()

        await self.fresh()
        await self.device(DEMO.free_tag)
        scan(window, DEMO.student_id)
        (await self.dialog()).accept()
        await self.result("success")
        await self.shoot("success")

        await self.fresh()
        await self.device(DEMO.free_tag)
        scan(window, DEMO.student_id)
        dialog = await self.dialog()
        sim.faults.add(Fault("status", method="POST", status=503, times=None))
        dialog.accept()
        await self.result("queued")
        await self.shoot("queued")
        sim.faults.clear()

        await self.fresh()
        scan(window, DEMO.unknown_tag)
        await self.result("error")
        await self.shoot("error-unknown-tag")

        await self.fresh()
        sim.faults.add(Fault("status", status=401, path_contains="/assets/", times=1))
        scan(window, DEMO.free_tag)
        await self.result("error")
        await self.shoot("error-401")
        sim.faults.clear()

        await self.fresh()
        await self.device(DEMO.free_tag)
        scan(window, DEMO.inactive_id)
        await self.result("error")
        await self.shoot("refused-inactive")

        await self.fresh()
        QTest.keyClick(key_target(window), Qt.Key.Key_F3)
        await wait_until(lambda: controller.mode == "lookup", what="look-up mode (F3)")
        await self.device(DEMO.assigned_tag)
        await wait_until(lambda: device.activity.count() > 0, what="recent activity")
        await self.shoot("lookup-activity")

        # Check-in: the checklist dialog, marked damaged, with a note.
        QTest.keyClick(key_target(window), Qt.Key.Key_F2)
        await wait_until(lambda: controller.mode == "checkin", what="check-in mode (F2)")
        await self.shoot("checkin-ready")
        scan(window, DEMO.assigned_tag)
        dialog = await self.dialog()
        QTest.keyClick(dialog, Qt.Key.Key_2)
        QTest.keyClick(dialog, Qt.Key.Key_C)
        await self.shoot("checkin-dialog-damaged", dialog)
        dialog.accept()
        await self.result("success")
        await self.shoot("checkin-done-ticket")

        # A cart batch: three devices into a cart, the second one damaged.
        await self.fresh()
        scan(window, DEMO_CART)
        await wait_until(lambda: window.stack.currentWidget() is window.panel, what="the cart")
        for n, tag in enumerate(assigned_tags(sim, 3)):
            if n == 1:  # a person presses 2, then scans a moment later
                QTest.keyClick(window.panel.input, Qt.Key.Key_2)
                await wait_until(lambda: window.panel.marker.isVisible(), what="the marker")
            scan(window, tag)
            await self.lines(n + 1)
        await self.shoot("cart-batch-running")
        QTest.keyClick(key_target(window), Qt.Key.Key_Escape)
        await self.result("success")
        await self.shoot("cart-batch-summary")
        await activate(window)

        # Batch check-out: the person first, then devices.
        QTest.keyClick(key_target(window), Qt.Key.Key_F4)
        await wait_until(lambda: controller.mode == "batch", what="batch mode (F4)")
        await self.fresh()
        scan(window, DEMO.student_id)
        dialog = await self.dialog()
        await self.shoot("batch-target", dialog)
        dialog.accept()
        await wait_until(lambda: window.stack.currentWidget() is window.panel, what="the batch")
        for n, tag in enumerate(free_tags(sim, 3)):
            scan(window, tag)
            await self.lines(n + 1)
        await self.shoot("batch-running")
        QTest.keyClick(key_target(window), Qt.Key.Key_Escape)
        await self.result("success")
        await self.shoot("batch-summary")

        # Distribution line: the student first.
        QTest.keyClick(key_target(window), Qt.Key.Key_F5)
        await wait_until(lambda: controller.mode == "line", what="line mode (F5)")
        await self.fresh()
        scan(window, DEMO.student_id)
        await wait_until(lambda: window.stack.currentWidget() is window.panel, what="the person")
        await self.shoot("line-person")
        scan(window, DEMO.free_tag)
        dialog = await self.dialog()
        dialog.accept()
        await self.result("success")

        # Undo the last change.
        QTest.keyClick(key_target(window), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        dialog = await self.dialog()
        await self.shoot("undo-question", dialog)
        dialog.accept()
        await self.result("success")
        await self.shoot("undo-done")

        # Idle reset: from a half-done check-out (a list of people on screen) after a short
        # idle time instead of a minute.
        QTest.keyClick(key_target(window), Qt.Key.Key_F1)
        await wait_until(lambda: controller.mode == "checkout", what="check-out mode (F1)")
        await self.fresh()
        await self.device(DEMO.free_tag)
        scan(window, DEMO.shared_name.split()[0] + "X")  # a burst that finds nobody exactly
        await wait_until(
            lambda: window.stack.currentWidget() is window.result or device.results.count(),
            what="the person step",
        )
        controller.idle.timer.setInterval(300)
        controller.idle.timer.start()
        await wait_until(
            lambda: (
                window.stack.currentWidget() is window.ready
                and not device.card.tag.text()
                and window.session_list.count() == 0
            ),
            what="the idle reset",
        )
        controller.idle.timer.setInterval(60_000)
        controller.idle.timer.start()
        await self.shoot("idle-reset-ready")

        # The connection check as `kiosk.app` runs it, against an address nobody serves.
        from kiosk.app import _connect

        offline = IIQClient(
            Connection(site_url="http://127.0.0.1:9", site_id=sim.site_id, token=sim.token),
            retry=RetryPolicy(attempts=1),
        )
        self.k.extra_clients.append(offline)
        checking = asyncio.ensure_future(_connect(offline, controller))
        try:
            await wait_until(
                lambda: window.stack.currentWidget() is window.notice, what="the notice"
            )
            await self.shoot("connection-problem")
        finally:
            checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checking
        return self.files


def assigned_tags(sim: Simulator, count: int) -> list[str]:
    """Tags of devices that have an owner (not the demo's own), for a cart batch."""
    with sim.state.lock:
        tags = sorted(
            a["AssetTag"]
            for a in sim.state.assets.values()
            if a["OwnerId"] and not a["IsDeleted"] and a["AssetTag"] != DEMO.assigned_tag
        )
    return tags[:count]


def free_tags(sim: Simulator, count: int) -> list[str]:
    """Tags of devices nobody holds that may go out as they are (status "Available"), for
    a batch check-out."""
    with sim.state.lock:
        available = {
            sid for sid, status in sim.state.status_types.items() if status["Name"] == "Available"
        }
        tags = sorted(
            a["AssetTag"]
            for a in sim.state.assets.values()
            if not a["OwnerId"]
            and not a["IsDeleted"]
            and a["AssetTag"]
            and a["AssetTag"] != DEMO.free_tag
            and a["StatusTypeId"] in available
            and len(sim.state.asset_by_tag(a["AssetTag"])) == 1
        )
    return tags[:count]


def holder_with_a_device(sim: Simulator) -> str:
    """School ID of an active person (not the assigned device's owner) who holds a device."""
    state = sim.state
    with state.lock:
        owners = {a["OwnerId"] for a in state.assets.values() if a["OwnerId"]}
        for user_id in (*DEMO.shared_name_user_ids, *sorted(owners)):
            user = state.users.get(user_id)
            if (
                user_id in owners
                and user is not None
                and user["IsActive"]
                and user["SchoolIdNumber"]
                and user_id != DEMO.assigned_owner_id
            ):
                return str(user["SchoolIdNumber"])
    raise RuntimeError("the simulated district has nobody who holds a device")


def offscreen_screen(size: tuple[int, int], folder: Path) -> None:
    """On the offscreen platform, make the (only) screen `size` instead of Qt's 800x800:
    top-level windows and dialogs are placed and clamped against it, as on a real screen."""
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    config = folder / "offscreen.json"
    screen = {"name": "kiosk", "x": 0, "y": 0, "width": size[0], "height": size[1]}
    screen |= {"logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}
    config.write_text(json.dumps({"windowFrameMargins": False, "screens": [screen]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1080, not {text!r}") from None
    if width < 320 or height < 240:
        raise argparse.ArgumentTypeError("size must be at least 320x240")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.tools.screens", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--size", type=parse_size, default=(1920, 1080), help="WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)

    async def shoot_all() -> list[Path]:
        kiosk = await open_kiosk(
            sim,
            size=args.size,
            settings={
                "scanner": {"double_scan_seconds": 0},
            },
            guard_ms=0,
            debounce_ms=150,
        )
        try:
            return await Shooter(kiosk, sim, args.outdir).run()
        finally:
            await kiosk.aclose()

    logging.basicConfig(level=logging.ERROR)  # the simulated failures log warnings
    with tempfile.TemporaryDirectory() as tmp, Simulator() as sim:
        offscreen_screen(args.size, Path(tmp))
        files = run_qt(shoot_all)
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
