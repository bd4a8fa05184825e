"""Fixed identifiers and the demo records that tests, demo mode and the docs rely on.

Everything here is a constant: GUIDs are uuid5 values derived from fixed names, so they are
the same on every machine, for every seed. The generated part of the district (most people
and devices) depends on the seed; the records named in `DEMO` never do.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from dataclasses import dataclass
from typing import Any

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://iiq-kiosk.invalid/simulator")


def guid(*parts: object) -> str:
    """A deterministic GUID for the given name parts."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(part) for part in parts)))


# Role ids are the real, documented ones (iiq-api.md).
ROLE_STUDENT = "6d5fee76-e05e-43c0-b8e9-b8447746e501"
ROLE_FACULTY = "6d5fee76-e05e-43c0-b8e9-b8447746e502"
ROLE_STAFF = "6d5fee76-e05e-43c0-b8e9-b8447746e503"
ROLE_AGENT = "6d5fee76-e05e-43c0-b8e9-b8447746e504"
ROLE_PARENT = "6d5fee76-e05e-43c0-b8e9-b8447746e507"
ROLE_NAMES: dict[str, str] = {
    ROLE_STUDENT: "Student",
    ROLE_FACULTY: "Faculty",
    ROLE_STAFF: "Staff",
    ROLE_AGENT: "Agent",
    ROLE_PARENT: "Parent",
}

ASSETS_PRODUCT_ID = "88df910c-91aa-e711-80c2-0004ffa00050"
TICKETING_PRODUCT_ID = "88df910c-91aa-e711-80c2-0004ffa00010"

# Status types: (name, is_retired). Ids are derived from the names.
STATUS_TYPES: tuple[tuple[str, bool], ...] = (
    ("Available", False),
    ("Assigned", False),
    ("In Repair", False),
    ("Broken", False),
    ("Lost/Stolen", False),
    ("Retired", True),
)


@functools.cache
def status_id(name: str) -> str:
    return guid("status", name)


@functools.cache
def location_id(abbreviation: str) -> str:
    return guid("location", abbreviation)


def fixed_user_id(key: str) -> str:
    return guid("user", "demo", key)


def fixed_asset_id(tag: str, copy: int = 0) -> str:
    return guid("asset", "demo", tag, copy)


@dataclass(frozen=True)
class DemoData:
    """Records with fixed values, present in every seeded data set."""

    site_id: str
    token: str
    readonly_token: str
    seed: int
    # The account behind each token (GET /login).
    api_user_id: str
    api_user_name: str
    readonly_user_id: str
    # Devices.
    free_tag: str
    free_serial: str
    free_asset_id: str
    free_location_id: str
    free_location_name: str
    assigned_tag: str
    assigned_serial: str
    assigned_asset_id: str
    assigned_owner_school_id: str
    assigned_owner_name: str
    assigned_owner_id: str
    no_checkout_tag: str
    no_checkout_asset_id: str
    unknown_tag: str
    duplicate_tag: str
    duplicate_asset_ids: tuple[str, str]
    retired_tag: str
    retired_asset_id: str
    broken_tag: str
    broken_asset_id: str
    # People.
    student_id: str
    student_name: str
    student_grade: str
    student_email: str
    student_username: str
    student_user_id: str
    inactive_id: str
    inactive_name: str
    inactive_user_id: str
    shared_name: str
    shared_name_ids: tuple[str, str]
    shared_name_user_ids: tuple[str, str]
    staff_badge: str
    staff_name: str
    staff_user_id: str
    # Check-in and damage-ticket configuration for demo mode.
    storeroom_location_id: str
    storeroom_name: str
    available_status_name: str
    available_status_id: str
    ticket_issue_id: str
    ticket_issue_category_id: str
    ticket_issue_type_id: str
    ticket_wizard_category_id: str
    assets_product_id: str
    ticketing_product_id: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (tuples become lists)."""
        return {key: (list(v) if isinstance(v, tuple) else v) for key, v in _fields(self)}


def _fields(data: DemoData) -> list[tuple[str, Any]]:
    return [(f.name, getattr(data, f.name)) for f in dataclasses.fields(data)]


DEMO = DemoData(
    site_id=guid("site"),
    token="demo-token",  # noqa: S106 - a public demo value, not a secret
    readonly_token="demo-readonly-token",  # noqa: S106
    seed=2026,
    api_user_id=guid("user", "api"),
    api_user_name="Kiosk Service Account",
    readonly_user_id=guid("user", "readonly"),
    free_tag="CB-004512",
    free_serial="5CD3110A4512",
    free_asset_id=fixed_asset_id("CB-004512"),
    free_location_id=location_id("RMS"),
    free_location_name="Roosevelt Middle School",
    assigned_tag="CB-004513",
    assigned_serial="5CD3110A4513",
    assigned_asset_id=fixed_asset_id("CB-004513"),
    assigned_owner_school_id="204519",
    assigned_owner_name="Marcus Lee",
    assigned_owner_id=fixed_user_id("204519"),
    no_checkout_tag="CB-004514",
    no_checkout_asset_id=fixed_asset_id("CB-004514"),
    unknown_tag="CB-999999",
    duplicate_tag="CB-001234",
    duplicate_asset_ids=(fixed_asset_id("CB-001234", 1), fixed_asset_id("CB-001234", 2)),
    retired_tag="CB-000013",
    retired_asset_id=fixed_asset_id("CB-000013"),
    broken_tag="CB-000042",
    broken_asset_id=fixed_asset_id("CB-000042"),
    student_id="204518",
    student_name="Ana Ruiz",
    student_grade="07",
    student_email="ana.ruiz@students.example.org",
    student_username="aruiz",
    student_user_id=fixed_user_id("204518"),
    inactive_id="209999",
    inactive_name="Sam Carter",
    inactive_user_id=fixed_user_id("209999"),
    shared_name="Jordan Smith",
    shared_name_ids=("204600", "204601"),
    shared_name_user_ids=(fixed_user_id("204600"), fixed_user_id("204601")),
    staff_badge="900101",
    staff_name="Pat Morgan",
    staff_user_id=fixed_user_id("900101"),
    storeroom_location_id=location_id("WH"),
    storeroom_name="IT Storeroom",
    available_status_name="Available",
    available_status_id=status_id("Available"),
    ticket_issue_id=guid("issue", "device-damage"),
    ticket_issue_category_id=guid("issue-category", "hardware"),
    ticket_issue_type_id=guid("issue-type", "chromebook"),
    ticket_wizard_category_id=guid("wizard-category", "devices"),
    assets_product_id=ASSETS_PRODUCT_ID,
    ticketing_product_id=TICKETING_PRODUCT_ID,
)

# Tags and school id numbers the generator must never hand out.
RESERVED_TAGS = frozenset(
    {
        DEMO.free_tag,
        DEMO.assigned_tag,
        DEMO.no_checkout_tag,
        DEMO.unknown_tag,
        DEMO.duplicate_tag,
        DEMO.retired_tag,
        DEMO.broken_tag,
    }
)
RESERVED_SCHOOL_IDS = frozenset(
    {
        DEMO.student_id,
        DEMO.assigned_owner_school_id,
        DEMO.inactive_id,
        *DEMO.shared_name_ids,
        DEMO.staff_badge,
    }
)
RESERVED_NAMES = frozenset(
    {
        DEMO.student_name,
        DEMO.assigned_owner_name,
        DEMO.inactive_name,
        DEMO.shared_name,
        DEMO.staff_name,
    }
)
