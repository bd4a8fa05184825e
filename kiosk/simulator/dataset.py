"""A deterministic, district-shaped data set: schools, rooms, carts, people and devices.

`build_tables(seed)` returns the pristine records for a seed (cached; never mutate them: copy
with `Tables.copy()`). Records are flat dicts keyed by the PascalCase field names of the API;
nested objects (Owner, Model, Location...) are resolved when a reply is built, so the stored
data never goes stale. Every key is always present in a stored record; `None` means "unset".
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kiosk.simulator.demo import (
    DEMO,
    RESERVED_NAMES,
    RESERVED_SCHOOL_IDS,
    RESERVED_TAGS,
    ROLE_AGENT,
    ROLE_FACULTY,
    ROLE_NAMES,
    ROLE_PARENT,
    ROLE_STAFF,
    ROLE_STUDENT,
    STATUS_TYPES,
    fixed_user_id,
    guid,
    location_id,
    status_id,
)

Record = dict[str, Any]

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def format_date(moment: datetime) -> str:
    """Incident IQ style: no zone, milliseconds (`2024-05-30T10:40:00.227`)."""
    return f"{moment.strftime(DATE_FORMAT)}.{moment.microsecond // 1000:03d}"


# --------------------------------------------------------------------------- the district


@dataclass(frozen=True)
class Site:
    abbreviation: str
    name: str
    location_type: str
    grades: tuple[str, ...] = ()
    students_per_grade: int = 0
    classrooms: int = 0
    carts: int = 0
    faculty: int = 0
    staff: int = 0
    extra_rooms: tuple[str, ...] = ()


ELEMENTARY_GRADES = ("KG", "01", "02", "03", "04", "05")
MIDDLE_GRADES = ("06", "07", "08")
HIGH_GRADES = ("09", "10", "11", "12")

SITES: tuple[Site, ...] = (
    Site("LES", "Lincoln Elementary School", "School", ELEMENTARY_GRADES, 58, 12, 3, 20, 5),
    Site("WES", "Washington Elementary School", "School", ELEMENTARY_GRADES, 58, 12, 3, 20, 5),
    Site("GES", "Garfield Elementary School", "School", ELEMENTARY_GRADES, 58, 12, 3, 20, 5),
    Site("RMS", "Roosevelt Middle School", "School", MIDDLE_GRADES, 100, 20, 4, 25, 5),
    Site("KMS", "Kennedy Middle School", "School", MIDDLE_GRADES, 100, 20, 4, 25, 5),
    Site("CHS", "Central High School", "School", HIGH_GRADES, 160, 30, 4, 35, 5),
    Site("DO", "District Office", "District Office", staff=15, extra_rooms=("Help Desk",)),
    Site(
        "WH",
        "IT Storeroom",
        "Warehouse",
        carts=2,
        staff=5,
        extra_rooms=("Intake", "Shelf A", "Shelf B", "Repair Bench"),
    ),
)
SITE_BY_ABBR = {site.abbreviation: site for site in SITES}

# Model key -> (name, manufacturer, category)
MODELS: dict[str, tuple[str, str, str]] = {
    "dell-3110": ("Dell Chromebook 3110", "Dell", "Chromebook"),
    "lenovo-300e": ("Lenovo 300e Chromebook Gen 3", "Lenovo", "Chromebook"),
    "hp-11g9": ("HP Chromebook 11 G9 EE", "HP", "Chromebook"),
    "acer-511": ("Acer Chromebook Spin 511", "Acer", "Chromebook"),
    "dell-3440": ("Dell Latitude 3440", "Dell", "Laptop"),
    "lenovo-l14": ("Lenovo ThinkPad L14 Gen 4", "Lenovo", "Laptop"),
    "ipad-9": ("Apple iPad (9th generation)", "Apple", "Tablet"),
    "charger-65w": ("USB-C 65W Power Adapter", "Dell", "Charger"),
    "charger-45w": ("USB-C 45W Power Adapter", "Lenovo", "Charger"),
}
SCHOOL_CHROMEBOOK = {
    "LES": "lenovo-300e",
    "WES": "lenovo-300e",
    "GES": "acer-511",
    "RMS": "dell-3110",
    "KMS": "dell-3110",
    "CHS": "hp-11g9",
    "WH": "dell-3110",
}
CHARGER_FOR = {"dell-3110": "charger-65w", "hp-11g9": "charger-65w"}

_FIRST_NAMES = (
    "Aaliyah Aiden Alex Alexis Amara Amelia Andre Angel Aria Ava Avery Ben Blake Brianna "
    "Caleb Camila Carlos Carter Chloe Chris Daniel David Diego Dylan Elena Eli Elijah Emily "
    "Emma Ethan Evelyn Gabriel Grace Hana Harper Hazel Henry Isaac Isabella Jack Jada Jamal "
    "James Jasmine Jayden Julia Kai Kayla Kevin Layla Leah Leo Liam Lily Logan Lucas Luis "
    "Luna Maya Mason Mateo Mia Michael Mila Nadia Naomi Nathan Noah Nora Olivia Omar Owen "
    "Priya Quinn Riley Rosa Ryan Sara Sebastian Sofia Sophie Taylor Theo Tyler Valeria "
    "Victor Wei William Yara Yusuf Zoe"
)
FIRST_NAMES = tuple(_FIRST_NAMES.split())
_LAST_NAMES = (
    "Adams Ahmed Allen Alvarez Anderson Baker Bennett Brooks Brown Campbell Castillo Chen "
    "Clark Collins Cook Cooper Cruz Davis Diaz Edwards Evans Flores Foster Garcia Gomez "
    "Gonzalez Gray Green Gupta Hall Harris Hernandez Hill Howard Hughes Jackson James "
    "Jenkins Johnson Jones Kelly Kim King Lee Lewis Lopez Martin Martinez Mendoza Miller "
    "Mitchell Moore Morales Murphy Nguyen Nelson Okafor O'Brien Ortiz Parker Patel Perez "
    "Phillips Ramirez Reed Reyes Richardson Rivera Roberts Robinson Rodriguez Rogers Ross "
    "Sanchez Scott Shah Singh Smith Stewart Sullivan Taylor Thomas Thompson Torres Turner "
    "Walker Ward Watson White Williams Wilson Wood Wright Young"
)
LAST_NAMES = tuple(_LAST_NAMES.split())
SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SERIAL_PATTERNS = {
    "Dell": ("", 7),
    "Lenovo": ("PF", 6),
    "HP": ("5CD", 7),
    "Acer": ("NXAT", 10),
    "Apple": ("DMP", 9),
}
BASE_DATE = datetime(2025, 8, 18, 7, 45)


# --------------------------------------------------------------------------- static catalog


@dataclass(frozen=True)
class Catalog:
    """Records that never change while the simulator runs."""

    locations: dict[str, Record]
    rooms: dict[str, Record]
    storage_locations: dict[str, Record]
    models: dict[str, Record]
    status_types: dict[str, Record]
    roles: dict[str, str]


@functools.cache
def room_id(abbreviation: str, name: str) -> str:
    return guid("room", abbreviation, name)


@functools.cache
def storage_id(abbreviation: str, name: str) -> str:
    return guid("storage", abbreviation, name)


@functools.cache
def model_id(key: str) -> str:
    return guid("model", key)


def cart_name(number: int) -> str:
    return f"Cart {number:02d}"


def site_room_names(site: Site) -> list[str]:
    names = [f"Room {101 + i}" for i in range(site.classrooms)]
    if site.location_type == "School":
        names += ["Library", "Main Office"]
    names += list(site.extra_rooms)
    names += [cart_name(n) for n in range(1, site.carts + 1)]
    return names


@functools.cache
def build_catalog() -> Catalog:
    locations: dict[str, Record] = {}
    rooms: dict[str, Record] = {}
    storage: dict[str, Record] = {}
    for site in SITES:
        loc_id = location_id(site.abbreviation)
        locations[loc_id] = {
            "LocationId": loc_id,
            "Name": site.name,
            "Abbreviation": site.abbreviation,
            "LocationTypeName": site.location_type,
        }
        for name in site_room_names(site):
            rid = room_id(site.abbreviation, name)
            rooms[rid] = {"LocationRoomId": rid, "LocationId": loc_id, "Name": name}
            if name.startswith("Cart "):
                sid = storage_id(site.abbreviation, name)
                storage[sid] = {
                    "StorageLocationId": sid,
                    "LocationId": loc_id,
                    "LocationRoomId": rid,
                    "Name": name,
                }
    models: dict[str, Record] = {}
    for key, (name, manufacturer, category) in MODELS.items():
        mid = model_id(key)
        models[mid] = {
            "ModelId": mid,
            "Name": name,
            "ManufacturerId": guid("manufacturer", manufacturer),
            "ManufacturerName": manufacturer,
            "CategoryId": guid("category", category),
            "CategoryName": category,
        }
    statuses = {
        status_id(name): {"AssetStatusTypeId": status_id(name), "Name": name, "IsRetired": retired}
        for name, retired in STATUS_TYPES
    }
    return Catalog(locations, rooms, storage, models, statuses, dict(ROLE_NAMES))


# --------------------------------------------------------------------------- mutable tables


@dataclass
class Tables:
    """Everything the API can change. `copy()` is cheap: records are flat."""

    assets: dict[str, Record] = field(default_factory=dict)
    users: dict[str, Record] = field(default_factory=dict)
    checkouts: list[Record] = field(default_factory=list)
    tickets: list[Record] = field(default_factory=list)
    activities: dict[str, list[Record]] = field(default_factory=dict)
    next_ticket_number: int = 100001
    sequence: int = 0

    def copy(self) -> Tables:
        return Tables(
            assets={key: dict(rec) for key, rec in self.assets.items()},
            users={key: dict(rec) for key, rec in self.users.items()},
            checkouts=[dict(rec) for rec in self.checkouts],
            tickets=[_copy_ticket(rec) for rec in self.tickets],
            activities={key: [dict(rec) for rec in recs] for key, recs in self.activities.items()},
            next_ticket_number=self.next_ticket_number,
            sequence=self.sequence,
        )


def _copy_ticket(ticket: Record) -> Record:
    copied = dict(ticket)
    copied["Assets"] = [dict(item) for item in ticket.get("Assets") or []]
    return copied


def new_user(
    user_id: str,
    first: str,
    last: str,
    *,
    role_id: str,
    location: str,
    email: str | None,
    username: str | None,
    school_id: str | None = None,
    grade: str | None = None,
    homeroom: str | None = None,
    active: bool = True,
    created: datetime = BASE_DATE,
) -> Record:
    return {
        "UserId": user_id,
        "FirstName": first,
        "LastName": last,
        "Name": f"{first} {last}",
        "Email": email,
        "Username": username,
        "SchoolIdNumber": school_id,
        "Grade": grade,
        "Homeroom": homeroom,
        "LocationId": location_id(location),
        "RoleId": role_id,
        "IsActive": active,
        "IsDeleted": False,
        "CreatedDate": format_date(created),
        "ModifiedDate": format_date(created),
    }


def new_asset(
    asset_id: str,
    tag: str,
    model_key: str,
    serial: str,
    site: str,
    *,
    room: str | None = None,
    status: str = "Available",
    owner_id: str | None = None,
    previous_owner_id: str | None = None,
    slot: int | None = None,
    created: datetime = BASE_DATE,
    modified: datetime | None = None,
    notes: str | None = None,
) -> Record:
    storage = room if room is not None and room.startswith("Cart ") else None
    return {
        "AssetId": asset_id,
        "AssetTag": tag,
        "SerialNumber": serial,
        "Name": MODELS[model_key][0],
        "ModelId": model_id(model_key),
        "OwnerId": owner_id,
        "PreviousOwnerId": previous_owner_id,
        "LocationId": location_id(site),
        "LocationRoomId": room_id(site, room) if room else None,
        "StorageLocationId": storage_id(site, storage) if storage else None,
        "StorageUnitNumber": int(storage[5:]) if storage else None,
        "StorageSlotNumber": slot if storage else None,
        "StatusTypeId": status_id(status),
        "Notes": notes,
        "OpenTickets": 0,
        "PurchasedDate": format_date(created.replace(hour=0, minute=0, second=0, microsecond=0)),
        "CreatedDate": format_date(created),
        "ModifiedDate": format_date(modified or created),
        "IsDeleted": False,
    }


class _Builder:
    """Generates one seeded data set. Fixed demo records are added first so generated
    records can steer clear of their tags, names, ids, e-mails and usernames."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.tables = Tables()
        self.counter = 0
        self.used_school_ids: set[str] = set(RESERVED_SCHOOL_IDS)
        self.used_emails: set[str] = set()
        self.used_usernames: set[str] = set()
        self.used_serials: set[str] = set()
        self.cb_number = 0
        self.tag_numbers: dict[str, int] = {"LT": 0, "IP": 0, "CH": 0}
        self.students_by_site: dict[str, list[Record]] = {}

    # ---- helpers
    def next_guid(self, kind: str) -> str:
        self.counter += 1
        return guid(self.seed, kind, self.counter)

    def date_between(self, start: datetime, days: int) -> datetime:
        offset = timedelta(days=self.rng.randrange(days), minutes=self.rng.randrange(8 * 60))
        return start + offset + timedelta(milliseconds=self.rng.randrange(1000))

    def serial(self, model_key: str) -> str:
        manufacturer = MODELS[model_key][1]
        if MODELS[model_key][2] == "Charger":
            prefix, length = "CN0", 9
        else:
            prefix, length = SERIAL_PATTERNS[manufacturer]
        while True:
            value = prefix + "".join(self.rng.choices(SERIAL_ALPHABET, k=length))
            if value not in self.used_serials:
                self.used_serials.add(value)
                return value

    def chromebook_tag(self) -> str:
        while True:
            self.cb_number += 1 + (1 if self.rng.random() < 0.08 else 0)
            tag = f"CB-{self.cb_number:06d}"
            if tag not in RESERVED_TAGS:
                return tag

    def other_tag(self, prefix: str) -> str:
        self.tag_numbers[prefix] += 1
        return f"{prefix}-{self.tag_numbers[prefix]:06d}"

    def school_id(self, staff: bool) -> str:
        low, high = (900000, 999999) if staff else (100000, 899999)
        while True:
            value = str(self.rng.randint(low, high))
            if value not in self.used_school_ids:
                self.used_school_ids.add(value)
                return value

    def name(self) -> tuple[str, str]:
        while True:
            first = self.rng.choice(FIRST_NAMES)
            last = self.rng.choice(LAST_NAMES)
            if f"{first} {last}" not in RESERVED_NAMES:
                return first, last

    @staticmethod
    def _slug(text: str) -> str:
        return re.sub(r"[^a-z]", "", text.lower())

    def unique(self, used: set[str], base: str, suffix: str = "") -> str:
        candidate, n = base, 1
        while candidate + suffix in used:
            n += 1
            candidate = f"{base}{n}"
        used.add(candidate + suffix)
        return candidate + suffix

    def add_user(self, user: Record) -> Record:
        self.tables.users[user["UserId"]] = user
        if user["Email"]:
            self.used_emails.add(user["Email"])
        if user["Username"]:
            self.used_usernames.add(user["Username"])
        return user

    def add_asset(self, asset: Record) -> Record:
        self.tables.assets[asset["AssetId"]] = asset
        self.used_serials.add(asset["SerialNumber"])
        created = asset["CreatedDate"]
        self.activity(asset["AssetId"], created, "Created", "Asset created")
        return asset

    def activity(self, asset_id: str, when: str, kind: str, text: str, **extra: Any) -> None:
        self.tables.sequence += 1
        record: Record = {
            "ActivityId": guid(self.seed, "activity", self.tables.sequence),
            "ActivityDate": when,
            "ActivityType": kind,
            "Description": text,
            "AssetId": asset_id,
            "Sequence": self.tables.sequence,
        }
        record.update(extra)
        self.tables.activities.setdefault(asset_id, []).append(record)

    def check_out(
        self, asset: Record, user: Record, when: datetime, *, open_checkout: bool
    ) -> None:
        asset["OwnerId"] = user["UserId"]
        asset["StatusTypeId"] = status_id("Assigned")
        stamp = format_date(when)
        asset["ModifiedDate"] = stamp
        if open_checkout:
            self.tables.checkouts.append(
                {
                    "CheckoutId": guid(self.seed, "checkout", asset["AssetId"]),
                    "AssetId": asset["AssetId"],
                    "OwnerId": user["UserId"],
                    "CheckoutDate": stamp,
                    "DueDate": "2026-06-12T15:00:00.000",
                    "CheckinDate": None,
                    "IsOpen": True,
                    "TicketId": None,
                    "Source": "import",
                }
            )
            self.activity(
                asset["AssetId"],
                stamp,
                "CheckOut",
                f"Checked out to {user['Name']}",
                OwnerId=user["UserId"],
            )
        else:
            self.activity(
                asset["AssetId"],
                stamp,
                "OwnerChanged",
                f"Owner set to {user['Name']}",
                OwnerId=user["UserId"],
            )

    # ---- build steps
    def build(self) -> Tables:
        self.fixed_people()
        self.generated_people()
        self.fixed_assets()
        self.student_devices()
        self.cart_devices()
        self.storeroom_devices()
        self.staff_devices()
        self.tablets()
        return self.tables

    def fixed_people(self) -> None:
        def student(key: str, first: str, last: str, grade: str, site: str, **kw: Any) -> None:
            self.add_user(
                new_user(
                    fixed_user_id(key),
                    first,
                    last,
                    role_id=ROLE_STUDENT,
                    location=site,
                    school_id=key,
                    grade=grade,
                    **kw,
                )
            )

        student(
            DEMO.student_id,
            "Ana",
            "Ruiz",
            DEMO.student_grade,
            "RMS",
            email=DEMO.student_email,
            username=DEMO.student_username,
            homeroom="Room 107",
        )
        student(
            DEMO.assigned_owner_school_id,
            "Marcus",
            "Lee",
            "07",
            "RMS",
            email="marcus.lee@students.example.org",
            username="mlee",
            homeroom="Room 107",
        )
        student(
            DEMO.inactive_id,
            "Sam",
            "Carter",
            "10",
            "CHS",
            email="sam.carter@students.example.org",
            username="scarter",
            active=False,
        )
        student(
            DEMO.shared_name_ids[0],
            "Jordan",
            "Smith",
            "05",
            "LES",
            email="jordan.smith@students.example.org",
            username="jsmith",
            homeroom="Room 104",
        )
        student(
            DEMO.shared_name_ids[1],
            "Jordan",
            "Smith",
            "09",
            "CHS",
            email="jordan.smith2@students.example.org",
            username="jsmith2",
        )
        self.add_user(
            new_user(
                DEMO.staff_user_id,
                "Pat",
                "Morgan",
                role_id=ROLE_STAFF,
                location="DO",
                email="pat.morgan@example.org",
                username="pat.morgan",
                school_id=DEMO.staff_badge,
            )
        )
        self.add_user(
            new_user(
                DEMO.api_user_id,
                "Kiosk Service",
                "Account",
                role_id=ROLE_AGENT,
                location="DO",
                email="kiosk.service@example.org",
                username="kiosk.service",
            )
        )
        self.add_user(
            new_user(
                DEMO.readonly_user_id,
                "Read Only",
                "Auditor",
                role_id=ROLE_AGENT,
                location="DO",
                email="readonly.auditor@example.org",
                username="readonly.auditor",
            )
        )

    def generated_people(self) -> None:
        rng = self.rng
        for site in SITES:
            students: list[Record] = []
            for grade in site.grades:
                for _ in range(site.students_per_grade):
                    first, last = self.name()
                    slug = f"{self._slug(first)}.{self._slug(last)}"
                    email = self.unique(self.used_emails, slug, "@students.example.org")
                    user = new_user(
                        self.next_guid("user"),
                        first,
                        last,
                        role_id=ROLE_STUDENT,
                        location=site.abbreviation,
                        email=email,
                        username=self.unique(
                            self.used_usernames, self._slug(first)[0] + self._slug(last)
                        ),
                        school_id=self.school_id(staff=False),
                        grade=grade,
                        homeroom=f"Room {101 + rng.randrange(max(site.classrooms, 1))}",
                        active=rng.random() > 0.03,
                        created=self.date_between(datetime(2015, 8, 1), 3650),
                    )
                    students.append(self.add_user(user))
            self.students_by_site[site.abbreviation] = students
            for role, count in ((ROLE_FACULTY, site.faculty), (ROLE_STAFF, site.staff)):
                for _ in range(count):
                    self._employee(role, site.abbreviation)
        for _ in range(6):
            self._employee(ROLE_AGENT, "DO")
        for _ in range(10):
            first, last = self.name()
            slug = f"{self._slug(first)}.{self._slug(last)}"
            school = rng.choice(SITES[:6]).abbreviation
            self.add_user(
                new_user(
                    self.next_guid("user"),
                    first,
                    last,
                    role_id=ROLE_PARENT,
                    location=school,
                    email=self.unique(self.used_emails, slug, "@mail.example.com"),
                    username=None,
                )
            )

    def _employee(self, role: str, site: str) -> Record:
        first, last = self.name()
        slug = f"{self._slug(first)}.{self._slug(last)}"
        return self.add_user(
            new_user(
                self.next_guid("user"),
                first,
                last,
                role_id=role,
                location=site,
                email=self.unique(self.used_emails, slug, "@example.org"),
                username=self.unique(self.used_usernames, slug),
                school_id=self.school_id(staff=True),
                active=self.rng.random() > 0.02,
                created=self.date_between(datetime(2010, 7, 1), 5000),
            )
        )

    def fixed_assets(self) -> None:
        bought = datetime(2024, 6, 14, 9, 30, 12, 345000)
        free = new_asset(
            DEMO.free_asset_id,
            DEMO.free_tag,
            "dell-3110",
            DEMO.free_serial,
            "RMS",
            room="Library",
            created=bought,
        )
        self.add_asset(free)
        assigned = new_asset(
            DEMO.assigned_asset_id,
            DEMO.assigned_tag,
            "dell-3110",
            DEMO.assigned_serial,
            "RMS",
            created=bought,
        )
        self.add_asset(assigned)
        marcus = self.tables.users[DEMO.assigned_owner_id]
        self.check_out(assigned, marcus, datetime(2025, 8, 20, 9, 12, 5), open_checkout=True)

        no_checkout = new_asset(
            DEMO.no_checkout_asset_id,
            DEMO.no_checkout_tag,
            "dell-3110",
            "5CD3110A4514",
            "LES",
            created=bought,
        )
        self.add_asset(no_checkout)
        jordan = self.tables.users[DEMO.shared_name_user_ids[0]]
        self.check_out(no_checkout, jordan, datetime(2025, 8, 21, 10, 3, 44), open_checkout=False)

        first_dup = new_asset(
            DEMO.duplicate_asset_ids[0],
            DEMO.duplicate_tag,
            "lenovo-300e",
            "PF3DUP1234",
            "LES",
            room=cart_name(1),
            slot=7,
            created=datetime(2023, 7, 2, 8, 0),
        )
        self.add_asset(first_dup)
        second_dup = new_asset(
            DEMO.duplicate_asset_ids[1],
            DEMO.duplicate_tag,
            "hp-11g9",
            "5CDDUP01234",
            "CHS",
            created=datetime(2024, 7, 9, 8, 0),
            notes="Tag printed twice by vendor; relabel pending",
        )
        self.add_asset(second_dup)
        holder = next(
            s for s in self.students_by_site["CHS"] if s["IsActive"] and s["Grade"] == "11"
        )
        self.check_out(second_dup, holder, datetime(2025, 8, 25, 8, 40, 10), open_checkout=True)

        retired = new_asset(
            DEMO.retired_asset_id,
            DEMO.retired_tag,
            "acer-511",
            "NXATRETIRED013",
            "WH",
            room="Shelf B",
            status="Retired",
            created=datetime(2019, 7, 1, 8, 0),
            notes="End of life 2025",
        )
        self.add_asset(retired)
        broken = new_asset(
            DEMO.broken_asset_id,
            DEMO.broken_tag,
            "lenovo-300e",
            "PF3BRK0042",
            "WH",
            room="Repair Bench",
            status="Broken",
            created=datetime(2022, 7, 1, 8, 0),
            modified=datetime(2025, 9, 2, 13, 15, 2),
            notes="Cracked screen",
        )
        self.add_asset(broken)
        ticket_id = guid("ticket", "demo", 1)
        broken["OpenTickets"] = 1
        self.tables.tickets.append(
            {
                "TicketId": ticket_id,
                "TicketNumber": self.tables.next_ticket_number,
                "Subject": "Cracked screen",
                "IssueDescription": "Screen cracked in backpack.",
                "ForId": DEMO.shared_name_user_ids[0],
                "LocationId": location_id("LES"),
                "IssueId": DEMO.ticket_issue_id,
                "IssueCategoryId": DEMO.ticket_issue_category_id,
                "IssueTypeId": DEMO.ticket_issue_type_id,
                "TicketWizardCategoryId": DEMO.ticket_wizard_category_id,
                "IsUrgent": False,
                "HasSensitiveInformation": False,
                "IsClosed": False,
                "Assets": [{"AssetId": broken["AssetId"]}],
                "CreatedDate": "2025-09-02T13:15:02.000",
                "CreatedById": DEMO.api_user_id,
            }
        )
        self.tables.next_ticket_number += 1
        self.activity(
            broken["AssetId"],
            "2025-09-02T13:15:02.000",
            "StatusChanged",
            "Status changed from Available to Broken",
            StatusTypeId=status_id("Broken"),
        )
        self.activity(
            broken["AssetId"],
            "2025-09-02T13:15:02.000",
            "TicketCreated",
            f"Ticket #{self.tables.next_ticket_number - 1} opened: Cracked screen",
            TicketId=ticket_id,
        )

    def _device(self, model_key: str, site: str, **kw: Any) -> Record:
        category = MODELS[model_key][2]
        prefix = {"Chromebook": "CB", "Laptop": "LT", "Tablet": "IP", "Charger": "CH"}[category]
        tag = self.chromebook_tag() if prefix == "CB" else self.other_tag(prefix)
        created = self.date_between(datetime(2021, 6, 1), 1400)
        return self.add_asset(
            new_asset(
                self.next_guid("asset"),
                tag,
                model_key,
                self.serial(model_key),
                site,
                created=created,
                **kw,
            )
        )

    def student_devices(self) -> None:
        rng = self.rng
        for site in SITES[:6]:
            model = SCHOOL_CHROMEBOOK[site.abbreviation]
            for student in self.students_by_site[site.abbreviation]:
                if student["Grade"] in ("KG", "01", "02"):
                    continue
                chance = 0.85 if student["IsActive"] else 0.15
                if rng.random() >= chance:
                    continue
                when = self.date_between(BASE_DATE, 21)
                device = self._device(model, site.abbreviation)
                self.check_out(device, student, when, open_checkout=rng.random() < 0.95)
                if site.abbreviation == "CHS" and rng.random() < 0.4:
                    charger = self._device(CHARGER_FOR.get(model, "charger-45w"), "CHS")
                    self.check_out(charger, student, when, open_checkout=True)

    def cart_devices(self) -> None:
        for site in SITES[:6]:
            model = SCHOOL_CHROMEBOOK[site.abbreviation]
            for number in range(1, site.carts + 1):
                for slot in range(1, 31):
                    self._device(model, site.abbreviation, room=cart_name(number), slot=slot)

    def storeroom_devices(self) -> None:
        rng = self.rng
        plan = (
            ("Available", "Shelf A", 110),
            ("In Repair", "Repair Bench", 30),
            ("Broken", "Repair Bench", 20),
            ("Retired", "Shelf B", 60),
        )
        models = ("dell-3110", "lenovo-300e", "hp-11g9", "acer-511")
        for status, room, count in plan:
            for _ in range(count):
                self._device(rng.choice(models), "WH", room=room, status=status)
        for _ in range(15):
            school = rng.choice(SITES[3:6]).abbreviation
            former = rng.choice(self.students_by_site[school])
            self._device(
                SCHOOL_CHROMEBOOK[school],
                school,
                status="Lost/Stolen",
                previous_owner_id=former["UserId"],
                notes="Reported missing",
            )
        for cart in (1, 2):
            for slot in range(1, 21):
                self._device("dell-3110", "WH", room=cart_name(cart), slot=slot)
        for _ in range(80):
            self._device(rng.choice(("charger-65w", "charger-45w")), "WH", room="Shelf A")

    def staff_devices(self) -> None:
        rng = self.rng
        for user in list(self.tables.users.values()):
            if user["RoleId"] not in (ROLE_FACULTY, ROLE_STAFF, ROLE_AGENT) or not user["IsActive"]:
                continue
            if user["UserId"] in (DEMO.api_user_id, DEMO.readonly_user_id, DEMO.staff_user_id):
                continue
            site = next(s for s in SITES if location_id(s.abbreviation) == user["LocationId"])
            laptop = self._device(rng.choice(("dell-3440", "lenovo-l14")), site.abbreviation)
            self.check_out(laptop, user, self.date_between(BASE_DATE, 10), open_checkout=False)

    def tablets(self) -> None:
        for site in SITES[:3]:
            for room_number in range(4):
                for _ in range(8):
                    self._device("ipad-9", site.abbreviation, room=f"Room {101 + room_number}")
        for _ in range(10):
            self._device("ipad-9", "DO", room="Help Desk")


@functools.lru_cache(maxsize=4)
def build_tables(seed: int) -> Tables:
    """The pristine tables for a seed. Shared and cached: callers must `copy()` them."""
    return _Builder(seed).build()
