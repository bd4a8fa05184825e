"""Connection rules, authentication and reply shapes of the simulated Incident IQ API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kiosk.simulator import DEMO, Simulator

TagLookup = Callable[[str], dict[str, Any]]
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")


# --------------------------------------------------------------------------- auth


def test_missing_token_is_401_json(sim: Simulator) -> None:
    reply = httpx.get(sim.api_url + "/login", headers={"SiteId": sim.site_id})
    assert reply.status_code == 401
    body = reply.json()
    assert body["StatusCode"] == 401
    assert body["Message"]


def test_wrong_token_is_401(sim: Simulator) -> None:
    headers = sim.auth_headers() | {"Authorization": "Bearer not-the-token"}
    reply = httpx.get(sim.api_url + f"/assets/assettag/{DEMO.free_tag}", headers=headers)
    assert reply.status_code == 401
    assert reply.json()["StatusCode"] == 401


def test_wrong_scheme_is_401(sim: Simulator) -> None:
    headers = sim.auth_headers() | {"Authorization": f"Basic {sim.token}"}
    assert httpx.get(sim.api_url + "/login", headers=headers).status_code == 401


@pytest.mark.parametrize("site", [None, "00000000-0000-0000-0000-000000000000"])
def test_missing_or_wrong_site_id_is_401_json(sim: Simulator, site: str | None) -> None:
    headers = sim.auth_headers()
    del headers["SiteId"]
    if site is not None:
        headers["SiteId"] = site
    reply = httpx.get(sim.api_url + "/login", headers=headers)
    assert reply.status_code == 401
    assert reply.json()["ErrorKey"] == "InvalidSiteId"


def test_site_id_compares_case_insensitively(sim: Simulator) -> None:
    headers = sim.auth_headers() | {"SiteId": sim.site_id.upper()}
    assert httpx.get(sim.api_url + "/login", headers=headers).status_code == 200


def test_login_says_who_the_token_is(api: httpx.Client, sim: Simulator) -> None:
    item = api.get("/login").json()["Item"]
    assert item["SiteId"] == sim.site_id
    assert item["UserId"] == DEMO.api_user_id
    assert item["User"]["Name"] == DEMO.api_user_name


def test_readonly_token_reads_but_cannot_change(ro_api: httpx.Client, sim: Simulator) -> None:
    assert ro_api.get(f"/assets/assettag/{DEMO.free_tag}").status_code == 200
    assert ro_api.post("/assets", json={"Filters": []}).status_code == 200
    assert ro_api.get(f"/users/search/{DEMO.student_id}").status_code == 200
    assert ro_api.get("/login").json()["Item"]["UserId"] == DEMO.readonly_user_id
    mutations = [
        ("/assets/checkouts/checkout-or-transfer", {"AssetId": DEMO.free_asset_id}),
        ("/assets/checkouts/checkin", {"AssetId": DEMO.assigned_asset_id}),
        (f"/assets/{DEMO.free_asset_id}", {"AssetTag": DEMO.free_tag}),
        (f"/assets/{DEMO.free_asset_id}/owner", {"OwnerId": DEMO.student_user_id}),
        (f"/assets/{DEMO.assigned_asset_id}/remove-owner", None),
        (f"/assets/{DEMO.free_asset_id}/status/{DEMO.available_status_id}", None),
        ("/tickets/new", {"Subject": "x", "ForId": DEMO.student_user_id}),
    ]
    for path, body in mutations:
        reply = ro_api.post(path, json=body)
        assert reply.status_code == 403, path
        assert reply.json()["StatusCode"] == 403
    assert sim.state.asset(DEMO.assigned_asset_id)["OwnerId"] == DEMO.assigned_owner_id  # type: ignore[index]


# --------------------------------------------------------------------------- envelopes


def test_lookup_envelope_has_no_paging_and_metadata_rides_along(api: httpx.Client) -> None:
    body = api.get(f"/assets/assettag/{DEMO.free_tag}").json()
    assert "Paging" not in body
    assert body["ItemCount"] == 1
    assert body["StatusCode"] == 200
    assert isinstance(body["ExecutionTime"], float | int)
    assert DATE.match(body["RequestDate"])


def test_paged_list_envelope(api: httpx.Client) -> None:
    body = api.post("/assets?$s=5&$p=0", json={"Filters": []}).json()
    assert set(body["Paging"]) == {"TotalRows", "PageCount", "PageSize", "PageIndex"}
    assert body["ItemCount"] == len(body["Items"]) == 5


@pytest.mark.parametrize(
    "path",
    [
        "/assets/status/types",
        f"/assets/serial/{DEMO.free_serial}",
        f"/assets/for/{DEMO.assigned_owner_id}",
        "/locations/all",
        f"/locations/{DEMO.storeroom_location_id}/rooms",
    ],
)
def test_lookups_have_no_paging(api: httpx.Client, path: str) -> None:
    body = api.get(path).json()
    assert body["Items"]
    assert "Paging" not in body


def test_single_item_envelope(api: httpx.Client) -> None:
    body = api.get(f"/assets/{DEMO.free_asset_id}").json()
    assert body["Item"]["AssetTag"] == DEMO.free_tag
    assert "Items" not in body


def test_unassigned_asset_omits_owner_keys(tag_item: TagLookup) -> None:
    asset = tag_item(DEMO.free_tag)
    for key in ("Owner", "OwnerId", "PreviousOwner", "Notes", "HasOpenTickets", "OpenTickets"):
        assert key not in asset
    assert all(value not in (None, "") for value in asset.values())
    assert DATE.match(asset["ModifiedDate"])


def test_free_asset_matches_the_demo_contract(tag_item: TagLookup) -> None:
    asset = tag_item(DEMO.free_tag)
    assert asset["AssetId"] == DEMO.free_asset_id
    assert asset["SerialNumber"] == DEMO.free_serial
    assert asset["Model"]["Name"] == "Dell Chromebook 3110"
    assert asset["Model"]["Manufacturer"]["Name"] == "Dell"
    assert asset["Model"]["Category"]["Name"] == "Chromebook"
    assert asset["Status"]["Name"] == "Available"
    assert asset["Location"]["Name"] == "Roosevelt Middle School"


def test_assigned_asset_carries_owner(tag_item: TagLookup) -> None:
    asset = tag_item(DEMO.assigned_tag)
    assert asset["OwnerId"] == DEMO.assigned_owner_id
    owner = asset["Owner"]
    assert owner["Name"] == "Marcus Lee"
    assert owner["SchoolIdNumber"] == "204519"
    assert owner["Grade"] == "07"
    assert owner["RoleName"] == "Student"


def test_broken_asset_has_open_ticket(tag_item: TagLookup) -> None:
    asset = tag_item(DEMO.broken_tag)
    assert asset["Status"]["Name"] == "Broken"
    assert asset["HasOpenTickets"] is True
    assert asset["OpenTickets"] == 1


def test_retired_status_is_flagged(tag_item: TagLookup) -> None:
    assert tag_item(DEMO.retired_tag)["Status"]["IsRetired"] is True


# --------------------------------------------------------------------------- lookups


def test_unknown_tag_is_empty_200(api: httpx.Client) -> None:
    reply = api.get(f"/assets/assettag/{DEMO.unknown_tag}")
    assert reply.status_code == 200
    assert reply.json()["Items"] == []
    assert reply.json()["ItemCount"] == 0


def test_tag_lookup_is_case_insensitive_but_exact(api: httpx.Client) -> None:
    assert api.get("/assets/assettag/cb-004512").json()["Items"][0]["AssetTag"] == "CB-004512"
    assert api.get("/assets/assettag/CB-00451").json()["Items"] == []


def test_duplicate_tag_gives_two_assets(api: httpx.Client) -> None:
    items = api.get(f"/assets/assettag/{DEMO.duplicate_tag}").json()["Items"]
    assert len(items) == 2
    assert {i["AssetId"] for i in items} == set(DEMO.duplicate_asset_ids)
    assert items[0]["SerialNumber"] != items[1]["SerialNumber"]
    assert items[0]["Model"]["Name"] != items[1]["Model"]["Name"]


def test_serial_lookup(api: httpx.Client) -> None:
    items = api.get(f"/assets/serial/{DEMO.free_serial.lower()}").json()["Items"]
    assert [i["AssetTag"] for i in items] == [DEMO.free_tag]
    assert api.get("/assets/serial/NOPE123").json()["Items"] == []


def test_encoded_slash_stays_inside_the_tag_segment(api: httpx.Client, sim: Simulator) -> None:
    reply = api.get("/assets/assettag/..%2Fusers")
    assert reply.status_code == 200
    assert reply.json()["Items"] == []
    assert sim.requests[-1].path == "/assets/assettag/..%2Fusers"


def test_asset_by_unknown_id_is_404_json(api: httpx.Client) -> None:
    reply = api.get("/assets/00000000-0000-0000-0000-000000000000")
    assert reply.status_code == 404
    assert reply.json() == {
        "StatusCode": 404,
        "Message": "Asset not found",
        "ErrorKey": "AssetNotFound",
    }


def test_ids_compare_case_insensitively(api: httpx.Client) -> None:
    assert api.get(f"/assets/{DEMO.free_asset_id.upper()}").status_code == 200


def test_status_types(api: httpx.Client) -> None:
    items = api.get("/assets/status/types").json()["Items"]
    names = {i["Name"]: i for i in items}
    assert {"Available", "Assigned", "In Repair", "Broken", "Lost/Stolen", "Retired"} <= set(names)
    assert names["Retired"]["IsRetired"] is True
    assert names["Available"]["IsRetired"] is False
    assert names["Available"]["AssetStatusTypeId"] == DEMO.available_status_id


def test_locations_and_rooms(api: httpx.Client) -> None:
    locations = api.get("/locations/all").json()["Items"]
    by_name = {loc["Name"]: loc for loc in locations}
    assert by_name["IT Storeroom"]["LocationId"] == DEMO.storeroom_location_id
    assert by_name["Roosevelt Middle School"]["LocationType"]["Name"] == "School"
    assert {"Central High School", "District Office"} <= set(by_name)
    rooms = api.get(f"/locations/{DEMO.free_location_id}/rooms").json()["Items"]
    names = {r["Name"] for r in rooms}
    assert {"Library", "Cart 01", "Cart 04"} <= names
    assert all(r["LocationId"] == DEMO.free_location_id for r in rooms)
    assert api.get("/locations/nope/rooms").json()["Items"] == []


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/assets/checkouts/nope"),
        ("POST", "/nothing/here"),
        ("POST", "/assets/x/y/z/w"),
        ("GET", "/no/such/route?$s=5&$p=0"),
        ("GET", "/"),
    ],
)
def test_unknown_route_is_the_asp_net_404(
    api: httpx.Client, sim: Simulator, method: str, path: str
) -> None:
    reply = api.request(method, path, json={} if method == "POST" else None)
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/json")
    uri = sim.api_url + path
    assert reply.json() == {
        "Message": f"No HTTP resource was found that matches the request URI '{uri}'.",
        "MessageDetail": f"No route providing a controller name was found to match request "
        f"URI '{uri}'",
    }


def test_outside_the_api_base_is_404_empty(sim: Simulator) -> None:
    reply = httpx.get(sim.url + "/assets/assettag/CB-004512", headers=sim.auth_headers())
    assert reply.status_code == 404
    assert reply.content == b""


def test_route_literals_are_case_insensitive(api: httpx.Client) -> None:
    assert api.get(f"/Assets/AssetTag/{DEMO.free_tag}").json()["ItemCount"] == 1


def test_wrong_method_is_405(api: httpx.Client) -> None:
    reply = api.get("/tickets/new")
    assert reply.status_code == 405
    assert "Message" in reply.json()


def test_bad_json_is_400(api: httpx.Client) -> None:
    reply = api.post(
        "/assets/checkouts/checkin",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.json()["StatusCode"] == 400


def test_missing_body_on_a_change_is_400(api: httpx.Client) -> None:
    assert api.post("/assets/checkouts/checkin").status_code == 400


def test_bad_paging_is_400(api: httpx.Client) -> None:
    assert api.post("/assets?$s=abc", json={}).status_code == 400
    assert api.post("/assets?$p=-1", json={}).status_code == 400
