"""The scan router: every scanner burst and typed entry, to the flow of the active mode.

It owns the scanner filter (bursts are scans whatever has focus), the double-scan guard (the
same code again within a few seconds does nothing twice, except in a flow that changes
nothing) and the "a dialog is open" rule (a scan never answers a question nobody read).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject

from kiosk.core.scan import DoubleScanGuard, ScanSettings
from kiosk.iiq.models import Person
from kiosk.ui.flows.base import Flow
from kiosk.ui.main_window import MainWindow
from kiosk.ui.scanner import ScannerFilter
from kiosk.ui.screens import FINISH_FIRST, Screens
from kiosk.ui.views import shown

log = logging.getLogger(__name__)


class ScanRouter(QObject):
    def __init__(
        self,
        window: MainWindow,
        screens: Screens,
        scan_settings: ScanSettings,
        active: Callable[[], Flow],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(window)
        self._screens = screens
        self._active = active
        self._clock = clock
        self._double = DoubleScanGuard(scan_settings)
        screens.forget_scans = self.reset  # nothing was done: the same scan is welcome again
        self.scanner = ScannerFilter(window, scan_settings)
        self.scanner.scanned.connect(self._on_scan)
        window.ready.entered.connect(lambda raw: self._active().on_entry(raw))
        window.panel.entered.connect(lambda raw: self._active().on_entry(raw))
        window.panel.condition_key.connect(lambda key: self._active().on_condition_key(key))
        window.device.entered.connect(lambda raw: self._active().on_step_entry(raw))
        window.device.edited.connect(lambda text: self._active().on_step_edited(text))
        window.device.picked.connect(self._on_picked)

    def reset(self) -> None:
        """A new mode, or an error screen: what was scanned before is no double now."""
        self._double = DoubleScanGuard(self._double.settings)

    def remove(self) -> None:
        self.scanner.remove()

    def _on_scan(self, text: str) -> None:
        if self._screens.dialog is not None:
            self._screens.toast(FINISH_FIRST, "warning")
            return
        flow = self._active()
        if not flow.repeats_allowed and self._double.is_double(text, self._clock()):
            self._screens.toast(
                f"Already scanned: {shown(text)}. Nothing was done twice.", "warning"
            )
            return
        flow.on_scan(text)

    def _on_picked(self, person: object) -> None:
        if isinstance(person, Person):
            self._active().on_picked(person)
