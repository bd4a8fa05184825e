"""Injected failures: each kind, targeting, counting, latency and seeded random rates."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from kiosk.simulator import DEMO, Fault, Simulator

CHECKOUT = "/assets/checkouts/checkout-or-transfer"


def give_free_device(api: httpx.Client) -> httpx.Response:
    body = {
        "AssetId": DEMO.free_asset_id,
        "OwnerId": DEMO.student_user_id,
        "ToOwnerId": DEMO.student_user_id,
    }
    return api.post(CHECKOUT, json=body)


def free_owner(sim: Simulator) -> str | None:
    asset = sim.state.asset(DEMO.free_asset_id)
    assert asset is not None
    owner: str | None = asset["OwnerId"]
    return owner


def test_status_fault_changes_nothing(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("status", method="POST", path_contains="checkout-or-transfer"))
    reply = give_free_device(api)
    assert reply.status_code == 503
    assert reply.json()["StatusCode"] == 503
    assert free_owner(sim) is None
    last = sim.requests[-1]
    assert (last.fault, last.status) == ("status", 503)
    assert give_free_device(api).status_code == 200  # times=1: used up


def test_drop_is_a_transport_error_and_changes_nothing(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("drop", path_contains="checkout"))
    with pytest.raises(httpx.TransportError):
        give_free_device(api)
    assert free_owner(sim) is None
    last = sim.requests[-1]
    assert (last.fault, last.status) == ("drop", None)
    assert give_free_device(api).status_code == 200
    assert free_owner(sim) == DEMO.student_user_id


def test_drop_is_seen_as_remote_protocol_error(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("drop"))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/login")


def test_apply_then_status_applies(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("apply_then_status", method="POST", status=500))
    reply = give_free_device(api)
    assert reply.status_code == 500
    assert free_owner(sim) == DEMO.student_user_id
    assert sim.requests[-1].fault == "apply_then_status"


def test_apply_then_drop_applies(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("apply_then_drop", method="POST"))
    with pytest.raises(httpx.TransportError):
        give_free_device(api)
    assert free_owner(sim) == DEMO.student_user_id
    assert sim.requests[-1].status is None


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (0.25, "0.25"), (None, None)])
def test_rate_limit(
    api: httpx.Client, sim: Simulator, retry_after: float | None, header: str | None
) -> None:
    sim.faults.add(Fault("rate_limit", retry_after=retry_after))
    reply = api.get(f"/assets/assettag/{DEMO.free_tag}")
    assert reply.status_code == 429
    assert reply.headers.get("Retry-After") == header
    assert sim.requests[-1].fault == "rate_limit"


def test_times_counts_and_none_lasts_until_cleared(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("status", times=2))
    assert [api.get("/login").status_code for _ in range(3)] == [503, 503, 200]
    sim.faults.add(Fault("status", status=502, times=None))
    assert [api.get("/login").status_code for _ in range(4)] == [502] * 4
    assert len(sim.faults.pending) == 1
    sim.faults.clear()
    assert api.get("/login").status_code == 200


def test_fault_targets_method_and_path(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(Fault("status", method="POST", path_contains="/checkin", times=None))
    assert api.get("/login").status_code == 200
    assert give_free_device(api).status_code == 200
    reply = api.post("/assets/checkouts/checkin", json={"AssetId": DEMO.free_asset_id})
    assert reply.status_code == 503
    assert free_owner(sim) == DEMO.student_user_id


def test_invalid_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="times"):
        Fault("status", times=0)


# --------------------------------------------------------------------------- latency


def test_latency_fault_does_not_block_other_requests(sim: Simulator) -> None:
    sim.faults.add(Fault("latency", path_contains="/login", latency_ms=800))
    headers = sim.auth_headers()
    slow_done: list[float] = []

    def slow() -> None:
        with httpx.Client(base_url=sim.api_url, headers=headers, timeout=5) as client:
            assert client.get("/login").status_code == 200
        slow_done.append(time.perf_counter())

    thread = threading.Thread(target=slow)
    started = time.perf_counter()
    thread.start()
    time.sleep(0.1)
    with httpx.Client(base_url=sim.api_url, headers=headers, timeout=5) as client:
        for _ in range(5):
            assert client.get(f"/assets/assettag/{DEMO.free_tag}").status_code == 200
    fast_done = time.perf_counter()
    thread.join(5)
    assert fast_done - started < 0.6
    assert slow_done[0] - started >= 0.75
    login = next(r for r in sim.requests if r.path == "/login")
    assert login.fault == "latency"


def test_global_latency_setting(api: httpx.Client, sim: Simulator) -> None:
    sim.latency_ms = 150
    started = time.perf_counter()
    api.get("/login")
    assert time.perf_counter() - started >= 0.14
    sim.reset()
    assert sim.latency_ms == 0


# --------------------------------------------------------------------------- random rates


def statuses(api: httpx.Client, n: int) -> list[int | str]:
    out: list[int | str] = []
    for _ in range(n):
        try:
            out.append(api.get("/login").status_code)
        except httpx.TransportError:
            out.append("drop")
    return out


def test_rates_repeat_for_the_same_seed(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.set_rates(error_rate=0.3, drop_rate=0.1, rate_limit_rate=0.2, seed=7)
    first = statuses(api, 40)
    sim.faults.set_rates(error_rate=0.3, drop_rate=0.1, rate_limit_rate=0.2, seed=7)
    assert statuses(api, 40) == first
    assert {200, 503, 429, "drop"} <= set(first)
    sim.faults.clear()
    assert statuses(api, 5) == [200] * 5


def test_rates_only_for_chosen_methods(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.set_rates(error_rate=1.0, methods=["post"])
    assert api.get("/login").status_code == 200
    assert api.post("/assets", json={}).status_code == 503


def test_apply_then_fail_rate_still_applies(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.set_rates(apply_then_fail_rate=1.0, seed=3, methods=["POST"])
    try:
        reply = give_free_device(api)
        assert reply.status_code == 503
    except httpx.TransportError:
        pass
    assert free_owner(sim) == DEMO.student_user_id


def test_rates_must_be_sane(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="rates"):
        sim.faults.set_rates(error_rate=0.8, drop_rate=0.5)
