"""Demo mode: a running simulator, settings that point at it, and a clean stop."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kiosk.demo
from kiosk.config import ConfigError, Settings
from kiosk.core.changes import ChangeState, Condition
from kiosk.core.transactions import TransactionService
from kiosk.demo import start_demo
from kiosk.iiq.client import IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Simulator


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiosk.config.default_config_path", lambda: tmp_path / "none.toml")
    monkeypatch.setattr(
        "kiosk.config.platformdirs.site_config_path", lambda *a, **k: tmp_path / "no-site"
    )
    monkeypatch.delenv("IIQ_URL", raising=False)
    monkeypatch.delenv("IIQ_SITE_ID", raising=False)


@pytest.fixture
def demo() -> Iterator[tuple[Simulator, Settings, str]]:
    sim, settings, token = start_demo()
    try:
        yield sim, settings, token
    finally:
        sim.stop()


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_demo_settings_point_at_a_running_simulator(
    demo: tuple[Simulator, Settings, str],
) -> None:
    sim, settings, token = demo
    assert sim.running
    assert settings.iiq.url == sim.url
    assert settings.iiq.site_id == sim.site_id == DEMO.site_id
    assert token == sim.token == DEMO.token
    assert settings.source == "demo (defaults)"
    # Its own data folder, inside the configured one: never mixed with a district's journal.
    assert settings.data_dir == Path(os.environ["IIQ_KIOSK_DATA"]) / "demo"
    policy = settings.checkin_policy()
    assert policy.status_name == DEMO.available_status_name
    assert policy.location_id == DEMO.storeroom_location_id
    assert policy.ticket_issue_id == DEMO.ticket_issue_id
    assert policy.ticket_wizard_category_id == DEMO.ticket_wizard_category_id

    async def main() -> Any:
        async with IIQClient(settings.connection(token)) as client:
            return await client.login()

    login = asyncio.run(main())
    assert login.site_id == DEMO.site_id
    assert login.user_id == DEMO.api_user_id


def test_demo_settings_fit_the_demo_site(demo: tuple[Simulator, Settings, str]) -> None:
    # A damaged check-in with the demo settings works end to end (no SetupError).
    sim, settings, token = demo

    async def main() -> Any:
        async with IIQClient(
            settings.connection(token), retry=RetryPolicy(base_delay=0.01)
        ) as client:
            service = TransactionService(client, station="demo", checkin=settings.checkin_policy())
            (asset,) = (await service.find_device(DEMO.assigned_tag)).assets
            change = await service.checkin_change(asset, condition=Condition.DAMAGED)
            return await service.apply(change)

    change = asyncio.run(main()).change
    assert change.state is ChangeState.DONE, change.last_error
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None
    assert record["OwnerId"] is None
    assert record["LocationId"] == DEMO.storeroom_location_id
    assert any(t["TicketId"] == change.ticket_id for t in sim.state.tickets)


def test_demo_stops_cleanly() -> None:
    sim, _settings, _token = start_demo()
    port = sim.port
    assert accepts_connections(port)
    sim.stop()
    assert not sim.running
    assert not accepts_connections(port)
    sim.stop()  # twice is fine


def test_demo_overrides_are_merged() -> None:
    sim, settings, _token = start_demo(
        overrides={"station": {"name": "Demo Desk"}, "checkin": {"location_id": "elsewhere"}}
    )
    sim.stop()
    assert settings.station.name == "Demo Desk"
    assert settings.checkin.location_id == "elsewhere"
    assert settings.checkin.status_name == DEMO.available_status_name  # kept from the demo
    assert settings.iiq.url == sim.url


def test_bad_settings_stop_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Simulator] = []

    class Recording(Simulator):
        def start(self) -> Simulator:
            started.append(self)
            return super().start()

    monkeypatch.setattr(kiosk.demo, "Simulator", Recording)
    with pytest.raises(ConfigError, match=r"station\.idle_seconds"):
        start_demo(overrides={"station": {"idle_seconds": 1}})
    (sim,) = started
    assert not sim.running
