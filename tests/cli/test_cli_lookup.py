"""`asset`, `user`, and the errors every verb shares: exit codes, words and --json."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import Runner

from kiosk.simulator import DEMO, Simulator


def test_asset_found_shows_the_card(cli: Runner) -> None:
    result = cli("asset", DEMO.free_tag)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == f"{DEMO.free_tag} (Dell Chromebook 3110)"
    assert DEMO.free_serial in out
    assert "Available" in out
    assert DEMO.free_location_name in out
    assert "no owner" in out


def test_asset_json_names_the_owner(cli: Runner) -> None:
    result = cli("asset", DEMO.assigned_tag, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["AssetId"] == DEMO.assigned_asset_id
    assert data["AssetTag"] == DEMO.assigned_tag
    assert data["SerialNumber"] == DEMO.assigned_serial
    assert data["Owner"] == DEMO.assigned_owner_name
    assert data["OwnerId"] == DEMO.assigned_owner_id
    assert data["Model"] == "Dell Chromebook 3110"


def test_asset_found_by_serial_when_no_tag_matches(cli: Runner, sim: Simulator) -> None:
    result = cli("--json", "asset", DEMO.free_serial)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["AssetTag"] == DEMO.free_tag
    assert data["Owner"] is None
    paths = [r.path for r in sim.requests]
    assert any(p.startswith("/assets/assettag/") for p in paths)
    assert any(p.startswith("/assets/serial/") for p in paths)


def test_asset_unknown_exits_3_with_a_plain_message(cli: Runner) -> None:
    result = cli("asset", DEMO.unknown_tag)
    assert result.returncode == 3
    assert f"No device with tag or serial “{DEMO.unknown_tag}” in Incident IQ." in result.stderr
    assert result.stdout == ""


def test_asset_duplicate_tag_lists_both_and_exits_4(cli: Runner) -> None:
    result = cli("asset", DEMO.duplicate_tag)
    assert result.returncode == 4
    lines = [line for line in result.stdout.splitlines() if DEMO.duplicate_tag in line]
    assert len(lines) == 3  # the heading and one line per device
    serials = [line.split("serial ")[1].split()[0] for line in lines[1:]]
    assert len(set(serials)) == 2

    as_json = cli("asset", DEMO.duplicate_tag, "--json")
    assert as_json.returncode == 4
    rows = json.loads(as_json.stdout)
    assert sorted(r["AssetId"] for r in rows) == sorted(DEMO.duplicate_asset_ids)


def test_user_search_lists_matches(cli: Runner) -> None:
    result = cli("user", DEMO.student_id)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if DEMO.student_name in x)
    assert f"grade {DEMO.student_grade}" in line
    assert f"ID {DEMO.student_id}" in line
    assert "Student" in line
    assert "INACTIVE" not in line


def test_user_inactive_is_marked(cli: Runner) -> None:
    result = cli("user", DEMO.inactive_id, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["Name"], r["IsActive"]) for r in rows] == [(DEMO.inactive_name, False)]
    assert set(rows[0]) >= {"UserId", "SchoolIdNumber", "Grade", "Email", "Username", "Role"}

    human = cli("user", DEMO.inactive_id)
    assert "INACTIVE" in human.stdout


def test_user_nobody_exits_3_and_mentions_new_students(cli: Runner) -> None:
    result = cli("user", "Zzyzx Qwertyson")
    assert result.returncode == 3
    assert "No one matches “Zzyzx Qwertyson”." in result.stderr
    assert "New students can take a day or two" in result.stderr


def test_wrong_token_exits_5_and_never_shows_the_token(cli: Runner) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.c2VjcmV0LXNpZ25hdHVyZQ"
    result = cli("asset", DEMO.free_tag, env={"IIQ_TOKEN": token})
    assert result.returncode == 5
    assert "did not accept the kiosk's API token" in result.stderr
    assert token not in result.stdout + result.stderr
    log = cli.data_dir / "logs" / "iiq-kiosk.log"
    assert log.is_file()
    assert token not in log.read_text(encoding="utf-8")


def test_unreachable_site_exits_6(cli: Runner) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli("asset", DEMO.free_tag, env={"IIQ_URL": f"http://127.0.0.1:{port}"})
    assert result.returncode == 6
    assert "Cannot reach Incident IQ" in result.stderr


def test_missing_site_url_is_a_config_error_naming_it(cli: Runner) -> None:
    result = cli("asset", DEMO.free_tag, env={"IIQ_URL": None})
    assert result.returncode == 2
    assert "IIQ_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(cli: Runner) -> None:
    result = cli("checkout", DEMO.free_tag)  # --to missing
    assert result.returncode == 2
    assert "--to" in result.stderr


def test_sim_refuses_a_non_loopback_host(cli: Runner) -> None:
    result = cli("sim", "--host", "10.0.0.1")
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_demo_needs_no_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IIQ_")}
    env.update(
        IIQ_KIOSK_DATA=str(tmp_path),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONIOENCODING="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--demo", "asset", DEMO.free_tag, "--json"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AssetTag"] == DEMO.free_tag


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl+C is a console event on Windows")
def test_sim_serves_until_ctrl_c(cli: Runner) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "sim", "--port", str(port)],
        env=cli.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while "Ctrl+C" not in lines[-1]:  # the banner ends with how to stop it
            assert lines[-1], "the simulator stopped printing before its banner ended"
            lines.append(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        process.kill()
    banner = "".join(lines)
    assert f"http://127.0.0.1:{port}" in banner
    assert DEMO.free_tag in banner
    assert process.returncode == 0
