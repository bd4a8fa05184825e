"""The composition root, end to end: the kiosk starts (demo, or a district set up by the
environment alone), checks its connection, opens the journal, is ready to scan and exits
cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kiosk.app import EXIT_WHEN_READY
from kiosk.simulator import Simulator


def _run_kiosk(args: list[str], data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "IIQ_KIOSK_DATA": str(data),
        EXIT_WHEN_READY: "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_starts_ready_and_exits_cleanly(tmp_path: Path) -> None:
    done = _run_kiosk(["--demo", "--windowed"], tmp_path)
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "demo" / "logs" / "iiq-kiosk.log").read_text(encoding="utf-8")
    assert "connected to Incident IQ" in log
    assert "ready to scan" in log
    assert (tmp_path / "demo" / "journal.sqlite3").is_file()
    assert "Traceback" not in done.stderr + log


def test_district_start_with_environment_only(tmp_path: Path, sim: Simulator) -> None:
    done = _run_kiosk(
        ["--windowed"], tmp_path, IIQ_URL=sim.url, IIQ_TOKEN=sim.token, IIQ_SITE_ID=sim.site_id
    )
    assert done.returncode == 0, done.stderr
    assert [r.path for r in sim.requests][:1] == ["/login"]
    log = (tmp_path / "logs" / "iiq-kiosk.log").read_text(encoding="utf-8")
    assert sim.token not in log + done.stderr
