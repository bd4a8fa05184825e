"""Smoke mode end to end: `python -m kiosk --demo --smoke` starts the real kiosk, checks a
device out and one in through the window, prints a line per step and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.app import EXIT_WHEN_READY
from kiosk.cli import main
from kiosk.simulator import DEMO


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IIQ_KIOSK_DATA": str(data)}
    env.pop(EXIT_WHEN_READY, None)
    if sys.platform.startswith("linux"):  # smoke mode itself goes offscreen with no display
        env.pop("DISPLAY", None)
        env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=90,
        check=False,
    )


def test_demo_smoke_checks_out_and_in_and_passes(tmp_path: Path) -> None:
    done = _run(["--demo", "--smoke"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith("smoke: ready to scan (")
    assert lines[1].startswith(f"smoke: check-out {DEMO.free_tag} -> {DEMO.student_name}: done (")
    assert lines[2].startswith(
        f"smoke: check-in {DEMO.assigned_tag} from {DEMO.assigned_owner_name}: done ("
    )
    assert lines[3] == "smoke: passed"
    assert "FAILED" not in done.stdout
    assert "Traceback" not in done.stderr
    # The journal went to a temporary folder: the data folder (and the demo's) is untouched.
    assert not (tmp_path / "demo" / "journal.sqlite3").exists()


@pytest.mark.parametrize(
    "argv", [["--smoke"], ["--smoke", "--windowed"], ["--demo", "--smoke", "outbox"]]
)
def test_smoke_needs_demo_and_no_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1
    assert "--smoke" in err[0] and "--demo" in err[0]


def test_smoke_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--smoke" in capsys.readouterr().out


def test_demo_smoke_reaches_run_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    import kiosk.app

    calls: list[dict[str, object]] = []

    def fake_run_gui(**kwargs: object) -> int:
        calls.append(kwargs)
        return 1

    monkeypatch.setattr(kiosk.app, "run_gui", fake_run_gui)
    assert main(["--smoke", "--demo"]) == 1
    assert calls == [
        {"demo": True, "windowed": False, "config": None, "smoke": True, "event": None}
    ]
