"""The kiosk's screens: layout only. Flows fill them (through `kiosk.ui.screens`) and
react to their signals; no widget of a view is wired from outside.

Every screen keeps its text in plain labels so that tests (and people) can read it, and
marks its parts with object names and dynamic properties that `resources/style.qss` styles.
Text that comes from Incident IQ or a scanner goes through `shown()`: control and bidi
override characters removed, length bounded, names isolated so that a right-to-left name
cannot reorder the ID and grade printed beside it. Names and ID numbers go through the
station's `NameStyle` first (`kiosk.core.privacy`: in full, or "Ana R.", "ID ••••4518").
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.privacy import FULL, NameStyle
from kiosk.core.text import clean_text, isolate
from kiosk.resources import resource_path

if TYPE_CHECKING:  # only named in signatures: the first window does not wait for them
    from kiosk.iiq.models import Activity, Asset, Person
    from kiosk.ui.feedback import Feedback

#: The most of one value (a name, an ID number, a tag) a screen shows.
SHOWN_LIMIT = 60


def shown(text: str | None, limit: int = SHOWN_LIMIT) -> str:
    """Text from outside (Incident IQ, a scanner) as a screen shows it: see the module.
    Text with right-to-left letters is isolated; other text needs no isolation."""
    cleaned = clean_text(text or "", limit=limit)
    if any(unicodedata.bidirectional(ch) in _RTL for ch in cleaned):
        return isolate(cleaned)
    return cleaned


_RTL = frozenset({"R", "AL", "AN"})


def person_text(person: Person, names: NameStyle = FULL) -> str:
    """ "Ana Ruiz, grade 07, ID 204518" for a screen (isolated parts, bounded length);
    privately "Ana R., grade 07, ID ••••4518"."""
    parts = [shown(names.person_name(person))]
    if person.grade:
        parts.append(f"grade {shown(person.grade, 12)}")
    if person.school_id_number:
        parts.append(id_text(person, names))
    elif person.role_label:
        parts.append(person.role_label)
    return ", ".join(parts)


def sentence(text: str) -> str:
    """`text` ended with a full stop, unless it ends with one already (a private name,
    "…for Ana R.")."""
    return text if text.endswith(".") else text + "."


def id_text(person: Person, names: NameStyle = FULL) -> str:
    """ "ID 204518" (privately "ID ••••4518"), or "" for a person with no ID number."""
    number = names.school_id(person.school_id_number)
    return f"ID {shown(number, 24)}" if number else ""


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

    #: Typed text + Enter (the field is emptied).
    entered = Signal(str)

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
        self.input.returnPressed.connect(self._on_enter)
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

    def _on_enter(self) -> None:
        text = self.input.text()
        self.input.clear()
        self.entered.emit(text)


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

    def show_asset(
        self, asset: Asset, seen_at: datetime | None = None, names: NameStyle = FULL
    ) -> None:
        """Fill the card; `seen_at` marks an offline answer from the kiosk's memory."""
        self.tag.setText(clean_text(asset.asset_tag or "", SHOWN_LIMIT) or "(no tag)")
        if seen_at is not None:
            self.note.setText(
                f"OFFLINE: as this kiosk saw it at {seen_at:%H:%M}. It may have changed since."
            )
        self.note.setVisible(seen_at is not None)
        where = ", ".join(p for p in (asset.location_name, asset.room_name) if p)
        tickets = asset.open_ticket_count
        self.values["Model"].setText(shown(asset.model_name) or "unknown model")
        self.values["Serial"].setText(shown(asset.serial_number) or "none recorded")
        self.values["Status"].setText(shown(asset.status_name) or "unknown")
        self.values["Location"].setText(shown(where, 2 * SHOWN_LIMIT) or "not recorded")
        self.values["Owner"].setText(_owner_text(asset, names))
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


def _owner_text(asset: Asset, names: NameStyle) -> str:
    owner = asset.owner
    if not asset.current_owner_id:
        return "nobody (free)"
    if owner is None:
        return "someone (name not shown by Incident IQ)"
    return person_text(owner, names)


class DevicePage(QWidget):
    """The device card plus the next step: the person (check-out) or the history (look-up).

    Down in the field moves into the people list, Up on its first row moves back."""

    #: Typed text + Enter in the field (not emptied: a name may be refined).
    entered = Signal(str)
    #: The operator typed or deleted a character (type-ahead).
    edited = Signal(str)
    #: A person was chosen in the list (Enter or touch).
    picked = Signal(object)

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
        self._lookup: bool | None = None
        self.person_input.returnPressed.connect(lambda: self.entered.emit(self.person_input.text()))
        self.person_input.textEdited.connect(self.edited.emit)
        self.results.itemActivated.connect(
            lambda item: self.picked.emit(item.data(Qt.ItemDataRole.UserRole))
        )
        self.person_input.installEventFilter(self)
        self.results.installEventFilter(self)

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
        """Check-out shows the people list under the field; look-up shows the history
        instead. Only a real change touches the widgets (each one costs a relayout)."""
        if self._lookup is lookup:
            return
        self._lookup = lookup
        for widget in (self.results, self.results_note):
            widget.setVisible(not lookup)
        self.activity_title.setVisible(lookup)
        self.activity.setVisible(lookup)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.Type.KeyPress:
            return False
        key = event.key()  # type: ignore[attr-defined]
        if watched is self.person_input and key == Qt.Key.Key_Down and self.results.count():
            self.results.setFocus()
            self.results.setCurrentRow(0)
            return True
        if watched is self.results and key == Qt.Key.Key_Up and self.results.currentRow() == 0:
            self.person_input.setFocus()
            return True
        return False

    def show_people(
        self, people: list[Person], note: str, *, select: bool, names: NameStyle = FULL
    ) -> None:
        """The people list for the typed text; `select` moves the keyboard into it."""
        self.results.clear()
        for person in people:
            details = [id_text(person, names)]
            details.append(
                f"grade {shown(person.grade, 12)}" if person.grade else person.role_label or ""
            )
            name = shown(names.person_name(person))
            item = QListWidgetItem(f"{name}\n{'  ·  '.join(d for d in details if d)}".strip())
            item.setData(Qt.ItemDataRole.UserRole, person)
            self.results.addItem(item)
        self.results_note.setText(note)
        if select and people:
            self.results.setFocus()
            self.results.setCurrentRow(0)

    def clear_people(self) -> None:
        self.results.clear()
        self.results_note.clear()

    def show_activity(self, items: list[Activity], names: NameStyle = FULL) -> None:
        """The device's history. Privately, each line says what kind of change it was and
        not Incident IQ's description of it: that is free text naming past owners in full
        ("Transferred from Ben Li to Ana Ruiz"), whom the kiosk cannot pick out of it."""
        self.activity.clear()
        for item in items:
            when = (item.activity_date or "")[:16].replace("T", " ")
            if names.private:
                what = _activity_kind(item.activity_type)
            else:
                what = item.description or item.activity_type or "change"
            by = f" ({shown(names.name(item.by))})" if item.by else ""
            self.activity.addItem(f"{when}  {shown(what, 160)}{by}")
        if not items:
            self.activity.addItem("No recorded activity.")

    def clear(self) -> None:
        self.card.clear()
        self.person_input.clear()
        self.results.clear()
        self.results_note.clear()
        self.activity.clear()


def _activity_kind(kind: str | None) -> str:
    """ "CheckOut" -> "Check out", "OwnerChanged" -> "Owner changed"."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", kind or "")
    if not words:
        return "change"
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:]


class ResultPage(QWidget):
    """Success / warning / error / saved-for-later: color, icon, words and a sound.
    Enter or the OK button acknowledges it."""

    acknowledged = Signal()

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
        self.ok.clicked.connect(self.acknowledged.emit)
        self.details = wrapping_list("results")
        self.details.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.details.setVisible(False)
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
        layout.addWidget(self.details, 1)
        layout.addSpacing(24)
        layout.addWidget(self.ok, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.kind = ""

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.acknowledged.emit()
            return
        super().keyPressEvent(event)

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
        self.details.clear()
        self.details.addItems(list(feedback.details))
        self.details.setVisible(bool(feedback.details))

    def clear(self) -> None:
        """Nothing of the last result (and of the people it named) stays in the page."""
        for text in (self.title, self.message, self.hint):
            text.clear()
        self.details.clear()


class NoticePage(QWidget):
    """A screen that explains a state of the station (not connected, not set up)."""

    action_clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.title = label("", "heading")
        self.message = label("", "detail")
        self.action = QPushButton("Try again now")
        self.action.setObjectName("primary")
        self.action.setMinimumSize(QSize(260, 64))
        self.action.clicked.connect(self.action_clicked.emit)
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


class PanelPage(QWidget):
    """A running batch or a person at the distribution line: a heading, what to do, a
    large count, the list of what happened so far, and a field for typed tags.

    With the field empty, the keys 1, 2 and 3 do not type: they emit `condition_key`
    (a cart batch marks the next device good, damaged or broken with them)."""

    entered = Signal(str)
    condition_key = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.heading = label("", "heading")
        self.detail = label("", "detail")
        self.count = label("", "prompt")
        self.marker = label("", "warningText")
        self.marker.setVisible(False)
        self.input = QLineEdit()
        self.input.setObjectName("scanInput")
        self.input.setMaxLength(200)
        self.input.returnPressed.connect(self._on_enter)
        self.input.installEventFilter(self)
        self.list = wrapping_list("sessionList")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.keys_for_condition = False
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.detail)
        layout.addWidget(self.count)
        layout.addWidget(self.marker)
        layout.addWidget(self.input)
        layout.addWidget(self.list, 1)

    def show_panel(
        self,
        heading: str,
        detail: str,
        *,
        placeholder: str,
        condition_keys: bool = False,
    ) -> None:
        self.heading.setText(heading)
        self.detail.setText(detail)
        self.input.setPlaceholderText(placeholder)
        self.input.clear()
        self.keys_for_condition = condition_keys
        self.list.clear()
        self.set_count("")
        self.set_marker("")

    def set_count(self, text: str) -> None:
        self.count.setText(text)
        self.count.setVisible(bool(text))

    def set_marker(self, text: str) -> None:
        self.marker.setText(text)
        self.marker.setVisible(bool(text))

    def add_line(self, text: str) -> None:
        self.list.insertItem(0, text)
        self.list.doItemsLayout()

    def lines(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if (
            watched is self.input
            and event.type() == QEvent.Type.KeyPress
            and self.keys_for_condition
            and not self.input.text()
            and event.text() in ("1", "2", "3")  # type: ignore[attr-defined]
        ):
            self.condition_key.emit(event.text())  # type: ignore[attr-defined]
            return True
        return False

    def _on_enter(self) -> None:
        text = self.input.text()
        self.input.clear()
        self.entered.emit(text)
