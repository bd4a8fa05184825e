"""The settings dialog: what an operator may change, built from `kiosk.settings_fields`,
and a box to test the barcode scanner.

One widget per field of the table (a check box, a spin box, a line edit, a combo box, or a
small text box for the charger rules), each with its label, its help under it and as a
tool tip, and a message under it when its value is wrong (found by the pydantic models
through `validate_changes`, while typing). A setting the machine-wide file locks is
disabled and says it is set by the IT department. Save (Enter) accepts only when every
value is good; `changes()` is then the dict of dotted key -> value that differs from the
settings the dialog was opened with. The dialog applies and writes nothing: whoever opens
it (behind the admin PIN) writes the changes with `kiosk.config.write_user_settings` and
applies them.

The "test scanner" box records each key typed into it with its time and shows, once the
scan ends (Enter, Tab, or a pause), the characters received (control characters made
visible: ⏎ Enter, ⇥ Tab, ␝ and the like), whether the prefix and suffix were there, the
total time and the largest gap between keys, and whether the kiosk would take it as a
scan with the scanner settings in the form (`check_scan` decides that with the kiosk's own
`ScanDetector`). The kiosk window's `ScannerFilter` would swallow a scan before it reaches
the box: pass it as `scanner` and the dialog switches it off while it is shown.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import Settings, user_settings_path
from kiosk.core.scan import (
    Scan,
    ScanDetector,
    ScanEvent,
    ScanSettings,
    Typed,
    check_tag,
    clean_scan,
)
from kiosk.settings_fields import (
    FIELDS,
    GENERAL,
    GROUPS,
    FieldError,
    SettingField,
    candidate_settings,
    changed_values,
    validate_changes,
)
from kiosk.ui.dialogs import GUARD_MS, GuardedDialog
from kiosk.ui.scanner import ScannerFilter
from kiosk.ui.views import label

__all__ = [
    "CAPTURE_PAUSE_MS",
    "LOCKED_TEXT",
    "KeyStroke",
    "ScanCheck",
    "ScannerTestBox",
    "SettingsDialog",
    "check_scan",
    "visible",
]

#: Under a setting the machine-wide file locks.
LOCKED_TEXT = "Set by your IT department: it cannot be changed here."
#: The test box ends a scan that sends no Enter or Tab after this much silence (or the
#: scanner's own end pause, when that is longer).
CAPTURE_PAUSE_MS = 600
_ENTER, _TAB = "\r", "\t"
_SHOWN_MAX = 80


# --- what a scan looked like (no widgets) -------------------------------------------------


@dataclass(frozen=True)
class KeyStroke:
    """One key typed into the test box: a character, or Enter ("\\r") or Tab ("\\t")."""

    t_ms: float
    text: str


@dataclass(frozen=True)
class ScanCheck:
    """What the test box saw of one scan, and what the kiosk would make of it."""

    received: str
    """The characters as they arrived, control characters made visible."""
    characters: int
    ended_by: str
    """ "Enter", "Tab" or "a pause"."""
    total_ms: float
    """From the first key to the last (its Enter or Tab included)."""
    largest_gap_ms: float
    """The longest time between two characters."""
    end_gap_ms: float | None
    """From the last character to the Enter or Tab, when one came."""
    prefix: str
    suffix: str
    is_scan: bool
    """Whether the kiosk takes the whole of it as one scan."""
    code: str
    """The cleaned code (prefix, suffix and case rule applied)."""
    verdict: str

    def lines(self) -> list[str]:
        """The report, as the box shows it."""
        end = "" if self.ended_by == "a pause" else f", then {self.ended_by}"
        timing = (
            f"Time: {_ms(self.total_ms)} from the first key to the last; largest gap "
            f"between characters {_ms(self.largest_gap_ms)}"
        )
        if self.end_gap_ms is not None:
            timing += f"; {self.ended_by} {_ms(self.end_gap_ms)} after the last character"
        return [
            f"Received: {self.received} ({self.characters} "
            f"character{'s' if self.characters != 1 else ''}{end})",
            f"{self.prefix} {self.suffix}",
            timing + ".",
            self.verdict,
        ]


def visible(text: str) -> str:
    """`text` with Enter, Tab, blanks and control characters shown as symbols."""
    shown: list[str] = []
    for ch in text:
        if ch in ("\r", "\n"):
            shown.append("⏎")
        elif ch == "\t":
            shown.append("⇥")
        elif ch == " ":
            shown.append("␣")
        elif ord(ch) < 32:
            shown.append(chr(0x2400 + ord(ch)))  # the Control Pictures block: ␀ .. ␟
        elif ch == "\x7f":
            shown.append("␡")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            shown.append(f"<U+{ord(ch):04X}>")
        else:
            shown.append(ch)
    joined = "".join(shown)
    return joined if len(joined) <= _SHOWN_MAX else joined[: _SHOWN_MAX - 1] + "…"


def check_scan(keys: Sequence[KeyStroke], settings: ScanSettings) -> ScanCheck:
    """What the kiosk would make of these keys with these scanner settings: the same
    `ScanDetector` the window uses decides."""
    ends = [k for k in keys if k.text in (_ENTER, _TAB)]
    end = ends[0] if ends else None
    chars = [k for k in keys if k.text not in (_ENTER, _TAB)]
    if end is not None:
        chars = [k for k in chars if k.t_ms <= end.t_ms]
    raw = "".join(k.text for k in chars)
    gaps = [b.t_ms - a.t_ms for a, b in itertools.pairwise(chars)]
    largest = max(gaps, default=0.0)
    last = end or (chars[-1] if chars else None)
    total = last.t_ms - keys[0].t_ms if keys and last else 0.0
    end_gap = end.t_ms - chars[-1].t_ms if end is not None and chars else None
    ended_by = "a pause" if end is None else ("Enter" if end.text == _ENTER else "Tab")

    events = _detect(chars, end, settings)
    scans = [e for e in events if isinstance(e, Scan)]
    typed = "".join(e.text for e in events if isinstance(e, Typed))
    printable = "".join(k.text for k in chars if k.text.isprintable())
    is_scan = len(scans) == 1 and not typed and scans[0].text == raw and raw == printable
    code = clean_scan(scans[0].text, settings) if is_scan else clean_scan(printable, settings)
    prefix, suffix = _affixes(raw, settings)
    if not chars:
        verdict = f"Nothing but {ended_by} arrived: scan a barcode into the box."
    elif is_scan:
        fits = (
            "it fits the device tag pattern"
            if check_tag(code, settings) is None
            else "it does not fit the device tag pattern (fine for an ID card)"
        )
        verdict = f"Taken as a scan of “{visible(code)}”: {fits}."
        if end is not None and scans[0].ended_by == "pause":
            verdict += (
                f" But its {ended_by} came {_ms(end_gap or 0.0)} after the last character, "
                f"later than the {_ms(settings.end_pause_ms)} allowed (“End of a scan "
                f"without Enter”): that {ended_by} would reach the screen."
            )
    elif len(printable) < settings.burst_min_length:
        verdict = (
            f"Not taken as a scan: {len(printable)} characters arrived, and a scan has at "
            f"least {settings.burst_min_length} (“Shortest scan”)."
        )
    elif largest > settings.burst_max_gap_ms:
        verdict = (
            f"Not taken as a scan: keys came up to {_ms(largest)} apart, more than the "
            f"{_ms(settings.burst_max_gap_ms)} a scan's characters may be (“Largest gap "
            "between a scan's characters”). A person typing looks like this; for a "
            "scanner, raise that setting."
        )
    else:
        verdict = (
            "Not taken as one scan: a control character or a pause split it, and part of "
            "it would reach the screen as typing."
        )
    return ScanCheck(
        received=visible(raw + (end.text if end is not None else "")),
        characters=len(raw),
        ended_by=ended_by,
        total_ms=total,
        largest_gap_ms=largest,
        end_gap_ms=end_gap,
        prefix=prefix,
        suffix=suffix,
        is_scan=is_scan,
        code=code,
        verdict=verdict,
    )


def _detect(
    chars: Sequence[KeyStroke], end: KeyStroke | None, settings: ScanSettings
) -> list[ScanEvent]:
    """The detector's decisions for these keys, as the window's filter would feed them (a
    control character is not text there: it interrupts)."""
    detector = ScanDetector(settings)
    events: list[ScanEvent | None] = []
    for key in chars:
        if key.text.isprintable():
            events.append(detector.feed_char(key.text, key.t_ms))
        else:
            events.append(detector.interrupt(key.t_ms))
    if end is not None:
        events.append(detector.feed_terminator("enter" if end.text == _ENTER else "tab", end.t_ms))
    elif chars:
        quiet = chars[-1].t_ms + settings.end_pause_ms + settings.burst_max_gap_ms + 1
        events.append(detector.poll(quiet) or detector.interrupt(quiet))
    return [event for event in events if event is not None]


def _affixes(raw: str, settings: ScanSettings) -> tuple[str, str]:
    """Whether the configured prefix and suffix were in the scan, in words."""
    plain = dataclasses.replace(settings, prefix="", suffix="")
    text = clean_scan(raw, plain)
    if settings.prefix:
        prefix = clean_scan(settings.prefix, plain)
        seen = "found, removed" if text.startswith(prefix) else "not in this scan"
        prefix_words = f"Prefix “{visible(prefix)}”: {seen}."
    else:
        identifier = re.match(r"\][A-Za-z][0-9A-Za-z]", raw.strip())
        prefix_words = (
            f"Prefix: none set (the scan starts with “{identifier.group()}”, a symbology "
            "identifier: set it as the prefix to remove it)."
            if identifier
            else "Prefix: none set."
        )
    if settings.suffix:
        suffix = clean_scan(settings.suffix, plain)
        seen = "found, removed" if text.endswith(suffix) else "not in this scan"
        suffix_words = f"Suffix “{visible(suffix)}”: {seen}."
    else:
        suffix_words = "Suffix: none set."
    return prefix_words, suffix_words


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


# --- the test box -------------------------------------------------------------------------


class ScannerTestBox(QFrame):
    """A line to scan into and the report of the last scan (see `check_scan`).

    `scan_settings` gives the scanner settings to judge by (the dialog's form); `clock`
    returns seconds (`time.monotonic`; tests may pass their own). Enter and Tab that end a
    scan stay in the box: they never close the dialog or move on.
    """

    checked = Signal(object)
    """The `ScanCheck` of each scan, when it ends."""

    def __init__(
        self,
        scan_settings: Callable[[], ScanSettings],
        *,
        clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sideBox")
        self._scan_settings = scan_settings
        self._clock = clock
        self._keys: list[KeyStroke] = []
        self._open = False
        self.last_keys: tuple[KeyStroke, ...] = ()
        self.last_check: ScanCheck | None = None
        self.title = label("Test the scanner", "fieldName")
        self.prompt = label(
            "Click the box below (or Tab to it) and scan a barcode: it shows what the "
            "scanner sends and whether the kiosk takes it as a scan.",
            "hint",
        )
        self.input = QLineEdit()
        self.input.setObjectName("personInput")
        self.input.setPlaceholderText("Scan here")
        self.input.setAccessibleName("Test the scanner")
        self.input.installEventFilter(self)
        self.report = label("", "detail")
        self._pause = QTimer(self)
        self._pause.setSingleShot(True)
        self._pause.timeout.connect(self._finish)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.prompt)
        layout.addWidget(self.input)
        layout.addWidget(self.report)

    def refresh(self) -> None:
        """Judge the last scan again (the scanner settings in the form changed)."""
        if self.last_keys:
            self._show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if watched is not self.input or event.type() != QEvent.Type.KeyPress:
            return False
        key_event = cast(QKeyEvent, event)
        commands = key_event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier
            | Qt.KeyboardModifier.AltModifier
            | Qt.KeyboardModifier.MetaModifier
        )
        key, text = key_event.key(), key_event.text()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab) and not commands:
            if self._open:
                self._keys.append(
                    KeyStroke(self._now_ms(), _TAB if key == Qt.Key.Key_Tab else _ENTER)
                )
                self._finish()
                return True
            return key != Qt.Key.Key_Tab  # Enter in an empty box does not close the dialog
        if len(text) == 1 and not commands and not key_event.isAutoRepeat() and _recorded(key):
            if not self._open:
                self._keys = []
                self.input.clear()
                self._open = True
            self._keys.append(KeyStroke(self._now_ms(), text))
            pause = max(CAPTURE_PAUSE_MS, self._scan_settings().end_pause_ms + 100)
            self._pause.start(int(pause))
        return False

    def _finish(self) -> None:
        self._pause.stop()
        self._open = False
        self.last_keys = tuple(self._keys)
        self._keys = []
        if self.last_keys:
            self._show()

    def _show(self) -> None:
        check = check_scan(self.last_keys, self._scan_settings())
        self.last_check = check
        self.report.setText("\n".join(check.lines()))
        self.checked.emit(check)

    def _now_ms(self) -> float:
        return self._clock() * 1000.0


def _recorded(key: int) -> bool:
    """Keys that are part of what a scanner sends (not editing keys)."""
    return key not in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete, Qt.Key.Key_Escape)


# --- the dialog ---------------------------------------------------------------------------


@dataclass
class _Editor:
    field: SettingField
    widget: QWidget
    help: QLabel
    message: QLabel


class SettingsDialog(GuardedDialog):
    """The operator's settings; see the module. `changes()` after it was accepted."""

    def __init__(
        self,
        parent: QWidget | None,
        settings: Settings,
        *,
        fields: Sequence[SettingField] = FIELDS,
        scanner: ScannerFilter | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard_ms: int = GUARD_MS,
    ) -> None:
        super().__init__(parent, guard_ms)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.fields = tuple(fields)
        self._scanner = scanner
        self._scanner_was_on = False
        self._changes: dict[str, Any] = {}
        self.messages: dict[str, str] = {}
        self.editors: dict[str, _Editor] = {}

        self.title = label("Settings", "heading")
        self.where = label(
            f"Saved in {user_settings_path(settings)}"
            + (
                f"; settings marked as set by your IT department come from {settings.machine_file}."
                if settings.machine_file
                else "."
            ),
            "hint",
        )
        self.general = label("", "warningText")
        self.general.setVisible(False)

        body = QWidget()
        column = QVBoxLayout(body)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        for group in (*GROUPS, *sorted({f.group for f in self.fields} - set(GROUPS))):
            members = [f for f in self.fields if f.group == group]
            if members:
                grid.addWidget(label(group, "subheading"), grid.rowCount(), 0, 1, 2)
                for entry in members:
                    self._add_field(grid, entry)
        column.addLayout(grid)
        self.scanner_test = ScannerTestBox(self._form_scan_settings, clock=clock)
        column.addWidget(self.scanner_test)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)

        buttons = self._buttons("Save (Enter)", on_confirm=self.on_enter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.where)
        layout.addWidget(self.general)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.setMinimumSize(900, 640)
        self._validate()

    # --- results ------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """The dotted settings the operator changed, with their new values (None: back to
        the default). Meaningful once the dialog was accepted."""
        return dict(self._changes)

    def on_enter(self) -> None:
        """Save (Enter): accepted only when every value is good; else the first wrong
        field gets the focus, its message under it."""
        if not self.armed:
            return
        if self._validate():
            self.accept()
            return
        for key in self.messages:
            editor = self.editors.get(key)
            if editor is not None:
                editor.widget.setFocus()
                break

    # --- building -----------------------------------------------------------------------

    def _add_field(self, grid: QGridLayout, entry: SettingField) -> None:
        """The field's rows: its name and widget, its help under the widget, and the
        line for its message (hidden while its value is good)."""
        widget = self._widget(entry)
        locked = self.settings.is_locked(entry.key)
        name = label(f"{entry.label} (locked)" if locked else entry.label, "fieldName")
        name.setBuddy(widget)
        help_text = entry.help
        origin = self.settings.origin(entry.key)
        if locked:
            help_text = f"{LOCKED_TEXT} {entry.help}"
            widget.setEnabled(False)
        elif origin in ("environment", "command line"):
            help_text += f" Set for this run by the {origin}, which wins over a saved change."
        widget.setToolTip(help_text)
        widget.setAccessibleName(entry.label)
        widget.setAccessibleDescription(help_text)
        hint = label(help_text, "hint")
        message = label("", "warningText")
        message.setVisible(False)
        row = grid.rowCount()
        grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(widget, row, 1)
        grid.addWidget(hint, row + 1, 1)
        grid.addWidget(message, row + 2, 1)
        self.editors[entry.key] = _Editor(entry, widget, hint, message)

    def _widget(self, entry: SettingField) -> QWidget:
        value = entry.form(entry.current(self.settings))
        if entry.kind == "bool":
            box = QCheckBox("Yes")
            box.setChecked(bool(value))
            box.toggled.connect(self._on_edit)
            return box
        if entry.kind in ("int", "float"):
            low, high = entry.bounds
            spin: QSpinBox | QDoubleSpinBox
            if entry.kind == "int":
                spin = QSpinBox()
                spin.setRange(int(low), int(high))
                spin.setValue(int(value))
            else:
                spin = QDoubleSpinBox()
                spin.setDecimals(entry.decimals)
                spin.setRange(low, high)
                spin.setValue(float(value))
            spin.setSuffix(entry.unit)
            spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
            spin.valueChanged.connect(self._on_edit)
            return spin
        if entry.kind == "choice":
            combo = QComboBox()
            for choice in entry.choices:
                combo.addItem(entry.choice_labels.get(choice, str(choice)))
            combo.setCurrentIndex(entry.choices.index(value) if value in entry.choices else 0)
            combo.currentIndexChanged.connect(self._on_edit)
            return combo
        if entry.kind == "rules":
            rules = QPlainTextEdit()
            rules.setPlainText(str(value))
            rules.setTabChangesFocus(True)
            rules.setFixedHeight(rules.fontMetrics().lineSpacing() * 4 + 16)
            rules.textChanged.connect(self._on_edit)
            return rules
        line = QLineEdit(str(value))
        line.setPlaceholderText(entry.placeholder)
        line.textChanged.connect(self._on_edit)
        return line

    # --- reading and checking -----------------------------------------------------------

    def _form(self, editor: _Editor) -> Any:
        widget = editor.widget
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            return widget.value()
        if isinstance(widget, QComboBox):
            return editor.field.choices[max(0, widget.currentIndex())]
        if isinstance(widget, QPlainTextEdit):
            return widget.toPlainText()
        return cast(QLineEdit, widget).text()

    def _validate(self) -> bool:
        """Read every field, check the changes with the models, show each message under
        its field; True when everything is good."""
        parsed: dict[str, Any] = {}
        messages: dict[str, str] = {}
        for key, editor in self.editors.items():
            if self.settings.is_locked(key):
                continue
            try:
                parsed[key] = editor.field.parse(self._form(editor))
            except FieldError as exc:
                messages[key] = str(exc)
        changes = changed_values(self.settings, parsed, self.fields)
        if not messages:
            messages = validate_changes(self.settings, changes, self.fields)
        self._changes = changes if not messages else {}
        self.messages = messages
        for key, editor in self.editors.items():
            text = messages.get(key, "")
            editor.message.setText(text)
            editor.message.setVisible(bool(text))
        general = messages.get(GENERAL, "")
        self.general.setText(general)
        self.general.setVisible(bool(general))
        return not messages

    def _form_scan_settings(self) -> ScanSettings:
        """The scanner settings in the form when they are good, else the current ones."""
        if self.messages:
            return self.settings.scanner
        try:
            return candidate_settings(self.settings, self._changes).scanner
        except ValueError:  # pydantic's ValidationError is a ValueError
            return self.settings.scanner

    def _on_edit(self, *_args: object) -> None:
        self._validate()
        self.scanner_test.refresh()

    # --- Qt -----------------------------------------------------------------------------

    def _fit_to_parent(self) -> None:
        super()._fit_to_parent()
        parent = self.parentWidget()
        if parent is not None:  # a long form: as tall as the kiosk allows
            self.resize(self.width(), max(self.height(), parent.height() - 40))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        # The window's scanner filter would take every scan before the test box sees it.
        if self._scanner is not None:
            self._scanner_was_on = self._scanner.isEnabled()
            self._scanner.setEnabled(False)
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt API
        if self._scanner is not None and self._scanner_was_on:
            self._scanner.setEnabled(True)
            self._scanner_was_on = False
        super().hideEvent(event)
