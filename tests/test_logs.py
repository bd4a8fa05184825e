"""The log: no hostile characters in a line, the user's alone, rotated, old files deleted."""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import logs
from kiosk.core.text import BIDI_CONTROLS
from kiosk.logs import LOG_FILE_NAME, REDACTED, log_file_path, setup_logging

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
DAY = 86_400


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    setup_logging(None, console=False)  # removes the handlers it installed
    logging.getLogger().setLevel(level)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def hostile_characters(text: str) -> list[str]:
    return [
        ch
        for ch in text
        if ch != "\n" and (unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS)
    ]


# --- no control or bidi characters -------------------------------------------------------


def test_no_log_line_carries_control_or_bidi_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(tmp_path)
    assert path is not None
    log = logging.getLogger("kiosk.test")
    name = "Ava\x1b]0;owned\x07 \x1b[2JLee\u202egpj.exe\nINFO forged: line"
    log.warning("checkout to %s", name)
    try:
        raise RuntimeError("server said \x1b[31mno\x1b[0m\u2066")
    except RuntimeError:
        log.exception("failed for %s", name)
    text = path.read_text(encoding="utf-8")
    console = capsys.readouterr().err
    for output in (text, console):
        assert hostile_characters(output) == []
        assert "checkout to Ava Leegpj.exe INFO forged: line" in output
        assert "RuntimeError: server said no" in output
    lines = text.splitlines()
    assert not any(line.startswith("INFO forged") for line in lines)
    assert "Traceback (most recent call last):" in lines  # tracebacks keep their lines


def test_a_token_split_by_a_control_character_is_still_redacted(tmp_path: Path) -> None:
    path = setup_logging(tmp_path, console=False)
    assert path is not None
    logging.getLogger("kiosk.test").warning("header %s", f"{JWT[:12]}\x00{JWT[12:]}")
    text = path.read_text(encoding="utf-8")
    assert f"header {REDACTED}" in text
    assert JWT[12:] not in text


# --- the user's alone ----------------------------------------------------------------------


@posix_only
@pytest.mark.usefixtures("permissive_umask")
def test_folders_and_files_are_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = setup_logging(data, console=False)
    assert path == log_file_path(data)
    logging.getLogger("kiosk.test").warning("a line")
    assert (mode(data), mode(path.parent), mode(path)) == (0o700, 0o700, 0o600)


@posix_only
@pytest.mark.usefixtures("permissive_umask")
def test_rotated_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "LOG_MAX_BYTES", 2_000)
    path = setup_logging(tmp_path, console=False)
    assert path is not None
    for i in range(200):
        logging.getLogger("kiosk.test").warning("line %d %s", i, "x" * 40)
    backups = sorted(path.parent.glob(f"{LOG_FILE_NAME}.*"))
    assert [p.name for p in backups] == [f"{LOG_FILE_NAME}.{n}" for n in range(1, 6)]
    assert {mode(p) for p in [path, *backups]} == {0o600}
    assert path.stat().st_size <= 2_000


@posix_only
def test_what_an_older_version_left_readable_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = data / "logs"
    folder.mkdir(parents=True)
    for p in (data, folder):
        p.chmod(0o755)
    old_log = folder / LOG_FILE_NAME
    old_backup = folder / f"{LOG_FILE_NAME}.2"
    other = folder / "notes.txt"
    for p in (old_log, old_backup, other):
        p.write_text("old\n", encoding="utf-8")
        p.chmod(0o644)
    setup_logging(data, console=False)
    assert (mode(data), mode(folder)) == (0o700, 0o700)
    assert (mode(old_log), mode(old_backup)) == (0o600, 0o600)
    assert mode(other) == 0o644  # not the kiosk's file: left alone
    assert old_log.read_text(encoding="utf-8").startswith("old\n")  # appended to


@posix_only
def test_a_shared_data_folder_is_not_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    path = setup_logging(shared)
    assert path is not None
    assert mode(shared) == 0o1777
    assert mode(path.parent) == 0o700
    assert "can be read by other users" in capsys.readouterr().err


def test_the_log_file_still_opens_when_the_folder_cannot_be_made_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs").chmod(0o755)

    def refuse(self: Path, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "chmod", refuse)
    path = setup_logging(tmp_path)
    assert path is not None and path.exists()
    if sys.platform != "win32":
        assert "cannot make" in capsys.readouterr().err


# --- retention -----------------------------------------------------------------------------


def age(path: Path, days: float) -> None:
    path.write_text("old\n", encoding="utf-8")
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def test_log_files_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    current = folder / LOG_FILE_NAME
    recent = folder / f"{LOG_FILE_NAME}.1"
    old = folder / f"{LOG_FILE_NAME}.2"
    very_old = folder / f"{LOG_FILE_NAME}.3"
    not_ours = folder / "iiq-kiosk.log.bak"
    age(current, 400)
    age(recent, 10)
    age(old, 366)
    age(very_old, 2000)
    age(not_ours, 2000)
    path = setup_logging(tmp_path, console=False)
    assert path == current
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [LOG_FILE_NAME, recent.name, not_ours.name]
    )
    text = current.read_text(encoding="utf-8")
    assert not text.startswith("old")  # a new file, not last year's
    assert "3 log files older than 365 days deleted" in text


def test_the_retention_can_be_set_or_switched_off(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    backup = folder / f"{LOG_FILE_NAME}.1"
    age(backup, 40)
    setup_logging(tmp_path, console=False, retention_days=None)
    assert backup.exists()
    setup_logging(tmp_path, console=False, retention_days=60)
    assert backup.exists()
    setup_logging(tmp_path, console=False, retention_days=30)
    assert not backup.exists()


@pytest.mark.parametrize("days", [0, -1])
def test_a_retention_under_a_day_is_refused(tmp_path: Path, days: int) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        setup_logging(tmp_path, console=False, retention_days=days)
