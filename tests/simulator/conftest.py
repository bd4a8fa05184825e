"""One simulator per test session, reset before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kiosk.simulator import Simulator


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[Simulator]:
    with Simulator() as server:
        yield server


@pytest.fixture
def sim(simulator_server: Simulator) -> Simulator:
    simulator_server.reset()
    return simulator_server


@pytest.fixture(scope="session")
def _session_clients(simulator_server: Simulator) -> Iterator[dict[str, httpx.Client]]:
    # Clients are shared: building one loads CA certificates, which costs ~50 ms.
    server = simulator_server
    with (
        httpx.Client(base_url=server.api_url, headers=server.auth_headers(), timeout=5) as full,
        httpx.Client(
            base_url=server.api_url, headers=server.auth_headers(readonly=True), timeout=5
        ) as readonly,
    ):
        yield {"full": full, "readonly": readonly}


@pytest.fixture
def api(sim: Simulator, _session_clients: dict[str, httpx.Client]) -> httpx.Client:
    """A client that sends what the real kiosk sends (full-rights token)."""
    return _session_clients["full"]


@pytest.fixture
def ro_api(sim: Simulator, _session_clients: dict[str, httpx.Client]) -> httpx.Client:
    """The same with the read-only token."""
    return _session_clients["readonly"]


@pytest.fixture
def tag_item(api: httpx.Client) -> Callable[[str], dict[str, Any]]:
    """Look a tag up and return its single asset."""

    def lookup(tag: str) -> dict[str, Any]:
        reply = api.get(f"/assets/assettag/{tag}")
        body = reply.json()
        assert reply.status_code == 200, body
        assert len(body["Items"]) == 1, body
        item: dict[str, Any] = body["Items"][0]
        return item

    return lookup
