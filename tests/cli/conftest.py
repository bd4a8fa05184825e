"""Fixtures for the command-line tests: run `python -m kiosk` against the session simulator.

The tests run the real command in a subprocess, over real loopback HTTP, and check what a
person or a script sees (exit code, stdout, stderr) and what the simulator received.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import Runner, config_text

from kiosk.logs import setup_logging
from kiosk.simulator import Simulator


@pytest.fixture
def cli(sim: Simulator, tmp_path: Path) -> Runner:
    config = tmp_path / "config.toml"
    config.write_text(config_text(), encoding="utf-8")
    return Runner(sim, tmp_path / "data", config)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Tests that call `main()` or `setup_logging` here leave logging as they found it."""
    level = logging.getLogger().level
    yield
    setup_logging(None, console=False)  # removes the handlers it installed
    logging.getLogger().setLevel(level)
