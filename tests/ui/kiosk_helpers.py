"""Helpers for the kiosk window tests (`test_kiosk_*.py`): scanner bursts, a person's
typing, waits for what the operator sees, and what the simulator received.

A scan is `qtbot.keyClicks` with no delay (characters well under a millisecond apart);
typing is `keyClicks` with a delay (each key ~2x the delay apart, far over the 35 ms burst
gap). Keys go to whatever has focus, as they would from a keyboard-wedge scanner.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QMainWindow, QWidget

from kiosk.config import Settings
from kiosk.core.desk import ChangeDesk
from kiosk.core.journal import AsyncJournal
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import TransactionService
from kiosk.iiq.client import IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Simulator
from kiosk.simulator.api import RecordedRequest
from kiosk.ui.main_window import STATE_MARKS, MainWindow
from kiosk.ui.shell import KioskShell, open_shell
from kiosk.ui.sound import SoundPlayer
from kiosk.wiring import Services, build_services

D = TypeVar("D", bound=QDialog)

#: `keyClicks(..., delay=TYPING_DELAY_MS)` puts ~160 ms between keys: a brisk person, never
#: a scanner (bursts are < 35 ms apart), and quick enough to keep the suite short.
TYPING_DELAY_MS = 80
QUERY_ROUTES = frozenset({"/assets", "/users"})  # POST routes that only read


@dataclass
class Kiosk:
    window: MainWindow
    controller: KioskShell
    sounds: SoundPlayer
    sim: Simulator
    services: Services

    @property
    def client(self) -> IIQClient:
        return self.services.client

    @property
    def service(self) -> TransactionService:
        return self.services.transactions

    @property
    def outbox(self) -> Outbox:
        return self.services.outbox

    @property
    def journal(self) -> AsyncJournal:
        return self.services.journal

    @property
    def desk(self) -> ChangeDesk:
        return self.services.desk

    def close(self, qtbot: Any) -> None:
        """Shut down as the app does: shell, then the services (sender, sends, client,
        journal)."""
        self.controller.shutdown()
        closing = asyncio.ensure_future(self.services.aclose())
        qtbot.waitUntil(closing.done, timeout=5000)

    def texts(self) -> str:
        """Every visible label's text on the current screen (what a person reads)."""
        page = self.window.stack.currentWidget()
        return "\n".join(
            w.text() for w in page.findChildren(QLabel) if w.isVisibleTo(self.window) and w.text()
        )


def station_settings(sim: Simulator, *, read_timeout: float = 15.0, **sections: Any) -> Settings:
    """Settings of a test station talking to `sim` (sections override, e.g.
    checkin={"cart_pattern": ...})."""
    data: dict[str, Any] = {
        "iiq": {"url": sim.url, "site_id": sim.site_id, "read_timeout": read_timeout},
        "station": {"name": "TEST-1"},
        "checkin": {"location_id": DEMO.storeroom_location_id},
        "tickets": {"issue_id": DEMO.ticket_issue_id},
        "data_dir": os.environ["IIQ_KIOSK_DATA"],
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return Settings.model_validate(data)


def make_kiosk(
    qtbot: Any,
    sim: Simulator,
    *,
    token: str | None = None,
    read_timeout: float = 15.0,
    retry: RetryPolicy | None = None,
    outbox_options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    window: MainWindow | None = None,
    **shell_options: Any,
) -> Kiosk:
    """A kiosk wired like `kiosk.app` (journal, outbox and its sender included), talking
    to `sim` over loopback. Call it with the qasync loop (`qloop`) running. `settings` are
    config sections; `options` and the other keywords are FlowOptions fields (guard_ms,
    debounce_ms, ...) or KioskShell options (idle_seconds, mode_lock, ...). `window`: one
    made and shown beforehand."""
    config = station_settings(sim, read_timeout=read_timeout, **(settings or {}))
    path = Path(os.environ["IIQ_KIOSK_DATA"]) / f"journal-{uuid.uuid4().hex}.sqlite3"
    building = asyncio.ensure_future(
        build_services(
            config,
            token or sim.token,
            journal_path=path,
            retry=retry or RetryPolicy(attempts=2, base_delay=0.01),
            outbox_options={"min_interval_s": 0.0, "backoff_base_s": 0.05, "backoff_max_s": 0.5}
            | (outbox_options or {}),
            confirm_pause_s=0.1,
        )
    )
    qtbot.waitUntil(building.done, timeout=5000)
    services = building.result()
    if window is None:  # else shown already, as kiosk.app shows it before the rest exists
        window = MainWindow(station="TEST-1", demo=True)
        qtbot.addWidget(window)
    sounds = SoundPlayer(muted=True)
    shell = open_shell(
        window,
        services,
        sounds,
        **({"guard_ms": 150, "debounce_ms": 120} | (options or {}) | shell_options),
    )
    services.start()
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return Kiosk(window, shell, sounds, sim, services)


def start(qtbot: Any, k: Kiosk) -> None:
    """The window is active and the field of the mode's first screen has focus, as after
    start-up."""
    k.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is k.window.current_input(), timeout=3000)


@contextmanager
def kiosk_factory(qtbot: Any, sim: Simulator) -> Iterator[Callable[..., Kiosk]]:
    """`build(**opts)` makes a started kiosk like `k` but with options (token,
    read_timeout, options={"guard_ms": ...}, idle_seconds...); each is shut down like the
    fixture's."""
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


# --- chargers ---------------------------------------------------------------------------

CHARGER_TAG = "CHG-000001"
WITH_CHARGER = {"accessories": [{"model": "Chromebook 3110", "tag_pattern": "^CHG-"}]}


def add_charger(sim: Simulator, tag: str = CHARGER_TAG) -> str:
    """A free charger tagged `tag` (a copy of a free power adapter); its asset id."""
    with sim.state.lock:
        if sim.state.asset_by_tag(tag):
            (existing,) = sim.state.asset_by_tag(tag)
            return str(existing["AssetId"])
        available = next(
            key for key, s in sim.state.status_types.items() if s["Name"] == "Available"
        )
        model = next(
            a
            for a in sim.state.assets.values()
            if "Power Adapter" in (a["Name"] or "")
            and a["OwnerId"] is None
            and not a["IsDeleted"]
            and a["StatusTypeId"] == available
        )
        asset_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-charger:{tag}"))
        sim.state.assets[asset_id] = dict(
            model, AssetId=asset_id, AssetTag=tag, SerialNumber=f"SN{tag.replace('-', '')}"
        )
        assert [a["AssetId"] for a in sim.state.asset_by_tag(tag)] == [asset_id]
        return asset_id


# --- input ------------------------------------------------------------------------------


def focused() -> QWidget:
    """Where a keyboard's keys go now: the focused widget, else the active window.

    When a dialog closes, the window manager activates the window below it; the offscreen
    platform has none, so with no window active the kiosk window is activated here."""
    if QApplication.activeWindow() is None:
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow()]
        main = [w for w in windows if isinstance(w, QMainWindow)]
        if main:
            main[0].activateWindow()
            QApplication.processEvents()
    widget = QApplication.focusWidget() or QApplication.activeWindow()
    assert widget is not None, "no widget would receive the keys"
    return widget


def has_focus(widget: QWidget) -> bool:
    """The keyboard's next key goes to `widget`."""
    return focused() is widget


def scan(qtbot: Any, code: str, *, enter: bool = True) -> None:
    """A scanner's burst (with its Enter suffix unless `enter=False`) to whatever has focus."""
    target = focused()
    qtbot.keyClicks(target, code)
    if enter:
        qtbot.keyClick(target, Qt.Key.Key_Return)


def type_text(qtbot: Any, text: str, *, enter: bool = False) -> None:
    """A person typing `text` into whatever has focus (then Enter when asked)."""
    target = focused()
    qtbot.keyClicks(target, text, delay=TYPING_DELAY_MS)
    if enter:
        press(qtbot, Qt.Key.Key_Return)


def press(qtbot: Any, key: Qt.Key) -> None:
    """One key, to whatever has focus (a dialog when one is open)."""
    qtbot.keyClick(focused(), key)


# --- what the operator sees -------------------------------------------------------------


def wait_card(qtbot: Any, k: Any, tag: str, timeout: int = 5000) -> None:
    device = k.window.device
    qtbot.waitUntil(
        lambda: k.window.stack.currentWidget() is device and device.card.tag.text() == tag,
        timeout=timeout,
    )


def wait_result(qtbot: Any, k: Any, title: str, timeout: int = 5000) -> None:
    result = k.window.result
    qtbot.waitUntil(
        lambda: k.window.stack.currentWidget() is result and result.title.text() == title,
        timeout=timeout,
    )


def wait_dialog(qtbot: Any, k: Any, kind: type[D], timeout: int = 5000) -> D:
    qtbot.waitUntil(
        lambda: isinstance(k.controller.dialog, kind) and k.controller.dialog.isVisible(),
        timeout=timeout,
    )
    dialog = k.controller.dialog
    assert isinstance(dialog, kind)
    return dialog


def wait_armed(qtbot: Any, dialog: Any, timeout: int = 3000) -> None:
    """Past the dialog's key guard: its buttons are enabled again."""
    qtbot.waitUntil(lambda: all(b.isEnabled() for b in dialog._guarded_buttons), timeout=timeout)


def toast(k: Any) -> str:
    return k.window.toast.text() if k.window.toast.isVisible() else ""


def visible_text(k: Any) -> str:
    """Every visible label in the window and in any dialog on top of it."""
    texts = [w.text() for w in k.window.findChildren(QLabel) if w.isVisible() and w.text()]
    for top in QApplication.topLevelWidgets():
        if isinstance(top, QDialog) and top.isVisible():
            texts += [w.text() for w in top.findChildren(QLabel) if w.isVisible() and w.text()]
    return "\n".join(texts)


def session_lines(k: Any) -> list[str]:
    lst = k.window.session_list
    return [lst.item(i).text() for i in range(lst.count())]


def session_state(k: Any, description: str) -> str | None:
    """The state the "this session" list shows for the change described so, by its mark
    ("done", "pending", ...), or None when no line holds the description."""
    for line in session_lines(k):
        if description in line:
            return next((s for s, mark in STATE_MARKS.items() if mark in line), "unmarked")
    return None


def gone(dialog: QDialog) -> bool:
    """The dialog is closed (or already deleted)."""
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def result_lines(k: Any) -> list[str]:
    lst = k.window.device.results
    return [lst.item(i).text() for i in range(lst.count())]


# --- what the server received -----------------------------------------------------------


def mutations(sim: Simulator) -> list[RecordedRequest]:
    """The requests that change something in Incident IQ."""
    return [
        r
        for r in sim.requests
        if r.method.upper() == "POST" and r.path.rstrip("/") not in QUERY_ROUTES
    ]


def requests_to(sim: Simulator, prefix: str, method: str = "GET") -> list[RecordedRequest]:
    return [r for r in sim.requests if r.method == method and r.path.startswith(prefix)]


def owner_id(sim: Simulator, tag: str) -> str | None:
    (asset,) = sim.state.asset_by_tag(tag)
    owner: str | None = asset["OwnerId"]
    return owner
