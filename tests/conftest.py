"""Shared fixtures: Qt offscreen, one simulator per session reset per test, a qasync loop.

Integration tests talk to the simulator over real loopback HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

# Before any QApplication exists: no display in CI, so render offscreen.
if sys.platform.startswith("linux") and (os.environ.get("CI") or not os.environ.get("DISPLAY")):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
# The tests never touch the real keyring, config or data folders of whoever runs them.
os.environ.pop("IIQ_TOKEN", None)
os.environ.pop("IIQ_URL", None)
os.environ.pop("IIQ_SITE_ID", None)
os.environ.pop("IIQ_KIOSK_CONFIG", None)
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

from kiosk.simulator import Simulator

T = TypeVar("T")


@pytest.fixture(scope="session")
def _session_sim() -> Iterator[Simulator]:
    sim = Simulator(seed=2026)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(_session_sim: Simulator) -> Iterator[Simulator]:
    """The simulator, freshly reset: seeded data, no faults, no recorded requests."""
    _session_sim.reset()
    yield _session_sim
    _session_sim.reset()


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path_factory.mktemp("kiosk-data")
    monkeypatch.setenv("IIQ_KIOSK_DATA", str(data))
    monkeypatch.delenv("IIQ_TOKEN", raising=False)


@pytest.fixture(autouse=True)
def _no_machine_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The machine-wide file of the computer running the tests (/etc/iiq-kiosk/config.toml,
    # %PROGRAMDATA%\iiq-kiosk\config.toml) is never read, also by code given its own env.
    nowhere = tmp_path_factory.getbasetemp() / "no-machine-config.toml"
    monkeypatch.setenv("IIQ_KIOSK_MACHINE_CONFIG", str(nowhere))
    monkeypatch.setattr("kiosk.config.default_machine_config_path", lambda: nowhere)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh asyncio loop (tests without Qt)."""
    return asyncio.run(coro)
