"""`token set` / `token check`: the token goes into the keyring and never into any output."""

from __future__ import annotations

from pathlib import Path

from clitools import Runner

from kiosk.simulator import DEMO, Simulator

HERE = Path(__file__).resolve().parent


def test_token_set_then_check_through_the_keyring(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    keyring_env = {
        "PYTHON_KEYRING_BACKEND": "fake_keyring.FileKeyring",
        "PYTHONPATH": str(HERE),
        "FAKE_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "IIQ_TOKEN": None,
    }
    stored = cli("token", "set", env=keyring_env, input=sim.token + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "stored" in stored.stdout
    assert sim.token in (tmp_path / "keyring.json").read_text(encoding="utf-8")

    checked = cli("token", "check", env=keyring_env)
    assert checked.returncode == 0, checked.stderr
    assert sim.site_id in checked.stdout
    assert DEMO.api_user_name in checked.stdout
    for result in (stored, checked):
        assert sim.token not in result.stdout + result.stderr


def test_token_set_with_nothing_on_stdin_is_refused(cli: Runner) -> None:
    result = cli("token", "set", input="\n")
    assert result.returncode == 2
    assert "No token" in result.stderr


def test_token_check_without_any_token_says_how_to_set_one(cli: Runner) -> None:
    result = cli("token", "check", env={"IIQ_TOKEN": None})
    assert result.returncode == 2
    assert "iiq-kiosk token set" in result.stderr
