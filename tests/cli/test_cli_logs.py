"""`setup_logging`: a rotating file in the data folder, and no token in any log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiosk.logs import REDACTED, redact, setup_logging

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


def test_redact_blanks_bearer_tokens_and_jwts() -> None:
    assert redact("Authorization: Bearer abc123-secret") == f"Authorization: Bearer {REDACTED}"
    assert JWT not in redact(f"token={JWT} end")
    assert redact(f"token={JWT} end") == f"token={REDACTED} end"
    assert (
        redact("GET /assets/assettag/CB-004512 -> 200") == "GET /assets/assettag/CB-004512 -> 200"
    )


def test_file_and_console_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = setup_logging(tmp_path)
    assert path == tmp_path / "logs" / "iiq-kiosk.log"
    log = logging.getLogger("kiosk.test")
    log.debug("debug line")
    log.info("info line %s", "with args")
    log.warning("sent Bearer %s", JWT)
    try:
        raise RuntimeError(f"header was {JWT}")
    except RuntimeError:
        log.exception("failed")
    text = path.read_text(encoding="utf-8")
    assert "info line with args" in text
    assert "debug line" not in text
    assert JWT not in text
    assert f"sent Bearer {REDACTED}" in text
    assert "RuntimeError" in text
    console = capsys.readouterr().err
    assert "info line" not in console
    assert f"WARNING: sent Bearer {REDACTED}" in console
    assert JWT not in console


def test_verbose_logs_debug_to_the_file_and_info_to_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(tmp_path, verbose=True)
    assert path is not None
    logging.getLogger("kiosk.test").debug("debug line")
    logging.getLogger("kiosk.test").info("info line")
    assert "debug line" in path.read_text(encoding="utf-8")
    assert "info line" in capsys.readouterr().err


def test_an_unwritable_log_folder_is_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    assert setup_logging(blocker) is None
    assert "cannot write the log file" in capsys.readouterr().err
    logging.getLogger("kiosk.test").warning("still logging")
    assert "still logging" in capsys.readouterr().err


def test_a_second_setup_replaces_the_handlers(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    setup_logging(tmp_path)
    owned = [h for h in logging.getLogger().handlers if getattr(h, "_iiq_kiosk_handler", False)]
    assert len(owned) == 2  # one console, one file
