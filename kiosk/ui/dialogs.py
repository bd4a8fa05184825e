"""Dialogs that ask the operator to decide: confirm a transfer or a check-in, pick one of
several devices or people, answer a yes/no question (undo, a batch's person).

All ignore every key for the first half second after they open (`guard_ms`): a scanner's
trailing Enter or a double scan must never confirm or dismiss something nobody has seen.
Open them with `open()` and listen to `finished`; never `exec()` (it would nest the loop).
Those that name people take the station's `NameStyle` (`names`: in full, or private).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.changes import Condition, give_sentence
from kiosk.core.privacy import FULL, NameStyle
from kiosk.core.rules import TransferCheck
from kiosk.iiq.models import Asset, Person
from kiosk.ui.views import id_text, label, person_text, shown, wrapping_list

GUARD_MS = 500
T = TypeVar("T")


class GuardedDialog(QDialog):
    """A dialog whose keys and buttons do nothing until `guard_ms` after it opened."""

    def __init__(self, parent: QWidget | None, guard_ms: int) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.armed = guard_ms <= 0
        self._guard = QTimer(self)
        self._guard.setSingleShot(True)
        self._guard.setInterval(max(0, guard_ms))
        self._guard.timeout.connect(self._arm)
        self._guarded_buttons: list[QPushButton] = []

    def open(self) -> None:
        self._fit_to_parent()
        super().open()
        if not self.armed:
            for button in self._guarded_buttons:
                button.setEnabled(False)
            self._guard.start()

    def _fit_to_parent(self) -> None:
        """As wide as the kiosk allows (Qt would cap a dialog at 2/3 of the screen and
        clip its text), as tall as the wrapped text needs."""
        parent = self.parentWidget()
        if parent is None:
            return
        width = max(min(1200, parent.width() - 80), min(self.minimumWidth(), parent.width()))
        layout = self.layout()
        height = layout.totalHeightForWidth(width) if layout is not None else -1
        if height <= 0:
            height = self.sizeHint().height()
        self.resize(width, min(height, parent.height() - 40))

    def _arm(self) -> None:
        self.armed = True
        for button in self._guarded_buttons:
            button.setEnabled(True)

    def _buttons(
        self,
        confirm: str,
        cancel: str = "Cancel (Esc)",
        on_confirm: Callable[[], None] | None = None,
    ) -> QHBoxLayout:
        """The dialog's two big buttons, cancel left and confirm right, as a row to add:
        `confirm_button` (accept, or `on_confirm`) and `cancel_button` (reject)."""
        self.confirm_button = self._big_button(confirm, "primary")
        self.cancel_button = self._big_button(cancel, "secondary")
        self.confirm_button.clicked.connect(on_confirm or self.accept)
        self.cancel_button.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.confirm_button)
        return row

    def _big_button(self, text: str, name: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setMinimumSize(QSize(240, 72))
        button.setAutoDefault(False)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._guarded_buttons.append(button)
        return button

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if not self.armed:
            event.accept()  # swallowed: nothing is decided unseen
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.on_enter()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.reject()
            return
        super().keyPressEvent(event)

    def on_enter(self) -> None:
        self.accept()


class ConfirmTransferDialog(GuardedDialog):
    """ "Give CB-004512 (Dell Chromebook 3110) to Ana Ruiz, grade 07, ID 204518", device and
    person side by side, warnings in words. Enter confirms, Esc cancels."""

    def __init__(
        self,
        parent: QWidget | None,
        asset: Asset,
        person: Person,
        check: TransferCheck,
        *,
        held_count: int = 0,
        accessory: Asset | None = None,
        guard_ms: int = GUARD_MS,
        names: NameStyle = FULL,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Confirm")
        owner = check.from_owner
        owner_name = shown(names.person_name(owner)) if owner else None
        device = f"{shown(asset.asset_tag or asset.serial_number)}" + (
            f" ({shown(asset.model_name)})" if asset.model_name else ""
        )
        if accessory is not None:
            device += f" with {shown(accessory.asset_tag)}"
        sentence = give_sentence(device, person_text(person, names), owner_name)
        self.sentence = label(sentence + "?", "confirmSentence")

        device_box = _box(
            "Device",
            [
                shown(asset.asset_tag) or "(no tag)",
                shown(asset.model_name),
                f"Serial {shown(asset.serial_number)}" if asset.serial_number else "",
                f"Status: {shown(asset.status_name)}" if asset.status_name else "",
                f"Now with: {owner_name}" if owner_name else "Now with: nobody",
                f"Charger: {shown(accessory.asset_tag)}" if accessory else "",
            ],
        )
        person_lines = [
            shown(names.person_name(person)),
            f"Grade {shown(person.grade, 12)}" if person.grade else (person.role_label or ""),
            id_text(person, names),
            f"Already has {held_count} device{'s' if held_count != 1 else ''}"
            if held_count
            else "Has no other device",
        ]
        person_box = _box("Person", person_lines)
        arrow = label("→", "arrow", wrap=False)
        boxes = QHBoxLayout()
        boxes.addWidget(device_box, 1)
        boxes.addWidget(arrow)
        boxes.addWidget(person_box, 1)

        self.warnings = label(
            "\n".join(
                f"Warning: {shown(names.about_people(w, person, owner), 300)}"
                for w in check.warnings
            ),
            "warningText",
        )
        self.warnings.setVisible(bool(check.warnings))

        buttons = self._buttons("Confirm (Enter)")

        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addSpacing(16)
        layout.addLayout(boxes)
        layout.addWidget(self.warnings)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        self.setMinimumWidth(720)


class PickerDialog(GuardedDialog, Generic[T]):
    """A question and a list to pick one row from: arrow keys and Enter (or touch), Esc
    cancels. `chosen()` is the picked item."""

    def __init__(
        self,
        parent: QWidget | None,
        question: str,
        items: list[T],
        rows: list[str],
        *,
        title: str,
        guard_ms: int = GUARD_MS,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("pickerDialog")
        self.setWindowTitle(title)
        self.items = items
        self.title = label(question, "confirmSentence")
        self.list = wrapping_list("results")
        for text in rows:
            self.list.addItem(QListWidgetItem(text))
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(lambda _item: self.on_enter())
        buttons = self._buttons("Pick (Enter)", on_confirm=self.on_enter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.setMinimumSize(720, 420)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if self.armed and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = -1 if event.key() == Qt.Key.Key_Up else 1
            row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
            self.list.setCurrentRow(row)
            return
        super().keyPressEvent(event)

    def on_enter(self) -> None:
        if self.armed and self.list.currentRow() >= 0:
            self.accept()

    def chosen(self) -> T | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None


class DevicePickerDialog(PickerDialog[Asset]):
    """Several devices share the scanned tag: show them all, let the operator pick one."""

    def __init__(
        self,
        parent: QWidget | None,
        query: str,
        assets: list[Asset],
        *,
        guard_ms: int = GUARD_MS,
        names: NameStyle = FULL,
    ) -> None:
        rows = [
            f"{shown(asset.asset_tag)}  ·  {shown(asset.model_name) or 'unknown model'}\n"
            f"serial {shown(asset.serial_number) or 'none'}  ·  "
            f"{shown(asset.status_name) or 'no status'}"
            f"  ·  with {shown(names.name(asset.owner_name)) or 'nobody'}"
            for asset in assets
        ]
        question = (
            f"{len(assets)} devices have the tag or serial “{shown(query)}”. Which one is it?"
        )
        super().__init__(parent, question, assets, rows, title="Several devices", guard_ms=guard_ms)
        self.assets = assets


class PersonPickerDialog(PickerDialog[Person]):
    """Several people fit what was typed, on a screen with no list: pick one."""

    def __init__(
        self,
        parent: QWidget | None,
        query: str,
        people: list[Person],
        *,
        guard_ms: int = GUARD_MS,
        names: NameStyle = FULL,
    ) -> None:
        question = f"{len(people)} people fit “{shown(query)}”. Who is it?"
        rows = [person_text(person, names) for person in people]
        super().__init__(parent, question, people, rows, title="Several people", guard_ms=guard_ms)
        self.people = people


class QuestionDialog(GuardedDialog):
    """One question in a full sentence ("Give CB-004512 back to nobody?"), details below,
    Enter for yes, Esc for no."""

    def __init__(
        self,
        parent: QWidget | None,
        question: str,
        details: list[str] | None = None,
        *,
        confirm: str = "Yes (Enter)",
        cancel: str = "No (Esc)",
        guard_ms: int = GUARD_MS,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Confirm")
        self.sentence = label(question, "confirmSentence")
        self.details = label("\n".join(details or []), "detail")
        self.details.setVisible(bool(details))
        buttons = self._buttons(confirm, cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addWidget(self.details)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        self.setMinimumWidth(720)


class CheckinDialog(GuardedDialog):
    """The check-in checklist, one key each: 1 good (default), 2 damaged, 3 broken; C
    toggles "charger returned" (when the station asks); Tab moves into the note and Tab or
    Enter leaves it (that Enter never confirms). Enter confirms, Esc cancels."""

    def __init__(
        self,
        parent: QWidget | None,
        asset: Asset,
        *,
        ask_charger: bool,
        charger_tag: str | None = None,
        guard_ms: int = GUARD_MS,
        names: NameStyle = FULL,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Check in")
        self.condition = Condition.GOOD
        self.ask_charger = ask_charger and charger_tag is None
        self.charger_returned: bool | None = True if ask_charger else None
        if charger_tag is not None:
            self.charger_returned = charger_tag != ""
        owner = asset.owner
        tag = shown(asset.asset_tag or asset.serial_number)
        if asset.current_owner_id:
            who = person_text(owner, names) if owner else "someone (name not shown)"
            question = f"Check in {tag} from {who}?"
        else:
            question = f"{tag} has no owner in Incident IQ. Set its status and location only?"
        self.sentence = label(question, "confirmSentence")
        self.device = label(
            " · ".join(
                p
                for p in (
                    shown(asset.model_name),
                    f"Status: {shown(asset.status_name)}" if asset.status_name else "",
                    f"Charger: {shown(charger_tag)}" if charger_tag else "",
                )
                if p
            ),
            "detail",
        )
        self.condition_label = label("", "boxMain")
        self.charger_label = label("", "boxMain")
        self.charger_label.setVisible(self.ask_charger or charger_tag == "")
        self.keys = label(
            "1 good · 2 damaged · 3 broken"
            + (" · C charger yes/no" if self.ask_charger else "")
            + " · Tab: note",
            "detail",
        )
        self.note = QLineEdit()
        self.note.setObjectName("personInput")
        self.note.setPlaceholderText("Note (optional): Tab to type, Tab or Enter to leave")
        self.note.setMaxLength(300)
        self.note.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.note.installEventFilter(self)
        buttons = self._buttons("Check in (Enter)")
        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addWidget(self.device)
        layout.addSpacing(12)
        layout.addWidget(self.condition_label)
        layout.addWidget(self.charger_label)
        layout.addWidget(self.keys)
        layout.addWidget(self.note)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        self.setMinimumWidth(720)
        self._refresh()

    @property
    def note_text(self) -> str | None:
        return self.note.text().strip() or None

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if self.armed and not self.note.hasFocus():
            key, text = event.key(), event.text().casefold()
            if text in ("1", "2", "3"):
                self.condition = (Condition.GOOD, Condition.DAMAGED, Condition.BROKEN)[
                    int(text) - 1
                ]
                self._refresh()
                return
            if text == "c" and self.ask_charger:
                self.charger_returned = not self.charger_returned
                self._refresh()
                return
            if key == Qt.Key.Key_Tab:
                self.note.setFocus()
                return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        # In the note, Tab and Enter only leave it: Qt's default button must not fire.
        leaving = (Qt.Key.Key_Tab, Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if (
            watched is self.note and event.type() == QEvent.Type.KeyPress and event.key() in leaving  # type: ignore[attr-defined]
        ):
            self.note.clearFocus()
            self.setFocus()
            return True
        return False

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802 - Qt API
        return False  # Tab is a checklist key here, not focus traversal

    def _refresh(self) -> None:
        marks = {
            Condition.GOOD: "good",
            Condition.DAMAGED: "DAMAGED: a repair ticket is filed",
            Condition.BROKEN: "BROKEN: a repair ticket is filed",
        }
        self.condition_label.setText(f"Condition: {marks[self.condition]}")
        returned = "yes" if self.charger_returned else "NO"
        self.charger_label.setText(f"Charger returned: {returned}")


def _box(title: str, lines: list[str]) -> QFrame:
    frame = QFrame()
    frame.setObjectName("sideBox")
    layout = QVBoxLayout(frame)
    layout.addWidget(label(title, "fieldName"))
    for i, text in enumerate(line for line in lines if line):
        layout.addWidget(label(text, "boxMain" if i == 0 else "fieldValue"))
    layout.addStretch(1)
    return frame
