"""People search and filters; damage tickets."""

from __future__ import annotations

from typing import Any

import httpx

from kiosk.simulator import DEMO, ROLE_STAFF, ROLE_STUDENT, Simulator


def search(api: httpx.Client, text: str, **params: int) -> dict[str, Any]:
    qs = "&".join(f"${k}={v}" for k, v in params.items())
    reply = api.get(f"/users/search/{text}" + (f"?{qs}" if qs else ""))
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def users(api: httpx.Client, filters: list[dict[str, Any]], **params: int) -> dict[str, Any]:
    qs = "&".join(f"${k}={v}" for k, v in params.items())
    reply = api.post(f"/users?{qs}", json={"Filters": filters, "OnlyShowDeleted": False})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


# --------------------------------------------------------------------------- search


def test_search_by_school_id_email_username_and_name(api: httpx.Client) -> None:
    for text in (DEMO.student_id, DEMO.student_email, "ARUIZ", "ana ruiz", "Ruiz Ana"):
        items = search(api, text)["Items"]
        assert DEMO.student_user_id in [u["UserId"] for u in items], text
    ana = search(api, DEMO.student_id)["Items"][0]
    assert ana["Name"] == "Ana Ruiz"
    assert ana["Grade"] == "07"
    assert ana["Username"] == "aruiz"
    assert ana["IsActive"] is True
    assert ana["Role"]["Name"] == "Student"
    assert ana["LocationName"] == "Roosevelt Middle School"


def test_exact_match_comes_first(api: httpx.Client) -> None:
    items = search(api, "aruiz", s=100)["Items"]
    assert items[0]["UserId"] == DEMO.student_user_id


def test_search_includes_inactive_people(api: httpx.Client) -> None:
    items = search(api, DEMO.inactive_id)["Items"]
    assert [(u["Name"], u["IsActive"]) for u in items] == [("Sam Carter", False)]


def test_shared_name_gives_two_people(api: httpx.Client) -> None:
    items = search(api, DEMO.shared_name)["Items"]
    assert sorted(u["SchoolIdNumber"] for u in items) == sorted(DEMO.shared_name_ids)
    assert all(u["IsActive"] for u in items)


def test_staff_badge(api: httpx.Client) -> None:
    items = search(api, DEMO.staff_badge)["Items"]
    assert [(u["Name"], u["RoleId"]) for u in items] == [("Pat Morgan", ROLE_STAFF)]


def test_search_pages(api: httpx.Client) -> None:
    first = search(api, "an", s=10)
    total = first["Paging"]["TotalRows"]
    assert total > 10
    assert first["Paging"]["PageCount"] == -(-total // 10)
    second = search(api, "an", s=10, p=1)
    assert not {u["UserId"] for u in first["Items"]} & {u["UserId"] for u in second["Items"]}


def test_search_without_hits(api: httpx.Client) -> None:
    assert search(api, "zzzqqq")["Items"] == []


# --------------------------------------------------------------------------- filters


def test_users_by_role_and_grade(api: httpx.Client, sim: Simulator) -> None:
    filters = [{"Facet": "role", "Id": ROLE_STUDENT}, {"Facet": "grade", "Value": "07"}]
    body = users(api, filters, s=1000)
    expected = sum(
        1 for u in sim.state.users.values() if u["RoleId"] == ROLE_STUDENT and u["Grade"] == "07"
    )
    assert body["Paging"]["TotalRows"] == expected > 100
    assert all(u["Grade"] == "07" for u in body["Items"])


def test_users_exact_text_facets(api: httpx.Client) -> None:
    for facet, value in (
        ("schoolidnumber", DEMO.student_id),
        ("email", DEMO.student_email.upper()),
        ("username", "ARUIZ"),
    ):
        items = users(api, [{"Facet": facet, "Value": value}])["Items"]
        assert [u["UserId"] for u in items] == [DEMO.student_user_id], facet
    assert users(api, [{"Facet": "username", "Value": "aru"}])["Items"] == []


def test_users_by_location_and_role_group(api: httpx.Client) -> None:
    filters = [
        {"Facet": "location", "Id": DEMO.storeroom_location_id, "GroupIndex": 0},
        {"Facet": "role", "Id": ROLE_STAFF, "GroupIndex": 1},
    ]
    items = users(api, filters)["Items"]
    assert items
    assert all(u["LocationId"] == DEMO.storeroom_location_id for u in items)


def test_user_by_id(api: httpx.Client) -> None:
    item = api.get(f"/users/{DEMO.inactive_user_id}").json()["Item"]
    assert item["IsActive"] is False
    reply = api.get("/users/00000000-0000-0000-0000-000000000000")
    assert reply.status_code == 404
    assert reply.json()["ErrorKey"] == "UserNotFound"


def test_data_set_has_every_role(api: httpx.Client) -> None:
    from kiosk.simulator import ROLE_AGENT, ROLE_FACULTY, ROLE_PARENT

    for role in (ROLE_STUDENT, ROLE_FACULTY, ROLE_STAFF, ROLE_AGENT, ROLE_PARENT):
        assert users(api, [{"Facet": "role", "Id": role}], s=1)["Paging"]["TotalRows"] > 0


# --------------------------------------------------------------------------- tickets


def ticket_body(**extra: Any) -> dict[str, Any]:
    return {
        "Subject": "Damaged at check-in: CB-004512",
        "IssueDescription": "Cracked hinge",
        "ForId": DEMO.student_user_id,
        "LocationId": DEMO.free_location_id,
        "IssueId": DEMO.ticket_issue_id,
        "IssueCategoryId": DEMO.ticket_issue_category_id,
        "IssueTypeId": DEMO.ticket_issue_type_id,
        "TicketWizardCategoryId": DEMO.ticket_wizard_category_id,
        "ProductId": DEMO.ticketing_product_id,
        "IsUrgent": False,
        "HasSensitiveInformation": False,
        "Assets": [{"AssetId": DEMO.free_asset_id}],
        **extra,
    }


def test_new_ticket_links_the_asset(api: httpx.Client, sim: Simulator) -> None:
    reply = api.post("/tickets/new", json=ticket_body())
    assert reply.status_code in (200, 201)
    item = reply.json()["Item"]
    assert item["TicketId"]
    assert isinstance(item["TicketNumber"], int)
    ticket = sim.state.tickets[-1]
    assert ticket["TicketId"] == item["TicketId"]
    assert ticket["Assets"] == [{"AssetId": DEMO.free_asset_id}]
    assert ticket["IssueId"] == DEMO.ticket_issue_id
    asset = api.get(f"/assets/{DEMO.free_asset_id}").json()["Item"]
    assert asset["HasOpenTickets"] is True
    assert asset["OpenTickets"] == 1
    second = api.post("/tickets/new", json=ticket_body()).json()["Item"]
    assert second["TicketNumber"] == item["TicketNumber"] + 1


def test_asset_ids_field_is_ignored(api: httpx.Client, sim: Simulator) -> None:
    body = ticket_body(AssetIds=[DEMO.free_asset_id])
    del body["Assets"]
    assert api.post("/tickets/new", json=body).status_code in (200, 201)
    assert sim.state.tickets[-1]["Assets"] == []
    assert "HasOpenTickets" not in api.get(f"/assets/{DEMO.free_asset_id}").json()["Item"]


def test_ticket_needs_subject_and_person(api: httpx.Client, sim: Simulator) -> None:
    count = len(sim.state.tickets)
    reply = api.post("/tickets/new", json={"IssueDescription": "no subject, no person"})
    assert reply.status_code == 400
    fields = {e["Field"] for e in reply.json()["Errors"]}
    assert fields == {"Subject", "ForId"}
    reply = api.post("/tickets/new", json=ticket_body(ForId="00000000-0000-0000-0000-000000000000"))
    assert reply.status_code == 400
    assert reply.json()["Errors"][0]["Field"] == "ForId"
    assert len(sim.state.tickets) == count
