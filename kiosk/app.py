"""The composition root: builds everything once, runs the qasync loop, shuts down cleanly.

Nothing else constructs clients, services or windows; each piece gets only what it needs.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path
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
    *,
    demo: bool = False,
    windowed: bool = False,
    config: str | None = None,
    smoke: bool = False,
    event: str | None = None,
) -> int:
    """Start the kiosk window; returns the process exit code. `smoke` (demo only): check a
    device out and in through the window, then exit 0 or 1 (kiosk.tools.smoke). `event`:
    run the prepared event of that name (`iiq-kiosk --event NAME`): its pack answers
    lookups first and its progress panel shows; a missing, expired or unfinished pack gets
    a screen that says so.

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
    instance = None
    if not smoke:
        from kiosk.ui.single_instance import claim

        # One kiosk per user (and data folder: a test or a second district's folder is
        # another kiosk); a second start brings the first one to the front instead.
        instance = claim(f"iiq-kiosk\0{Path(settings.data_dir).resolve()}")
        if instance is None:
            log.info("the kiosk already runs for this user: its window was brought forward")
            _say("iiq-kiosk is already running: its window was brought to the front.")
            return 0
    first = _first_window(app, settings, demo=demo, windowed=windowed)
    log.info("window shown")
    front = _Front(instance)
    front.first = first

    import qasync

    try:
        code: int = qasync.run(
            _main(
                app,
                first,
                settings,
                token,
                config=config,
                smoke=sim if smoke else None,
                front=front,
                event=event,
            )
        )
        return code
    finally:
        if sim is not None:
            sim.stop()
        if smoke_folder is not None:
            smoke_mode.remove_folder(smoke_folder)


class _FirstWindow:
    """The window as shown before the rest of the kiosk exists, and the keys it holds."""

    def __init__(
        self, window: Any, early: Any, *, windowed: bool, cli_windowed: bool, demo: bool
    ) -> None:
        self.window = window
        self.early = early
        self.windowed = windowed  # by the command line or the settings
        self.cli_windowed = cli_windowed  # by the command line (--windowed, --smoke)
        self.demo = demo


def _first_window(app: Any, settings: Settings, *, demo: bool, windowed: bool) -> _FirstWindow:
    from kiosk.resources import resource_path

    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    first = _new_window(settings, demo=demo, windowed=windowed)
    app.processEvents()  # painted, and taking keys
    return first


def _new_window(settings: Settings, *, demo: bool, windowed: bool) -> _FirstWindow:
    """A kiosk window for `settings`, shown, holding keys until its station is ready."""
    from kiosk.ui.early_keys import EarlyKeys
    from kiosk.ui.main_window import MainWindow

    window = MainWindow(station=settings.station.name, demo=demo)
    early = EarlyKeys(window)
    shown_windowed = windowed or not settings.station.fullscreen
    window.set_locked(settings.locks_down(not shown_windowed))
    _show(window, shown_windowed)
    return _FirstWindow(window, early, windowed=shown_windowed, cli_windowed=windowed, demo=demo)


async def _main(
    app: Any,
    first: _FirstWindow,
    settings: Settings,
    token: str | None,
    *,
    config: str | None = None,
    smoke: Any = None,
    front: _Front | None = None,
    event: str | None = None,
) -> int:
    """`smoke`: the demo's simulator, to run the smoke check against (then exit);
    `front`: what a second start asks to show (it follows a restart's new window);
    `event`: the name of the event the station runs.

    A station that is not set up shows the setup screen, and starts once it is saved. A
    station runs until its window closes; saved settings restart it on the new ones, in a
    new window, without a restart of the program."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from kiosk.core.events import EventError
    from kiosk.core.journal import JournalError, JournalLockedError

    # Blocking work handed off the window's thread (asyncio.to_thread: the PIN's hash, the
    # keyring, files, an event pack) runs in plain Python threads: qasync's own default, a
    # Qt thread, can outlive the window when the program ends and abort it.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=4, thread_name_prefix="kiosk-worker")
    )
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

    def replace_window(settings: Settings) -> None:
        """A new window for a new station (nothing of the old one's wiring stays), shown
        before the old one goes, so that the kiosk never has no window."""
        nonlocal first, window
        old = first.window
        first = _new_window(settings, demo=first.demo, windowed=first.cli_windowed)
        if front is not None:
            front.first = first
        window = first.window
        old.close_guard = None
        old.close()
        old.deleteLater()

    try:
        settings.connection(token)
    except ConfigError as exc:
        if smoke is not None:
            return await only_notice("The kiosk is not set up yet", str(exc))
        first.early.release()
        answer = await _set_up(window, settings, str(exc), config, closed)
        if answer is None:
            return 2
        settings, token = answer
        replace_window(settings)  # its name, lock and fullscreen as now set up
    while True:
        try:
            restart = await _run_station(
                app, first, settings, token, closed, smoke=smoke, event=event
            )
        except EventError as exc:
            return await only_notice("This event cannot run here", str(exc))
        except JournalLockedError:
            return await only_notice(
                "The kiosk is already running",
                "Another iiq-kiosk window on this computer uses the same journal. Use that "
                "one and close this window.",
            )
        except JournalError as exc:
            return await only_notice("The kiosk cannot open its journal", str(exc))
        if isinstance(restart, int):
            return restart
        event = restart.event
        log.info("the station starts again (new settings, or another event)")
        try:
            settings = load_settings(config=config)
        except ConfigError as exc:
            return await only_notice("The settings cannot be read", str(exc))
        replace_window(settings)


async def _set_up(
    window: Any, settings: Settings, problem: str, config: str | None, closed: asyncio.Event
) -> tuple[Settings, str] | None:
    """The setup screen until its answers are saved (the new settings and token), or
    None when the window closed first."""
    import asyncio

    from kiosk import setup as station_setup
    from kiosk.ui.setup_page import SetupPage

    log.info("not set up yet (%s): showing the setup screen", problem)
    saved: asyncio.Future[tuple[Settings, str]] = asyncio.get_running_loop().create_future()
    page = SetupPage(
        settings,
        problem=problem,
        test=lambda answers: station_setup.check_connection(answers, settings),
        save=lambda answers, report: station_setup.save(answers, settings, report, config=config),
    )

    def on_saved(new: Settings, token: str) -> None:
        if not saved.done():
            saved.set_result((new, token))

    page.saved.connect(on_saved)
    window.stack.addWidget(page)
    window.stack.setCurrentWidget(page)
    page.url.setFocus()
    closing: asyncio.Future[Any] = asyncio.ensure_future(closed.wait())
    try:
        await asyncio.wait({saved, closing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closing.cancel()
        window.stack.removeWidget(page)
        page.deleteLater()
    return saved.result() if saved.done() else None


class _Restart:
    """The station ended because its settings changed or the admin picked an event: start
    it again on them (`event`: the one to run, None for none)."""

    def __init__(self, event: str | None) -> None:
        self.event = event


async def _run_station(
    app: Any,
    first: _FirstWindow,
    settings: Settings,
    token: str | None,
    closed: asyncio.Event,
    *,
    smoke: Any = None,
    event: str | None = None,
) -> int | _Restart:
    """One station on `settings`: services, shell, admin, connection; until the window
    closes (the exit code) or the settings are saved (`_Restart`). With `event`, its pack
    is opened first (EventError, in words, when it is missing, expired or unfinished)."""
    import asyncio

    from kiosk.ui.admin import StationAdmin
    from kiosk.ui.shell import open_shell
    from kiosk.ui.sound import SoundPlayer
    from kiosk.wiring import build_services

    window = first.window
    pack = await _open_event(settings, event) if event is not None else None
    try:
        services = await build_services(settings, token)
    except BaseException:
        if pack is not None:
            pack.release()
        raise
    restart = asyncio.Event()
    next_event: list[str | None] = [event]  # what the station runs after a restart

    def run_event(name: str | None) -> None:
        next_event[0] = name
        restart.set()

    shell: Any = None
    admin: Any = None
    connect: asyncio.Future[None] | None = None
    parsers: asyncio.Future[None] | None = None
    previous_hook = sys.excepthook
    code = 0
    try:
        sounds = SoundPlayer(muted=not settings.station.sound)
        shell = open_shell(
            window,
            services,
            sounds,
            examples=demo_examples() if first.demo else None,
            event=pack,
        )
        admin = StationAdmin(
            window,
            shell,
            services,
            fullscreen=not first.windowed,
            on_settings_saved=restart.set,
            quit_kiosk=window.close,
            on_run_event=run_event,
            running_event=pack.name if pack is not None else None,
        )

        def excepthook(
            kind: type[BaseException], value: BaseException, tb: TracebackType | None
        ) -> None:
            log.critical("unexpected error", exc_info=(kind, value, tb))
            shell.show_unexpected(value)

        sys.excepthook = excepthook
        first.early.release()
        # What start-up built lives as long as the station: keep it out of the garbage
        # collector's full passes, which otherwise stall the window for 10-40 ms now and then
        # (given back when the station ends, so that a restart's old window can go).
        gc.freeze()

        services.start()
        connect = asyncio.ensure_future(_connect(services.client, shell))
        parsers = asyncio.ensure_future(_build_parsers_after(connect))
        if smoke is not None:
            from kiosk.tools.smoke import run_smoke

            code = await run_smoke(window, shell, smoke, connect)
            admin.quit()
        elif os.environ.get(EXIT_WHEN_READY) == "1":
            await connect
            app.processEvents()
            log.info("ready to scan; exiting as %s asks", EXIT_WHEN_READY)
            admin.quit()
        ending = [asyncio.ensure_future(closed.wait()), asyncio.ensure_future(restart.wait())]
        try:
            await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in ending:
                waiting.cancel()
    finally:
        sys.excepthook = previous_hook
        tasks = [task for task in (connect, parsers) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if admin is not None:
            admin.remove()
        if shell is not None:
            shell.shutdown()
        await services.aclose()
        if pack is not None:
            pack.release()
        gc.unfreeze()
    return _Restart(next_event[0]) if restart.is_set() and not closed.is_set() else code


async def _open_event(settings: Settings, name: str) -> Any:
    """The pack of the event `name` (packs past `[events] keep_days` are deleted first),
    or EventError saying in words why it cannot run."""
    import asyncio

    from kiosk.core.events import (
        EventError,
        EventNotFoundError,
        EventPack,
        expire_packs,
        pack_path,
    )

    days = settings.events.keep_days
    await asyncio.to_thread(expire_packs, settings.data_dir, days)
    shown = name.strip()[:60]
    try:
        pack = await asyncio.to_thread(EventPack.open, pack_path(settings.data_dir, name))
    except EventNotFoundError:
        raise EventError(
            f"There is no event “{shown}” on this station. Prepare it first "
            f'(iiq-kiosk event prepare "{shown}" ...); an event is deleted {days} days '
            "after it was prepared, and when it is closed. See: iiq-kiosk event list."
        ) from None
    if not pack.ready:
        pack.release()
        raise EventError(
            f"The event “{shown}” is not fully prepared: run the same iiq-kiosk event "
            "prepare again to finish it, then start the kiosk again."
        )
    log.info("event pack %s opened (%s)", pack.path.name, pack.kind.value)
    return pack


async def _build_parsers_after(connected: asyncio.Future[None]) -> None:
    """Once the kiosk is ready, build the reply parsers it has not needed yet, one per turn
    of the event loop, so that the first scan does not build them."""
    import asyncio

    from kiosk.iiq.client import parsers_to_build

    await asyncio.shield(connected)
    for step in parsers_to_build():
        step()
        await asyncio.sleep(0)


def _say(text: str) -> None:
    """A line for whoever started the kiosk from a terminal (a windowed .exe has none)."""
    if sys.stderr is not None:
        print(text, file=sys.stderr)


class _Front:
    """Brings the kiosk's window (the newest, after a restart) to the front when a second
    start asks (`kiosk.ui.single_instance`)."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance  # kept: the lock lasts as long as the kiosk runs
        self.first: _FirstWindow | None = None
        if instance is not None:
            instance.show_requested.connect(self._show)

    def _show(self) -> None:
        if self.first is not None:
            _bring_forward(self.first)


def _bring_forward(first: _FirstWindow) -> None:
    """Un-minimised in the state it had (fullscreen or not, as the admin left it), on top."""
    from PySide6.QtCore import Qt

    window = first.window
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.raise_()
    window.activateWindow()


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
