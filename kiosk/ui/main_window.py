"""The kiosk's main window: banners, the screens, the session list and the status strip.

Layout only: `KioskShell` and its flows decide what is shown. The window forwards printable keys
that no widget took to the screen's input field, so typing a tag "anywhere" works.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.views import (
    DevicePage,
    NoticePage,
    PanelPage,
    ReadyPage,
    ResultPage,
    label,
    repolish,
    wrapping_list,
)

MODE_TITLES = {
    "checkout": "CHECK OUT",
    "checkin": "CHECK IN",
    "lookup": "LOOK UP",
    "batch": "BATCH CHECK-OUT",
    "line": "DISTRIBUTION LINE",
    "audit": "AUDIT",
}
#: The short names in the key hints beside the banner.
MODE_HINTS = {
    "checkout": "Check out",
    "checkin": "Check in",
    "lookup": "Look up",
    "batch": "Batch",
    "line": "Line",
    "audit": "Audit",
}
STATE_MARKS = {
    "done": "✓ done",
    "pending": "⟳ waiting to send",
    "conflict": "⚠ conflict: needs attention",
    "failed": "✗ failed: needs attention",
    "withdrawn": "↶ taken back, not sent",
    "unreadable": "✗ unreadable: needs attention",
}


class StatusStrip(QWidget):
    """Station name, connection, operator, session count, clock."""

    def __init__(self, station: str) -> None:
        super().__init__()
        self.setObjectName("statusStrip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.station = label(f"Station: {station}", wrap=False)
        self.connection = label("Connecting…", "connection", wrap=False)
        self.operator = label("", wrap=False)
        self.count = label("This session: 0", wrap=False)
        self.busy = label("Working…", "busy", wrap=False)
        self.busy.setVisible(False)
        self.clock = label("", wrap=False)
        row = QHBoxLayout(self)
        for widget in (self.station, self.connection, self.operator, self.count):
            row.addWidget(widget)
            row.addSpacing(24)
        row.addStretch(1)
        row.addWidget(self.busy)
        row.addSpacing(24)
        row.addWidget(self.clock)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)
        self._timer.start(1000)
        self.tick()

    def tick(self) -> None:
        self.clock.setText(datetime.now().strftime("%H:%M"))

    def set_connection(
        self, online: bool, waiting: int = 0, attention: int = 0, *, problem: str | None = None
    ) -> None:
        text = "Online" if online else "OFFLINE"
        if waiting:
            text += f" · {waiting} waiting to send"
        if attention:
            text += f" · {attention} need attention"
        if problem:
            text += " · changes are not being sent"
        self.connection.setText(text)
        good = online and not attention and not problem
        self.connection.setProperty("state", "online" if good else "offline")
        repolish(self.connection)

    def set_operator(self, name: str | None) -> None:
        """Who is signed in ("Operator: J. Smith"); None: nobody, at a station that needs
        someone signed in."""
        self.operator.setText(f"Operator: {name}" if name else "Operator: nobody signed in")


class MainWindow(QMainWindow):
    """Everything the operator sees. Signals carry what the controller needs to know."""

    #: The window is asked to close (the app decides whether that is allowed).
    close_requested = Signal()

    def __init__(self, *, station: str, demo: bool) -> None:
        super().__init__()
        self.setWindowTitle("iiq-kiosk" + (" (DEMO)" if demo else ""))
        #: Asked before the window closes: False keeps it open (the admin PIN decides).
        self.close_guard: Callable[[], bool] | None = None
        self._mode_keys: list[tuple[Qt.Key, str]] = []
        self._more_keys: list[tuple[Qt.Key, str]] = []
        self.demo_banner = label(
            "DEMO · practice data, not your district's Incident IQ",
            "demoBanner",
        )
        self.demo_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_banner.setVisible(demo)
        self.mode_banner = label("", "modeBanner", wrap=False)
        self.mode_keys = label("", "modeKeys", wrap=False)
        self.mode_keys.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        banner = QWidget()
        banner.setObjectName("modeBar")
        banner_row = QHBoxLayout(banner)
        banner_row.addWidget(self.mode_banner, 1)
        banner_row.addWidget(self.mode_keys)
        self.mode_bar = banner

        self.toast = label("", "toast")
        self.toast.setVisible(False)
        self._toast_timer = QTimer(self)
        self._toast_timer.setSingleShot(True)
        self._toast_timer.setInterval(5000)
        self._toast_timer.timeout.connect(lambda: self.toast.setVisible(False))

        self.stack = QStackedWidget()
        self.ready = ReadyPage()
        self.device = DevicePage()
        self.result = ResultPage()
        self.notice = NoticePage()
        self.panel = PanelPage()
        for page in (self.ready, self.device, self.result, self.notice, self.panel):
            self.stack.addWidget(page)

        self.session_title = label("This session", "subheading")
        self.session_list = wrapping_list("sessionList")
        self.session_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        side = QVBoxLayout()
        #: Where a running event's progress panel goes (`set_event_panel`), above the list.
        self.event_slot = QVBoxLayout()
        side.addLayout(self.event_slot)
        side.addWidget(self.session_title)
        side.addWidget(self.session_list, 1)
        side_widget = QWidget()
        side_widget.setObjectName("sessionPanel")
        side_widget.setLayout(side)
        side_widget.setMinimumWidth(280)
        side_widget.setMaximumWidth(480)

        body = QHBoxLayout()
        body.addWidget(self.stack, 3)
        body.addWidget(side_widget, 1)
        self.status = StatusStrip(station)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.demo_banner)
        layout.addWidget(banner)
        layout.addWidget(self.toast)
        inner = QWidget()
        inner.setObjectName("body")
        inner.setLayout(body)
        layout.addWidget(inner, 1)
        layout.addWidget(self.status)
        self.setCentralWidget(central)
        self.set_mode("checkout")

    # --- what the controller sets -------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        self.mode_banner.setText(MODE_TITLES[mode])
        self.mode_bar.setProperty("mode", mode)
        self.mode_banner.setProperty("mode", mode)
        repolish(self.mode_bar)
        repolish(self.mode_banner)

    def set_mode_keys(
        self, keys: list[tuple[Qt.Key, str]], more: list[tuple[Qt.Key, str]] | None = None
    ) -> None:
        """The key hints beside the banner: "F1 Check out · F2 Check in · ...", then the
        keys every mode shares, and `more` of them in words (F10 End shift)."""
        self._mode_keys, self._more_keys = list(keys), list(more or [])
        hints = [f"{QKeySequence(key).toString()} {MODE_HINTS[mode]}" for key, mode in keys]
        shared = ["Ctrl+Z Undo", "Esc Cancel"]
        shared += [f"{QKeySequence(key).toString()} {words}" for key, words in self._more_keys]
        self.mode_keys.setText("  ·  ".join(hints) + "\n" + "  ·  ".join(shared))

    def add_key_hint(self, key: Qt.Key, words: str) -> None:
        """One more key among the shared ones (F12 Admin)."""
        self.set_mode_keys(self._mode_keys, [*self._more_keys, (key, words)])

    def set_event_panel(self, panel: QWidget) -> None:
        """Show a running event's progress panel beside the screens."""
        self.event_slot.addWidget(panel)

    def show_toast(self, text: str) -> None:
        """A short note above the screen (double scan, cancelled) that does not replace it."""
        self.toast.setText(text)
        self.toast.setVisible(True)
        self._toast_timer.start()

    def hide_toast(self) -> None:
        self._toast_timer.stop()
        self.toast.setVisible(False)

    def add_session_entry(self, key: str, text: str, state: str) -> None:
        """Add or update the line for change `key` in the "this session" list."""
        mark = STATE_MARKS.get(state, state)
        for row in range(self.session_list.count()):
            item = self.session_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == key:
                when = item.data(Qt.ItemDataRole.UserRole + 1)
                item.setText(f"{mark}  {when}\n{text}")
                self.session_list.doItemsLayout()  # the wrapped height may change
                return
        when = datetime.now().strftime("%H:%M")
        item = QListWidgetItem(f"{mark}  {when}\n{text}")
        item.setData(Qt.ItemDataRole.UserRole + 1, when)
        item.setData(Qt.ItemDataRole.UserRole, key)
        self.session_list.insertItem(0, item)
        self.session_list.doItemsLayout()

    def current_input(self) -> QLineEdit | None:
        page = self.stack.currentWidget()
        if page is self.ready:
            return self.ready.input
        if page is self.device and self.device.person_input.isVisible():
            return self.device.person_input
        if page is self.panel:
            return self.panel.input
        return None

    # --- Qt events ----------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        text = event.text()
        target = self.current_input()
        if text and text.isprintable() and target is not None and not target.hasFocus():
            target.setFocus()
            target.insert(text)
            return
        super().keyPressEvent(event)

    def set_locked(self, locked: bool) -> None:
        """Locked down (fullscreen with an admin PIN): no frame to close or move it by, and
        on top of other windows. Shown again as it was when the flags change."""
        lock = Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        flags = self.windowFlags()
        wanted = flags | lock if locked else flags & ~lock
        if wanted == flags:
            return
        visible, full = self.isVisible(), self.isFullScreen()
        self.setWindowFlags(wanted)  # hides the window
        if visible:
            if full:
                self.showFullScreen()
            else:
                self.show()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.close_guard is not None and not self.close_guard():
            event.ignore()  # Alt+F4 and the like: the admin PIN is asked for instead
            return
        self.close_requested.emit()
        super().closeEvent(event)
