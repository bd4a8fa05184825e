"""The entry point opens the window without loading the command line (a short start), and
hands anything else to the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.launch import window_arguments


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {"demo": False, "windowed": False, "config": None, "smoke": False}),
        (["--demo", "--windowed"], {"demo": True, "windowed": True}),
        (["--config", "x.toml"], {"config": "x.toml"}),
        (["--config=x.toml", "-v"], {"config": "x.toml", "verbose": True}),
        (["--demo", "--smoke"], {"demo": True, "smoke": True}),
        (["--event", "Gym hand-out"], {"event": "Gym hand-out", "demo": False}),
        (["--windowed", "--event=June returns"], {"event": "June returns", "windowed": True}),
    ],
)
def test_window_invocations_take_the_short_path(
    argv: list[str], expected: dict[str, object]
) -> None:
    args = window_arguments(argv)
    assert args is not None
    for name, value in expected.items():
        assert getattr(args, name) == value


@pytest.mark.parametrize(
    "argv",
    [
        ["asset", "CB-1"],
        ["--demo", "doctor"],
        ["--help"],
        ["--version"],
        ["--smoke"],  # without --demo: the command line says what is wrong
        ["--windowd"],  # a typo: the command line's usage error, not a window
        ["--config"],  # no value
        ["--event"],  # no name
        ["--demo", "--smoke", "--event", "Gym"],  # the smoke check runs no event
    ],
)
def test_everything_else_goes_to_the_command_line(argv: list[str]) -> None:
    assert window_arguments(argv) is None


@pytest.mark.parametrize("through_the_command_line", [False, True])
def test_an_event_opens_the_window_on_it(
    monkeypatch: pytest.MonkeyPatch, through_the_command_line: bool
) -> None:
    """`--event NAME` reaches the window with its name, by the short path and by the
    command line's (which takes the window's options too)."""
    import kiosk.app
    from kiosk.cli import main as command_line
    from kiosk.launch import main

    calls: list[dict[str, object]] = []

    def fake_run_gui(**kwargs: object) -> int:
        calls.append(kwargs)
        return 7

    monkeypatch.setattr(kiosk.app, "run_gui", fake_run_gui)
    argv = ["--event", "Gym hand-out", "--windowed", "--config", "x.toml"]
    assert (command_line(argv) if through_the_command_line else main(argv)) == 7
    assert calls == [
        {
            "demo": False,
            "windowed": True,
            "config": "x.toml",
            "smoke": False,
            "event": "Gym hand-out",
        }
    ]


def test_the_window_path_loads_neither_the_command_line_nor_httpx() -> None:
    probe = (
        "import sys, kiosk.app\n"
        "def fake(**kwargs):\n"
        "    loaded = [m for m, module in sys.modules.items() if module is not None\n"
        "              and (m.split('.')[0] in ('httpx', 'rich') or m.startswith('kiosk.cli'))]\n"
        "    print(sorted(loaded), kwargs['demo'], kwargs['windowed'])\n"
        "    return 0\n"
        "kiosk.app.run_gui = fake\n"
        "from kiosk.launch import main\n"
        "sys.exit(main(['--demo', '--windowed']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] True True"


def test_a_command_still_reaches_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("iiq-kiosk ")
