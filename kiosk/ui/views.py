"""The kiosk's screens: layout only. Controllers fill them and react to their signals.

Every screen keeps its text in plain labels so that tests (and people) can read it, and
marks its parts with object names and dynamic properties that `resources/style.qss` styles.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.iiq.models import Activity, Asset
from kiosk.resources import resource_path
from kiosk.ui.feedback import Feedback


def label(text: str = "", name: str | None = None, *, wrap: bool = True) -> QLabel:
    widget = QLabel(text)
    if name:
        widget.setObjectName(name)
    widget.setWordWrap(wrap)
    widget.setTextFormat(Qt.TextFormat.PlainText)
    return widget


def wrapping_list(name: str) -> QListWidget:
    """A list whose long lines wrap instead of hiding behind a horizontal scroll bar: the
    end of a line (an ID number, a state) is often what tells two rows apart."""
    widget = QListWidget()
    widget.setObjectName(name)
    widget.setWordWrap(True)
    widget.setTextElideMode(Qt.TextElideMode.ElideNone)
    widget.setResizeMode(QListView.ResizeMode.Adjust)
    widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return widget


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


def icon(kind: str) -> QIcon:
    return QIcon(str(resource_path("icons", f"{kind}.svg")))


class ReadyPage(QWidget):
    """Waiting for a device: the big prompt, a field for typed tags, and in demo mode a
    few things to try."""

    def __init__(self) -> None:
        super().__init__()
        self.prompt = label("Scan a device", "prompt")
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = label("", "detail")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input = QLineEdit()
        self.input.setObjectName("scanInput")
        self.input.setPlaceholderText("…or type an asset tag or serial number and press Enter")
        self.input.setMaxLength(200)
        self.examples = label("", "examples")
        self.examples.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.prompt)
        layout.addWidget(self.detail)
        layout.addSpacing(24)
        layout.addWidget(self.input)
        layout.addSpacing(24)
        layout.addWidget(self.examples)
        layout.addStretch(2)

    def show_examples(self, lines: list[str]) -> None:
        self.examples.setText("\n".join(lines))
        self.examples.setVisible(bool(lines))


class DeviceCard(QFrame):
    """Tag, model, serial, status, location or cart, current owner, open tickets."""

    FIELDS = ("Model", "Serial", "Status", "Location", "Owner", "Tickets")

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("deviceCard")
        self.tag = label("", "heading")
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        for row, name in enumerate(self.FIELDS):
            grid.addWidget(label(name, "fieldName"), row, 0, Qt.AlignmentFlag.AlignTop)
            value = label("", "fieldValue")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            self.values[name] = value
            grid.addWidget(value, row, 1)
        self.note = label("", "warningText")
        self.note.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tag)
        layout.addWidget(self.note)
        layout.addLayout(grid)
        layout.addStretch(1)

    def show_asset(self, asset: Asset, seen_at: datetime | None = None) -> None:
        """Fill the card; `seen_at` marks an offline answer from the kiosk's memory."""
        self.tag.setText(asset.asset_tag or "(no tag)")
        if seen_at is not None:
            self.note.setText(
                f"OFFLINE: as this kiosk saw it at {seen_at:%H:%M}. It may have changed since."
            )
        self.note.setVisible(seen_at is not None)
        where = ", ".join(p for p in (asset.location_name, asset.room_name) if p)
        tickets = asset.open_ticket_count
        self.values["Model"].setText(asset.model_name or "unknown model")
        self.values["Serial"].setText(asset.serial_number or "none recorded")
        self.values["Status"].setText(asset.status_name or "unknown")
        self.values["Location"].setText(where or "not recorded")
        self.values["Owner"].setText(_owner_text(asset))
        self.values["Tickets"].setText(
            "none open" if not tickets else f"{tickets} open ticket{'s' if tickets > 1 else ''}"
        )

    def clear(self) -> None:
        self.tag.clear()
        self.note.clear()
        self.note.setVisible(False)
        for value in self.values.values():
            value.clear()

    def text(self) -> str:
        """Everything the card shows, for tests and the screen reader."""
        rows = [f"{k}: {v.text()}" for k, v in self.values.items()]
        return "\n".join([self.tag.text(), self.note.text(), *rows])


def _owner_text(asset: Asset) -> str:
    owner = asset.owner
    if not asset.current_owner_id:
        return "nobody (free)"
    if owner is None:
        return "someone (name not shown by Incident IQ)"
    parts = [owner.display_name]
    if owner.grade:
        parts.append(f"grade {owner.grade}")
    if owner.school_id_number:
        parts.append(f"ID {owner.school_id_number}")
    return ", ".join(parts)


class DevicePage(QWidget):
    """The device card plus the next step: the person (check-out) or the history (look-up)."""

    def __init__(self) -> None:
        super().__init__()
        self.card = DeviceCard()
        self.prompt = label("Scan ID card or type a name", "stepPrompt")
        self.person_input = QLineEdit()
        self.person_input.setObjectName("personInput")
        self.person_input.setPlaceholderText("Student ID, email, username or name, then Enter")
        self.person_input.setMaxLength(100)
        self.results = wrapping_list("results")
        self.results_note = label("", "detail")
        self.activity_title = label("Recent activity", "subheading")
        self.activity = wrapping_list("activity")
        self.activity.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        person = QVBoxLayout()
        person.addWidget(self.prompt)
        person.addWidget(self.person_input)
        person.addWidget(self.results_note)
        person.addWidget(self.results, 1)
        person.addWidget(self.activity_title)
        person.addWidget(self.activity, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.card, 1)
        layout.addSpacing(24)
        layout.addLayout(person, 1)

    def set_mode(self, lookup: bool) -> None:
        """Check-out asks for the person; look-up shows the history and takes the next tag
        in the same field."""
        for widget in (self.results, self.results_note):
            widget.setVisible(not lookup)
        self.activity_title.setVisible(lookup)
        self.activity.setVisible(lookup)
        self.prompt.setText("Scan another device" if lookup else "Scan ID card or type a name")
        self.person_input.setPlaceholderText(
            "Type another asset tag, then Enter"
            if lookup
            else "Student ID, email, username or name, then Enter"
        )

    def show_activity(self, items: list[Activity]) -> None:
        self.activity.clear()
        for item in items:
            when = (item.activity_date or "")[:16].replace("T", " ")
            what = item.description or item.activity_type or "change"
            by = f" ({item.by})" if item.by else ""
            self.activity.addItem(f"{when}  {what}{by}")
        if not items:
            self.activity.addItem("No recorded activity.")

    def clear(self) -> None:
        self.card.clear()
        self.person_input.clear()
        self.results.clear()
        self.results_note.clear()
        self.activity.clear()


class ResultPage(QWidget):
    """Success / warning / error / saved-for-later: color, icon, words and a sound."""

    def __init__(self) -> None:
        super().__init__()
        self.panel = QFrame()
        self.panel.setObjectName("resultPanel")
        self.icon = QLabel()
        self.icon.setFixedSize(QSize(128, 128))
        self.title = label("", "resultTitle")
        self.message = label("", "resultMessage")
        self.hint = label("", "resultHint")
        self.ok = QPushButton("OK (Enter)")
        self.ok.setObjectName("primary")
        self.ok.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.ok.setMinimumSize(QSize(220, 64))
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.message)
        text.addWidget(self.hint)
        row = QHBoxLayout(self.panel)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addSpacing(24)
        row.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.panel)
        layout.addSpacing(24)
        layout.addWidget(self.ok, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.kind = ""

    def show_feedback(self, feedback: Feedback) -> None:
        self.kind = feedback.kind
        self.panel.setProperty("kind", feedback.kind)
        repolish(self.panel)
        self.icon.setPixmap(icon(feedback.kind).pixmap(QSize(128, 128)))
        self.title.setText(feedback.title)
        self.message.setText(feedback.message)
        self.message.setVisible(bool(feedback.message))
        self.hint.setText(feedback.hint)
        self.hint.setVisible(bool(feedback.hint))


class NoticePage(QWidget):
    """A screen that explains a state of the station (not connected, mode not available)."""

    def __init__(self) -> None:
        super().__init__()
        self.title = label("", "heading")
        self.message = label("", "detail")
        self.action = QPushButton("Try again now")
        self.action.setObjectName("primary")
        self.action.setMinimumSize(QSize(260, 64))
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addSpacing(24)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(2)

    def show_notice(self, title: str, message: str, action: str | None = None) -> None:
        self.title.setText(title)
        self.message.setText(message)
        self.action.setVisible(action is not None)
        if action:
            self.action.setText(action)
