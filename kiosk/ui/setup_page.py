"""The first-run setup screen: shown instead of the kiosk when no site is configured.

Site address, site id, API token (pasted once), station name, transfer routes and the admin
PIN (twice). "Test connection" runs the district self-check with what was typed and shows
who the token belongs to and what it may do; "Save and start" (after a test without a
failure) stores the token in the keyring and the rest in the user's file, then the kiosk
starts on them without a restart. The checks, the test and the saving are `kiosk.setup`'s.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import ConfigError, Settings
from kiosk.core.doctor import DoctorReport
from kiosk.core.pin import PIN_MAX_DIGITS, PIN_MIN_DIGITS
from kiosk.setup import MECHANISMS, SetupAnswers, answer_problems
from kiosk.ui.views import label

log = logging.getLogger(__name__)

Tester = Callable[[SetupAnswers], Awaitable[DoctorReport]]
Saver = Callable[[SetupAnswers, DoctorReport], Settings]

_FIELDS = ("url", "site_id", "token", "station", "mechanism", "pin", "pin_again")


class SetupPage(QWidget):
    """Emits `saved(settings, token)` once the answers are tested and saved."""

    saved = Signal(object, str)

    def __init__(
        self, settings: Settings, *, problem: str | None, test: Tester, save: Saver
    ) -> None:
        super().__init__()
        self.setObjectName("setupPage")
        self._test = test
        self._save = save
        self._pin_required = not settings.admin.pin_hash
        self._tested: tuple[SetupAnswers, DoctorReport] | None = None
        self._task: asyncio.Task[None] | None = None

        self.title = label("Set up this kiosk", "heading")
        self.intro = label(
            "Fill in your district's Incident IQ site, then Test connection. The token is "
            "kept in this computer's credential store, never in a file."
            + (f"\n{problem}" if problem else ""),
            "detail",
        )
        self.url = QLineEdit(settings.iiq.url or "")
        self.url.setPlaceholderText("https://yourdistrict.incidentiq.com")
        self.site_id = QLineEdit(settings.iiq.site_id or "")
        self.site_id.setPlaceholderText("Admin > Developer Tools shows it")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("paste the API token")
        self.station = QLineEdit(settings.station.name or socket.gethostname())
        self.mechanism = QComboBox()
        for key, text in MECHANISMS.items():
            self.mechanism.addItem(text, key)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_again = QLineEdit()
        self.pin_again.setEchoMode(QLineEdit.EchoMode.Password)
        if not self._pin_required:
            self.pin.setPlaceholderText("leave empty to keep the PIN set by IT")
        self.messages: dict[str, QLabel] = {name: label("", "fieldProblem") for name in _FIELDS}
        form = QFormLayout()
        rows: list[tuple[str, QWidget, str]] = [
            ("Site address", self.url, "url"),
            ("Site id", self.site_id, "site_id"),
            ("API token", self.token, "token"),
            ("Station name", self.station, "station"),
            ("Transfer routes", self.mechanism, "mechanism"),
            (f"Admin PIN ({PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits)", self.pin, "pin"),
            ("Admin PIN again", self.pin_again, "pin_again"),
        ]
        for text, widget, name in rows:
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(widget)
            box.addWidget(self.messages[name])
            self.messages[name].setVisible(False)
            form.addRow(text, box)
        for field in (self.url, self.site_id, self.token, self.station, self.pin, self.pin_again):
            field.textChanged.connect(self._answers_changed)
        self.mechanism.currentIndexChanged.connect(self._answers_changed)

        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("secondary")
        self.save_button = QPushButton("Save and start")
        self.save_button.setObjectName("primary")
        for button in (self.test_button, self.save_button):
            button.setMinimumSize(QSize(240, 64))
        self.save_button.setEnabled(False)
        self.test_button.clicked.connect(self._on_test)
        self.save_button.clicked.connect(self._on_save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)

        self.status = label("", "detail")
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setObjectName("setupReport")
        self.report.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.report, 1)

    def answers(self) -> SetupAnswers:
        return SetupAnswers(
            url=self.url.text(),
            site_id=self.site_id.text(),
            token=self.token.text(),
            station=self.station.text(),
            mechanism=self.mechanism.currentData(),
            pin=self.pin.text() or None,
            pin_again=self.pin_again.text() or None,
        )

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    # --- slots ----------------------------------------------------------------------

    def _answers_changed(self) -> None:
        """A changed answer has not been tested: test again before saving."""
        if self._tested is not None and self._tested[0] != self.answers():
            self._tested = None
        self.save_button.setEnabled(self._tested is not None and not self.busy)

    def _show_problems(self, problems: dict[str, str]) -> None:
        for name, message in self.messages.items():
            message.setText(problems.get(name, ""))
            message.setVisible(name in problems)

    def _on_test(self) -> None:
        if self.busy:
            return
        answers = self.answers()
        problems = answer_problems(answers, pin_required=self._pin_required)
        self._show_problems(problems)
        if problems:
            self.status.setText("Some answers need a look (see above).")
            return
        self._task = asyncio.ensure_future(self._run_test(answers))

    async def _run_test(self, answers: SetupAnswers) -> None:
        self.test_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.status.setText("Testing the connection (read-only checks)…")
        try:
            report = await self._test(answers)
        except Exception as exc:  # the self-check reports problems as lines; this is a bug
            log.exception("the connection test failed")
            self.status.setText(f"The test could not run: {exc}")
            return
        finally:
            self.test_button.setEnabled(True)
        self.report.setPlainText(report.render(who=True))
        self.report.setVisible(True)
        if report.ok:
            self._tested = (answers, report)
            who = f" The token belongs to {report.who}." if report.who else ""
            self.status.setText(f"Connection works.{who} Save and start when ready.")
        else:
            self._tested = None
            self.status.setText(
                "The test found a problem (FAIL lines below): fix it and test again."
            )
        self.save_button.setEnabled(self._tested is not None)

    def _on_save(self) -> None:
        if self._tested is None or self.busy:
            return
        self._task = asyncio.ensure_future(self._run_save(*self._tested))

    async def _run_save(self, answers: SetupAnswers, report: DoctorReport) -> None:
        self.test_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.status.setText("Saving…")
        try:
            # The keyring, the PIN's hash and the file: off the window's thread.
            settings = await asyncio.to_thread(self._save, answers, report)
        except ConfigError as exc:
            self.status.setText(str(exc))
            return
        except Exception:
            log.exception("saving the setup failed")
            self.status.setText("The setup could not be saved: see the log.")
            return
        finally:
            self.test_button.setEnabled(True)
            self.save_button.setEnabled(self._tested is not None)
        self.status.setText("Saved. Starting the kiosk…")
        self.token.clear()
        self.pin.clear()
        self.pin_again.clear()
        self.saved.emit(settings, answers.cleaned().token)
