"""`main()` called in this process: argument handling, and a lookup without a subprocess."""

from __future__ import annotations

import json

import pytest

from kiosk import cli
from kiosk.simulator import DEMO, Simulator


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    monkeypatch.setenv("IIQ_URL", sim.url)
    monkeypatch.setenv("IIQ_TOKEN", sim.token)
    monkeypatch.setenv("IIQ_SITE_ID", sim.site_id)
    return sim


def test_global_options_go_before_or_after_the_verb() -> None:
    parser = cli.build_parser()
    before = parser.parse_args(["--json", "-v", "--config", "a.toml", "asset", "X"])
    after = parser.parse_args(["asset", "X", "--json", "-v", "--config", "a.toml"])
    for args in (before, after):
        assert (args.verb, args.query, args.json, args.verbose, args.config) == (
            "asset",
            "X",
            True,
            True,
            "a.toml",
        )
    assert parser.parse_args([]).verb is None


def test_help_and_usage_errors_return_instead_of_exiting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--help"]) == 0
    assert "checkout" in capsys.readouterr().out
    assert cli.main(["checkin"]) == 2
    assert cli.main(["token"]) == 2


def test_every_verb_has_a_handler() -> None:
    parser = cli.build_parser()
    verbs = {*cli.ONLINE_VERBS, *cli.LOCAL_VERBS}
    for argv in (
        ["asset", "X"],
        ["user", "X"],
        ["checkout", "X", "--to", "Y"],
        ["checkin", "X"],
        ["sim"],
        ["token", "set"],
        ["token", "check"],
        ["outbox"],
        ["outbox", "--send"],
        ["outbox", "resolve", "abcd"],
        ["journal", "export"],
        ["journal", "purge"],
    ):
        assert parser.parse_args(argv).verb in verbs


def test_no_verb_opens_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import kiosk.app

    calls: list[dict[str, object]] = []

    def fake_run_gui(**kwargs: object) -> int:
        calls.append(kwargs)
        return 7

    monkeypatch.setattr(kiosk.app, "run_gui", fake_run_gui)
    assert cli.main(["--demo", "--windowed", "--config", "k.toml"]) == 7
    assert cli.main([]) == 7
    nothing_else = {"smoke": False, "event": None}
    assert calls == [
        {"demo": True, "windowed": True, "config": "k.toml"} | nothing_else,
        {"demo": False, "windowed": False, "config": None} | nothing_else,
    ]


def test_asset_json_in_process(env: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["asset", DEMO.assigned_tag, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["AssetTag"], data["Owner"]) == (DEMO.assigned_tag, DEMO.assigned_owner_name)


def test_checkout_in_process_with_retries(
    env: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.simulator import Fault

    monkeypatch.setattr(cli, "RETRY_BASE_DELAY", 0.01)
    env.faults.add(Fault("status", method="POST", path_contains="checkout", times=2))
    code = cli.main(["checkout", DEMO.free_tag, "--to", DEMO.student_username, "--yes"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{DEMO.student_name} now has {DEMO.free_tag}." in out
    asset = env.state.asset(DEMO.free_asset_id)
    assert asset is not None and asset["OwnerId"] == DEMO.student_user_id
