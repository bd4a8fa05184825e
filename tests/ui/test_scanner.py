"""ScannerFilter with simulated keyboard-wedge input (pytest-qt, offscreen).

``qtbot.keyClicks`` without a delay sends characters 0.03-0.2 ms apart: a scanner.
With ``delay=150`` each key takes ~300 ms: a person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kiosk.core.scan import ScanSettings
from kiosk.ui.scanner import ScannerFilter


@dataclass
class Form:
    window: QWidget
    edit: QLineEdit
    button: QPushButton
    scanner: ScannerFilter
    scans: list[str]
    returns: list[str]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


_made: list[ScannerFilter] = []


def make_form(
    qtbot: QtBot, settings: ScanSettings | None = None, clock: FakeClock | None = None
) -> Form:
    """A window with a focused line edit and a button, watched by a ScannerFilter."""
    window = QWidget()
    edit = QLineEdit(window)
    button = QPushButton("OK", window)
    layout = QVBoxLayout(window)
    layout.addWidget(edit)
    layout.addWidget(button)
    qtbot.addWidget(window)
    scanner = (
        ScannerFilter(window, settings, clock=clock) if clock else ScannerFilter(window, settings)
    )
    _made.append(scanner)
    scans: list[str] = []
    returns: list[str] = []
    scanner.scanned.connect(scans.append)
    edit.returnPressed.connect(lambda: returns.append(edit.text()))
    window.show()
    window.activateWindow()
    edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edit)
    return Form(window, edit, button, scanner, scans, returns)


@pytest.fixture(autouse=True)
def _remove_filters() -> Iterator[None]:
    """Take every filter a test made off the application, even when the test failed."""
    yield
    while _made:
        scanner = _made.pop()
        if shiboken6.isValid(scanner):  # gone already if its window was deleted
            scanner.remove()


@pytest.fixture
def form(qtbot: QtBot) -> Form:
    return make_form(qtbot)


def test_burst_with_enter_is_one_scan_and_never_reaches_the_line_edit(
    qtbot: QtBot, form: Form
) -> None:
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(form.edit, "cb-004512")
        qtbot.keyClick(form.edit, Qt.Key.Key_Return)
    assert blocker.args == ["CB-004512"]
    qtbot.wait(200)  # past every pause: nothing more arrives
    assert form.scans == ["CB-004512"]
    assert form.edit.text() == ""
    assert form.returns == []  # the scanner's Enter pressed nothing


def test_slow_typing_goes_to_the_focused_line_edit(qtbot: QtBot, form: Form) -> None:
    qtbot.keyClicks(form.edit, "ana", delay=150)
    qtbot.waitUntil(lambda: form.edit.text() == "ana", timeout=1000)
    qtbot.keyClick(form.edit, Qt.Key.Key_Return)
    qtbot.wait(200)
    assert form.scans == []
    assert form.returns == ["ana"]


def test_burst_without_suffix_is_a_scan_after_the_pause(qtbot: QtBot, form: Form) -> None:
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(form.edit, "5CG1234XYZ")
        assert form.scans == []  # not yet: an Enter might still follow
    assert blocker.args == ["5CG1234XYZ"]
    assert form.edit.text() == ""


def test_tab_suffix_is_swallowed_and_focus_stays(qtbot: QtBot, form: Form) -> None:
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(form.edit, "CB-004512")
        qtbot.keyClick(form.edit, Qt.Key.Key_Tab)
    assert blocker.args == ["CB-004512"]
    assert QApplication.focusWidget() is form.edit
    assert form.edit.text() == ""


def test_prefix_and_suffix_are_stripped(qtbot: QtBot) -> None:
    f = make_form(qtbot, ScanSettings(prefix="]C1", suffix="/E"))
    with qtbot.waitSignal(f.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(f.edit, "]C1CB-004512/E")
        qtbot.keyClick(f.edit, Qt.Key.Key_Return)
    assert blocker.args == ["CB-004512"]


def test_typing_then_a_scan_keeps_the_typing_and_routes_the_scan(qtbot: QtBot, form: Form) -> None:
    qtbot.keyClicks(form.edit, "ab", delay=120)
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(form.edit, "CB-004512")
        qtbot.keyClick(form.edit, Qt.Key.Key_Return)
    assert blocker.args == ["CB-004512"]
    assert form.edit.text() == "ab"


def test_held_keys_keep_their_order_before_other_keys(qtbot: QtBot) -> None:
    clock = FakeClock()
    f = make_form(qtbot, clock=clock)
    qtbot.keyClicks(f.edit, "xy")  # held: could be the start of a burst
    qtbot.keyClick(f.edit, Qt.Key.Key_Backspace)
    assert f.edit.text() == "x"
    clock.now += 1.0
    qtbot.keyClicks(f.edit, "z")
    qtbot.keyClick(f.edit, Qt.Key.Key_Return)
    assert f.returns == ["xz"]
    assert f.scans == []


def test_injected_clock_decides_what_is_slow(qtbot: QtBot) -> None:
    clock = FakeClock()
    f = make_form(qtbot, clock=clock)
    for ch in "ana":  # delivered at once, but 200 ms apart by the kiosk's clock
        clock.now += 0.2
        qtbot.keyClicks(f.edit, ch)
    clock.now += 0.2  # the last key is released by the timer once its pause is over
    qtbot.waitUntil(lambda: f.edit.text() == "ana", timeout=1000)
    assert f.scans == []


def test_short_fast_code_with_enter_is_typed_entry(qtbot: QtBot, form: Form) -> None:
    qtbot.keyClicks(form.edit, "A12")  # shorter than burst_min_length
    qtbot.keyClick(form.edit, Qt.Key.Key_Return)
    assert form.returns == ["A12"]
    assert form.scans == []


def test_scan_while_a_dialog_is_open_is_emitted_but_never_typed_into_it(
    qtbot: QtBot, form: Form
) -> None:
    dialog = QDialog(form.window)
    dialog_edit = QLineEdit(dialog)
    ok = QPushButton("Confirm", dialog)
    ok.setDefault(True)
    ok.clicked.connect(dialog.accept)
    layout = QVBoxLayout(dialog)
    layout.addWidget(dialog_edit)
    layout.addWidget(ok)
    dialog.setModal(True)
    dialog.open()
    dialog.activateWindow()
    dialog_edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog_edit)
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(dialog_edit, "CB-004512")
        qtbot.keyClick(dialog_edit, Qt.Key.Key_Return)
    assert blocker.args == ["CB-004512"]
    assert dialog_edit.text() == ""
    assert dialog.isVisible()  # the scanner's Enter did not confirm anything
    # A person's typing still works in the dialog, and Enter confirms.
    qtbot.keyClicks(dialog_edit, "ok", delay=100)
    qtbot.waitUntil(lambda: dialog_edit.text() == "ok", timeout=1000)
    qtbot.keyClick(dialog_edit, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert form.edit.text() == ""


def test_scanned_letters_do_not_trigger_single_key_shortcuts(qtbot: QtBot, form: Form) -> None:
    hits: list[str] = []
    shortcut = QShortcut(QKeySequence("Y"), form.window)
    shortcut.activated.connect(lambda: hits.append("Y"))
    form.button.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.button)
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000):
        qtbot.keyClicks(form.button, "YY-1234")
        qtbot.keyClick(form.button, Qt.Key.Key_Return)
    assert hits == []
    qtbot.keyClicks(form.button, "y", delay=100)  # a person pressing Y ticks it
    qtbot.waitUntil(lambda: hits == ["Y"], timeout=1000)
    assert form.scans == ["YY-1234"]


def test_disabled_filter_lets_every_key_through(qtbot: QtBot, form: Form) -> None:
    form.scanner.setEnabled(False)
    assert not form.scanner.isEnabled()
    qtbot.keyClicks(form.edit, "CB-004512")
    qtbot.keyClick(form.edit, Qt.Key.Key_Return)
    assert form.edit.text() == "CB-004512"
    assert form.returns == ["CB-004512"]
    form.scanner.setEnabled(True)
    form.edit.clear()
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000):
        qtbot.keyClicks(form.edit, "CB-004513")
        qtbot.keyClick(form.edit, Qt.Key.Key_Return)
    assert form.edit.text() == ""


def test_other_top_level_windows_are_left_alone(qtbot: QtBot, form: Form) -> None:
    other = QWidget()
    other_edit = QLineEdit(other)
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    other_edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is other_edit)
    qtbot.keyClicks(other_edit, "CB-004512")
    qtbot.keyClick(other_edit, Qt.Key.Key_Return)
    assert other_edit.text() == "CB-004512"
    qtbot.wait(200)
    assert form.scans == []


def test_scan_with_no_widget_focused(qtbot: QtBot, form: Form) -> None:
    form.edit.clearFocus()
    form.window.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() in (None, form.window))
    target = QApplication.focusWidget() or form.window
    with qtbot.waitSignal(form.scanner.scanned, timeout=1000) as blocker:
        qtbot.keyClicks(target, "CB-004512")
        qtbot.keyClick(target, Qt.Key.Key_Return)
    assert blocker.args == ["CB-004512"]


def test_enter_long_after_a_burst_is_an_ordinary_enter(qtbot: QtBot) -> None:
    clock = FakeClock()
    f = make_form(qtbot, clock=clock)
    qtbot.keyClicks(f.edit, "CB-004512")
    clock.now += 1.0  # the pause ran out before the timer had its turn
    qtbot.keyClick(f.edit, Qt.Key.Key_Return)
    assert f.scans == ["CB-004512"]
    assert f.returns == [""]  # the Enter reached the line edit after the scan
