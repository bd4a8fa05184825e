"""First-run setup: a station with no site configured shows the setup screen; its answers
are tested with the self-check and saved (token to the keyring, the rest to the user's
file, the PIN as a hash), and the kiosk then starts on them without a restart."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from kiosk_helpers import mutations, scan
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk import app as kiosk_app
from kiosk.config import KEYRING_SERVICE, load_settings
from kiosk.setup import check_connection
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.ui.setup_page import SetupPage

PIN = "2468"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def vault() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    return path


def kiosk_windows() -> list[Any]:
    """The kiosk's windows on screen (setup and settings changes replace the window)."""
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.main_window import MainWindow

    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
    ]


def the_new_window(qtbot: QtBot, old: Any) -> Any:
    """The window that replaced `old`, once it is the only one on screen."""
    qtbot.waitUntil(
        lambda: len(kiosk_windows()) == 1 and kiosk_windows()[0] is not old, timeout=10000
    )
    return kiosk_windows()[0]


def close_windows() -> None:
    for window in kiosk_windows():
        window.close_guard = None
        window.close()
        window.deleteLater()


def level_of(report: str, title: str) -> str | None:
    """The level ("OK", "WARN", "FAIL") of the report's line `title`."""
    match = re.search(r"^\[(\w+)\s*\] " + re.escape(title), report, re.MULTILINE)
    return match.group(1) if match else None


def fill(page: SetupPage, sim: Simulator, **answers: str) -> None:
    values = {
        "url": sim.url,
        "site_id": sim.site_id,
        "token": sim.token,
        "station": "Library desk 1",
        "pin": PIN,
        "pin_again": PIN,
    } | answers
    for name, value in values.items():
        getattr(page, name).setText(value)


def test_not_set_up_start_ends_in_a_working_kiosk(
    qtbot: QtBot,
    qapp: Any,
    qloop: asyncio.AbstractEventLoop,
    sim: Simulator,
    vault: MemoryKeyring,
    config_file: Path,
) -> None:
    settings = load_settings(config=config_file)
    first = kiosk_app._new_window(settings, demo=False, windowed=True)
    running = asyncio.ensure_future(
        kiosk_app._main(qapp, first, settings, None, config=str(config_file))
    )
    try:
        window = first.window
        qtbot.waitUntil(lambda: isinstance(window.stack.currentWidget(), SetupPage), timeout=5000)
        page = window.stack.currentWidget()
        assert isinstance(page, SetupPage)
        assert "No Incident IQ site" in page.intro.text()
        assert not page.save_button.isEnabled()  # nothing tested yet

        fill(page, sim)
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(page.save_button.isEnabled, timeout=10000)
        assert "Connection works" in page.status.text()
        assert "The token belongs to" in page.status.text()
        assert level_of(page.report.toPlainText(), "Connection and token") == "OK"
        assert sim.token not in page.report.toPlainText()
        # The test changes nothing: its only writes name a device that cannot exist.
        zero = "00000000-0000-0000-0000-000000000000"
        assert mutations(sim)
        assert all(zero in r.path or zero in str(r.json) for r in mutations(sim))

        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        window = the_new_window(qtbot, window)  # named, locked and sized as now set up
        assert "Library desk 1" in window.status.station.text()
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.ready, timeout=10000)
        qtbot.waitUntil(lambda: window.status.connection.text().startswith("Online"), timeout=5000)

        # Saved: the token in the keyring, the rest in the user's file, the PIN as a hash.
        assert vault.items[(KEYRING_SERVICE, sim.url)] == sim.token
        text = config_file.read_text(encoding="utf-8")
        assert sim.url in text and sim.site_id in text and "Library desk 1" in text
        assert 'transfer_api = "checkout"' in text
        assert "scrypt$" in text
        assert sim.token not in text and PIN not in text
        again = load_settings(config=config_file)
        assert again.station.name == "Library desk 1"

        # And it works: a scan shows the device card.
        window.activateWindow()
        qtbot.waitUntil(lambda: window.ready.input.hasFocus(), timeout=3000)
        scan(qtbot, DEMO.free_tag)
        qtbot.waitUntil(
            lambda: (
                window.stack.currentWidget() is window.device
                and window.device.card.tag.text() == DEMO.free_tag
            ),
            timeout=5000,
        )
    finally:
        running.cancel()
        qtbot.waitUntil(running.done, timeout=5000)
        close_windows()


def test_detect_picks_the_owner_routes_when_checkouts_are_off(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    sim: Simulator,
    vault: MemoryKeyring,
    config_file: Path,
) -> None:
    sim.checkout_routes_enabled = False
    settings = load_settings(config=config_file)
    saved: list[Any] = []
    page = _page(settings, config_file)
    qtbot.addWidget(page)
    page.saved.connect(lambda s, t: saved.append(s))
    fill(page, sim)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(page.save_button.isEnabled, timeout=10000)
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(saved), timeout=5000)
    assert saved[0].iiq.transfer_api == "owner"


def _page(settings: Any, config_file: Path) -> SetupPage:
    from kiosk import setup

    return SetupPage(
        settings,
        problem=None,
        test=lambda answers: check_connection(answers, settings, lookups=2),
        save=lambda answers, report: setup.save(answers, settings, report, config=config_file),
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad token", "FAIL"),
        ("forbidden", "WARN"),
        ("wrong site id", "FAIL"),
        ("unreachable", "FAIL"),
    ],
)
def test_a_failing_test_keeps_save_off_and_says_why(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    sim: Simulator,
    vault: MemoryKeyring,
    config_file: Path,
    case: str,
    expected: str,
) -> None:
    settings = load_settings(config=config_file)
    page = _page(settings, config_file)
    qtbot.addWidget(page)
    if case == "bad token":
        fill(page, sim, token="not-a-token")
    elif case == "forbidden":
        sim.faults.add(Fault(kind="status", status=403, path_contains="/login", times=None))
        fill(page, sim)
    elif case == "wrong site id":
        fill(page, sim, site_id="11111111-2222-3333-4444-555555555555")
    else:
        fill(page, sim, url="http://127.0.0.1:9")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(page.report.toPlainText()) and not page.busy, timeout=15000)
    report = page.report.toPlainText()
    assert level_of(report, "Connection and token") == expected
    if expected == "FAIL":
        assert not page.save_button.isEnabled()
        assert "found a problem" in page.status.text()
    assert "not-a-token" not in report and sim.token not in report
    assert config_file.read_text(encoding="utf-8") == ""  # nothing saved
    assert vault.items == {}


def test_answers_are_checked_before_anything_is_sent(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, sim: Simulator, config_file: Path
) -> None:
    page = _page(load_settings(config=config_file), config_file)
    qtbot.addWidget(page)
    page.show()
    fill(page, sim, url="ftp://somewhere", token="", pin="12", pin_again="12")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.messages["url"].isVisible() and "https" in page.messages["url"].text()
    assert "Paste the API token" in page.messages["token"].text()
    assert page.messages["pin"].isVisible()
    assert "need a look" in page.status.text()
    assert sim.requests == []
    fill(page, sim, pin="2468", pin_again="8642")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert "differ" in page.messages["pin_again"].text()
    assert sim.requests == []


def test_a_changed_answer_must_be_tested_again(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, sim: Simulator, config_file: Path
) -> None:
    page = _page(load_settings(config=config_file), config_file)
    qtbot.addWidget(page)
    fill(page, sim)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(page.save_button.isEnabled, timeout=10000)
    page.station.setText("Another desk")
    assert not page.save_button.isEnabled()


def test_the_report_a_district_sends_holds_no_secret(tmp_path: Path, sim: Simulator) -> None:
    from kiosk.setup import SetupAnswers

    answers = SetupAnswers(
        url=sim.url, site_id=sim.site_id, token=sim.token, station="Desk", pin=PIN
    )
    report = asyncio.run(check_connection(answers, load_settings(env={}), lookups=2))
    out = tmp_path / "report.json"
    report.write(out)
    text = out.read_text(encoding="utf-8")
    assert json.loads(text)["result"] in ("OK", "WARN")
    assert sim.token not in text and PIN not in text and sim.site_id not in text
    assert PIN not in repr(answers) and sim.token not in repr(answers)


def _open(kind: type[Any]) -> Any:
    from PySide6.QtWidgets import QApplication

    return next(
        (w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
        None,
    )


def test_a_whole_session_writes_the_token_and_the_pin_nowhere(
    qtbot: QtBot,
    qapp: Any,
    qloop: asyncio.AbstractEventLoop,
    sim: Simulator,
    vault: MemoryKeyring,
    tmp_path: Path,
) -> None:
    """Setup, a check-out, a wrong and a right PIN at F12, the self-check: then every file
    the program wrote (data folder: journal, logs, PIN tries; the config file) is searched
    for the token and the PIN. The keyring (a stand-in here) is where the token belongs."""
    import os

    from kiosk.logs import setup_logging
    from kiosk.ui.admin import AdminDialog, PinDialog, ReportDialog
    from kiosk.ui.dialogs import ConfirmTransferDialog

    config_file = tmp_path / "config" / "config.toml"
    config_file.parent.mkdir()
    config_file.write_text("", encoding="utf-8")
    settings = load_settings(config=config_file)
    setup_logging(settings.data_dir, console=False)  # as kiosk.app.run_gui does
    first = kiosk_app._new_window(settings, demo=False, windowed=True)
    window = first.window
    running = asyncio.ensure_future(
        kiosk_app._main(qapp, first, settings, None, config=str(config_file))
    )
    try:
        qtbot.waitUntil(lambda: isinstance(window.stack.currentWidget(), SetupPage), timeout=5000)
        page = window.stack.currentWidget()
        fill(page, sim)
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(page.save_button.isEnabled, timeout=10000)
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        window = the_new_window(qtbot, window)
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.ready, timeout=10000)
        window.activateWindow()
        qtbot.waitUntil(lambda: window.ready.input.hasFocus(), timeout=3000)

        scan(qtbot, DEMO.free_tag)
        qtbot.waitUntil(lambda: window.device.card.tag.text() == DEMO.free_tag, timeout=5000)
        scan(qtbot, DEMO.student_id)
        qtbot.waitUntil(lambda: _open(ConfirmTransferDialog) is not None, timeout=5000)
        confirm = _open(ConfirmTransferDialog)
        qtbot.waitUntil(lambda: confirm.armed, timeout=3000)
        qtbot.keyClick(confirm, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda: (
                window.stack.currentWidget() is window.result
                and "now has" in window.result.title.text()
            ),
            timeout=5000,
        )

        qtbot.keyClick(window, Qt.Key.Key_F12)
        qtbot.waitUntil(lambda: _open(PinDialog) is not None, timeout=3000)
        pin = _open(PinDialog)
        qtbot.waitUntil(lambda: pin.armed, timeout=3000)
        for attempt in ("13579", PIN):
            pin.field.setText(attempt)
            pin.on_enter()
            qtbot.waitUntil(lambda: not pin.checking, timeout=3000)
        qtbot.waitUntil(lambda: _open(AdminDialog) is not None, timeout=3000)
        admin = _open(AdminDialog)
        qtbot.waitUntil(lambda: admin.armed, timeout=3000)
        admin.buttons["doctor"].click()
        qtbot.waitUntil(lambda: _open(ReportDialog) is not None, timeout=10000)
        _open(ReportDialog).accept()
    finally:
        running.cancel()
        qtbot.waitUntil(running.done, timeout=5000)
        close_windows()
        setup_logging(None, console=False)  # the log file closed, logging as it was

    written = [
        path
        for folder in (Path(os.environ["IIQ_KIOSK_DATA"]), config_file.parent)
        for path in folder.rglob("*")
        if path.is_file()
    ]
    names = {p.name for p in written}
    assert "config.toml" in names and "iiq-kiosk.log" in names
    assert any(n.startswith("journal") for n in names)
    for path in written:
        data = path.read_bytes()
        for secret in (sim.token, PIN, "13579"):
            assert secret.encode() not in data, f"{secret[:4]}… found in {path.name}"


def test_saved_settings_restart_the_station_in_a_new_window(
    qtbot: QtBot,
    qapp: Any,
    qloop: asyncio.AbstractEventLoop,
    sim: Simulator,
    tmp_path: Path,
) -> None:
    """F12 > Settings > Save: the station starts again on the new settings, in a new window,
    without a restart of the program; the old window goes."""
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.admin import AdminDialog
    from kiosk.ui.main_window import MainWindow
    from kiosk.ui.settings_dialog import SettingsDialog

    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[iiq]\nurl = "{sim.url}"\nsite_id = "{sim.site_id}"\n'
        '[station]\nname = "Desk A"\nidle_seconds = 60\n',
        encoding="utf-8",
    )
    settings = load_settings(config=config_file)
    first = kiosk_app._new_window(settings, demo=False, windowed=True)
    old = first.window  # not qtbot's: the restart deletes it
    running = asyncio.ensure_future(
        kiosk_app._main(qapp, first, settings, sim.token, config=str(config_file))
    )

    def windows() -> list[MainWindow]:
        return [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]

    try:
        qtbot.waitUntil(lambda: old.status.connection.text().startswith("Online"), timeout=5000)
        qtbot.keyClick(old, Qt.Key.Key_F12)  # no PIN set: the choices at once
        qtbot.waitUntil(lambda: _open(AdminDialog) is not None, timeout=3000)
        admin = _open(AdminDialog)
        qtbot.waitUntil(lambda: admin.armed, timeout=3000)
        admin.buttons["settings"].click()
        qtbot.waitUntil(lambda: _open(SettingsDialog) is not None, timeout=3000)
        dialog = _open(SettingsDialog)
        qtbot.waitUntil(lambda: dialog.armed, timeout=3000)
        dialog.editors["station.idle_seconds"].widget.setValue(95)  # type: ignore[attr-defined]
        dialog.confirm_button.click()
        qtbot.waitUntil(lambda: bool(windows()) and windows()[0] is not old, timeout=5000)
        new = windows()[0]
        assert len(windows()) == 1
        assert "idle_seconds = 95" in config_file.read_text(encoding="utf-8")
        qtbot.waitUntil(lambda: new.status.connection.text().startswith("Online"), timeout=5000)
        new.activateWindow()
        qtbot.waitUntil(lambda: new.ready.input.hasFocus(), timeout=3000)
        scan(qtbot, DEMO.free_tag)
        qtbot.waitUntil(lambda: new.device.card.tag.text() == DEMO.free_tag, timeout=5000)
        assert not running.done()
    finally:
        running.cancel()
        qtbot.waitUntil(running.done, timeout=5000)
        for window in windows():
            window.close_guard = None
            window.close()
            window.deleteLater()


def test_a_keyring_that_refuses_the_token_leaves_the_file_as_it_was(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, sim: Simulator, config_file: Path
) -> None:
    from keyring.errors import PasswordSetError

    class Refusing(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise PasswordSetError("locked")

    previous = keyring.get_keyring()
    keyring.set_keyring(Refusing())
    try:
        settings = load_settings(config=config_file)
        saved: list[Any] = []
        page = _page(settings, config_file)
        qtbot.addWidget(page)
        page.saved.connect(lambda s, t: saved.append(s))
        fill(page, sim)
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(page.save_button.isEnabled, timeout=10000)
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Cannot store the token" in page.status.text(), timeout=5000)
        assert saved == []
        assert config_file.read_text(encoding="utf-8") == ""  # no PIN set for nobody
        assert page.save_button.isEnabled()  # it can be tried again
    finally:
        keyring.set_keyring(previous)
