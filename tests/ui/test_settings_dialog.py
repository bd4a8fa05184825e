"""The settings dialog: built from the field table, validation under each field, locked
fields, the changes it returns, and the test-scanner box."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from kiosk.config import MACHINE_CONFIG_ENV, Settings, load_settings, write_user_settings
from kiosk.core.scan import ScanSettings
from kiosk.settings_fields import FIELDS, field_for
from kiosk.ui.scanner import ScannerFilter
from kiosk.ui.settings_dialog import (
    LOCKED_TEXT,
    KeyStroke,
    SettingsDialog,
    check_scan,
    visible,
)

WIDGETS = {
    "bool": QCheckBox,
    "int": QSpinBox,
    "float": QDoubleSpinBox,
    "text": QLineEdit,
    "choice": QComboBox,
    "rules": QPlainTextEdit,
}


class FakeClock:
    """Seconds that move on by `step` at every reading (one reading per key)."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def make_dialog(qtbot: Any, settings: Settings | None = None, **kwargs: Any) -> SettingsDialog:
    dialog = SettingsDialog(None, settings or Settings(), guard_ms=0, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def editor(dialog: SettingsDialog, key: str) -> Any:
    return dialog.editors[key].widget


def texts(dialog: SettingsDialog) -> str:
    return "\n".join(w.text() for w in dialog.findChildren(QLabel) if w.text())


# --- built from the table ---------------------------------------------------------------------


def test_one_widget_per_field_with_its_label_help_and_value(qtbot: Any) -> None:
    settings = Settings.model_validate(
        {"station": {"sound": False, "idle_seconds": 90}, "scanner": {"prefix": "]C1"}}
    )
    dialog = make_dialog(qtbot, settings)
    assert list(dialog.editors) == [f.key for f in FIELDS if f.group in {f.group for f in FIELDS}]
    shown = texts(dialog)
    for entry in FIELDS:
        widget = editor(dialog, entry.key)
        assert isinstance(widget, WIDGETS[entry.kind]), entry.key
        assert widget.isEnabled()
        assert widget.toolTip() == entry.help
        assert entry.label in shown and entry.help in shown
    assert editor(dialog, "station.sound").isChecked() is False
    assert editor(dialog, "station.idle_seconds").value() == 90
    assert editor(dialog, "scanner.prefix").text() == "]C1"
    assert editor(dialog, "scanner.burst_min_length").value() == 4
    assert editor(dialog, "checkin.cart_pattern").text() == r"^CART-[A-Z0-9-]+$"
    assert editor(dialog, "checkin.location_id").text() == ""
    modes = editor(dialog, "station.mode_lock")
    assert modes.currentText() == "Not locked: every mode"
    assert [modes.itemText(i) for i in range(modes.count())][1] == "Check out (F1)"
    assert dialog.changes() == {}
    assert dialog.messages == {}


def test_numbers_keep_to_the_model_bounds(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    idle = editor(dialog, "station.idle_seconds")
    assert idle.minimum() == 5  # from the model's ge=5, not repeated in the table
    assert field_for("station.idle_seconds").default == 60.0  # from the model
    idle.setValue(1)
    assert idle.value() == 5


# --- validation ---------------------------------------------------------------------------------


def test_a_bad_value_shows_its_message_and_keeps_save_from_accepting(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    editor(dialog, "scanner.tag_pattern").setText("^CB-(")
    message = dialog.editors["scanner.tag_pattern"].message
    assert message.isVisibleTo(dialog)
    assert "“Device tag pattern”" in message.text()
    assert "not a valid pattern" in message.text()
    dialog.confirm_button.click()
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    qtbot.keyClick(editor(dialog, "scanner.suffix"), Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    # The wrong field gets the focus, to fix it.
    assert dialog.focusWidget() is editor(dialog, "scanner.tag_pattern")
    editor(dialog, "scanner.tag_pattern").setText("^CB-[0-9]+$")
    assert not message.isVisibleTo(dialog)
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        dialog.confirm_button.click()
    assert dialog.changes() == {"scanner.tag_pattern": "^CB-[0-9]+$"}


def test_a_rule_between_two_fields_is_shown_under_the_one_it_names(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    editor(dialog, "scanner.end_pause_ms").setValue(20)
    text = dialog.editors["scanner.end_pause_ms"].message.text()
    assert text == (
        "“End of a scan without Enter” must not be shorter than "
        "“Largest gap between a scan's characters”."
    )
    assert dialog.changes() == {}


def test_a_bad_charger_rule_names_its_line(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    rules = editor(dialog, "accessories")
    rules.setPlainText("Chromebook: ^CHG-\niPad")
    assert dialog.editors["accessories"].message.text().startswith("Line 2: write part of")
    rules.setPlainText("Chromebook: ^CHG-\niPad: ^USB-(")
    assert dialog.editors["accessories"].message.text().startswith("Line 2: tag_pattern")
    rules.setPlainText("Chromebook: ^CHG-\niPad: ^USB-")
    assert dialog.messages == {}
    assert dialog.changes() == {
        "accessories": [
            {"model": "Chromebook", "tag_pattern": "^CHG-"},
            {"model": "iPad", "tag_pattern": "^USB-"},
        ]
    }


def test_a_cart_pattern_that_orphans_a_cart_is_refused(qtbot: Any) -> None:
    settings = Settings.model_validate({"checkin": {"carts": {"CART-1": {"location_id": "x"}}}})
    dialog = make_dialog(qtbot, settings)
    editor(dialog, "checkin.cart_pattern").setText("^BOX-[0-9]+$")
    assert "never find it" in dialog.editors["checkin.cart_pattern"].message.text()


# --- locked fields -------------------------------------------------------------------------


def test_a_locked_field_is_disabled_with_the_reason(qtbot: Any, tmp_path: Path) -> None:
    machine = tmp_path / "machine.toml"
    machine.write_text(
        'locked = ["station.mode_lock", "tickets"]\n[station]\nmode_lock = "checkin"\n',
        encoding="utf-8",
    )
    settings = load_settings(env={MACHINE_CONFIG_ENV: str(machine)})
    dialog = make_dialog(qtbot, settings)
    for key in ("station.mode_lock", "tickets.issue_id", "tickets.wizard_category_id"):
        widget = editor(dialog, key)
        assert not widget.isEnabled(), key
        assert dialog.editors[key].help.text().startswith(LOCKED_TEXT)
        assert LOCKED_TEXT in widget.toolTip()
    assert editor(dialog, "station.mode_lock").currentText() == "Check in (F2)"
    assert editor(dialog, "station.sound").isEnabled()
    assert str(machine) in dialog.where.text()
    editor(dialog, "station.sound").setChecked(False)
    assert dialog.changes() == {"station.sound": False}


# --- the changes it returns ------------------------------------------------------------------


def test_it_returns_only_what_changed_and_the_writer_takes_it(qtbot: Any, tmp_path: Path) -> None:
    dialog = make_dialog(qtbot)
    editor(dialog, "station.sound").setChecked(False)
    editor(dialog, "station.idle_seconds").setValue(120)
    modes = editor(dialog, "station.mode_lock")
    modes.setCurrentIndex(modes.findText("Check in (F2)"))
    editor(dialog, "scanner.prefix").setText("  ]C1 ")
    editor(dialog, "checkin.cart_pattern").setText("")
    editor(dialog, "checkin.location_id").setText("loc-store")
    editor(dialog, "scanner.burst_max_gap_ms").setValue(50)
    editor(dialog, "scanner.case").setCurrentIndex(2)
    editor(dialog, "station.privacy").setChecked(True)
    editor(dialog, "station.privacy").setChecked(False)  # and back: no change
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        dialog.on_enter()
    changes = dialog.changes()
    assert changes == {
        "station.sound": False,
        "station.idle_seconds": 120.0,
        "station.mode_lock": "checkin",
        "scanner.prefix": "]C1",
        "checkin.cart_pattern": "",
        "checkin.location_id": "loc-store",
        "scanner.burst_max_gap_ms": 50.0,
        "scanner.case": "keep",
    }
    path = write_user_settings(tmp_path / "config.toml", changes, locked=())
    settings = load_settings(config=path, env={})
    assert settings.station.sound is False and settings.station.idle_seconds == 120
    assert settings.station.mode_lock == "checkin"
    assert settings.scanner.prefix == "]C1" and settings.scanner.case == "keep"
    assert settings.checkin.cart_pattern is None
    assert settings.checkin.location_id == "loc-store"
    # Opened again on what was saved: nothing is a change any more.
    assert make_dialog(qtbot, settings).changes() == {}


def test_clearing_an_id_sets_it_back_to_unset(qtbot: Any) -> None:
    settings = Settings.model_validate({"tickets": {"issue_id": "issue-1"}})
    dialog = make_dialog(qtbot, settings)
    editor(dialog, "tickets.issue_id").setText("   ")
    assert dialog.changes() == {"tickets.issue_id": None}


def test_escape_cancels(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    editor(dialog, "station.sound").setChecked(False)
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)


# --- the test-scanner box ------------------------------------------------------------------


def scan_into(qtbot: Any, dialog: SettingsDialog, text: str, end: Qt.Key | None) -> str:
    """Type `text` into the test box as fast as a scanner, then `end` (None: nothing, the
    box ends the scan after a pause), and return the box's report."""
    box = dialog.scanner_test
    box.input.setFocus()
    with qtbot.waitSignal(box.checked, timeout=3000):
        qtbot.keyClicks(box.input, text)
        if end is not None:
            qtbot.keyClick(box.input, end)
    return box.report.text()


def test_a_simulated_scan_shows_its_characters_and_timing(qtbot: Any) -> None:
    settings = Settings.model_validate({"scanner": {"prefix": "]C1"}})
    dialog = make_dialog(qtbot, settings)
    report = scan_into(qtbot, dialog, "]C1CB-004512", Qt.Key.Key_Return)
    assert dialog.isVisible()  # the scanner's Enter stays in the box
    check = dialog.scanner_test.last_check
    assert check is not None and check.is_scan
    assert check.code == "CB-004512"
    assert "Received: ]C1CB-004512⏎ (12 characters, then Enter)" in report
    assert "Prefix “]C1”: found, removed. Suffix: none set." in report
    assert "from the first key to the last; largest gap between characters" in report
    assert check.largest_gap_ms < 35 and check.total_ms < 500
    assert "Taken as a scan of “CB-004512”: it fits the device tag pattern." in report


def test_a_tab_ended_scan_and_one_without_an_end(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    report = scan_into(qtbot, dialog, "204518", Qt.Key.Key_Tab)
    assert "Received: 204518⇥ (6 characters, then Tab)" in report
    assert dialog.focusWidget() is dialog.scanner_test.input  # the scanner's Tab stayed
    report = scan_into(qtbot, dialog, "CB-1 2", None)
    assert "Received: CB-1␣2 (6 characters)" in report
    assert "Taken as a scan of “CB-1␣2”: it does not fit the device tag pattern" in report


def test_slow_typing_is_not_a_scan_and_says_why(qtbot: Any) -> None:
    dialog = make_dialog(qtbot, clock=FakeClock(0.1))
    report = scan_into(qtbot, dialog, "CB-004512", Qt.Key.Key_Return)
    check = dialog.scanner_test.last_check
    assert check is not None and not check.is_scan
    assert check.largest_gap_ms == pytest.approx(100)
    assert "Not taken as a scan: keys came up to 100 ms apart, more than the 35 ms" in report
    assert "Time: 900 ms from the first key to the last" in report


def test_changing_the_timing_judges_the_last_scan_again(qtbot: Any) -> None:
    dialog = make_dialog(qtbot, clock=FakeClock(0.05))
    report = scan_into(qtbot, dialog, "CB-004512", Qt.Key.Key_Return)
    assert "Not taken as a scan" in report
    editor(dialog, "scanner.end_pause_ms").setValue(200)
    editor(dialog, "scanner.burst_max_gap_ms").setValue(60)
    assert "Taken as a scan of “CB-004512”" in dialog.scanner_test.report.text()


def test_the_window_scanner_filter_is_off_while_the_dialog_shows(qtbot: Any) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    scanner = ScannerFilter(window)
    dialog = SettingsDialog(window, Settings(), guard_ms=0, scanner=scanner)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not scanner.isEnabled()
    report = scan_into(qtbot, dialog, "CB-004512", Qt.Key.Key_Return)
    assert "Taken as a scan" in report
    dialog.reject()
    assert scanner.isEnabled()
    scanner.remove()


# --- the pure parts ---------------------------------------------------------------------------


def test_control_characters_are_made_visible() -> None:
    assert visible("a\tb c\r\n\x1d\x00\x7f\u200b") == "a⇥b␣c⏎⏎␝␀␡<U+200B>"
    assert len(visible("X" * 500)) == 80


def test_check_scan_with_a_group_separator_and_a_late_enter() -> None:
    settings = ScanSettings()
    keys = [KeyStroke(float(i), ch) for i, ch in enumerate("0104\x1d12345")]
    check = check_scan(keys, settings)
    assert check.received == "0104␝12345"
    assert not check.is_scan and "control character" in check.verdict
    late = [KeyStroke(float(i), ch) for i, ch in enumerate("CB-004512")]
    late.append(KeyStroke(500.0, "\r"))
    check = check_scan(late, settings)
    assert check.is_scan and check.end_gap_ms == pytest.approx(492)
    assert "that Enter would reach the screen" in check.verdict


def test_check_scan_of_too_few_characters_and_a_symbology_identifier() -> None:
    short = [KeyStroke(float(i), ch) for i, ch in enumerate("AB")] + [KeyStroke(3.0, "\r")]
    assert "a scan has at least 4 (“Shortest scan”)" in check_scan(short, ScanSettings()).verdict
    keys = [KeyStroke(float(i), ch) for i, ch in enumerate("]C1CB-004512")]
    check = check_scan(keys, ScanSettings())
    assert "starts with “]C1”, a symbology identifier" in check.prefix
    assert check_scan([KeyStroke(0.0, "\r")], ScanSettings()).verdict.startswith(
        "Nothing but Enter"
    )
