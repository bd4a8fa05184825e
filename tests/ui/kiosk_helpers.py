"""Helpers for the kiosk window tests (`test_kiosk_*.py`): scanner bursts, a person's
typing, waits for what the operator sees, and what the simulator received.

A scan is `qtbot.keyClicks` with no delay (characters well under a millisecond apart);
typing is `keyClicks` with a delay (each key ~2x the delay apart, far over the 35 ms burst
gap). Keys go to whatever has focus, as they would from a keyboard-wedge scanner.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QMainWindow, QWidget

from kiosk.simulator import Simulator
from kiosk.simulator.api import RecordedRequest
from kiosk.ui.main_window import STATE_MARKS

D = TypeVar("D", bound=QDialog)

#: `keyClicks(..., delay=TYPING_DELAY_MS)` puts ~160 ms between keys: a brisk person, never
#: a scanner (bursts are < 35 ms apart), and quick enough to keep the suite short.
TYPING_DELAY_MS = 80
QUERY_ROUTES = frozenset({"/assets", "/users"})  # POST routes that only read


def _ui_conftest() -> ModuleType:
    """tests/ui/conftest.py as a module, for `make_kiosk` and `Kiosk`.

    pytest imports it as `conftest` right before the test modules of this folder; load it
    by path when another conftest has taken that name since."""
    path = Path(__file__).with_name("conftest.py")
    loaded = sys.modules.get("conftest")
    if loaded is not None and Path(getattr(loaded, "__file__", "")) == path:
        return loaded
    spec = importlib.util.spec_from_file_location("kiosk_ui_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_conftest = _ui_conftest()
Kiosk = _conftest.Kiosk
make_kiosk: Callable[..., Any] = _conftest.make_kiosk


start: Callable[..., None] = _conftest.start
kiosk_factory: Callable[..., Any] = _conftest.kiosk_factory


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
