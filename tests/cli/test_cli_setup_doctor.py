"""`setup` and `doctor` from a terminal: the same checks, test and saving as the window's
setup; the report a district sends back holds nothing secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import Runner, mutations

from kiosk.simulator import DEMO, Fault, Simulator

HERE = Path(__file__).resolve().parent
PIN = "97531"


def keyring_env(tmp_path: Path) -> dict[str, str | None]:
    return {
        "PYTHON_KEYRING_BACKEND": "fake_keyring.FileKeyring",
        "PYTHONPATH": str(HERE),
        "FAKE_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "IIQ_TOKEN": None,
        "IIQ_URL": None,
        "IIQ_SITE_ID": None,
    }


def test_setup_non_interactive_tests_then_saves(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    cli.config.write_text("", encoding="utf-8")
    result = cli(
        "setup",
        "--url", sim.url,
        "--site-id", sim.site_id,
        "--station", "Help desk 2",
        "--pin", PIN,
        "--token-stdin",
        "--non-interactive",
        env=keyring_env(tmp_path),
        input=sim.token + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Testing the connection" in result.stdout
    assert f"The token belongs to: {DEMO.api_user_name}" in result.stdout
    assert "Saved: the token in the keyring" in result.stdout
    text = cli.config.read_text(encoding="utf-8")
    assert "Help desk 2" in text and sim.site_id in text and "scrypt$" in text
    assert sim.token not in text and PIN not in text
    assert sim.token in (tmp_path / "keyring.json").read_text(encoding="utf-8")
    assert sim.token not in result.stdout + result.stderr

    # The saved station works from the keyring alone.
    checked = cli("token", "check", env=keyring_env(tmp_path))
    assert checked.returncode == 0, checked.stderr
    assert sim.site_id in checked.stdout


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"token": "wrong"}, 5, "refused the API token"),
        ({"url": "http://127.0.0.1:9"}, 6, "No answer from the site address"),
        ({"pin": "12"}, 2, "digits"),
    ],
)
def test_setup_saves_nothing_when_something_is_wrong(
    cli: Runner,
    sim: Simulator,
    tmp_path: Path,
    change: dict[str, str],
    code: int,
    says: str,
) -> None:
    cli.config.write_text("", encoding="utf-8")
    answers = {"url": sim.url, "pin": PIN, "token": sim.token} | change
    result = cli(
        "setup",
        "--url", answers["url"],
        "--site-id", sim.site_id,
        "--station", "Desk",
        "--pin", answers["pin"],
        "--token-stdin",
        "--non-interactive",
        env=keyring_env(tmp_path),
        input=answers["token"] + "\n",
    )  # fmt: skip
    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
    assert cli.config.read_text(encoding="utf-8") == ""
    assert not (tmp_path / "keyring.json").exists()


def test_setup_never_takes_the_token_as_an_option(cli: Runner) -> None:
    result = cli("setup", "--non-interactive", "--url", "https://x.incidentiq.com")
    assert result.returncode == 2
    assert "--token-stdin" in result.stderr


def test_doctor_prints_every_line_and_writes_a_report_without_secrets(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    result = cli("doctor", "--lookups", "3", "--write-report", str(report))
    assert result.returncode == 0, result.stderr
    for title in (
        "Connection and token",
        "Status types",
        "Locations",
        "Unknown tag",
        "People search",
        "Check-out routes",
        "Round trips",
        "Clock",
        "Rate limits",
    ):
        assert title in result.stdout
    assert "Report written to" in result.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["answers"]["checkout_routes_enabled"] is True
    assert data["answers"]["tag_not_found"]["status"] == 200
    text = report.read_text(encoding="utf-8")
    for secret in (sim.token, sim.site_id, DEMO.api_user_name, "127.0.0.1"):
        assert secret not in text
    # Read-only: its only writes name a device that cannot exist (the route probes).
    zero = "00000000-0000-0000-0000-000000000000"
    assert mutations(sim)
    assert all(zero in r.path or zero in str(r.json) for r in mutations(sim))


def test_doctor_answers_the_open_questions_of_another_site(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    sim.checkout_routes_enabled = False
    sim.tag_not_found_status = 404
    sim.faults.add(Fault(kind="rate_limit", retry_after=0.2, path_contains="/locations"))
    result = cli("doctor", "--lookups", "2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answers"]["checkout_routes_enabled"] is False
    assert data["answers"]["tag_not_found"]["status"] == 404
    assert data["answers"]["rate_limited"]["count"] == 1
    assert data["answers"]["rate_limited"]["retry_after"] == ["0.2"]
    levels = {line["check"]: line["level"] for line in data["lines"]}
    assert levels["rate_limit"] == "WARN"


def test_doctor_with_a_bad_token_fails_with_5(cli: Runner, sim: Simulator) -> None:
    result = cli("doctor", "--lookups", "0", env={"IIQ_TOKEN": "nope"})
    assert result.returncode == 5
    assert "refused the API token" in result.stdout
