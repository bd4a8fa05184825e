"""Check-out, transfer, check-in and the owner routes."""

from __future__ import annotations

from typing import Any

import httpx

from kiosk.simulator import DEMO, Simulator

NO_OPEN_CHECKOUT = {
    "StatusCode": 404,
    "Message": "Asset has no open checkout",
    "ErrorKey": "NoOpenCheckout",
}


def checkout(api: httpx.Client, asset_id: str, user_id: str, **extra: Any) -> httpx.Response:
    body = {"AssetId": asset_id, "OwnerId": user_id, "ToOwnerId": user_id, **extra}
    return api.post("/assets/checkouts/checkout-or-transfer", json=body)


def checkin(api: httpx.Client, asset_id: str) -> httpx.Response:
    return api.post("/assets/checkouts/checkin", json={"AssetId": asset_id})


def open_checkouts(sim: Simulator, asset_id: str) -> list[dict[str, Any]]:
    with sim.state.lock:
        return [c for c in sim.state.checkouts if c["AssetId"] == asset_id and c["IsOpen"]]


def test_checkout_gives_a_free_device(api: httpx.Client, sim: Simulator) -> None:
    reply = checkout(api, DEMO.free_asset_id, DEMO.student_user_id, Source="api")
    assert reply.status_code == 200
    item = reply.json()["Items"][0]
    assert item["IsCheckOut"] is True
    assert item["IsCheckIn"] is False
    assert item["AssetId"] == DEMO.free_asset_id
    assert item["OwnerId"] == DEMO.student_user_id
    assert item["TransactionDate"]
    asset = api.get(f"/assets/{DEMO.free_asset_id}").json()["Item"]
    assert asset["Owner"]["Name"] == "Ana Ruiz"
    assert "PreviousOwner" not in asset
    assert [c["Source"] for c in open_checkouts(sim, DEMO.free_asset_id)] == ["api"]
    mine = api.get(f"/assets/for/{DEMO.student_user_id}").json()["Items"]
    assert [a["AssetTag"] for a in mine] == [DEMO.free_tag]


def test_either_owner_field_is_enough(api: httpx.Client, sim: Simulator) -> None:
    only_to = {"AssetId": DEMO.free_asset_id, "ToOwnerId": DEMO.student_user_id}
    assert api.post("/assets/checkouts/checkout-or-transfer", json=only_to).status_code == 200
    assert sim.state.asset(DEMO.free_asset_id)["OwnerId"] == DEMO.student_user_id  # type: ignore[index]
    sim.reset()
    only_owner = {"AssetId": DEMO.free_asset_id, "OwnerId": DEMO.staff_user_id}
    assert api.post("/assets/checkouts/checkout-or-transfer", json=only_owner).status_code == 200
    assert sim.state.asset(DEMO.free_asset_id)["OwnerId"] == DEMO.staff_user_id  # type: ignore[index]


def test_conflicting_owner_fields_are_400(api: httpx.Client) -> None:
    body = {
        "AssetId": DEMO.free_asset_id,
        "OwnerId": DEMO.student_user_id,
        "ToOwnerId": DEMO.staff_user_id,
    }
    reply = api.post("/assets/checkouts/checkout-or-transfer", json=body)
    assert reply.status_code == 400
    assert reply.json()["Errors"]


def test_checkout_to_unknown_person_or_asset_is_404_json(api: httpx.Client) -> None:
    nobody = "00000000-0000-0000-0000-000000000000"
    reply = checkout(api, DEMO.free_asset_id, nobody)
    assert reply.status_code == 404
    assert reply.json()["ErrorKey"] == "UserNotFound"
    reply = checkout(api, nobody, DEMO.student_user_id)
    assert reply.json()["ErrorKey"] == "AssetNotFound"


def test_transfer_records_previous_owner(api: httpx.Client, sim: Simulator) -> None:
    reply = checkout(api, DEMO.assigned_asset_id, DEMO.student_user_id)
    assert reply.json()["Items"][0]["PreviousOwnerId"] == DEMO.assigned_owner_id
    asset = api.get(f"/assets/{DEMO.assigned_asset_id}").json()["Item"]
    assert asset["Owner"]["Name"] == "Ana Ruiz"
    assert asset["PreviousOwner"]["Name"] == "Marcus Lee"
    assert [c["OwnerId"] for c in open_checkouts(sim, DEMO.assigned_asset_id)] == [
        DEMO.student_user_id
    ]
    assert api.get(f"/assets/for/{DEMO.assigned_owner_id}").json()["Items"] == []


def test_repeating_a_checkout_changes_nothing(api: httpx.Client, sim: Simulator) -> None:
    checkout(api, DEMO.free_asset_id, DEMO.student_user_id)
    checkout(api, DEMO.free_asset_id, DEMO.student_user_id)
    assert len(open_checkouts(sim, DEMO.free_asset_id)) == 1
    assert "PreviousOwnerId" not in api.get(f"/assets/{DEMO.free_asset_id}").json()["Item"]


def test_checkin_closes_the_checkout(api: httpx.Client, sim: Simulator) -> None:
    reply = checkin(api, DEMO.assigned_asset_id)
    assert reply.status_code == 200
    item = reply.json()["Items"][0]
    assert item["IsCheckIn"] is True
    assert item["IsCheckOut"] is False
    assert item["OwnerId"] == DEMO.assigned_owner_id
    asset = api.get(f"/assets/{DEMO.assigned_asset_id}").json()["Item"]
    assert "OwnerId" not in asset
    assert "Owner" not in asset
    assert asset["PreviousOwner"]["Name"] == "Marcus Lee"
    assert open_checkouts(sim, DEMO.assigned_asset_id) == []


def test_checkin_without_open_checkout_is_404_json(api: httpx.Client, sim: Simulator) -> None:
    reply = checkin(api, DEMO.free_asset_id)
    assert reply.status_code == 404
    assert reply.json() == NO_OPEN_CHECKOUT
    # Assigned through the owner route: an owner, but no checkout to close.
    reply = checkin(api, DEMO.no_checkout_asset_id)
    assert reply.json() == NO_OPEN_CHECKOUT
    assert sim.state.asset(DEMO.no_checkout_asset_id)["OwnerId"] is not None  # type: ignore[index]
    assert checkin(api, DEMO.assigned_asset_id).status_code == 200
    assert checkin(api, DEMO.assigned_asset_id).json() == NO_OPEN_CHECKOUT


def test_checkin_of_unknown_asset_is_404_json(api: httpx.Client) -> None:
    reply = checkin(api, "00000000-0000-0000-0000-000000000000")
    assert reply.status_code == 404
    assert reply.json()["ErrorKey"] == "AssetNotFound"


def test_disabled_checkout_routes_look_like_unknown_routes(
    api: httpx.Client, sim: Simulator
) -> None:
    sim.checkout_routes_enabled = False
    for reply in (
        checkout(api, DEMO.free_asset_id, DEMO.student_user_id),
        checkin(api, DEMO.assigned_asset_id),
    ):
        assert reply.status_code == 404
        body = reply.json()
        assert set(body) == {"Message", "MessageDetail"}  # no ErrorKey: the route is missing
        assert body["Message"].startswith("No HTTP resource was found that matches the request")
        assert reply.request.url.path in body["Message"]
    assert sim.state.asset(DEMO.free_asset_id)["OwnerId"] is None  # type: ignore[index]
    # The owner routes still work: that is the client's fallback.
    reply = api.post(
        f"/assets/{DEMO.free_asset_id}/owner",
        json={
            "OwnerId": DEMO.student_user_id,
            "UpdateAssetWithUserLocation": False,
            "Force": False,
        },
    )
    assert reply.status_code == 200
    sim.checkout_routes_enabled = True
    assert checkin(api, DEMO.assigned_asset_id).status_code == 200


def test_owner_route_sets_owner_without_checkout(api: httpx.Client, sim: Simulator) -> None:
    body = {"OwnerId": DEMO.student_user_id, "UpdateAssetWithUserLocation": False, "Force": False}
    reply = api.post(f"/assets/{DEMO.assigned_asset_id}/owner", json=body)
    assert reply.status_code == 200
    item = reply.json()["Item"]
    assert item["Owner"]["Name"] == "Ana Ruiz"
    assert item["PreviousOwner"]["Name"] == "Marcus Lee"
    assert open_checkouts(sim, DEMO.assigned_asset_id) == []
    assert checkin(api, DEMO.assigned_asset_id).json() == NO_OPEN_CHECKOUT


def test_owner_route_can_move_the_asset_to_the_persons_location(
    api: httpx.Client, sim: Simulator
) -> None:
    sam = sim.state.user(DEMO.inactive_user_id) or {}
    body = {"OwnerId": DEMO.inactive_user_id, "UpdateAssetWithUserLocation": True, "Force": False}
    item = api.post(f"/assets/{DEMO.free_asset_id}/owner", json=body).json()["Item"]
    assert item["LocationId"] == sam["LocationId"]
    assert item["Location"]["Name"] == "Central High School"
    assert "LocationRoomId" not in item
    sim.reset()
    body["UpdateAssetWithUserLocation"] = False
    item = api.post(f"/assets/{DEMO.free_asset_id}/owner", json=body).json()["Item"]
    assert item["Location"]["Name"] == "Roosevelt Middle School"


def test_owner_route_errors(api: httpx.Client) -> None:
    reply = api.post(f"/assets/{DEMO.free_asset_id}/owner", json={})
    assert reply.status_code == 400
    reply = api.post(
        f"/assets/{DEMO.free_asset_id}/owner",
        json={"OwnerId": "00000000-0000-0000-0000-000000000000"},
    )
    assert reply.status_code == 404
    assert reply.json()["ErrorKey"] == "UserNotFound"


def test_remove_owner(api: httpx.Client, sim: Simulator) -> None:
    reply = api.post(f"/assets/{DEMO.assigned_asset_id}/remove-owner")
    assert reply.status_code == 200
    assert "OwnerId" not in reply.json()["Item"]
    assert open_checkouts(sim, DEMO.assigned_asset_id) == []
    # Removing an absent owner is harmless.
    assert api.post(f"/assets/{DEMO.free_asset_id}/remove-owner").status_code == 200


def test_set_owner_behind_the_kiosks_back(api: httpx.Client, sim: Simulator) -> None:
    sim.state.set_owner(DEMO.assigned_asset_id, DEMO.student_user_id)
    asset = api.get(f"/assets/{DEMO.assigned_asset_id}").json()["Item"]
    assert asset["Owner"]["Name"] == "Ana Ruiz"
    assert open_checkouts(sim, DEMO.assigned_asset_id) == []
    sim.state.set_owner(DEMO.free_asset_id, DEMO.staff_user_id, open_checkout=True)
    assert [c["OwnerId"] for c in open_checkouts(sim, DEMO.free_asset_id)] == [DEMO.staff_user_id]
    sim.state.set_owner(DEMO.free_asset_id, None)
    assert open_checkouts(sim, DEMO.free_asset_id) == []


def test_counts_stay_consistent_with_owners(api: httpx.Client, sim: Simulator) -> None:
    checkout(api, DEMO.free_asset_id, DEMO.student_user_id)
    checkout(api, DEMO.assigned_asset_id, DEMO.student_user_id)
    with sim.state.lock:
        owned = {
            a["AssetId"] for a in sim.state.assets.values() if a["OwnerId"] == DEMO.student_user_id
        }
        open_for = {
            c["AssetId"]
            for c in sim.state.checkouts
            if c["IsOpen"] and c["OwnerId"] == DEMO.student_user_id
        }
    listed = {a["AssetId"] for a in api.get(f"/assets/for/{DEMO.student_user_id}").json()["Items"]}
    assert owned == listed == open_for == {DEMO.free_asset_id, DEMO.assigned_asset_id}
    # Every open checkout in the data set belongs to the asset's current owner.
    with sim.state.lock:
        for c in sim.state.checkouts:
            if c["IsOpen"]:
                assert sim.state.assets[c["AssetId"]]["OwnerId"] == c["OwnerId"]
