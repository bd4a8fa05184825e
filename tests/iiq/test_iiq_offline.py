"""The offline latch, against the simulator's faults over loopback: after one request has
failed for network reasons the next ones fail at once without being sent, one background
probe watches for the way back, and listeners hear about both changes."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from kiosk.iiq import (
    Connection,
    IIQClient,
    NetworkError,
    NotFoundError,
    RetryPolicy,
    ServerError,
)
from kiosk.simulator import DEMO, Fault, Simulator

FAST_FAIL_S = 0.1
PROBE_S = 0.2
CHECKOUT = "/assets/checkouts/checkout-or-transfer"


@asynccontextmanager
async def client_for(
    sim: Simulator,
    *,
    read_timeout: float = 5.0,
    offline_probe_s: float | None = PROBE_S,
    events: list[bool] | None = None,
    **options: Any,
) -> AsyncIterator[IIQClient]:
    connection = Connection(
        site_url=sim.url,
        site_id=sim.site_id,
        token=sim.token,
        connect_timeout=1.0,
        read_timeout=read_timeout,
    )
    options.setdefault("retry", RetryPolicy(attempts=2, base_delay=0.01))
    async with IIQClient(connection, offline_probe_s=offline_probe_s, **options) as client:
        if events is not None:
            client.add_connectivity_listener(events.append)
        yield client


async def until(predicate: Callable[[], bool], seconds: float) -> float:
    """Wait for `predicate`; returns how long it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not true within {seconds} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def sent(sim: Simulator, path_part: str) -> list[str]:
    """Paths of the recorded requests containing `path_part` (probes are GET /login)."""
    return [r.path for r in sim.requests if path_part in r.path]


async def fails_fast(client: IIQClient, sim: Simulator) -> NetworkError:
    """A lookup while offline: a NetworkError at once, and nothing reaches the server."""
    sim.clear_requests()
    started = time.perf_counter()
    with pytest.raises(NetworkError) as info:
        await client.assets_by_tag(DEMO.free_tag)
    elapsed = time.perf_counter() - started
    assert elapsed < FAST_FAIL_S, elapsed
    assert sent(sim, "/assets/") == []
    assert info.value.request_sent is False
    return info.value


# --- the latch closes on a network failure and fails the next requests fast ------------


def test_dropped_connections_latch_then_reopen(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", times=None))
    events: list[bool] = []

    async def main() -> None:
        async with client_for(sim, events=events) as client:
            assert client.online is True
            with pytest.raises(NetworkError) as first:
                await client.assets_by_tag(DEMO.free_tag)
            assert first.value.request_sent is True
            assert len(sent(sim, "/assets/assettag/")) == 2  # its own retries
            assert client.online is False
            assert events == [False]

            again = await fails_fast(client, sim)
            assert str(again) == str(first.value)  # the same words for the operator
            assert again.timeout is first.value.timeout
            assert "not sent" in again.detail
            # Other calls fail fast too, reads and changes alike.
            with pytest.raises(NetworkError) as change:
                await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
            assert change.value.request_sent is False
            with pytest.raises(NetworkError):
                await client.search_users(DEMO.student_id)
            assert [r.path for r in sim.requests if r.path != "/login"] == []

            # The probe keeps trying while the fault lasts...
            await asyncio.sleep(PROBE_S * 3)
            assert sent(sim, "/login")
            assert client.online is False
            # ...and notices within a few seconds once the network is back.
            sim.faults.clear()
            await until(lambda: client.online, 3.0)
            assert events == [False, True]
            sim.clear_requests()
            (asset,) = await client.assets_by_tag(DEMO.free_tag)
            assert asset.asset_id == DEMO.free_asset_id
            assert sent(sim, "/assets/assettag/") == [f"/assets/assettag/{DEMO.free_tag}"]

    asyncio.run(main())
    assert owner_of(sim, DEMO.free_asset_id) is None


def test_timeouts_latch_then_reopen(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="latency", latency_ms=800, times=None))
    events: list[bool] = []

    async def main() -> None:
        async with client_for(
            sim, read_timeout=0.2, offline_probe_timeout_s=0.2, events=events
        ) as client:
            with pytest.raises(NetworkError) as first:
                await client.assets_by_tag(DEMO.free_tag)
            assert first.value.timeout is True
            again = await fails_fast(client, sim)
            assert again.timeout is True
            assert "did not answer in time" in str(again)
            await asyncio.sleep(PROBE_S * 3)
            assert client.online is False  # a probe that times out is no answer
            sim.faults.clear()
            await until(lambda: client.online, 3.0)
            assert events == [False, True]
            assert await client.assets_by_tag(DEMO.unknown_tag) == []

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_simulator_stopped_then_restarted() -> None:
    own = Simulator(seed=2026, port=free_port())
    own.start()
    events: list[bool] = []

    async def main() -> None:
        async with client_for(own, events=events, offline_probe_s=1.0) as client:
            assert (await client.login()).user_id == DEMO.api_user_id
            own.stop()
            with pytest.raises(NetworkError) as first:
                await client.assets_by_tag(DEMO.free_tag)
            assert "Cannot reach" in str(first.value) or "interrupted" in str(first.value)
            assert events == [False]
            started = time.perf_counter()
            for _ in range(20):
                with pytest.raises(NetworkError) as info:
                    await client.asset(DEMO.free_asset_id)
                assert info.value.request_sent is False
            assert time.perf_counter() - started < FAST_FAIL_S
            own.start()
            took = await until(lambda: client.online, 4.0)
            assert took <= 2.5  # one probe interval, plus a little
            assert events == [False, True]
            own.clear_requests()
            assert (await client.asset(DEMO.free_asset_id)).asset_tag == DEMO.free_tag
            assert [r.path for r in own.requests] == [f"/assets/{DEMO.free_asset_id}"]

    try:
        asyncio.run(main())
    finally:
        own.stop()


# --- what does not close the latch -------------------------------------------------------


def test_server_errors_do_not_latch(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="status", status=503, times=None))
    events: list[bool] = []

    async def main() -> None:
        async with client_for(sim, events=events) as client:
            with pytest.raises(ServerError):
                await client.assets_by_tag(DEMO.free_tag)
            assert client.online is True
            sim.clear_requests()
            with pytest.raises(ServerError):
                await client.assets_by_tag(DEMO.free_tag)
            assert len(sent(sim, "/assets/assettag/")) == 2  # sent, with its retries
            sim.faults.clear()
            with pytest.raises(NotFoundError):
                await client.asset("00000000-0000-0000-0000-000000000000")
            assert client.online is True

    asyncio.run(main())
    assert events == []


def test_a_change_whose_reply_was_lost_does_not_latch(sim: Simulator) -> None:
    """A POST that may have arrived (its reply dropped) leaves the client online: the
    caller re-reads the asset at once to learn whether it was applied, and that read must
    go out."""
    sim.faults.add(Fault(kind="apply_then_drop", method="POST", path_contains=CHECKOUT))

    async def main() -> None:
        async with client_for(sim) as client:
            with pytest.raises(NetworkError) as info:
                await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
            assert info.value.request_sent is True
            assert client.online is True
            asset = await client.asset(DEMO.free_asset_id)
            assert asset.current_owner_id == DEMO.student_user_id

    asyncio.run(main())
    assert [r.path for r in sim.requests] == [CHECKOUT, f"/assets/{DEMO.free_asset_id}"]


def test_a_change_that_could_not_connect_latches() -> None:
    own = Simulator(seed=2026, port=free_port())
    own.start()

    async def main() -> None:
        async with client_for(own, offline_probe_s=60.0) as client:
            own.stop()
            with pytest.raises(NetworkError) as info:
                await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
            assert info.value.request_sent is False
            assert client.online is False

    try:
        asyncio.run(main())
    finally:
        own.stop()


def test_latch_can_be_turned_off(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", times=None))
    events: list[bool] = []

    async def main() -> None:
        async with client_for(sim, offline_probe_s=None, events=events) as client:
            for _ in range(2):
                with pytest.raises(NetworkError) as info:
                    await client.assets_by_tag(DEMO.free_tag)
                assert info.value.request_sent is True
                assert client.online is True
            await asyncio.sleep(PROBE_S * 2)

    asyncio.run(main())
    assert len(sent(sim, "/assets/assettag/")) == 4
    assert sent(sim, "/login") == []  # no probe
    assert events == []


@pytest.mark.parametrize("value", [0, -1.0])
def test_probe_interval_must_be_positive(sim: Simulator, value: float) -> None:
    connection = Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token)
    with pytest.raises(ValueError, match="offline_probe_s"):
        IIQClient(connection, offline_probe_s=value)


# --- login, the probe task, listeners ------------------------------------------------


def test_login_bypasses_the_latch_and_reopens_it(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", path_contains="/assets/", times=None))
    events: list[bool] = []

    async def main() -> None:
        # A probe interval so long that only login() can reopen the latch here.
        async with client_for(sim, offline_probe_s=60.0, events=events) as client:
            with pytest.raises(NetworkError):
                await client.assets_by_tag(DEMO.free_tag)
            assert client.online is False
            sim.clear_requests()
            info = await client.login()
            assert info.user_id == DEMO.api_user_id
            assert [(r.path, r.status) for r in sim.requests] == [("/login", 200)]
            assert client.online is True
            assert events == [False, True]
            # Online again: the next lookup is sent (and fails again: the fault is on).
            sim.clear_requests()
            with pytest.raises(NetworkError) as again:
                await client.assets_by_tag(DEMO.free_tag)
            assert again.value.request_sent is True
            assert len(sent(sim, "/assets/")) == 2
            assert events == [False, True, False]

    asyncio.run(main())


def test_one_probe_however_many_requests_fail_fast(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", times=None))

    async def main() -> None:
        async with client_for(sim) as client:
            with pytest.raises(NetworkError):
                await client.assets_by_tag(DEMO.free_tag)
            sim.clear_requests()
            started = time.monotonic()
            while time.monotonic() - started < PROBE_S * 5:
                results = await asyncio.gather(
                    *(client.assets_by_tag(DEMO.free_tag) for _ in range(20)),
                    return_exceptions=True,
                )
                assert all(isinstance(r, NetworkError) for r in results)
                await asyncio.sleep(0.01)
            probes = sent(sim, "/login")
            assert 2 <= len(probes) <= 7  # about one per interval, not one per request
            assert sent(sim, "/assets/") == []

    asyncio.run(main())


def test_aclose_cancels_and_awaits_the_probe(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", times=None))

    async def main() -> None:
        client = IIQClient(
            Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token),
            retry=RetryPolicy(attempts=1),
            offline_probe_s=PROBE_S,
        )
        with pytest.raises(NetworkError):
            await client.asset(DEMO.free_asset_id)
        others = asyncio.all_tasks() - {asyncio.current_task()}
        assert [t.get_name() for t in others] == ["iiq-offline-probe"]
        await client.aclose()
        assert all(t.done() for t in others)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())


def test_listeners_can_be_removed_and_a_failing_one_is_logged(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.faults.add(Fault(kind="drop", times=None))
    kept: list[bool] = []
    removed: list[bool] = []

    def broken(online: bool) -> None:
        raise RuntimeError("listener bug")

    async def main() -> None:
        async with client_for(sim) as client:
            client.add_connectivity_listener(broken)
            client.add_connectivity_listener(kept.append)
            remove = client.add_connectivity_listener(removed.append)
            remove()
            remove()  # twice is harmless
            with pytest.raises(NetworkError):
                await client.asset(DEMO.free_asset_id)
            sim.faults.clear()
            await until(lambda: client.online, 3.0)

    with caplog.at_level(logging.INFO, logger="kiosk.iiq"):
        asyncio.run(main())
    assert kept == [False, True]
    assert removed == []
    failures = [r for r in caplog.records if "listener" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
    messages = [r.getMessage() for r in caplog.records]
    assert any("unreachable" in m for m in messages)
    assert any("answers again" in m for m in messages)


def test_a_probe_that_crashes_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    """What the simulator cannot do: a probe that dies of something unexpected."""
    seen: list[str] = []
    crashes = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/login"):
            if crashes:
                crashes.clear()
                raise RuntimeError("unexpected probe bug")
            return httpx.Response(200, json={"Item": {"SiteId": "s", "UserId": "u"}})
        raise httpx.ConnectError("offline", request=request)

    async def main() -> None:
        connection = Connection(site_url="https://d.incidentiq.com", site_id="s", token="t")
        async with IIQClient(
            connection,
            retry=RetryPolicy(attempts=1),
            transport=httpx.MockTransport(handler),
            offline_probe_s=0.05,
        ) as client:
            with pytest.raises(NetworkError):
                await client.asset("a-1")
            await until(lambda: not crashes, 2.0)  # the first probe crashed
            await asyncio.sleep(0.2)
            assert client.online is False
            with pytest.raises(NetworkError):  # fails fast, and restarts the probe
                await client.asset("a-1")
            await until(lambda: client.online, 2.0)

    with caplog.at_level(logging.ERROR, logger="kiosk.iiq"):
        asyncio.run(main())
    crashed = [r for r in caplog.records if "offline probe failed" in r.getMessage()]
    assert len(crashed) == 1 and crashed[0].exc_info is not None
    assert seen.count("/api/v1.0/assets/a-1") == 1


def owner_of(sim: Simulator, asset_id: str) -> str | None:
    with sim.state.lock:
        record = sim.state.asset(asset_id)
        assert record is not None
        owner: str | None = record["OwnerId"]
        return owner
