"""Keyboard-wedge scanner input: the Qt side of :class:`kiosk.core.scan.ScanDetector`.

:class:`ScannerFilter` is an application-wide event filter. It sees every key press meant
for the kiosk window (or a dialog on top of it) before the focused widget does, holds
printable characters for a few milliseconds, and then either

* emits :attr:`ScannerFilter.scanned` with the cleaned code when they were a scanner's burst
  (whatever has focus, even a line edit: the burst never lands in it, and its Enter/Tab
  never presses a button or moves focus), or
* hands them on, in order, to the focused widget when they were a person typing.

The decision itself lives in ``kiosk.core.scan``; this module only translates key events.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from kiosk.core.scan import (
    Scan,
    ScanDetector,
    ScanEvent,
    ScanSettings,
    Terminator,
    Typed,
    clean_scan,
)

__all__ = ["ScannerFilter"]

log = logging.getLogger(__name__)

_KEY_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride)
_TERMINATORS: dict[int, Terminator] = {
    Qt.Key.Key_Return: "enter",
    Qt.Key.Key_Enter: "enter",  # the keypad's
    Qt.Key.Key_Tab: "tab",
}
_MODIFIER_KEYS: frozenset[int] = frozenset(
    {
        Qt.Key.Key_Shift,
        Qt.Key.Key_Control,
        Qt.Key.Key_Alt,
        Qt.Key.Key_AltGr,
        Qt.Key.Key_Meta,
        Qt.Key.Key_CapsLock,
        Qt.Key.Key_NumLock,
        Qt.Key.Key_Super_L,
        Qt.Key.Key_Super_R,
    }
)
# Shift (scanners press it for capitals) and the keypad flag still make plain text;
# Ctrl/Alt/Meta make commands.
_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


@dataclass(frozen=True)
class _HeldKey:
    key: int
    modifiers: Qt.KeyboardModifier
    text: str


class ScannerFilter(QObject):
    """Routes scanner bursts to :attr:`scanned` and a person's typing to the focused widget.

    Create one per main window; it installs itself on the application at once and is
    parented to ``window`` (it goes when the window goes; :meth:`remove` takes it off
    earlier). It acts on key events whose focused widget is in ``window`` or in a
    :class:`QDialog` above it (a child of it, or application-modal). A burst that arrives
    while such a dialog is open is still emitted (the controller decides what a scan means
    then), but none of its keys reach the dialog. Anything else (other windows, popups such
    as menus and completer lists) is left alone.

    ``scanned`` is emitted synchronously from inside key-event handling: connect it to an
    ``@asyncSlot`` or a slot that returns quickly, and open dialogs with ``open()``, not
    ``exec()``. ``clock`` returns seconds (``time.monotonic``); tests may pass their own.
    """

    scanned = Signal(str)
    """The cleaned code (:func:`kiosk.core.scan.clean_scan`) of each scanner burst. It is
    not checked against the tag pattern: an ID card scan is not a device tag."""

    def __init__(
        self,
        window: QWidget,
        settings: ScanSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings or ScanSettings()
        self._clock = clock
        self._detector = ScanDetector(self._settings)
        self._held: list[_HeldKey] = []
        self._swallow_release: Counter[int] = Counter()
        self._replaying = False
        self._enabled = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        app = QApplication.instance()
        if app is None:
            raise RuntimeError("ScannerFilter needs a QApplication")
        self._app = app
        app.installEventFilter(self)

    @property
    def settings(self) -> ScanSettings:
        return self._settings

    def isEnabled(self) -> bool:  # noqa: N802 - Qt naming, pairs with setEnabled
        return self._enabled

    def setEnabled(self, enabled: bool) -> None:  # noqa: N802 - Qt naming
        """Switch scan detection off (keys then go straight to widgets) or back on.

        Switching off settles what is held: a complete burst is still emitted, typing is
        handed on.
        """
        if not enabled and self._enabled:
            self._settle(self._detector.interrupt(self._now_ms()))
            self._timer.stop()
        self._enabled = enabled

    def remove(self) -> None:
        """Take the filter off the application (held keys are handed on first)."""
        self.setEnabled(False)
        self._app.removeEventFilter(self)

    # --- Qt -------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() not in _KEY_EVENTS or self._replaying or not self._enabled:
            return False
        if not self._is_key_target(watched):
            # A line edit passes unused keys on to its parents, and the window object sees
            # them first: acting only at the focused widget handles each key exactly once.
            return False
        key_event = cast(QKeyEvent, event)
        if event.type() == QEvent.Type.ShortcutOverride:
            return self._on_shortcut_override(key_event)
        if event.type() == QEvent.Type.KeyRelease:
            return self._on_key_release(key_event)
        return self._on_key_press(key_event)

    # --- key handling ---------------------------------------------------------------------

    def _on_shortcut_override(self, event: QKeyEvent) -> bool:
        # Claim the key before a shortcut can fire on it: a burst's "Y" must not tick a
        # checklist, nor its Enter press a default button. Keys handed on later are sent
        # again through QApplication.sendEvent, which gives shortcuts their turn then.
        claim = _is_text_key(event) or (
            event.key() in _TERMINATORS
            and not _has_command_modifier(event)
            and bool(self._detector.pending)
        )
        if claim:
            event.accept()
        return claim

    def _on_key_release(self, event: QKeyEvent) -> bool:
        key = event.key()
        if self._swallow_release[key] > 0 and not event.isAutoRepeat():
            self._swallow_release[key] -= 1
            return True
        return False

    def _on_key_press(self, event: QKeyEvent) -> bool:
        now = self._now_ms()
        key = event.key()
        if key in _MODIFIER_KEYS:
            return False
        if _is_text_key(event):
            self._settle(self._detector.feed_char(event.text(), now))
            self._held.append(_HeldKey(key, event.modifiers(), event.text()))
            self._swallow_release[key] += 1
            self._arm_timer()
            return True
        terminator = _TERMINATORS.get(key)
        if terminator is not None and not _has_command_modifier(event):
            return self._on_terminator(event, terminator, now)
        # Any other key (arrows, Backspace, F-keys, Esc, Ctrl+..., auto-repeat): what is
        # held goes first, then the key itself, so the order of keys is kept.
        self._settle(self._detector.interrupt(now))
        return False

    def _on_terminator(self, event: QKeyEvent, terminator: Terminator, now: float) -> bool:
        had_pending = bool(self._detector.pending)
        result = self._detector.feed_terminator(terminator, now)
        self._timer.stop()
        if isinstance(result, Scan) and result.ended_by == terminator:
            self._settle(result)
            self._swallow_release[event.key()] += 1
            return True
        self._settle(result)
        if not had_pending:
            return False
        # Its shortcut override was claimed while characters were held; sending it again
        # lets a Return shortcut or a default button see it like any Enter.
        self._swallow_release[event.key()] += 1
        self._replay([_HeldKey(event.key(), event.modifiers(), event.text())])
        return True

    def _on_timeout(self) -> None:
        if not self._enabled:
            return
        self._settle(self._detector.poll(self._now_ms()))
        self._arm_timer()

    # --- helpers --------------------------------------------------------------------------

    def _settle(self, result: ScanEvent | None) -> None:
        """Act on a detector decision about every key held so far."""
        if result is None:
            return
        held, self._held = self._held, []
        if isinstance(result, Typed):
            self._replay(held)
            return
        code = clean_scan(result.text, self._settings)
        log.debug("scan of %d characters ended by %s", len(code), result.ended_by)
        self.scanned.emit(code)

    def _replay(self, keys: list[_HeldKey]) -> None:
        target = QApplication.focusWidget() or QApplication.activeWindow()
        if target is None or not keys:
            if keys:
                log.debug("%d typed keys dropped: no widget has focus", len(keys))
            return
        self._replaying = True
        try:
            for held in keys:
                modifiers = Qt.KeyboardModifier(held.modifiers)
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    # Not spontaneous: Qt offers the key to shortcuts first, as for a real key.
                    QApplication.sendEvent(target, QKeyEvent(kind, held.key, modifiers, held.text))
        finally:
            self._replaying = False

    def _arm_timer(self) -> None:
        deadline = self._detector.next_deadline()
        if deadline is None:
            self._timer.stop()
            return
        self._timer.start(max(0, math.ceil(deadline - self._now_ms())) + 1)

    def _is_key_target(self, watched: QObject) -> bool:
        focus = QApplication.focusWidget()
        target = focus if focus is not None else QApplication.activeWindow()
        if target is None or watched is not target:
            return False
        top = target.window()
        if top is self._window:
            return True
        if not isinstance(top, QDialog):
            return False
        if top.windowModality() == Qt.WindowModality.ApplicationModal:
            return True
        parent = top.parentWidget()
        while parent is not None:  # a dialog of a dialog of the window
            if parent.window() is self._window:
                return True
            parent = parent.window().parentWidget()
        return False

    def _now_ms(self) -> float:
        return self._clock() * 1000.0


def _has_command_modifier(event: QKeyEvent) -> bool:
    return bool(event.modifiers() & _COMMAND_MODIFIERS)


def _is_text_key(event: QKeyEvent) -> bool:
    text = event.text()
    return (
        len(text) == 1
        and text.isprintable()
        and not event.isAutoRepeat()
        and not _has_command_modifier(event)
    )
