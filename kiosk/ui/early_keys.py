"""Keys pressed before the kiosk is ready are kept, not lost.

The window is shown as soon as Qt runs, before the client, the journal and the flows exist
(they take a few hundred milliseconds more to load). A student may scan in that moment:
:class:`EarlyKeys` holds every key meant for the window until :meth:`EarlyKeys.release`,
which hands them, in order, to whatever has focus then, so that the scanner filter sees the
burst exactly as if it had just arrived.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

_HELD_TYPES = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)


@dataclass(frozen=True)
class _Key:
    kind: QEvent.Type
    key: int
    modifiers: Qt.KeyboardModifier
    text: str
    autorepeat: bool


class EarlyKeys(QObject):
    """Holds key presses and releases for `window` from now until :meth:`release`."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._keys: list[_Key] = []
        self._released = False
        app = QApplication.instance()
        if app is None:
            raise RuntimeError("EarlyKeys needs a QApplication")
        self._app = app
        app.installEventFilter(self)

    @property
    def held(self) -> int:
        """How many key presses are waiting."""
        return sum(1 for k in self._keys if k.kind == QEvent.Type.KeyPress)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride:
            return isinstance(watched, QWidget) and watched.window() is self._window
        if kind not in _HELD_TYPES or not isinstance(watched, QWidget):
            return False
        if watched.window() is not self._window:
            return False
        key_event = cast(QKeyEvent, event)
        self._keys.append(
            _Key(
                kind,
                key_event.key(),
                key_event.modifiers(),
                key_event.text(),
                key_event.isAutoRepeat(),
            )
        )
        return True

    def release(self) -> int:
        """Stop holding, and send what was held to the focused widget (or the window).
        Returns the number of key presses handed on (0 once released already)."""
        if self._released:
            return 0
        self._released = True
        self._app.removeEventFilter(self)
        keys, self._keys = self._keys, []
        presses = sum(1 for k in keys if k.kind == QEvent.Type.KeyPress)
        if presses:
            log.info("%d key presses arrived before the kiosk was ready: handing them on", presses)
        for key in keys:
            target = QApplication.focusWidget() or self._window
            QApplication.sendEvent(
                target,
                QKeyEvent(key.kind, key.key, key.modifiers, key.text, key.autorepeat),
            )
        self.deleteLater()
        return presses
