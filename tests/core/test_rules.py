"""The transaction rules as pure functions: no network, records built as Incident IQ sends them."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.core.rules import (
    check_checkin,
    check_transfer,
    is_retired,
    person_line,
    retired_status_ids,
    trouble_status,
)
from kiosk.iiq.models import Asset, Person, StatusType

RETIRED_ID = "s-retired"


def asset(**fields: Any) -> Asset:
    data: dict[str, Any] = {
        "AssetId": "a-1",
        "AssetTag": "CB-004512",
        "SerialNumber": "5CD3110A4512",
        "Model": {"Name": "Dell Chromebook 3110"},
        "StatusTypeId": "s-available",
        "Status": {"AssetStatusTypeId": "s-available", "Name": "Available"},
    }
    data.update(fields)
    return Asset.model_validate(data)


def person(**fields: Any) -> Person:
    data: dict[str, Any] = {
        "UserId": "u-ana",
        "Name": "Ana Ruiz",
        "SchoolIdNumber": "204518",
        "Grade": "07",
        "IsActive": True,
        "IsDeleted": False,
    }
    data.update(fields)
    return Person.model_validate(data)


def with_status(name: str, status_id: str = "s-x") -> Asset:
    return asset(StatusTypeId=status_id, Status={"AssetStatusTypeId": status_id, "Name": name})


# --- allowed ---------------------------------------------------------------------------


def test_free_device_to_active_person_is_allowed_without_warnings() -> None:
    check = check_transfer(asset(), person())
    assert check.allowed
    assert check.refusal is None
    assert check.warnings == []
    assert check.from_owner is None
    assert not check.is_transfer


# --- refusals ---------------------------------------------------------------------------


def test_inactive_person_is_refused() -> None:
    check = check_transfer(asset(), person(IsActive=False))
    assert not check.allowed
    assert check.refusal == "Ana Ruiz is inactive in Incident IQ and cannot be given a device."


def test_deleted_person_is_refused() -> None:
    check = check_transfer(asset(), person(IsDeleted=True))
    assert not check.allowed
    assert check.refusal is not None and "deleted" in check.refusal
    assert "Ana Ruiz" in check.refusal


def test_retired_by_status_type_id_is_refused_even_with_a_harmless_name() -> None:
    device = asset(
        StatusTypeId=RETIRED_ID, Status={"AssetStatusTypeId": RETIRED_ID, "Name": "End of Life"}
    )
    assert is_retired(device, frozenset({RETIRED_ID}))
    assert not is_retired(device)  # the name alone says nothing
    check = check_transfer(device, person(), retired_ids=frozenset({RETIRED_ID}))
    assert not check.allowed
    assert check.refusal == "CB-004512 is retired (End of Life) and cannot be handed out."


@pytest.mark.parametrize("name", ["Retired", "Disposed - e-waste", "DECOMMISSIONED"])
def test_retired_by_status_name_is_refused(name: str) -> None:
    device = with_status(name)
    assert is_retired(device)
    check = check_transfer(device, person())
    assert not check.allowed
    assert check.refusal is not None and "retired" in check.refusal
    assert name in check.refusal


@pytest.mark.parametrize("name", ["Available", "Assigned", "In Repair", None])
def test_not_retired(name: str | None) -> None:
    device = asset(Status={"Name": name}) if name else asset(Status=None, StatusTypeId=None)
    assert not is_retired(device, frozenset({RETIRED_ID}))


def test_retired_status_ids_come_from_is_retired() -> None:
    types = [
        StatusType.model_validate({"AssetStatusTypeId": "s-1", "Name": "Available"}),
        StatusType.model_validate({"AssetStatusTypeId": "s-2", "Name": "Gone", "IsRetired": True}),
    ]
    assert retired_status_ids(types) == frozenset({"s-2"})


def test_person_who_already_owns_the_device_is_refused() -> None:
    device = asset(OwnerId="u-ana", Owner={"Name": "Ana Ruiz"})
    check = check_transfer(device, person())
    assert not check.allowed
    assert check.refusal == "Ana Ruiz already has CB-004512. Nothing to change."


def test_owner_only_in_nested_owner_still_counts_as_already_owning() -> None:
    device = asset(Owner={"UserId": "u-ana", "Name": "Ana Ruiz"})
    assert not check_transfer(device, person()).allowed


def test_refusal_names_the_serial_when_there_is_no_tag() -> None:
    device = asset(AssetTag=None, Status={"Name": "Retired"})
    check = check_transfer(device, person())
    assert check.refusal is not None and check.refusal.startswith("5CD3110A4512 ")


# --- warnings ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Broken", "In Repair", "Lost/Stolen", "Damaged screen"])
def test_trouble_status_warns(name: str) -> None:
    device = with_status(name)
    assert trouble_status(device) == name
    check = check_transfer(device, person())
    assert check.allowed
    assert check.warnings == [f"CB-004512 is marked “{name}” in Incident IQ."]


@pytest.mark.parametrize("name", ["Available", "Assigned", "In Service"])
def test_ordinary_status_is_no_trouble(name: str) -> None:
    assert trouble_status(with_status(name)) is None


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"OpenTickets": 1}, "CB-004512 has 1 open ticket."),
        (
            {"OpenTickets": [{"TicketId": "t1"}, {"TicketId": "t2"}]},
            "CB-004512 has 2 open tickets.",
        ),
        ({"HasOpenTickets": True}, "CB-004512 has 1 open ticket."),
    ],
)
def test_open_tickets_warn(fields: dict[str, Any], text: str) -> None:
    check = check_transfer(asset(**fields), person())
    assert check.allowed
    assert check.warnings == [text]


def test_person_holding_one_other_device_is_warned() -> None:
    held = [asset(AssetId="a-2", AssetTag="CB-000100")]
    check = check_transfer(asset(), person(), held=held)
    assert check.allowed
    assert check.warnings == ["Ana Ruiz already has 1 other device: CB-000100."]


def test_person_holding_many_devices_gets_count_and_first_tags() -> None:
    held = [asset(AssetId=f"a-{n}", AssetTag=f"CB-00010{n}") for n in range(2, 7)]
    held.append(asset())  # the device itself is not "another" device
    check = check_transfer(asset(), person(), held=held)
    assert check.warnings == [
        "Ana Ruiz already has 5 other devices: CB-000102, CB-000103, CB-000104 and 2 more."
    ]


def test_holding_only_this_device_is_no_warning() -> None:
    # e.g. the asset list of the person lags behind the owner field
    check = check_transfer(asset(), person(), held=[asset()])
    assert check.warnings == []


def test_several_warnings_are_all_said() -> None:
    device = asset(
        StatusTypeId="s-b", Status={"AssetStatusTypeId": "s-b", "Name": "Broken"}, OpenTickets=3
    )
    held = [asset(AssetId="a-9", AssetTag="CB-000009")]
    check = check_transfer(device, person(), held=held)
    assert check.allowed
    assert len(check.warnings) == 3
    assert "Broken" in check.warnings[0]
    assert "3 open tickets" in check.warnings[1]
    assert "CB-000009" in check.warnings[2]


# --- transfers --------------------------------------------------------------------------


def test_transfer_sets_from_owner() -> None:
    device = asset(OwnerId="u-marcus", Owner={"Name": "Marcus Lee", "SchoolIdNumber": "204519"})
    check = check_transfer(device, person())
    assert check.allowed
    assert check.is_transfer
    assert check.from_owner is not None
    assert check.from_owner.user_id == "u-marcus"
    assert check.from_owner.display_name == "Marcus Lee"


def test_owner_without_a_name_still_makes_a_transfer() -> None:
    check = check_transfer(asset(OwnerId="u-ghost"), person())
    assert check.allowed and check.is_transfer
    assert check.from_owner is not None
    assert check.from_owner.user_id == "u-ghost"
    assert check.from_owner.display_name == "another person"


# --- person_line and check-in -----------------------------------------------------------


def test_person_line_for_a_student() -> None:
    assert person_line(person()) == "Ana Ruiz, grade 07, ID 204518"


def test_person_line_without_school_id_uses_the_role() -> None:
    staff = person(SchoolIdNumber=None, Grade=None, Role={"Name": "Staff"})
    assert person_line(staff) == "Ana Ruiz, Staff"


def test_person_line_without_a_name_uses_first_and_last() -> None:
    someone = person(Name=None, FirstName="Jordan", LastName="Smith", Grade=None)
    assert person_line(someone) == "Jordan Smith, ID 204518"


def test_checkin_of_an_owned_device_has_no_warning() -> None:
    assert check_checkin(asset(OwnerId="u-marcus")) is None


def test_checkin_of_an_unowned_device_warns() -> None:
    assert check_checkin(asset()) == (
        "CB-004512 has no owner in Incident IQ: it is already checked in."
    )
