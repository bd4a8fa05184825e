"""The typed records parse what Incident IQ really sends: missing keys, extra keys,
numbers where text is expected, an Owner without its UserId."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kiosk.iiq import (
    Activity,
    Asset,
    Filter,
    Location,
    LoginInfo,
    Person,
    Room,
    StatusType,
    TicketRef,
    TicketRequest,
)

FULL_ASSET = {
    "AssetId": "a-1",
    "AssetTag": "CB-004513",
    "SerialNumber": "5CD3110A4513",
    "Name": "Chromebook",
    "AssetTypeName": "Chromebook",
    "ModelId": "m-1",
    "Model": {
        "Name": "Dell Chromebook 3110",
        "Manufacturer": {"Name": "Dell"},
        "Category": {"Name": "Chromebooks"},
    },
    "OwnerId": "u-204519",
    "Owner": {"UserId": "u-204519", "Name": "Marcus Lee", "Grade": "08", "SchoolIdNumber": 204519},
    "Location": {"LocationId": "l-1", "Name": "Lincoln Middle"},
    "LocationRoom": {"Name": "Library"},
    "Status": {"AssetStatusTypeId": "s-1", "Name": "In Service"},
    "HasOpenTickets": True,
    "OpenTickets": [{"TicketId": "t1"}, {"TicketId": "t2"}],
    "ModifiedDate": "2024-05-30T10:40:00.227",
}


def test_asset_full_record() -> None:
    asset = Asset.model_validate(FULL_ASSET)
    assert asset.asset_id == "a-1"
    assert asset.model_name == "Dell Chromebook 3110"
    assert asset.model is not None and asset.model.manufacturer is not None
    assert asset.model.manufacturer.name == "Dell"
    assert asset.owner_name == "Marcus Lee"
    assert asset.current_owner_id == "u-204519"
    assert asset.owner is not None and asset.owner.school_id_number == "204519"
    assert asset.location_name == "Lincoln Middle"
    assert asset.room_name == "Library"
    assert asset.status_name == "In Service"
    assert asset.open_ticket_count == 2
    assert asset.label == "CB-004513 (Dell Chromebook 3110)"


def test_asset_only_id_is_required() -> None:
    asset = Asset.model_validate({"AssetId": "a-2"})
    assert asset.asset_tag is None
    assert asset.owner is None and asset.owner_id is None
    assert asset.current_owner_id is None
    assert asset.owner_name is None
    assert asset.model_name is None
    assert asset.status_name is None
    assert asset.location_name is None
    assert asset.room_name is None
    assert asset.has_open_tickets is False
    assert asset.open_ticket_count == 0
    assert asset.label == "a-2"
    with pytest.raises(ValidationError):
        Asset.model_validate({"AssetTag": "CB-1"})


def test_asset_extra_keys_are_ignored() -> None:
    asset = Asset.model_validate(
        {"AssetId": "a-3", "AssetTag": "CB-3", "FutureField": {"x": 1}, "Uid": "u", "ItemCount": 9}
    )
    assert asset.asset_tag == "CB-3"
    assert not hasattr(asset, "future_field")
    assert "FutureField" not in asset.model_dump(by_alias=True)


def test_asset_numbers_become_text() -> None:
    asset = Asset.model_validate(
        {"AssetId": 77, "AssetTag": 4512, "SerialNumber": 123456, "StorageSlotNumber": 12}
    )
    assert asset.asset_id == "77"
    assert asset.asset_tag == "4512"
    assert asset.serial_number == "123456"
    assert asset.storage_slot_number == "12"


def test_owner_without_user_id_gets_owner_id() -> None:
    asset = Asset.model_validate(
        {"AssetId": "a", "OwnerId": "u-9", "Owner": {"Name": "Ana Ruiz", "Grade": 7}}
    )
    assert asset.owner is not None
    assert asset.owner.user_id == "u-9"
    assert asset.owner.grade == "7"
    assert asset.current_owner_id == "u-9"


def test_owner_keeps_its_own_user_id() -> None:
    asset = Asset.model_validate(
        {"AssetId": "a", "OwnerId": "u-9", "Owner": {"UserId": "u-1", "Name": "X"}}
    )
    assert asset.owner is not None and asset.owner.user_id == "u-1"
    assert asset.current_owner_id == "u-9"


def test_owner_id_alone_and_owner_alone() -> None:
    only_id = Asset.model_validate({"AssetId": "a", "OwnerId": "u-5"})
    assert only_id.current_owner_id == "u-5"
    assert only_id.owner_name is None
    only_owner = Asset.model_validate({"AssetId": "a", "Owner": {"UserId": "u-6", "Name": "Z"}})
    assert only_owner.current_owner_id == "u-6"
    nameless = Asset.model_validate({"AssetId": "a", "Owner": {"FirstName": "Jo"}})
    assert nameless.current_owner_id is None
    assert nameless.owner_name == "Jo"


@pytest.mark.parametrize(
    ("tickets", "has_open", "count"),
    [
        (None, False, 0),
        (None, True, 1),
        ([], True, 0),
        ([{}, {}, {}], False, 3),
        (4, False, 4),
        ("5", False, 5),
        ("many", True, 1),
        (True, False, 0),
    ],
)
def test_open_ticket_count_variants(tickets: object, has_open: bool, count: int) -> None:
    data = {"AssetId": "a", "HasOpenTickets": has_open}
    if tickets is not None:
        data["OpenTickets"] = tickets
    assert Asset.model_validate(data).open_ticket_count == count


@pytest.mark.parametrize(
    ("data", "model_name", "room_name"),
    [
        ({"Name": "Laptop"}, "Laptop", None),
        ({"AssetTypeName": "Charger"}, "Charger", None),
        ({"Model": {}, "Name": "N"}, "N", None),
        ({"StorageLocationName": "Cart 3"}, None, "Cart 3"),
        ({"LocationRoom": {"Name": "Rm 101"}, "StorageLocationName": "Cart 3"}, None, "Rm 101"),
    ],
)
def test_asset_name_fallbacks(data: dict[str, object], model_name: str, room_name: str) -> None:
    asset = Asset.model_validate({"AssetId": "a", **data})
    assert asset.model_name == model_name
    assert asset.room_name == room_name


def test_asset_label_without_tag_uses_serial() -> None:
    asset = Asset.model_validate({"AssetId": "a", "SerialNumber": "SN1"})
    assert asset.label == "SN1"


def test_person_tolerant_parsing() -> None:
    person = Person.model_validate(
        {
            "UserId": "u1",
            "FirstName": "Ana",
            "LastName": "Ruiz",
            "Grade": 7,
            "SchoolIdNumber": 204518,
            "Role": {"Name": "Student", "RoleId": "r"},
            "Unexpected": [1, 2],
        }
    )
    assert person.grade == "7"
    assert person.school_id_number == "204518"
    assert person.display_name == "Ana Ruiz"
    assert person.role_label == "Student"
    assert person.is_active is True and person.is_deleted is False
    assert person.can_own_devices is True


def test_person_grade_text_keeps_leading_zero() -> None:
    assert Person.model_validate({"UserId": "u", "Grade": "07"}).grade == "07"


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ({"Name": "Ana Ruiz", "FirstName": "X"}, "Ana Ruiz"),
        ({"LastName": "Ruiz"}, "Ruiz"),
        ({"Username": "aruiz", "Email": "a@x"}, "aruiz"),
        ({"Email": "a@x"}, "a@x"),
        ({"SchoolIdNumber": "204518"}, "204518"),
        ({}, "(no name)"),
    ],
)
def test_person_display_name(data: dict[str, str], shown: str) -> None:
    assert Person.model_validate(data).display_name == shown


@pytest.mark.parametrize(
    ("active", "deleted", "can_own"),
    [(True, False, True), (False, False, False), (True, True, False), ("false", False, False)],
)
def test_person_can_own_devices(active: object, deleted: bool, can_own: bool) -> None:
    person = Person.model_validate({"UserId": "u", "IsActive": active, "IsDeleted": deleted})
    assert person.can_own_devices is can_own


def test_person_role_name_fallback() -> None:
    assert Person.model_validate({"RoleName": "Staff"}).role_label == "Staff"
    assert Person.model_validate({}).role_label is None


def test_null_values_are_treated_as_missing() -> None:
    person = Person.model_validate({"UserId": "u", "IsActive": None, "IsDeleted": None})
    assert person.can_own_devices is True
    asset = Asset.model_validate({"AssetId": "a", "HasOpenTickets": None, "Owner": None})
    assert asset.open_ticket_count == 0
    assert Location.model_validate({"LocationId": "l", "Name": None}).name == ""
    assert (
        StatusType.model_validate({"AssetStatusTypeId": "s", "IsRetired": None}).is_retired is False
    )


def test_null_optional_fields_are_fine() -> None:
    asset = Asset.model_validate({"AssetId": "a", "Owner": None, "OwnerId": None, "Model": None})
    assert asset.current_owner_id is None
    assert asset.model_name is None


def test_status_location_room_login_ticket() -> None:
    status = StatusType.model_validate({"AssetStatusTypeId": 5, "Name": "Broken", "IsRetired": 0})
    assert (status.asset_status_type_id, status.name, status.is_retired) == ("5", "Broken", False)
    location = Location.model_validate(
        {"LocationId": "l", "Name": "HS", "Abbreviation": "HS", "LocationType": {"Name": "School"}}
    )
    assert location.location_type is not None and location.location_type.name == "School"
    assert Location.model_validate({"LocationId": "l"}).name == ""
    room = Room.model_validate({"LocationRoomId": 3, "Name": "Library"})
    assert (room.location_room_id, room.location_id, room.name) == ("3", None, "Library")
    login = LoginInfo.model_validate({"SiteId": "s", "UserId": "u", "User": {"Name": "Kiosk"}})
    assert login.user is not None and login.user.display_name == "Kiosk"
    assert LoginInfo.model_validate({}).user is None
    ticket = TicketRef.model_validate({"TicketId": "t", "TicketNumber": 1042})
    assert ticket.ticket_number == "1042"
    for model, data in (
        (StatusType, {"Name": "x"}),
        (Location, {"Name": "x"}),
        (Room, {"Name": "x"}),
        (TicketRef, {"TicketNumber": 1}),
    ):
        with pytest.raises(ValidationError):
            model.model_validate(data)


@pytest.mark.parametrize(
    ("data", "date", "kind", "text", "by"),
    [
        (
            {"ActivityDate": "d1", "ActivityType": "t1", "Description": "x1", "By": "b1"},
            "d1",
            "t1",
            "x1",
            "b1",
        ),
        (
            {
                "CreatedDate": "d2",
                "ActivityTypeName": "t2",
                "Message": "x2",
                "CreatedBy": {"Name": "b2"},
            },
            "d2",
            "t2",
            "x2",
            "b2",
        ),
        ({"Date": "d3", "Type": "t3", "Details": "x3", "User": "b3"}, "d3", "t3", "x3", "b3"),
        ({"ModifiedDate": "d4", "Action": "t4", "Text": "x4"}, "d4", "t4", "x4", None),
        ({"ActivityId": 9}, None, None, None, None),
    ],
)
def test_activity_variants(
    data: dict[str, object], date: str | None, kind: str | None, text: str | None, by: str | None
) -> None:
    activity = Activity.model_validate(data)
    assert (activity.activity_date, activity.activity_type, activity.description, activity.by) == (
        date,
        kind,
        text,
        by,
    )


def test_models_are_frozen() -> None:
    asset = Asset.model_validate({"AssetId": "a"})
    with pytest.raises(ValidationError):
        asset.asset_tag = "x"  # type: ignore[misc]


def test_filter_to_json() -> None:
    assert Filter("assettag", value="CB-1").to_json() == {"Facet": "assettag", "Value": "CB-1"}
    assert Filter("location", id="l-1", negative=True, group_index=2).to_json() == {
        "Facet": "location",
        "Id": "l-1",
        "Negative": True,
        "GroupIndex": 2,
    }
    assert Filter("x", group_index=0).to_json() == {"Facet": "x", "GroupIndex": 0}


def test_ticket_request_links_the_asset_through_assets() -> None:
    body = TicketRequest(
        subject="Cracked screen",
        description="Dropped",
        for_user_id="u-1",
        asset_id="a-1",
        issue_id="i-1",
        location_id="l-1",
        extra={"IsUrgent": True},
    ).to_json()
    assert body == {
        "Subject": "Cracked screen",
        "IssueDescription": "Dropped",
        "ForId": "u-1",
        "IsUrgent": True,
        "HasSensitiveInformation": False,
        "Assets": [{"AssetId": "a-1"}],
        "IssueId": "i-1",
        "LocationId": "l-1",
    }
    assert "AssetIds" not in body
