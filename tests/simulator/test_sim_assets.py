"""Asset queries, paging, partial updates, status and history."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx

from kiosk.simulator import DEMO, Simulator


def query(api: httpx.Client, filters: list[dict[str, Any]], **params: int) -> dict[str, Any]:
    qs = "&".join(f"${k}={v}" for k, v in params.items())
    reply = api.post(f"/assets?{qs}", json={"Filters": filters, "OnlyShowDeleted": False})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def status_id(sim: Simulator, name: str) -> str:
    status = sim.state.status_type_by_name(name)
    assert status is not None
    return str(status["AssetStatusTypeId"])


# --------------------------------------------------------------------------- paging


def test_paging_math_walks_every_row_once(api: httpx.Client, sim: Simulator) -> None:
    where = [{"Facet": "location", "Id": DEMO.storeroom_location_id}]
    expected = sum(
        1 for a in sim.state.assets.values() if a["LocationId"] == DEMO.storeroom_location_id
    )
    first = query(api, where, s=7, p=0)
    paging = first["Paging"]
    assert paging == {
        "TotalRows": expected,
        "PageCount": math.ceil(expected / 7),
        "PageSize": 7,
        "PageIndex": 0,
    }
    seen: list[str] = []
    for page in range(paging["PageCount"]):
        body = query(api, where, s=7, p=page)
        assert body["Paging"]["PageIndex"] == page
        seen += [a["AssetId"] for a in body["Items"]]
    assert len(seen) == len(set(seen)) == expected
    last = query(api, where, s=7, p=paging["PageCount"] - 1)
    assert last["ItemCount"] == expected - 7 * (paging["PageCount"] - 1)
    assert query(api, where, s=7, p=paging["PageCount"])["Items"] == []


def test_default_and_capped_page_size(api: httpx.Client, sim: Simulator) -> None:
    body = query(api, [])
    assert body["Paging"]["PageSize"] == 20
    assert body["Paging"]["TotalRows"] == len(sim.state.assets)
    assert len(sim.state.assets) > 2500
    assert query(api, [], s=5000)["Paging"]["PageSize"] == 1000


def test_empty_body_means_no_filters(api: httpx.Client) -> None:
    reply = api.post("/assets?$s=1")
    assert reply.status_code == 200
    assert reply.json()["Paging"]["TotalRows"] > 2500


# --------------------------------------------------------------------------- filters


def test_text_facets(api: httpx.Client) -> None:
    assert query(api, [{"Facet": "AssetTag", "Value": "cb-004512"}])["Paging"]["TotalRows"] == 1
    for facet in ("assetserialnumber", "serialnumber"):
        body = query(api, [{"Facet": facet, "Value": DEMO.free_serial}])
        assert [a["AssetTag"] for a in body["Items"]] == [DEMO.free_tag]
    assert query(api, [{"Facet": "assettag", "Value": DEMO.duplicate_tag}])["ItemCount"] == 2


def test_record_facets_by_id(api: httpx.Client, sim: Simulator) -> None:
    marcus = [{"Facet": "user", "Id": DEMO.assigned_owner_id}]
    assert [a["AssetTag"] for a in query(api, marcus)["Items"]] == [DEMO.assigned_tag]
    owner = [{"Facet": "owner", "Id": DEMO.assigned_owner_id}]
    assert query(api, owner)["Paging"]["TotalRows"] == 1
    retired = status_id(sim, "Retired")
    for facet in ("assetstatus", "status"):
        items = query(api, [{"Facet": facet, "Id": retired}], s=1000)["Items"]
        assert items
        assert all(a["Status"]["Name"] == "Retired" for a in items)
    model = query(api, [{"Facet": "assettag", "Value": DEMO.free_tag}])["Items"][0]["ModelId"]
    items = query(api, [{"Facet": "model", "Id": model}], s=1000)["Items"]
    assert {a["Model"]["Name"] for a in items} == {"Dell Chromebook 3110"}


def test_asset_type_facet(api: httpx.Client) -> None:
    chargers = query(api, [{"Facet": "assettype", "Value": "Charger"}], s=1000)["Items"]
    assert chargers
    assert all(a["AssetTag"].startswith("CH-") for a in chargers)
    category = chargers[0]["Model"]["Category"]["CategoryId"]
    by_id = query(api, [{"Facet": "assettype", "Id": category}], s=1)
    assert by_id["Paging"]["TotalRows"] == len(chargers)


def test_same_group_is_or_different_groups_and(api: httpx.Client, sim: Simulator) -> None:
    broken, retired = status_id(sim, "Broken"), status_id(sim, "Retired")
    either = [
        {"Facet": "status", "Id": broken, "GroupIndex": 0},
        {"Facet": "status", "Id": retired, "GroupIndex": 0},
    ]
    n_broken = query(api, either[:1])["Paging"]["TotalRows"]
    n_retired = query(api, either[1:])["Paging"]["TotalRows"]
    assert query(api, either)["Paging"]["TotalRows"] == n_broken + n_retired
    both = [
        {"Facet": "status", "Id": broken, "GroupIndex": 0},
        {"Facet": "status", "Id": retired, "GroupIndex": 1},
    ]
    assert query(api, both)["Paging"]["TotalRows"] == 0
    at_storeroom = [
        {"Facet": "status", "Id": retired, "GroupIndex": 0},
        {"Facet": "location", "Id": DEMO.storeroom_location_id, "GroupIndex": 1},
    ]
    expected = sum(
        1
        for a in sim.state.assets.values()
        if a["StatusTypeId"] == retired and a["LocationId"] == DEMO.storeroom_location_id
    )
    assert query(api, at_storeroom)["Paging"]["TotalRows"] == expected


def test_without_group_index_same_facet_ors_and_different_facets_and(api: httpx.Client) -> None:
    two_tags = [
        {"Facet": "assettag", "Value": DEMO.free_tag},
        {"Facet": "assettag", "Value": DEMO.assigned_tag},
    ]
    assert query(api, two_tags)["Paging"]["TotalRows"] == 2
    tag_and_owner = [*two_tags, {"Facet": "user", "Id": DEMO.assigned_owner_id}]
    assert [a["AssetTag"] for a in query(api, tag_and_owner)["Items"]] == [DEMO.assigned_tag]


def test_negative_filter(api: httpx.Client, sim: Simulator) -> None:
    retired = status_id(sim, "Retired")
    total = query(api, [])["Paging"]["TotalRows"]
    n_retired = query(api, [{"Facet": "status", "Id": retired}])["Paging"]["TotalRows"]
    not_retired = query(api, [{"Facet": "status", "Id": retired, "Negative": True}])
    assert not_retired["Paging"]["TotalRows"] == total - n_retired


def test_filter_keys_are_case_insensitive(api: httpx.Client) -> None:
    reply = api.post("/assets", json={"filters": [{"facet": "ASSETTAG", "value": DEMO.free_tag}]})
    assert reply.json()["Paging"]["TotalRows"] == 1


def test_unknown_facet_is_400(api: httpx.Client) -> None:
    reply = api.post("/assets", json={"Filters": [{"Facet": "colour", "Value": "red"}]})
    assert reply.status_code == 400
    assert reply.json()["Errors"][0]["Field"] == "Filters"


def test_deleted_assets_only_on_request(api: httpx.Client, sim: Simulator) -> None:
    with sim.state.lock:
        sim.state.asset(DEMO.free_asset_id)["IsDeleted"] = True  # type: ignore[index]
    where = [{"Facet": "assettag", "Value": DEMO.free_tag}]
    assert query(api, where)["Paging"]["TotalRows"] == 0
    assert api.get(f"/assets/assettag/{DEMO.free_tag}").json()["Items"] == []
    body = api.post("/assets", json={"Filters": where, "OnlyShowDeleted": True}).json()
    assert body["Items"][0]["IsDeleted"] is True


def test_assets_for_a_person(api: httpx.Client, sim: Simulator) -> None:
    items = api.get(f"/assets/for/{DEMO.assigned_owner_id}").json()["Items"]
    assert [a["AssetTag"] for a in items] == [DEMO.assigned_tag]
    assert api.get(f"/assets/for/{DEMO.student_user_id}").json()["Items"] == []
    assert api.get("/assets/for/not-a-person").json()["Items"] == []


# --------------------------------------------------------------------------- partial update


def update(api: httpx.Client, body: dict[str, Any], *, mapped: bool = True) -> httpx.Response:
    headers = {"ApiFlags": "OnlySetMappedProperties"} if mapped else {}
    return api.post(f"/assets/{DEMO.free_asset_id}", json=body, headers=headers)


def test_mapped_update_changes_only_given_keys(api: httpx.Client, sim: Simulator) -> None:
    before = dict(sim.state.asset(DEMO.free_asset_id) or {})
    cart = next(
        s
        for s in sim.state.storage_locations.values()
        if s["LocationId"] == DEMO.storeroom_location_id
    )
    reply = update(
        api,
        {
            "AssetTag": DEMO.free_tag,
            "SerialNumber": DEMO.free_serial,
            "LocationId": DEMO.storeroom_location_id,
            "LocationRoomId": cart["LocationRoomId"],
            "StorageLocationId": cart["StorageLocationId"],
            "StorageUnitNumber": 12,
        },
    )
    assert reply.status_code == 200
    item = reply.json()["Item"]
    assert item["Location"]["Name"] == "IT Storeroom"
    assert item["LocationRoom"]["Name"] == cart["Name"]
    assert item["StorageLocationName"] == cart["Name"]
    assert item["StorageUnitNumber"] == 12
    assert item["SerialNumber"] == DEMO.free_serial
    after = sim.state.asset(DEMO.free_asset_id) or {}
    assert after["StatusTypeId"] == before["StatusTypeId"]
    assert after["Name"] == before["Name"]
    assert after["ModifiedDate"] > before["ModifiedDate"]


def test_mapped_update_without_serial_clears_it(api: httpx.Client, sim: Simulator) -> None:
    reply = update(api, {"AssetTag": DEMO.free_tag, "Notes": "charger missing"})
    assert reply.status_code == 200
    assert "SerialNumber" not in reply.json()["Item"]
    assert reply.json()["Item"]["Notes"] == "charger missing"
    assert sim.state.asset(DEMO.free_asset_id)["SerialNumber"] is None  # type: ignore[index]
    assert api.get(f"/assets/serial/{DEMO.free_serial}").json()["Items"] == []


def test_update_without_api_flags_replaces_the_record(api: httpx.Client, sim: Simulator) -> None:
    reply = update(api, {"AssetTag": DEMO.free_tag, "SerialNumber": DEMO.free_serial}, mapped=False)
    assert reply.status_code == 200
    asset = sim.state.asset(DEMO.free_asset_id) or {}
    assert asset["LocationId"] is None
    assert asset["LocationRoomId"] is None
    assert asset["SerialNumber"] == DEMO.free_serial


def test_update_body_keys_bind_case_insensitively(api: httpx.Client, sim: Simulator) -> None:
    update(api, {"assettag": DEMO.free_tag, "serialnumber": DEMO.free_serial, "notes": "x"})
    assert (sim.state.asset(DEMO.free_asset_id) or {})["Notes"] == "x"


def test_update_rejects_unknown_location(api: httpx.Client) -> None:
    reply = update(
        api,
        {
            "AssetTag": DEMO.free_tag,
            "SerialNumber": DEMO.free_serial,
            "LocationId": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert reply.status_code == 400
    assert reply.json()["Errors"][0]["Field"] == "LocationId"


def test_update_unknown_asset_is_404_json(api: httpx.Client) -> None:
    reply = api.post("/assets/00000000-0000-0000-0000-000000000000", json={"AssetTag": "X"})
    assert reply.status_code == 404
    assert reply.json()["ErrorKey"] == "AssetNotFound"


# --------------------------------------------------------------------------- status, history


def test_set_status(api: httpx.Client, sim: Simulator) -> None:
    repair = status_id(sim, "In Repair")
    reply = api.post(f"/assets/{DEMO.free_asset_id}/status/{repair}")
    assert reply.status_code == 200
    assert api.get(f"/assets/{DEMO.free_asset_id}").json()["Item"]["Status"]["Name"] == "In Repair"


def test_set_unknown_status_is_404_json(api: httpx.Client, sim: Simulator) -> None:
    reply = api.post(f"/assets/{DEMO.free_asset_id}/status/00000000-0000-0000-0000-000000000000")
    assert reply.status_code == 404
    assert reply.json()["ErrorKey"] == "StatusTypeNotFound"
    assert (sim.state.asset(DEMO.free_asset_id) or {})["StatusTypeId"] == DEMO.available_status_id


def test_activities_newest_first(api: httpx.Client, sim: Simulator) -> None:
    first = api.get(f"/assets/{DEMO.assigned_asset_id}/activities").json()
    assert "Paging" in first
    assert [a["ActivityType"] for a in first["Items"]] == ["CheckOut", "Created"]
    time.sleep(0.002)
    api.post("/assets/checkouts/checkin", json={"AssetId": DEMO.assigned_asset_id})
    repair = status_id(sim, "In Repair")
    api.post(f"/assets/{DEMO.assigned_asset_id}/status/{repair}")
    items = api.get(f"/assets/{DEMO.assigned_asset_id}/activities").json()["Items"]
    assert [a["ActivityType"] for a in items][:2] == ["StatusChanged", "CheckIn"]
    assert items[1]["PreviousOwner"]["Name"] == "Marcus Lee"
    dates = [a["ActivityDate"] for a in items]
    assert dates == sorted(dates, reverse=True)
    for activity in items:
        assert {"ActivityId", "ActivityDate", "ActivityType"} <= set(activity)


def test_activities_of_unknown_asset_is_404(api: httpx.Client) -> None:
    reply = api.get("/assets/00000000-0000-0000-0000-000000000000/activities")
    assert reply.status_code == 404
    assert reply.json()["StatusCode"] == 404
