"""Fixtures for the command-line tests: run `python -m kiosk` against the session simulator.

The tests run the real command in a subprocess, over real loopback HTTP, and check what a
person or a script sees (exit code, stdout, stderr) and what the simulator received.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import Runner, config_text

from kiosk.simulator import Simulator


@pytest.fixture
def cli(sim: Simulator, tmp_path: Path) -> Runner:
    config = tmp_path / "config.toml"
    config.write_text(config_text(), encoding="utf-8")
    return Runner(sim, tmp_path / "data", config)
