"""Dialogs that ask the operator to decide: confirm a transfer, pick one of several devices.

Both ignore every key for the first half second after they open (`guard_ms`): a scanner's
trailing Enter or a double scan must never confirm or dismiss something nobody has seen.
Open them with `open()` and listen to `finished`; never `exec()` (it would nest the loop).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.rules import TransferCheck, person_line
from kiosk.iiq.models import Asset, Person
from kiosk.ui.views import label, wrapping_list

GUARD_MS = 500


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
        guard_ms: int = GUARD_MS,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("confirmDialog")
        self.setWindowTitle("Confirm")
        owner = check.from_owner
        if owner is not None:
            sentence = f"Transfer {asset.label} from {owner.display_name} to {person_line(person)}?"
        else:
            sentence = f"Give {asset.label} to {person_line(person)}?"
        self.sentence = label(sentence, "confirmSentence")

        device_box = _box(
            "Device",
            [
                asset.asset_tag or "(no tag)",
                asset.model_name or "",
                f"Serial {asset.serial_number}" if asset.serial_number else "",
                f"Status: {asset.status_name}" if asset.status_name else "",
                f"Now with: {owner.display_name}" if owner else "Now with: nobody",
            ],
        )
        person_lines = [
            person.display_name,
            f"Grade {person.grade}" if person.grade else (person.role_label or ""),
            f"ID {person.school_id_number}" if person.school_id_number else "",
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

        self.warnings = label("\n".join(f"Warning: {w}" for w in check.warnings), "warningText")
        self.warnings.setVisible(bool(check.warnings))

        self.confirm_button = self._big_button("Confirm (Enter)", "primary")
        self.cancel_button = self._big_button("Cancel (Esc)", "secondary")
        self.confirm_button.clicked.connect(self.accept)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addSpacing(16)
        layout.addLayout(boxes)
        layout.addWidget(self.warnings)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        self.setMinimumWidth(720)


class DevicePickerDialog(GuardedDialog):
    """Several devices share the scanned tag: show them all, let the operator pick one."""

    def __init__(
        self, parent: QWidget | None, query: str, assets: list[Asset], *, guard_ms: int = GUARD_MS
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("pickerDialog")
        self.setWindowTitle("Several devices")
        self.assets = assets
        self.title = label(
            f"{len(assets)} devices have the tag or serial “{query}”. Which one is it?",
            "confirmSentence",
        )
        self.list = wrapping_list("results")
        for asset in assets:
            text = (
                f"{asset.asset_tag}  ·  {asset.model_name or 'unknown model'}\n"
                f"serial {asset.serial_number or 'none'}  ·  {asset.status_name or 'no status'}"
                f"  ·  with {asset.owner_name or 'nobody'}"
            )
            self.list.addItem(QListWidgetItem(text))
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(lambda _item: self.on_enter())
        self.pick_button = self._big_button("Pick (Enter)", "primary")
        self.cancel_button = self._big_button("Cancel (Esc)", "secondary")
        self.pick_button.clicked.connect(self.on_enter)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.pick_button)
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

    def chosen(self) -> Asset | None:
        row = self.list.currentRow()
        return self.assets[row] if 0 <= row < len(self.assets) else None


def _box(title: str, lines: list[str]) -> QFrame:
    frame = QFrame()
    frame.setObjectName("sideBox")
    layout = QVBoxLayout(frame)
    layout.addWidget(label(title, "fieldName"))
    for i, text in enumerate(line for line in lines if line):
        layout.addWidget(label(text, "boxMain" if i == 0 else "fieldValue"))
    layout.addStretch(1)
    return frame
