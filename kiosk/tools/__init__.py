"""Developer tools that drive the real kiosk window (screenshots; the benchmarks use them too).

Importing this package makes Qt render offscreen when there is no display to render to
(Linux/BSD without DISPLAY or WAYLAND_DISPLAY), so that `python -m kiosk.tools.screens`
works on a headless box. It is done here, before any submodule imports Qt, and never
overrides a QT_QPA_PLATFORM that is already set. The kiosk itself never imports it.
"""

from __future__ import annotations

import os
import sys


def use_offscreen_if_headless() -> bool:
    """Set QT_QPA_PLATFORM=offscreen when nothing else can show a window. Returns whether
    it did. Call it before the QApplication exists."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return False
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform):
        return False  # Windows and macOS always have a screen platform
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return True


use_offscreen_if_headless()
