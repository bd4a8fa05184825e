"""Hostile input and hostile surroundings: names with escape sequences, bytes that are not
UTF-8, impossible numbers, empty queries, a closed pipe, a full disk. Each ends in one line
and the right exit code, never a traceback, and nothing is sent that should not be."""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import Runner, mutations

from kiosk import cli as kiosk_cli
from kiosk.core.changes import Change, ChangeKind, ChangeState
from kiosk.core.journal import Journal, JournalError, JournalFullError, default_path
from kiosk.core.text import BIDI_CONTROLS
from kiosk.simulator import DEMO, Simulator

ESC = "\x1b"
#: A name that sets the window title, clears the screen, recolours, forges a line and
#: reverses what follows it.
HOSTILE = f"Ana{ESC}]0;pwned\x07 {ESC}[2J{ESC}[31mRuiz{ESC}[0m\u202eevil\u202c"
SHOWN = "Ana Ruizevil"


def hostile_characters(text: str) -> list[str]:
    return [
        ch
        for ch in text
        if ch != "\n" and (unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS)
    ]


def assert_one_clean_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert hostile_characters(stderr) == []
    return lines[0]


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    monkeypatch.setenv("IIQ_URL", sim.url)
    monkeypatch.setenv("IIQ_TOKEN", sim.token)
    monkeypatch.setenv("IIQ_SITE_ID", sim.site_id)
    monkeypatch.setattr(kiosk_cli, "RETRY_BASE_DELAY", 0.01)
    return sim


def journal_path() -> Path:
    return default_path(Path(os.environ["IIQ_KIOSK_DATA"]))


def name_everyone(sim: Simulator, user_id: str, name: str) -> None:
    user = sim.state.users[user_id]
    user.update(Name=name, FirstName=name.split(" ")[0], LastName=name.split(" ")[-1])


# --- hostile text never reaches the terminal ------------------------------------------------


def test_a_hostile_name_is_cleaned_in_a_list(cli: Runner, sim: Simulator) -> None:
    name_everyone(sim, DEMO.student_user_id, HOSTILE)
    result = cli("user", DEMO.student_id)
    assert result.returncode == 0, result.stderr
    assert hostile_characters(result.stdout) == []
    assert SHOWN in result.stdout


def test_json_output_stays_json_but_cleaned(cli: Runner, sim: Simulator) -> None:
    name_everyone(sim, DEMO.student_user_id, HOSTILE)
    result = cli("--json", "user", DEMO.student_id)
    assert result.returncode == 0, result.stderr
    people = json.loads(result.stdout)
    assert [p["Name"] for p in people if p["UserId"] == DEMO.student_user_id] == [SHOWN]
    assert hostile_characters(result.stdout) == []


def test_a_hostile_owner_is_cleaned_on_the_card(cli: Runner, sim: Simulator) -> None:
    name_everyone(sim, DEMO.assigned_owner_id, HOSTILE)
    result = cli("asset", DEMO.assigned_tag)
    assert result.returncode == 0, result.stderr
    assert hostile_characters(result.stdout) == []
    assert f"Owner:        {SHOWN}" in result.stdout


def test_a_hostile_query_is_cleaned_in_the_error(cli: Runner) -> None:
    result = cli("asset", f"CB-{ESC}]0;pwned\x07X")
    assert result.returncode == 3
    line = assert_one_clean_line(result.stderr)
    assert line == "No device with tag or serial “CB-X” in Incident IQ."


def test_a_usage_error_quoting_hostile_text_is_cleaned(cli: Runner) -> None:
    result = cli("asset", "CB-1", f"{ESC}[2Jextra")
    assert result.returncode == 2
    assert hostile_characters(result.stderr) == []
    assert "unrecognized arguments: extra" in result.stderr


def hostile_change(tag: str, state: ChangeState) -> Change:
    return Change(
        kind=ChangeKind.CHECKOUT,
        asset_id=f"asset-{tag}",
        asset_tag=tag,
        from_owner_id=None,
        to_owner_id="user-1",
        to_owner_name=HOSTILE,
        station=f"Desk{ESC}[5m 1",
        operator=HOSTILE,
        state=state,
    )


def test_journal_and_outbox_listings_are_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    with Journal.open(journal_path()) as journal:
        journal.record(hostile_change("DONE-1", ChangeState.DONE))
        journal.record(hostile_change("WAIT-1", ChangeState.PENDING))
    for argv in (
        ["journal", "export"],
        ["journal", "export", "--json"],
        ["journal", "export", "--csv", "-"],
        ["outbox"],
        ["outbox", "--json"],
    ):
        assert kiosk_cli.main(argv) == 0, argv
        out = capsys.readouterr().out.replace("\r\n", "\n")  # CSV ends its rows with CRLF
        assert hostile_characters(out) == [], argv
        assert SHOWN in out, argv
        if "--json" in argv:
            json.loads(out)


def test_the_operator_is_cleaned_and_bounded(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = f"  Ms.{ESC}[31m Rivera\u202e\n{'x' * 200}"
    code = kiosk_cli.main(
        ["checkout", DEMO.free_tag, "--to", DEMO.student_username, "--yes", "--operator", operator]
    )
    assert code == 0, capsys.readouterr().err
    with Journal.open(journal_path(), lock=False) as journal:
        (row,) = journal.export()
    assert str(row["operator"]).startswith("Ms. Rivera xxx")
    assert len(str(row["operator"])) == kiosk_cli.OPERATOR_MAX
    assert hostile_characters(str(row["operator"])) == []


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX argv bytes")
def test_an_argument_that_is_not_utf8_is_refused_in_one_line(cli: Runner, sim: Simulator) -> None:
    result = cli("asset", os.fsdecode(b"CB-\xff\xfe"))  # the bytes 0xFF 0xFE on the command line
    assert result.returncode == 2
    line = assert_one_clean_line(result.stderr)
    assert "is not valid UTF-8 text" in line
    assert "“CB-\ufffd\ufffd”" in line
    assert sim.requests == []


def test_undecodable_text_arguments_are_refused_in_process(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["user", "Zo\udceb"],
        ["checkout", DEMO.free_tag, "--to", "\udcff", "--yes"],
        ["checkin", DEMO.assigned_tag, "--note", "broken \udce9cran", "--yes"],
    ):
        assert kiosk_cli.main(argv) == 2, argv
        assert "is not valid UTF-8 text" in assert_one_clean_line(capsys.readouterr().err)
    assert env.requests == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_file_name_in_another_encoding_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / os.fsdecode(b"caf\xe9.toml")  # Latin-1 bytes in the name
    config.write_text("version = 1\n", encoding="utf-8")
    target = tmp_path / os.fsdecode(b"r\xe9port.csv")
    assert kiosk_cli.main(["journal", "export", "--config", str(config), "--csv", str(target)]) == 0
    assert target.exists()
    assert "0 changes written to" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "--port", "70000"], "“70000” is not a port number (0 to 65535)"),
        (["sim", "--port", "-1"], "“-1” is not a port number (0 to 65535)"),
        (["sim", "--port", "http"], "“http” is not a port number (0 to 65535)"),
        (["sim", "--latency-ms", "-5"], "“-5” is not a delay in milliseconds"),
        (
            ["journal", "purge", "--older-than-days", "99999999999999"],
            "“99999999999999” is not a number of days (0 to 36500)",
        ),
        (["journal", "purge", "--older-than-days", "-3"], "is not a number of days"),
    ],
)
def test_impossible_numbers_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Journal.open(journal_path()) as journal:  # purge has something to compute against
        journal.record(hostile_change("OLD-1", ChangeState.DONE))
    assert kiosk_cli.main(argv) == 2
    line = assert_one_clean_line(capsys.readouterr().err)
    assert message in line
    assert line.endswith("--help)")


def test_the_longest_purge_period_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    with Journal.open(journal_path()) as journal:
        journal.record(hostile_change("OLD-1", ChangeState.DONE))
    assert (
        kiosk_cli.main(["journal", "purge", "--older-than-days", str(kiosk_cli.MAX_DAYS), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"Purged": 0, "OlderThanDays": kiosk_cli.MAX_DAYS}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_sim_on_a_port_in_use_says_so(busy_port: int, cli: Runner) -> None:
    result = cli("sim", "--port", str(busy_port))
    assert result.returncode == 2
    line = assert_one_clean_line(result.stderr)
    assert line.startswith(f"Port {busy_port} is in use on 127.0.0.1")
    assert "--port 0" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["asset", ""],
        ["user", "  "],
        ["checkout", " ", "--to", DEMO.student_id, "--yes"],
        ["checkout", DEMO.free_tag, "--to", " \t", "--yes"],
        ["checkin", "", "--yes"],
    ],
)
def test_an_empty_query_is_a_usage_error(
    env: Simulator, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert kiosk_cli.main(argv) == 2
    line = assert_one_clean_line(capsys.readouterr().err)
    assert "it is empty: give something to look for" in line
    assert env.requests == []


def test_an_empty_query_exits_2_from_the_command_line(cli: Runner, sim: Simulator) -> None:
    for args in (("asset", ""), ("user", "  ")):
        result = cli(*args)
        assert result.returncode == 2, args
        assert "it is empty" in result.stderr
    assert sim.requests == []


def test_the_tag_and_the_person_are_trimmed(cli: Runner, sim: Simulator) -> None:
    found = cli("--json", "asset", f"  {DEMO.free_tag}\t")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["AssetTag"] == DEMO.free_tag
    given = cli("checkout", f" {DEMO.free_tag} ", "--to", f" {DEMO.student_id} ", "--yes")
    assert given.returncode == 0, given.stderr
    asset = sim.state.asset(DEMO.free_asset_id)
    assert asset is not None and asset["OwnerId"] == DEMO.student_user_id


# --- a closed pipe -------------------------------------------------------------------------


def test_output_into_a_closed_pipe_ends_quietly(cli: Runner) -> None:
    with Journal.open(journal_path()) as journal:
        journal.record(hostile_change("WAIT-1", ChangeState.PENDING))
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--json", "outbox"],
        env=cli.env(IIQ_KIOSK_DATA=os.environ["IIQ_KIOSK_DATA"]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head` that has read enough, before anything came
    err = process.stderr.read().decode("utf-8", "replace")
    assert process.wait(timeout=60) == kiosk_cli.EXIT_BROKEN_PIPE
    assert err == ""


class _ClosedPipe:
    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("no file descriptor in this test")


def test_a_closed_pipe_in_process_returns_1_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert kiosk_cli.main(["--json", "outbox"]) == kiosk_cli.EXIT_BROKEN_PIPE
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


# --- a full disk ------------------------------------------------------------------------------


def _sqlite_full() -> Exception:
    return sqlite3.OperationalError("database or disk is full")


def _wrapped_sqlite_full() -> Exception:
    try:
        raise _sqlite_full()
    except sqlite3.OperationalError as exc:
        wrapped = JournalError("cannot write the journal")
        wrapped.__cause__ = exc
        return wrapped


@pytest.mark.parametrize(
    "failure",
    [
        _sqlite_full,
        lambda: OSError(errno.ENOSPC, "No space left on device"),
        lambda: JournalFullError("The kiosk's disk is full: nothing was sent."),
        _wrapped_sqlite_full,
    ],
    ids=["sqlite-full", "enospc", "journal-full", "wrapped"],
)
def test_a_full_disk_sends_nothing_and_says_so(
    env: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: object,
) -> None:
    def full(self: Journal, change: Change) -> None:
        raise failure()  # type: ignore[operator]

    monkeypatch.setattr(Journal, "record", full)
    code = kiosk_cli.main(["checkout", DEMO.free_tag, "--to", DEMO.student_username, "--yes"])
    captured = capsys.readouterr()
    assert code == 2
    assert assert_one_clean_line(captured.err) == "The kiosk's disk is full: nothing was sent."
    assert mutations(env) == []
    asset = env.state.asset(DEMO.free_asset_id)
    assert asset is not None and asset["OwnerId"] in (None, "")


def test_another_journal_failure_keeps_its_own_words(
    env: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: Journal, change: Change) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Journal, "record", broken)
    code = kiosk_cli.main(["checkout", DEMO.free_tag, "--to", DEMO.student_username, "--yes"])
    assert code == 2
    err = capsys.readouterr().err
    assert "could not be saved in the journal" in err and "disk I/O error" in err
    assert "disk is full" not in err
    assert mutations(env) == []
