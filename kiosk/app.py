"""The composition root: builds everything once, runs the qasync loop, shuts down cleanly.

Nothing else constructs clients, services or windows; each piece gets only what it needs.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kiosk.config import ConfigError, Settings, load_settings, resolve_token

if TYPE_CHECKING:  # asyncio is imported with the event loop, after the first window
    import asyncio

log = logging.getLogger("kiosk.app")

#: Set to 1 to quit as soon as the kiosk is ready to scan (start-up benchmark, smoke test).
EXIT_WHEN_READY = "IIQ_KIOSK_EXIT_WHEN_READY"
RECONNECT_SECONDS = 10.0


def demo_examples() -> list[str]:
    from kiosk.demo import DEMO_CART
    from kiosk.simulator import DEMO

    return [
        "Things to try (type one, then Enter):",
        f"{DEMO.free_tag}   a free Chromebook",
        f"{DEMO.assigned_tag}   one already assigned",
        f"{DEMO.duplicate_tag}   a tag on two devices",
        f"{DEMO.unknown_tag}   an unknown tag",
        f"then {DEMO.student_id} (Ana Ruiz), {DEMO.inactive_id} (inactive), "
        f"or a name: {DEMO.shared_name}",
        f"F2: {DEMO.assigned_tag} to check it in, or {DEMO_CART} for a cart · Ctrl+Z undoes",
    ]


def run_gui(
    *, demo: bool = False, windowed: bool = False, config: str | None = None, smoke: bool = False
) -> int:
    """Start the kiosk window. Returns the process exit code. `smoke` (demo only): check a
    device out and in through the window, then exit 0 or 1 (kiosk.tools.smoke).

    The window comes first: settings, Qt and the window's own widgets, shown and painted
    with every key pressed from then on held (`EarlyKeys`). The client, the journal, the
    flows and the connection check follow inside the event loop, and the held keys are
    handed to them as soon as they exist."""
    from PySide6.QtWidgets import QApplication

    from kiosk.logs import setup_logging

    if smoke:
        from kiosk.tools import smoke as smoke_mode

        if not demo:
            print("iiq-kiosk: --smoke runs only with --demo", file=sys.stderr)
            return 2
        smoke_mode.use_offscreen_without_display()
        windowed = True

    sim = None
    token: str | None = None
    try:
        if demo:
            from kiosk.demo import start_demo

            sim, settings, token = start_demo(config=config)
        else:
            settings = load_settings(config=config)
            token = resolve_token(settings)
    except ConfigError as exc:
        print(f"iiq-kiosk: {exc}", file=sys.stderr)
        return 2
    smoke_folder = None
    if smoke:
        settings, smoke_folder = smoke_mode.smoke_settings(settings)
    setup_logging(settings.data_dir, console=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("iiq-kiosk")
    app.setQuitOnLastWindowClosed(False)
    first = _first_window(app, settings, demo=demo, windowed=windowed)
    log.info("window shown")

    import qasync

    try:
        code: int = qasync.run(_main(app, first, settings, token, smoke=sim if smoke else None))
        return code
    finally:
        if sim is not None:
            sim.stop()
        if smoke_folder is not None:
            smoke_mode.remove_folder(smoke_folder)


class _FirstWindow:
    """The window as shown before the rest of the kiosk exists, and the keys it holds."""

    def __init__(self, window: Any, early: Any, windowed: bool, demo: bool) -> None:
        self.window = window
        self.early = early
        self.windowed = windowed
        self.demo = demo


def _first_window(app: Any, settings: Settings, *, demo: bool, windowed: bool) -> _FirstWindow:
    from kiosk.resources import resource_path
    from kiosk.ui.early_keys import EarlyKeys
    from kiosk.ui.main_window import MainWindow

    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    window = MainWindow(station=settings.station.name, demo=demo)
    early = EarlyKeys(window)
    windowed = windowed or not settings.station.fullscreen
    _show(window, windowed)
    app.processEvents()  # painted, and taking keys
    return _FirstWindow(window, early, windowed, demo)


async def _main(
    app: Any, first: _FirstWindow, settings: Settings, token: str | None, *, smoke: Any = None
) -> int:
    """`smoke`: the demo's simulator, to run the smoke check against (then exit)."""
    import asyncio

    from kiosk.core.journal import JournalError, JournalLockedError
    from kiosk.ui.shell import open_shell
    from kiosk.ui.sound import SoundPlayer
    from kiosk.wiring import build_services

    window = first.window
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)

    async def only_notice(title: str, message: str) -> int:
        """A station that cannot work says why, and nothing else, until it is closed."""
        first.early.release()
        if smoke is not None:
            from kiosk.tools.smoke import failed

            return failed(f"{title}: {message}")
        window.notice.show_notice(title, message)
        window.stack.setCurrentWidget(window.notice)
        await closed.wait()
        return 2

    try:
        settings.connection(token)
    except ConfigError as exc:
        return await only_notice("The kiosk is not set up yet", str(exc))
    try:
        services = await build_services(settings, token)
    except JournalLockedError:
        return await only_notice(
            "The kiosk is already running",
            "Another iiq-kiosk window on this computer uses the same journal. Use that one "
            "and close this window.",
        )
    except JournalError as exc:
        return await only_notice("The kiosk cannot open its journal", str(exc))
    sounds = SoundPlayer(muted=not settings.station.sound)
    shell = open_shell(window, services, sounds, examples=demo_examples() if first.demo else None)
    previous_hook = sys.excepthook

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        log.critical("unexpected error", exc_info=(kind, value, tb))
        shell.show_unexpected(value)

    sys.excepthook = excepthook
    first.early.release()
    # What start-up built lives as long as the kiosk: keep it out of the garbage collector's
    # full passes, which otherwise stall the window for 10-40 ms now and then.
    gc.freeze()

    services.start()
    connect = asyncio.ensure_future(_connect(services.client, shell))
    parsers = asyncio.ensure_future(_build_parsers_after(connect))
    code = 0
    try:
        if smoke is not None:
            from kiosk.tools.smoke import run_smoke

            code = await run_smoke(window, shell, smoke, connect)
            window.close()
        elif os.environ.get(EXIT_WHEN_READY) == "1":
            await connect
            app.processEvents()
            log.info("ready to scan; exiting as %s asks", EXIT_WHEN_READY)
            window.close()
        await closed.wait()
    finally:
        sys.excepthook = previous_hook
        for task in (connect, parsers):
            task.cancel()
        await asyncio.gather(connect, parsers, return_exceptions=True)
        shell.shutdown()
        await services.aclose()
    return code


async def _build_parsers_after(connected: asyncio.Future[None]) -> None:
    """Once the kiosk is ready, build the reply parsers it has not needed yet, one per turn
    of the event loop, so that the first scan does not build them."""
    import asyncio

    from kiosk.iiq.client import parsers_to_build

    await asyncio.shield(connected)
    for step in parsers_to_build():
        step()
        await asyncio.sleep(0)


def _show(window: Any, windowed: bool) -> None:
    if windowed:
        window.resize(1280, 800)
        window.show()
    else:
        window.showFullScreen()


async def _connect(client: Any, controller: Any) -> None:
    """Check the connection (GET /login); on failure say what is wrong and retry."""
    import asyncio
    import contextlib

    from kiosk.iiq.errors import IIQError

    retry_now = asyncio.Event()
    while True:
        try:
            who = await client.login()
        except IIQError as exc:
            log.warning("connection check failed: %s", exc.kind)
            controller.show_connection_problem(
                f"{exc} The kiosk tries again every {RECONNECT_SECONDS:.0f} seconds.",
                retry_now.set,
            )
            retry_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(retry_now.wait(), RECONNECT_SECONDS)
            continue
        log.info("connected to Incident IQ site %s", who.site_id)
        controller.connected()
        return
