"""Server lifecycle, recording, reset, admin routes, the data set and the demo records."""

from __future__ import annotations

import collections
import re
import threading
import time

import httpx
import pytest

from kiosk.simulator import (
    DEMO,
    ROLE_STAFF,
    ROLE_STUDENT,
    Fault,
    Simulator,
    ensure_loopback,
    serve_forever,
)
from kiosk.simulator.dataset import _Builder, build_tables

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --------------------------------------------------------------------------- recording


def test_requests_are_recorded_without_the_token(sim: Simulator) -> None:
    headers = sim.auth_headers() | {
        "ProductId": DEMO.assets_product_id,
        "ApiFlags": "OnlySetMappedProperties",
    }
    body = {"AssetTag": DEMO.free_tag, "SerialNumber": DEMO.free_serial, "Notes": "n"}
    with httpx.Client(base_url=sim.api_url, headers=headers) as client:
        client.post(f"/assets/{DEMO.free_asset_id}?x=1", json=body)
        client.get("/users/search/ana%20ruiz?$s=5&$p=0")
    update, search = sim.requests
    assert update.method == "POST"
    assert update.path == f"/assets/{DEMO.free_asset_id}"
    assert update.query == {"x": "1"}
    assert update.json == body
    assert update.status == 200
    assert update.authorized is True
    assert update.fault is None
    assert update.headers["authorization"] == "Bearer ***"
    assert update.headers["client"] == "ApiClient"
    assert update.headers["productid"] == DEMO.assets_product_id
    assert update.headers["apiflags"] == "OnlySetMappedProperties"
    assert update.headers["content-type"] == "application/json"
    assert search.path == "/users/search/ana%20ruiz"
    assert search.query == {"$s": "5", "$p": "0"}
    assert search.json is None
    assert sim.token not in repr(sim.requests)


def test_unauthorised_requests_are_recorded_as_such(sim: Simulator) -> None:
    httpx.get(sim.api_url + "/login", headers={"Authorization": "Bearer wrong-secret"})
    last = sim.requests[-1]
    assert (last.authorized, last.status) == (False, 401)
    assert "wrong-secret" not in repr(last)


def test_requests_snapshot_is_a_copy_and_clears(api: httpx.Client, sim: Simulator) -> None:
    api.get("/login")
    snapshot = sim.requests
    snapshot.clear()
    assert len(sim.requests) == 1
    sim.clear_requests()
    assert sim.requests == []


# --------------------------------------------------------------------------- reset


def test_reset_restores_everything_quickly(api: httpx.Client, sim: Simulator) -> None:
    api.post("/assets/checkouts/checkin", json={"AssetId": DEMO.assigned_asset_id})
    api.post("/tickets/new", json={"Subject": "s", "ForId": DEMO.student_user_id})
    sim.faults.add(Fault("status", times=None))
    sim.checkout_routes_enabled = False
    sim.latency_ms = 5
    state = sim.state
    tickets = len(state.tickets)
    started = time.perf_counter()
    sim.reset()
    elapsed = time.perf_counter() - started
    assert elapsed < 0.25  # typically ~10 ms
    assert sim.state is state  # references held by tests stay valid
    assert state.asset(DEMO.assigned_asset_id)["OwnerId"] == DEMO.assigned_owner_id  # type: ignore[index]
    assert state.open_checkout(DEMO.assigned_asset_id) is not None
    assert len(state.tickets) == tickets - 1
    assert sim.requests == []
    assert sim.faults.pending == []
    assert sim.checkout_routes_enabled is True
    assert sim.latency_ms == 0
    assert api.get("/login").status_code == 200


# --------------------------------------------------------------------------- admin routes


def test_admin_routes(sim: Simulator) -> None:
    with httpx.Client(base_url=sim.url + "/_sim") as admin:
        assert admin.get("/demo").json() == DEMO.as_dict()
        raw = admin.get(f"/assets/{DEMO.assigned_asset_id}").json()
        assert raw["OwnerId"] == DEMO.assigned_owner_id
        assert admin.get("/assets/nope").status_code == 404
        assert len(admin.get(f"/tags/{DEMO.duplicate_tag}").json()) == 2
        assert admin.get(f"/users/{DEMO.student_user_id}").json()["SchoolIdNumber"] == "204518"
        assert admin.get("/tickets").json()
        assert admin.get("/checkouts", params={"asset_id": DEMO.assigned_asset_id}).json()

        reply = admin.post(
            "/faults", json={"kind": "status", "status": 502, "path_contains": "/login"}
        )
        assert reply.status_code == 200
        assert admin.post("/faults", json={"kind": "nope"}).status_code == 400
        assert admin.get("/faults").json()["faults"][0]["status"] == 502
        api_headers = sim.auth_headers()
        assert httpx.get(sim.api_url + "/login", headers=api_headers).status_code == 502
        admin.post("/faults", json={"kind": "status", "times": None})
        assert admin.delete("/faults").status_code == 200
        assert httpx.get(sim.api_url + "/login", headers=api_headers).status_code == 200
        assert admin.post("/faults", json={"rates": {"error_rate": 1.0}}).status_code == 200
        assert httpx.get(sim.api_url + "/login", headers=api_headers).status_code == 503
        admin.delete("/faults")

        recorded = admin.get("/requests").json()
        assert [r["path"] for r in recorded] == ["/login", "/login", "/login"]
        assert recorded[0]["headers"]["authorization"] == "Bearer ***"
        admin.delete("/requests")
        assert admin.get("/requests").json() == []

        config = admin.post("/config", json={"checkout_routes_enabled": False, "latency_ms": 20})
        assert config.json() == {"checkout_routes_enabled": False, "latency_ms": 20}
        assert sim.checkout_routes_enabled is False
        assert admin.post("/config", json={"colour": "red"}).status_code == 400

        httpx.post(
            sim.api_url + "/assets/checkouts/checkin",
            json={"AssetId": DEMO.assigned_asset_id},
            headers=api_headers,
        )
        admin.post(f"/assets/{DEMO.assigned_asset_id}/remove-owner")  # not an admin route
        assert admin.post("/reset").status_code == 200
        assert admin.get("/config").json() == {"checkout_routes_enabled": True, "latency_ms": 0}
        assert admin.get("/requests").json() == []  # admin calls are never recorded
        assert admin.get("/health").json()["ok"] is True


# --------------------------------------------------------------------------- data set


def test_same_seed_same_data_other_seed_other_data() -> None:
    started = time.perf_counter()
    two = _Builder(2026).build()
    assert time.perf_counter() - started < 1.0  # typically ~0.2 s
    one = build_tables(2026)
    assert one is not two
    assert one.assets == two.assets
    assert one.users == two.users
    assert one.checkouts == two.checkouts
    other = build_tables(7)
    assert one.users != other.users
    assert other.assets[DEMO.free_asset_id] == one.assets[DEMO.free_asset_id]
    assert other.users[DEMO.student_user_id] == one.users[DEMO.student_user_id]


def test_data_set_looks_like_a_district(sim: Simulator) -> None:
    state = sim.state
    assets, people = list(state.assets.values()), list(state.users.values())
    assert 2700 <= len(assets) <= 3300
    assert 2300 <= len(people) <= 2700
    tags = collections.Counter(a["AssetTag"] for a in assets)
    assert {t[:3] for t in tags} == {"CB-", "LT-", "IP-", "CH-"}
    statuses = {state.status_types[a["StatusTypeId"]]["Name"] for a in assets}
    assert {"Available", "Assigned", "In Repair", "Broken", "Lost/Stolen", "Retired"} <= statuses
    models = {state.models[a["ModelId"]]["Name"] for a in assets}
    assert {"Dell Chromebook 3110", "HP Chromebook 11 G9 EE"} <= models
    students = [u for u in people if u["RoleId"] == ROLE_STUDENT]
    assert {u["Grade"] for u in students} == {"KG", *(f"{g:02d}" for g in range(1, 13))}
    assert all(re.fullmatch(r"\d{6}", u["SchoolIdNumber"]) for u in students)
    school_ids = [u["SchoolIdNumber"] for u in people if u["SchoolIdNumber"]]
    assert len(school_ids) == len(set(school_ids))
    assert any(not u["IsActive"] for u in students)
    names = collections.Counter(u["Name"] for u in people)
    assert any(count > 1 for name, count in names.items() if name != DEMO.shared_name)
    assert all(GUID.match(key) for key in list(state.assets) + list(state.users))
    assert sum(1 for a in assets if a["OwnerId"]) > 1000
    assert any(
        state.rooms[a["LocationRoomId"]]["Name"].startswith("Cart ")
        for a in assets
        if a["LocationRoomId"]
    )


def test_demo_records(sim: Simulator) -> None:
    state = sim.state
    tags = collections.Counter(a["AssetTag"] for a in state.assets.values())
    assert tags[DEMO.duplicate_tag] == 2
    for tag in (DEMO.free_tag, DEMO.assigned_tag, DEMO.retired_tag, DEMO.broken_tag):
        assert tags[tag] == 1, tag
    assert tags[DEMO.unknown_tag] == 0

    (free,) = state.asset_by_tag(DEMO.free_tag)
    assert free["OwnerId"] is None
    assert free["SerialNumber"] == DEMO.free_serial
    assert state.locations[free["LocationId"]]["Name"] == "Roosevelt Middle School"
    assert state.status_types[free["StatusTypeId"]]["Name"] == DEMO.available_status_name

    (assigned,) = state.asset_by_tag(DEMO.assigned_tag)
    marcus = state.user_by_school_id("204519")
    assert marcus is not None
    assert (marcus["Name"], marcus["Grade"]) == ("Marcus Lee", "07")
    assert assigned["OwnerId"] == marcus["UserId"]
    assert state.open_checkout(assigned["AssetId"]) is not None

    (retired,) = state.asset_by_tag(DEMO.retired_tag)
    assert state.status_types[retired["StatusTypeId"]]["Name"] == "Retired"
    (broken,) = state.asset_by_tag(DEMO.broken_tag)
    assert state.status_types[broken["StatusTypeId"]]["Name"] == "Broken"

    ana = state.user_by_school_id(DEMO.student_id)
    assert ana is not None
    assert (ana["Name"], ana["Grade"], ana["Email"], ana["Username"], ana["IsActive"]) == (
        "Ana Ruiz",
        "07",
        "ana.ruiz@students.example.org",
        "aruiz",
        True,
    )
    assert state.assets_for(ana["UserId"]) == []
    sam = state.user_by_school_id(DEMO.inactive_id)
    assert sam is not None
    assert (sam["Name"], sam["RoleId"], sam["IsActive"]) == ("Sam Carter", ROLE_STUDENT, False)
    jordans = [u for u in state.users.values() if u["Name"] == DEMO.shared_name]
    assert sorted(u["SchoolIdNumber"] for u in jordans) == sorted(DEMO.shared_name_ids)
    assert all(u["IsActive"] and u["RoleId"] == ROLE_STUDENT for u in jordans)
    pat = state.user_by_school_id(DEMO.staff_badge)
    assert pat is not None
    assert (pat["Name"], pat["RoleId"]) == ("Pat Morgan", ROLE_STAFF)
    for name in ("Ana Ruiz", "Marcus Lee", "Sam Carter", "Pat Morgan"):
        assert sum(1 for u in state.users.values() if u["Name"] == name) == 1

    assert state.locations[DEMO.storeroom_location_id]["Name"] == DEMO.storeroom_name
    for value in (DEMO.site_id, DEMO.ticket_issue_id, DEMO.ticket_wizard_category_id):
        assert GUID.match(value)
    assert (DEMO.token, DEMO.readonly_token) == ("demo-token", "demo-readonly-token")


def test_another_seed_keeps_the_demo_records() -> None:
    other = build_tables(7)
    assert other.assets[DEMO.assigned_asset_id]["OwnerId"] == DEMO.assigned_owner_id
    assert sum(1 for a in other.assets.values() if a["AssetTag"] == DEMO.duplicate_tag) == 2


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.org", "::"])  # noqa: S104
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Simulator(host=host)
    with pytest.raises(ValueError, match="loopback"):
        serve_forever(host=host, port=0, print_fn=lambda line: None)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    ensure_loopback(host)


def test_own_server_with_custom_tokens_starts_and_stops() -> None:
    with Simulator(token="t-full", readonly_token="t-ro", latency_ms=0) as own:
        assert own.url.startswith("http://127.0.0.1:")
        headers = own.auth_headers()
        assert headers["Authorization"] == "Bearer t-full"
        assert httpx.get(own.api_url + "/login", headers=headers).status_code == 200
        url = own.api_url
    assert not own.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/login", headers=headers, timeout=1)
    own.stop()  # twice is fine


def test_serve_forever_prints_how_to_connect_and_stops() -> None:
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_forever,
        kwargs={"port": 0, "print_fn": lines.append, "stop_event": stop},
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 5
    while not any("Ctrl+C" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    text = "\n".join(lines)
    url = re.search(r"running at (http://\S+)", text)
    assert url is not None
    for expected in (DEMO.token, DEMO.readonly_token, DEMO.site_id, DEMO.free_tag, DEMO.student_id):
        assert expected in text
    headers = {"Authorization": f"Bearer {DEMO.token}", "SiteId": DEMO.site_id}
    assert httpx.get(url.group(1) + "/api/v1.0/login", headers=headers).status_code == 200
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_demo_simulator_keeps_no_pristine_copy_and_refuses_reset() -> None:
    import httpx

    from kiosk.simulator import DEMO, Simulator

    with Simulator(resettable=False) as sim:
        (asset,) = sim.state.asset_by_tag(DEMO.free_tag)
        sim.state.set_owner(asset["AssetId"], DEMO.student_user_id)
        with pytest.raises(RuntimeError, match="pristine"):
            sim.reset()
        reply = httpx.post(sim.url + "/_sim/reset")
        assert reply.status_code == 409
    # The cached pristine tables that resettable simulators copy were not touched.
    with Simulator() as fresh:
        (asset,) = fresh.state.asset_by_tag(DEMO.free_tag)
        assert asset["OwnerId"] is None
