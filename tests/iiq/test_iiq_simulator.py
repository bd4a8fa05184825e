"""The client against the simulator over real loopback HTTP: every call, every error
class, the fault kinds, and what the server received and ended up with."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kiosk.iiq import (
    AuthError,
    Connection,
    Filter,
    ForbiddenError,
    IIQClient,
    IIQError,
    InvalidInputError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TicketRequest,
)
from kiosk.iiq.client import ASSETS_PRODUCT_ID, TICKETING_PRODUCT_ID
from kiosk.simulator import DEMO, ROLE_STUDENT, Fault, Simulator

Action = Callable[[IIQClient], Awaitable[Any]]
CHECKOUT = "/assets/checkouts/checkout-or-transfer"
CHECKIN = "/assets/checkouts/checkin"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def use(
    sim: Simulator,
    action: Action,
    *,
    token: str | None = None,
    site_id: str | None = None,
    product_id: str | None = None,
    read_timeout: float = 15.0,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> Any:
    """Run `action` with a fresh client on a fresh loop."""

    async def main() -> Any:
        connection = Connection(
            site_url=sim.url,
            site_id=site_id or sim.site_id,
            token=token or sim.token,
            product_id=product_id,
            read_timeout=read_timeout,
        )
        async with IIQClient(
            connection, retry=retry or RetryPolicy(base_delay=0.01), **options
        ) as client:
            return await action(client)

    return asyncio.run(main())


def fails(sim: Simulator, action: Action, error: type[IIQError], **options: Any) -> Any:
    with pytest.raises(error) as info:
        use(sim, action, **options)
    return info.value


def calls(sim: Simulator) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in sim.requests]


def owner_of(sim: Simulator, asset_id: str) -> str | None:
    with sim.state.lock:
        return sim.state.asset(asset_id)["OwnerId"]


# --- connection -------------------------------------------------------------------------


def test_login(sim: Simulator) -> None:
    info = use(sim, lambda c: c.login())
    assert info.site_id == sim.site_id
    assert info.user_id == DEMO.api_user_id
    assert info.user is not None and info.user.display_name == DEMO.api_user_name
    assert calls(sim) == [("GET", "/login", 200)]


def test_headers_the_server_received(sim: Simulator) -> None:
    use(sim, lambda c: c.asset(DEMO.free_asset_id))
    use(sim, lambda c: c.asset(DEMO.free_asset_id), product_id=ASSETS_PRODUCT_ID)
    plain, with_product = sim.requests
    assert plain.authorized is True
    assert plain.headers["authorization"] == "Bearer ***"
    assert plain.headers["siteid"] == sim.site_id
    assert plain.headers["client"] == "ApiClient"
    assert plain.headers["accept"] == "application/json"
    assert "productid" not in plain.headers
    assert "content-type" not in plain.headers
    assert plain.json is None
    assert with_product.headers["productid"] == ASSETS_PRODUCT_ID


# --- assets: reads ----------------------------------------------------------------------


def test_assets_by_tag_found(sim: Simulator) -> None:
    found = use(sim, lambda c: c.assets_by_tag(DEMO.free_tag))
    assert len(found) == 1
    asset = found[0]
    assert asset.asset_id == DEMO.free_asset_id
    assert asset.serial_number == DEMO.free_serial
    assert asset.model_name == "Dell Chromebook 3110"
    assert asset.status_name == DEMO.available_status_name
    assert asset.location_name == DEMO.free_location_name
    assert asset.owner is None and asset.current_owner_id is None
    assert asset.label == "CB-004512 (Dell Chromebook 3110)"
    assert calls(sim) == [("GET", f"/assets/assettag/{DEMO.free_tag}", 200)]


def test_assets_by_tag_assigned_has_owner(sim: Simulator) -> None:
    (asset,) = use(sim, lambda c: c.assets_by_tag(DEMO.assigned_tag))
    assert asset.owner_name == DEMO.assigned_owner_name
    assert asset.current_owner_id == DEMO.assigned_owner_id
    assert asset.owner is not None
    assert asset.owner.school_id_number == DEMO.assigned_owner_school_id


def test_assets_by_tag_unknown_is_empty(sim: Simulator) -> None:
    assert use(sim, lambda c: c.assets_by_tag(DEMO.unknown_tag)) == []
    assert calls(sim) == [("GET", f"/assets/assettag/{DEMO.unknown_tag}", 200)]


def test_assets_by_tag_is_case_insensitive(sim: Simulator) -> None:
    found = use(sim, lambda c: c.assets_by_tag(DEMO.free_tag.lower()))
    assert [a.asset_id for a in found] == [DEMO.free_asset_id]


def test_assets_by_tag_duplicate(sim: Simulator) -> None:
    found = use(sim, lambda c: c.assets_by_tag(DEMO.duplicate_tag))
    assert len(found) == 2
    assert {a.asset_id for a in found} == set(DEMO.duplicate_asset_ids)
    assert {a.asset_tag for a in found} == {DEMO.duplicate_tag}


def test_assets_by_serial(sim: Simulator) -> None:
    found = use(sim, lambda c: c.assets_by_serial(DEMO.free_serial))
    assert [a.asset_tag for a in found] == [DEMO.free_tag]
    assert use(sim, lambda c: c.assets_by_serial("NO-SUCH-SERIAL")) == []


def test_find_assets_by_tag(sim: Simulator) -> None:
    found = use(sim, lambda c: c.find_assets(DEMO.assigned_tag))
    assert found.matched_by == "tag"
    assert [a.asset_id for a in found.assets] == [DEMO.assigned_asset_id]
    assert len(sim.requests) == 1


def test_find_assets_falls_back_to_serial(sim: Simulator) -> None:
    found = use(sim, lambda c: c.find_assets(DEMO.free_serial))
    assert found.matched_by == "serial"
    assert found.query == DEMO.free_serial
    assert [a.asset_id for a in found.assets] == [DEMO.free_asset_id]
    assert calls(sim) == [
        ("GET", f"/assets/assettag/{DEMO.free_serial}", 200),
        ("GET", f"/assets/serial/{DEMO.free_serial}", 200),
    ]


def test_find_assets_neither(sim: Simulator) -> None:
    found = use(sim, lambda c: c.find_assets(DEMO.unknown_tag))
    assert found.matched_by is None
    assert found.assets == []
    assert len(sim.requests) == 2


def test_asset_by_id(sim: Simulator) -> None:
    asset = use(sim, lambda c: c.asset(DEMO.assigned_asset_id))
    assert asset.asset_tag == DEMO.assigned_tag
    assert asset.owner_name == DEMO.assigned_owner_name


def test_asset_by_id_unknown_is_not_found(sim: Simulator) -> None:
    error = fails(sim, lambda c: c.asset("00000000-0000-0000-0000-000000000000"), NotFoundError)
    assert error.status == 404
    assert error.route_missing is False
    assert "AssetNotFound" in error.detail
    assert len(sim.requests) == 1


def test_unknown_route_is_route_missing(sim: Simulator) -> None:
    async def action(client: IIQClient) -> Any:
        return await client._send("GET", "/no/such/route")

    error = fails(sim, action, NotFoundError)
    assert error.route_missing is True
    # The simulator answers like ASP.NET Web API: JSON, not an empty body.
    assert "No HTTP resource was found that matches the request URI" in error.detail
    assert calls(sim) == [("GET", "/no/such/route", 404)]


@pytest.mark.parametrize("page_size", [5, 7, 100])
def test_query_assets_pages(sim: Simulator, page_size: int) -> None:
    broken = sim.state.status_type_by_name("Broken")
    assert broken is not None
    with sim.state.lock:
        expected = sorted(
            (a["AssetTag"].casefold(), a["AssetId"])
            for a in sim.state.assets.values()
            if a["StatusTypeId"] == broken["AssetStatusTypeId"] and not a["IsDeleted"]
        )
    assert len(expected) > 7
    found = use(
        sim,
        lambda c: c.query_assets(
            [Filter("assetstatus", id=broken["AssetStatusTypeId"])], page_size=page_size
        ),
    )
    assert [a.asset_id for a in found] == [asset_id for _, asset_id in expected]
    assert {a.status_name for a in found} == {"Broken"}
    pages = math.ceil(len(expected) / page_size)
    assert [r.query for r in sim.requests] == [
        {"$s": str(page_size), "$p": str(p)} for p in range(pages)
    ]
    assert all(r.path == "/assets" and r.method == "POST" for r in sim.requests)
    assert sim.requests[0].json == {
        "Filters": [{"Facet": "assetstatus", "Id": broken["AssetStatusTypeId"]}],
        "OnlyShowDeleted": False,
        "FilterByViewPermission": True,
    }


def test_query_assets_max_items(sim: Simulator) -> None:
    found = use(sim, lambda c: c.query_assets(page_size=4, max_items=10))
    assert len(found) == 10
    assert [r.query["$p"] for r in sim.requests] == ["0", "1", "2"]


def test_query_assets_page_size_above_the_server_cap(sim: Simulator) -> None:
    with sim.state.lock:
        expected = {a["AssetId"] for a in sim.state.assets.values() if not a["IsDeleted"]}
    assert len(expected) > 2000
    found = use(sim, lambda c: c.query_assets(page_size=1500))
    assert len(found) == len(expected)
    assert {a.asset_id for a in found} == expected


def test_query_assets_filter_groups(sim: Simulator) -> None:
    either = [
        Filter("assettag", value=DEMO.free_tag, group_index=0),
        Filter("assettag", value=DEMO.assigned_tag, group_index=0),
    ]
    found = use(sim, lambda c: c.query_assets(either))
    assert sorted(a.asset_tag for a in found) == [DEMO.free_tag, DEMO.assigned_tag]
    both = [
        Filter("assettag", value=DEMO.free_tag, group_index=0),
        Filter("location", id=DEMO.storeroom_location_id, group_index=1),
    ]
    assert use(sim, lambda c: c.query_assets(both)) == []
    free_here = [
        Filter("assettag", value=DEMO.free_tag, group_index=0),
        Filter("location", id=DEMO.free_location_id, group_index=1),
    ]
    assert [a.asset_id for a in use(sim, lambda c: c.query_assets(free_here))] == [
        DEMO.free_asset_id
    ]


def test_query_assets_unknown_facet_is_invalid_input(sim: Simulator) -> None:
    error = fails(sim, lambda c: c.query_assets([Filter("colour", value="red")]), InvalidInputError)
    assert "Unknown asset facet 'colour'" in str(error)
    assert len(sim.requests) == 1


def test_assets_for(sim: Simulator) -> None:
    found = use(sim, lambda c: c.assets_for(DEMO.assigned_owner_id))
    assert DEMO.assigned_tag in {a.asset_tag for a in found}
    assert {a.current_owner_id for a in found} == {DEMO.assigned_owner_id}
    expected = {a["AssetId"] for a in sim.state.assets_for(DEMO.assigned_owner_id)}
    assert {a.asset_id for a in found} == expected


def test_status_types(sim: Simulator) -> None:
    types = use(sim, lambda c: c.status_types())
    by_name = {t.name: t for t in types}
    assert set(by_name) == {
        "Available",
        "Assigned",
        "In Repair",
        "Broken",
        "Lost/Stolen",
        "Retired",
    }
    assert by_name["Retired"].is_retired is True
    assert by_name["Available"].is_retired is False
    assert by_name["Available"].asset_status_type_id == DEMO.available_status_id


def test_activities(sim: Simulator) -> None:
    history = use(sim, lambda c: c.activities(DEMO.assigned_asset_id))
    assert [a.activity_type for a in history] == ["CheckOut", "Created"]
    assert history[0].description == f"Checked out to {DEMO.assigned_owner_name}"
    assert history[0].activity_date == "2025-08-20T09:12:05.000"
    assert sim.requests[0].query == {"$s": "20", "$p": "0"}


# --- people -----------------------------------------------------------------------------


def test_search_users_by_school_id(sim: Simulator) -> None:
    people = use(sim, lambda c: c.search_users(DEMO.student_id))
    assert len(people) == 1
    ana = people[0]
    assert ana.user_id == DEMO.student_user_id
    assert ana.display_name == DEMO.student_name
    assert ana.grade == DEMO.student_grade
    assert ana.email == DEMO.student_email
    assert ana.username == DEMO.student_username
    assert ana.school_id_number == DEMO.student_id
    assert ana.role_label == "Student"
    assert ana.can_own_devices is True
    assert sim.requests[0].path == f"/users/search/{DEMO.student_id}"
    assert sim.requests[0].query == {"$s": "50", "$p": "0"}


def test_search_users_inactive(sim: Simulator) -> None:
    (person,) = use(sim, lambda c: c.search_users(DEMO.inactive_id))
    assert person.display_name == DEMO.inactive_name
    assert person.is_active is False
    assert person.can_own_devices is False


def test_search_users_shared_name_and_none(sim: Simulator) -> None:
    people = use(sim, lambda c: c.search_users(DEMO.shared_name))
    assert {p.school_id_number for p in people} == set(DEMO.shared_name_ids)
    assert {p.display_name for p in people} == {DEMO.shared_name}
    assert sim.requests[0].path == "/users/search/Jordan%20Smith"
    assert use(sim, lambda c: c.search_users("zz-nobody-zz")) == []


def test_search_users_limit(sim: Simulator) -> None:
    people = use(sim, lambda c: c.search_users("Smith", limit=3))
    assert len(people) == 3
    assert [r.query for r in sim.requests] == [{"$s": "3", "$p": "0"}]


def test_query_users(sim: Simulator) -> None:
    with sim.state.lock:
        expected = {
            u["UserId"]
            for u in sim.state.users.values()
            if u["Grade"] == "07" and u["RoleId"] == ROLE_STUDENT and not u["IsDeleted"]
        }
    assert len(expected) > 100
    people = use(
        sim,
        lambda c: c.query_users(
            [Filter("grade", value="07"), Filter("role", id=ROLE_STUDENT)], page_size=60
        ),
    )
    assert {p.user_id for p in people} == expected
    assert len(people) == len(expected)
    assert len(sim.requests) == math.ceil(len(expected) / 60)
    assert sim.requests[0].json == {
        "Filters": [{"Facet": "grade", "Value": "07"}, {"Facet": "role", "Id": ROLE_STUDENT}],
        "OnlyShowDeleted": False,
    }


def test_query_users_by_school_id(sim: Simulator) -> None:
    people = use(sim, lambda c: c.query_users([Filter("schoolidnumber", value=DEMO.staff_badge)]))
    assert [p.display_name for p in people] == [DEMO.staff_name]


def test_user_by_id(sim: Simulator) -> None:
    ana = use(sim, lambda c: c.user(DEMO.student_user_id))
    assert ana.display_name == DEMO.student_name
    assert ana.grade == "07"
    error = fails(sim, lambda c: c.user("00000000-0000-0000-0000-000000000000"), NotFoundError)
    assert error.route_missing is False


# --- locations --------------------------------------------------------------------------


def test_locations_and_rooms(sim: Simulator) -> None:
    locations = use(sim, lambda c: c.locations())
    by_id = {loc.location_id: loc for loc in locations}
    assert len(locations) == len(sim.state.locations)
    assert by_id[DEMO.free_location_id].name == DEMO.free_location_name
    assert by_id[DEMO.storeroom_location_id].name == DEMO.storeroom_name
    assert by_id[DEMO.free_location_id].location_type is not None
    assert by_id[DEMO.free_location_id].location_type.name == "School"

    rooms = use(sim, lambda c: c.rooms(DEMO.free_location_id))
    expected = {
        r["LocationRoomId"]
        for r in sim.state.rooms.values()
        if r["LocationId"] == DEMO.free_location_id
    }
    assert {r.location_room_id for r in rooms} == expected
    assert {r.location_id for r in rooms} == {DEMO.free_location_id}
    assert "Library" in {r.name for r in rooms}


# --- changes ----------------------------------------------------------------------------


def test_transfer_via_checkout_route(sim: Simulator) -> None:
    async def action(client: IIQClient) -> Any:
        used = await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
        return used, await client.asset(DEMO.free_asset_id)

    used, after = use(sim, action)
    assert used == "checkout"
    request = sim.requests[0]
    assert (request.method, request.path, request.status) == ("POST", CHECKOUT, 200)
    assert request.json["AssetId"] == DEMO.free_asset_id
    assert request.json["OwnerId"] == request.json["ToOwnerId"] == DEMO.student_user_id
    assert request.json["Source"] == "api"
    assert request.headers["content-type"] == "application/json"
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id
    checkout = sim.state.open_checkout(DEMO.free_asset_id)
    assert checkout is not None and checkout["Source"] == "api"
    assert after.owner_name == DEMO.student_name
    assert after.current_owner_id == DEMO.student_user_id


def test_transfer_between_people_records_history(sim: Simulator) -> None:
    async def action(client: IIQClient) -> Any:
        await client.transfer(DEMO.assigned_asset_id, DEMO.student_user_id)
        return await client.asset(DEMO.assigned_asset_id), await client.activities(
            DEMO.assigned_asset_id
        )

    after, history = use(sim, action)
    assert after.owner_name == DEMO.student_name
    assert after.previous_owner is not None
    assert after.previous_owner.display_name == DEMO.assigned_owner_name
    assert history[0].activity_type == "Transfer"
    assert (
        history[0].description
        == f"Transferred from {DEMO.assigned_owner_name} to {DEMO.student_name}"
    )
    assert history[0].by == DEMO.api_user_name


def test_transfer_falls_back_to_owner_route(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.checkout_routes_enabled = False

    async def action(client: IIQClient) -> list[str]:
        first = await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
        second = await client.transfer(DEMO.assigned_asset_id, DEMO.student_user_id)
        return [first, second, client.transfer_api]

    with caplog.at_level(logging.WARNING, logger="kiosk.iiq"):
        assert use(sim, action) == ["owner", "owner", "owner"]
    assert calls(sim) == [
        ("POST", CHECKOUT, 404),
        ("POST", f"/assets/{DEMO.free_asset_id}/owner", 200),
        ("POST", f"/assets/{DEMO.assigned_asset_id}/owner", 200),
    ]
    # The 404 that caused it was ASP.NET's JSON "no route", and the log says so.
    (warning,) = [r.getMessage() for r in caplog.records if "does not exist" in r.getMessage()]
    assert "No HTTP resource was found" in warning
    assert sim.requests[1].json == {
        "OwnerId": DEMO.student_user_id,
        "UpdateAssetWithUserLocation": False,
        "Force": False,
    }
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id
    assert owner_of(sim, DEMO.assigned_asset_id) == DEMO.student_user_id
    assert any("does not exist on this site" in r.getMessage() for r in caplog.records)


def test_transfer_unknown_person_is_not_a_missing_route(sim: Simulator) -> None:
    async def action(client: IIQClient) -> str:
        with pytest.raises(NotFoundError) as info:
            await client.transfer(DEMO.free_asset_id, "00000000-0000-0000-0000-000000000000")
        assert info.value.route_missing is False
        return client.transfer_api

    assert use(sim, action) == "checkout"
    assert calls(sim) == [("POST", CHECKOUT, 404)]
    assert owner_of(sim, DEMO.free_asset_id) is None


def test_checkin_via_checkin_route(sim: Simulator) -> None:
    assert use(sim, lambda c: c.checkin(DEMO.assigned_asset_id)) == "checkin"
    assert calls(sim) == [("POST", CHECKIN, 200)]
    assert sim.requests[0].json == {"AssetId": DEMO.assigned_asset_id}
    assert owner_of(sim, DEMO.assigned_asset_id) is None
    assert sim.state.open_checkout(DEMO.assigned_asset_id) is None


def test_checkin_without_open_checkout_removes_owner(sim: Simulator) -> None:
    assert owner_of(sim, DEMO.no_checkout_asset_id) is not None

    async def action(client: IIQClient) -> list[str]:
        return [await client.checkin(DEMO.no_checkout_asset_id), client.transfer_api]

    assert use(sim, action) == ["remove-owner", "checkout"]
    assert calls(sim) == [
        ("POST", CHECKIN, 404),
        ("POST", f"/assets/{DEMO.no_checkout_asset_id}/remove-owner", 200),
    ]
    assert owner_of(sim, DEMO.no_checkout_asset_id) is None


def test_checkin_when_checkout_routes_are_missing(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.checkout_routes_enabled = False

    async def action(client: IIQClient) -> list[str]:
        first = await client.checkin(DEMO.assigned_asset_id)
        second = await client.checkin(DEMO.no_checkout_asset_id)
        return [first, second, client.transfer_api]

    with caplog.at_level(logging.WARNING, logger="kiosk.iiq"):
        assert use(sim, action) == ["remove-owner", "remove-owner", "owner"]
    assert calls(sim) == [
        ("POST", CHECKIN, 404),
        ("POST", f"/assets/{DEMO.assigned_asset_id}/remove-owner", 200),
        ("POST", f"/assets/{DEMO.no_checkout_asset_id}/remove-owner", 200),
    ]
    assert owner_of(sim, DEMO.assigned_asset_id) is None
    assert owner_of(sim, DEMO.no_checkout_asset_id) is None
    assert any("No HTTP resource was found" in r.getMessage() for r in caplog.records)


def test_checkout_then_checkin_with_checkout_routes_missing(sim: Simulator) -> None:
    """A whole loan on a site without the checkout module: out, then back in."""
    sim.checkout_routes_enabled = False

    async def action(client: IIQClient) -> list[Any]:
        out = await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
        lent = (await client.asset(DEMO.free_asset_id)).current_owner_id
        back = await client.checkin(DEMO.free_asset_id)
        returned = (await client.asset(DEMO.free_asset_id)).current_owner_id
        return [out, lent, back, returned]

    assert use(sim, action) == ["owner", DEMO.student_user_id, "remove-owner", None]
    assert [(m, p) for m, p, _ in calls(sim) if m == "POST"] == [
        ("POST", CHECKOUT),
        ("POST", f"/assets/{DEMO.free_asset_id}/owner"),
        ("POST", f"/assets/{DEMO.free_asset_id}/remove-owner"),
    ]
    assert sim.state.open_checkout(DEMO.free_asset_id) is None


def test_no_open_checkout_falls_back_for_that_asset_only(sim: Simulator) -> None:
    """The checkin route's record-level 404 ("no open checkout", with an ErrorKey) removes
    that asset's owner; the next check-in still uses the checkin route."""

    async def action(client: IIQClient) -> list[str]:
        first = await client.checkin(DEMO.no_checkout_asset_id)
        second = await client.checkin(DEMO.assigned_asset_id)
        return [first, second, client.transfer_api]

    assert use(sim, action) == ["remove-owner", "checkin", "checkout"]
    assert calls(sim) == [
        ("POST", CHECKIN, 404),
        ("POST", f"/assets/{DEMO.no_checkout_asset_id}/remove-owner", 200),
        ("POST", CHECKIN, 200),
    ]
    assert owner_of(sim, DEMO.no_checkout_asset_id) is None
    assert owner_of(sim, DEMO.assigned_asset_id) is None


def test_update_asset_keeps_the_serial(sim: Simulator) -> None:
    async def action(client: IIQClient) -> Any:
        asset = await client.asset(DEMO.free_asset_id)
        return await client.update_asset(
            asset, {"Notes": "Cracked corner", "LocationId": DEMO.storeroom_location_id}
        )

    updated = use(sim, action)
    request = sim.requests[-1]
    assert (request.method, request.path, request.status) == (
        "POST",
        f"/assets/{DEMO.free_asset_id}",
        200,
    )
    assert request.headers["apiflags"] == "OnlySetMappedProperties"
    assert request.json == {
        "AssetTag": DEMO.free_tag,
        "SerialNumber": DEMO.free_serial,
        "Notes": "Cracked corner",
        "LocationId": DEMO.storeroom_location_id,
    }
    with sim.state.lock:
        stored = dict(sim.state.asset(DEMO.free_asset_id))
    assert stored["SerialNumber"] == DEMO.free_serial
    assert stored["AssetTag"] == DEMO.free_tag
    assert stored["Notes"] == "Cracked corner"
    assert stored["LocationId"] == DEMO.storeroom_location_id
    assert updated is not None
    assert updated.serial_number == DEMO.free_serial
    assert updated.location_name == DEMO.storeroom_name


def test_set_status(sim: Simulator) -> None:
    async def action(client: IIQClient) -> Any:
        types = {t.name: t.asset_status_type_id for t in await client.status_types()}
        await client.set_status(DEMO.free_asset_id, types["Broken"])
        return types["Broken"], await client.asset(DEMO.free_asset_id)

    broken_id, after = use(sim, action)
    assert after.status_name == "Broken"
    with sim.state.lock:
        assert sim.state.asset(DEMO.free_asset_id)["StatusTypeId"] == broken_id
    assert calls(sim)[1] == ("POST", f"/assets/{DEMO.free_asset_id}/status/{broken_id}", 200)


def test_create_ticket(sim: Simulator) -> None:
    before = len(sim.state.tickets)
    request = TicketRequest(
        subject="Cracked screen",
        description="Returned at the kiosk with a cracked screen.",
        for_user_id=DEMO.assigned_owner_id,
        asset_id=DEMO.assigned_asset_id,
        issue_id=DEMO.ticket_issue_id,
        issue_category_id=DEMO.ticket_issue_category_id,
        issue_type_id=DEMO.ticket_issue_type_id,
        wizard_category_id=DEMO.ticket_wizard_category_id,
        location_id=DEMO.free_location_id,
    )

    async def action(client: IIQClient) -> Any:
        return await client.create_ticket(request), await client.asset(DEMO.assigned_asset_id)

    ref, after = use(sim, action)
    assert ref.ticket_id
    assert ref.ticket_number is not None and ref.ticket_number.isdigit()
    tickets = sim.state.tickets
    assert len(tickets) == before + 1
    ticket = tickets[-1]
    assert ticket["TicketId"] == ref.ticket_id
    assert str(ticket["TicketNumber"]) == ref.ticket_number
    assert ticket["Assets"] == [{"AssetId": DEMO.assigned_asset_id}]
    assert ticket["ForId"] == DEMO.assigned_owner_id
    assert ticket["ProductId"] == TICKETING_PRODUCT_ID
    assert ticket["Subject"] == "Cracked screen"
    assert calls(sim)[0] == ("POST", "/tickets/new", 201)
    assert after.has_open_tickets is True
    assert after.open_ticket_count == 1


def test_create_ticket_for_unknown_person_is_refused(sim: Simulator) -> None:
    before = len(sim.state.tickets)
    bad = TicketRequest(
        subject="x", description="y", for_user_id="nobody", asset_id=DEMO.free_asset_id
    )
    error = fails(sim, lambda c: c.create_ticket(bad), InvalidInputError)
    assert "ForId: ForId does not match a person." in str(error)
    assert error.status == 400
    assert len(sim.state.tickets) == before
    assert len(sim.requests) == 1


# --- error classes ----------------------------------------------------------------------


def test_wrong_token_is_auth_error(sim: Simulator) -> None:
    error = fails(sim, lambda c: c.login(), AuthError, token="not-the-token")
    assert error.status == 401
    assert "token" in str(error)
    assert "site id" not in str(error)
    assert error.site_id_rejected is False
    assert [(r.authorized, r.status) for r in sim.requests] == [(False, 401)]


def test_wrong_site_id_is_auth_error(sim: Simulator) -> None:
    error = fails(sim, lambda c: c.assets_by_tag(DEMO.free_tag), AuthError, site_id="wrong-site")
    assert "InvalidSiteId" in error.detail
    assert len(sim.requests) == 1


@pytest.mark.parametrize(
    "action",
    [lambda c: c.login(), lambda c: c.assets_by_tag(DEMO.free_tag)],
    ids=["login", "assets_by_tag"],
)
def test_wrong_site_id_says_site_id_not_token(sim: Simulator, action: Action) -> None:
    error = fails(sim, action, AuthError, site_id="6a1e0c9b-0000-0000-0000-000000000000")
    assert error.site_id_rejected is True
    assert str(error) == (
        "Incident IQ did not accept the site id (IIQ_SITE_ID / [iiq] site_id): "
        "The SiteId header is missing or does not match this site."
    )
    assert "token" not in str(error)
    assert [(r.authorized, r.status) for r in sim.requests] == [(False, 401)]


def test_wrong_token_and_wrong_site_id_blames_the_token(sim: Simulator) -> None:
    error = fails(sim, lambda c: c.login(), AuthError, token="nope", site_id="wrong-site")
    assert error.site_id_rejected is False
    assert "token" in str(error)


READONLY_MUTATIONS: dict[str, Action] = {
    "transfer": lambda c: c.transfer(DEMO.free_asset_id, DEMO.student_user_id),
    "checkin": lambda c: c.checkin(DEMO.assigned_asset_id),
    "set_status": lambda c: c.set_status(DEMO.free_asset_id, DEMO.available_status_id),
    "create_ticket": lambda c: c.create_ticket(
        TicketRequest(
            subject="s",
            description="d",
            for_user_id=DEMO.student_user_id,
            asset_id=DEMO.free_asset_id,
        )
    ),
}


@pytest.mark.parametrize("mutation", list(READONLY_MUTATIONS))
def test_readonly_token_is_forbidden_to_change(sim: Simulator, mutation: str) -> None:
    before = len(sim.state.tickets)
    error = fails(sim, READONLY_MUTATIONS[mutation], ForbiddenError, token=sim.readonly_token)
    assert error.status == 403
    assert "not allowed" in str(error)
    assert [(r.authorized, r.status) for r in sim.requests] == [(True, 403)]
    assert owner_of(sim, DEMO.free_asset_id) is None
    assert owner_of(sim, DEMO.assigned_asset_id) == DEMO.assigned_owner_id
    assert len(sim.state.tickets) == before


def test_readonly_token_can_read_and_update_is_forbidden(sim: Simulator) -> None:
    async def action(client: IIQClient) -> Any:
        (asset,) = await client.assets_by_tag(DEMO.free_tag)
        with pytest.raises(ForbiddenError):
            await client.update_asset(asset, {"Notes": "x"})
        return asset

    asset = use(sim, action, token=sim.readonly_token)
    assert asset.asset_id == DEMO.free_asset_id
    assert [r.status for r in sim.requests] == [200, 403]
    with sim.state.lock:
        assert sim.state.asset(DEMO.free_asset_id)["Notes"] is None


def test_429_is_retried_then_succeeds(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="rate_limit", path_contains="/assets/assettag/", retry_after=2))
    sleeps = Sleeps()
    found = use(sim, lambda c: c.assets_by_tag(DEMO.free_tag), sleep=sleeps)
    assert [a.asset_id for a in found] == [DEMO.free_asset_id]
    assert [(r.status, r.fault) for r in sim.requests] == [(429, "rate_limit"), (200, None)]
    assert sleeps.delays == [2.0]


def test_429_without_retry_after_backs_off(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="rate_limit", path_contains="/login", times=2))
    sleeps = Sleeps()
    info = use(sim, lambda c: c.login(), sleep=sleeps, retry=RetryPolicy(base_delay=1, jitter=0))
    assert info.user_id == DEMO.api_user_id
    assert sleeps.delays == [1.0, 2.0]
    assert [r.status for r in sim.requests] == [429, 429, 200]


def test_429_forever_raises_rate_limited(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="rate_limit", path_contains="/assets/", times=None, retry_after=0))
    error = fails(sim, lambda c: c.asset(DEMO.free_asset_id), RateLimitedError)
    assert error.retry_after == 0.0
    assert error.status == 429
    assert [r.status for r in sim.requests] == [429] * 4


def test_5xx_on_a_read_is_retried(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="status", method="GET", status=503, times=2))
    asset = use(sim, lambda c: c.asset(DEMO.free_asset_id))
    assert asset.asset_tag == DEMO.free_tag
    assert [r.status for r in sim.requests] == [503, 503, 200]


def test_5xx_forever_on_a_read_raises(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="status", status=500, times=None))
    error = fails(sim, lambda c: c.search_users(DEMO.student_id), ServerError)
    assert error.status == 500
    assert len(sim.requests) == 4


def test_5xx_on_a_mutation_is_not_retried(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="status", method="POST", status=503, times=None))
    error = fails(sim, lambda c: c.transfer(DEMO.free_asset_id, DEMO.student_user_id), ServerError)
    assert error.request_sent is True
    assert calls(sim) == [("POST", CHECKOUT, 503)]
    assert owner_of(sim, DEMO.free_asset_id) is None


def test_apply_then_5xx_on_a_mutation(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="apply_then_status", path_contains="/checkouts/", status=502))
    error = fails(sim, lambda c: c.transfer(DEMO.free_asset_id, DEMO.student_user_id), ServerError)
    assert error.status == 502
    assert error.request_sent is True
    assert len(sim.requests) == 1
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id


def test_read_timeout_then_success(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="latency", path_contains="/assets/assettag/", latency_ms=1000))
    started = time.perf_counter()
    found = use(sim, lambda c: c.assets_by_tag(DEMO.free_tag), read_timeout=0.2)
    assert [a.asset_id for a in found] == [DEMO.free_asset_id]
    assert time.perf_counter() - started < 0.9
    assert [r.fault for r in sim.requests] == ["latency", None]


def test_read_timeout_is_a_network_error(sim: Simulator) -> None:
    sim.faults.add(
        Fault(kind="latency", path_contains="/assets/assettag/", latency_ms=1000, times=None)
    )
    error = fails(
        sim,
        lambda c: c.assets_by_tag(DEMO.free_tag),
        NetworkError,
        read_timeout=0.2,
        retry=RetryPolicy(attempts=2, base_delay=0.01),
    )
    assert error.timeout is True
    assert error.request_sent is True
    assert "did not answer in time" in str(error)
    assert [r.fault for r in sim.requests] == ["latency", "latency"]


def test_mutation_timeout_is_sent_once_and_may_be_applied(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="latency", path_contains="/checkouts/", latency_ms=500))
    error = fails(
        sim,
        lambda c: c.transfer(DEMO.free_asset_id, DEMO.student_user_id),
        NetworkError,
        read_timeout=0.2,
    )
    assert error.timeout is True
    assert error.request_sent is True
    # The server goes on with the change after the client gave up: that is why a timed-out
    # change must be verified by re-reading before it is tried again.
    deadline = time.monotonic() + 3
    while owner_of(sim, DEMO.free_asset_id) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id
    assert [(r.method, r.path) for r in sim.requests] == [("POST", CHECKOUT)]


def test_dropped_connection_on_a_read_is_retried(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", method="GET"))
    (asset,) = use(sim, lambda c: c.assets_by_tag(DEMO.assigned_tag))
    assert asset.asset_id == DEMO.assigned_asset_id
    assert [r.fault for r in sim.requests] == ["drop", None]


def test_dropped_connection_forever_is_a_network_error(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", times=None))
    error = fails(sim, lambda c: c.asset(DEMO.free_asset_id), NetworkError)
    assert error.timeout is False
    assert error.request_sent is True
    assert "interrupted" in str(error)
    assert len(sim.requests) == 4


def test_drop_on_a_mutation_is_not_retried(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="drop", method="POST", times=None))
    error = fails(sim, lambda c: c.transfer(DEMO.free_asset_id, DEMO.student_user_id), NetworkError)
    assert error.request_sent is True
    assert [(r.path, r.fault) for r in sim.requests] == [(CHECKOUT, "drop")]
    assert owner_of(sim, DEMO.free_asset_id) is None


def test_apply_then_drop_on_transfer(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="apply_then_drop", path_contains="/checkouts/"))
    error = fails(sim, lambda c: c.transfer(DEMO.free_asset_id, DEMO.student_user_id), NetworkError)
    assert error.request_sent is True
    assert error.timeout is False
    assert [(r.path, r.fault) for r in sim.requests] == [(CHECKOUT, "apply_then_drop")]
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id
    assert sim.state.open_checkout(DEMO.free_asset_id) is not None


def test_cannot_connect_is_not_sent() -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        connection = Connection(site_url=f"http://127.0.0.1:{port}", site_id="s", token="t")
        async with IIQClient(connection, retry=RetryPolicy(attempts=1)) as client:
            await client.transfer("a", "u")

    with pytest.raises(NetworkError) as info:
        asyncio.run(main())
    assert info.value.request_sent is False
    assert info.value.timeout is False
    assert "Cannot reach" in str(info.value)


# --- scanned text stays in its segment --------------------------------------------------


def test_dot_dot_scan_stays_in_the_tag_route(sim: Simulator) -> None:
    assert use(sim, lambda c: c.assets_by_tag("../users")) == []
    assert calls(sim) == [("GET", "/assets/assettag/%2E%2E%2Fusers", 200)]
    assert not any(r.path.startswith("/users") for r in sim.requests)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("..", "%2E%2E"),
        ("%2e%2e%2fusers", "%252e%252e%252fusers"),
        ("CB-004512?x=1", "CB-004512%3Fx%3D1"),
        ("CB-004512#x", "CB-004512%23x"),
        ("../../login", "%2E%2E%2F%2E%2E%2Flogin"),
    ],
)
def test_url_syntax_in_a_scan_reaches_the_server_as_one_segment(
    sim: Simulator, text: str, encoded: str
) -> None:
    assert use(sim, lambda c: c.find_assets(text)).assets == []
    assert calls(sim) == [
        ("GET", f"/assets/assettag/{encoded}", 200),
        ("GET", f"/assets/serial/{encoded}", 200),
    ]
    assert all(r.query == {} for r in sim.requests)


def test_dot_dot_in_an_id_reaches_the_asset_route(sim: Simulator) -> None:
    error = fails(sim, lambda c: c.asset("../users"), NotFoundError)
    assert error.route_missing is False
    assert calls(sim) == [("GET", "/assets/%2E%2E%2Fusers", 404)]


def test_dot_dot_search_stays_in_the_search_route(sim: Simulator) -> None:
    assert use(sim, lambda c: c.search_users("../assets/x")) == []
    assert [r.path for r in sim.requests] == ["/users/search/%2E%2E%2Fassets%2Fx"]


# --- nothing secret in the log ----------------------------------------------------------


def test_no_token_in_any_log_record_over_loopback(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.faults.add(Fault(kind="status", method="GET", path_contains="/login", status=503))
    sim.faults.add(Fault(kind="drop", path_contains="/assettag/"))

    async def action(client: IIQClient) -> None:
        await client.login()
        await client.assets_by_tag(DEMO.free_tag)
        await client.transfer(DEMO.free_asset_id, DEMO.student_user_id)
        with pytest.raises(NotFoundError):
            await client.asset("nope")

    use(sim, action)
    with pytest.raises(AuthError) as info:
        use(sim, lambda c: c.login(), token="wrong-secret-token")
    texts = [r.getMessage() for r in caplog.records] + [caplog.text]
    texts += [str(info.value), info.value.detail]
    assert len(caplog.records) > 5
    for text in texts:
        assert sim.token not in text
        assert "wrong-secret-token" not in text
    assert all(r.headers.get("authorization") == "Bearer ***" for r in sim.requests)


def test_search_query_not_in_client_log_over_loopback(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kiosk")
    sim.faults.add(Fault(kind="status", path_contains="/users/search/", status=500))
    people = use(sim, lambda c: c.search_users(DEMO.student_name))
    assert [p.display_name for p in people] == [DEMO.student_name]
    mine = [r.getMessage() for r in caplog.records if r.name.startswith("kiosk")]
    assert any("/users/search/<query>" in m for m in mine)
    assert not any("Ana" in m or "Ruiz" in m for m in mine)
