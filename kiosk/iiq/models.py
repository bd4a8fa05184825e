"""Typed Incident IQ records, parsed at the edge.

Incident IQ leaves out empty fields, adds fields over time and is not always consistent
about types (a grade may come as 7 or "07"). Every model here therefore ignores unknown
keys, defaults what is missing and turns numbers into text where text is expected. Only the
id of a record is required: a record without it is not one we can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_pascal

T = TypeVar("T")


class IIQModel(BaseModel):
    """Base: PascalCase on the wire, snake_case in Python, tolerant of the rest."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        coerce_numbers_to_str=True,
        protected_namespaces=(),
        # Each model's validator is built on first use, or by the kiosk once it is ready
        # (`kiosk.iiq.client.parsers_to_build`): building them all on import is about 40 ms on
        # the way to the first window.
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_missing(cls, data: Any) -> Any:
        # Incident IQ sometimes sends null where it usually leaves a field out.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class NamedRef(IIQModel):
    name: str | None = None


class RoleRef(IIQModel):
    name: str | None = None


class Person(IIQModel):
    """A user of the district: student, staff, faculty, parent."""

    user_id: str = ""
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    username: str | None = None
    school_id_number: str | None = None
    grade: str | None = None
    homeroom: str | None = None
    location_id: str | None = None
    location_name: str | None = None
    role_id: str | None = None
    role: RoleRef | None = None
    role_name: str | None = None
    is_active: bool = True
    is_deleted: bool = False

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.username or self.email or self.school_id_number or "(no name)"

    @property
    def role_label(self) -> str | None:
        return (self.role.name if self.role else None) or self.role_name

    @property
    def can_own_devices(self) -> bool:
        return self.is_active and not self.is_deleted


class ModelRef(IIQModel):
    name: str | None = None
    manufacturer: NamedRef | None = None
    category: NamedRef | None = None


class LocationRef(IIQModel):
    location_id: str | None = None
    name: str | None = None


class StatusRef(IIQModel):
    asset_status_type_id: str | None = None
    name: str | None = None


class Asset(IIQModel):
    """A device (or charger, or anything else with an asset tag)."""

    asset_id: str
    asset_tag: str | None = None
    serial_number: str | None = None
    name: str | None = None
    asset_type_name: str | None = None
    model_id: str | None = None
    model: ModelRef | None = None
    owner_id: str | None = None
    owner: Person | None = None
    previous_owner: Person | None = None
    location_id: str | None = None
    location: LocationRef | None = None
    location_room_id: str | None = None
    location_room: NamedRef | None = None
    storage_location_id: str | None = None
    storage_location_name: str | None = None
    storage_unit_number: str | None = None
    storage_slot_number: str | None = None
    status_type_id: str | None = None
    status: StatusRef | None = None
    notes: str | None = None
    has_open_tickets: bool = False
    open_tickets: Any = None
    modified_date: str | None = None
    is_deleted: bool = False

    @model_validator(mode="before")
    @classmethod
    def _owner_id_into_owner(cls, data: Any) -> Any:
        # The nested Owner does not always repeat its UserId; OwnerId is the truth.
        if isinstance(data, dict):
            owner = data.get("Owner")
            owner_id = data.get("OwnerId")
            if isinstance(owner, dict) and owner_id and not owner.get("UserId"):
                data = {**data, "Owner": {**owner, "UserId": owner_id}}
        return data

    @property
    def current_owner_id(self) -> str | None:
        return self.owner_id or (self.owner.user_id if self.owner and self.owner.user_id else None)

    @property
    def owner_name(self) -> str | None:
        return self.owner.display_name if self.owner else None

    @property
    def model_name(self) -> str | None:
        return (self.model.name if self.model else None) or self.name or self.asset_type_name

    @property
    def status_name(self) -> str | None:
        return self.status.name if self.status else None

    @property
    def location_name(self) -> str | None:
        return self.location.name if self.location else None

    @property
    def room_name(self) -> str | None:
        return (self.location_room.name if self.location_room else None) or (
            self.storage_location_name
        )

    @property
    def open_ticket_count(self) -> int:
        tickets = self.open_tickets
        if isinstance(tickets, list):
            return len(tickets)
        if isinstance(tickets, int) and not isinstance(tickets, bool):
            return tickets
        if isinstance(tickets, str) and tickets.isdigit():
            return int(tickets)
        return 1 if self.has_open_tickets else 0

    @property
    def label(self) -> str:
        """How the kiosk names the device in a sentence: "CB-004512 (Dell Chromebook 3110)"."""
        tag = self.asset_tag or self.serial_number or self.asset_id
        return f"{tag} ({self.model_name})" if self.model_name else tag


class StatusType(IIQModel):
    asset_status_type_id: str
    name: str = ""
    is_retired: bool = False


class AssetModelInfo(IIQModel):
    """An asset model of the site (`GET /assets/models`): its id and the names around it."""

    model_id: str
    name: str = ""
    manufacturer: NamedRef | None = None
    category: NamedRef | None = None


class LocationTypeRef(IIQModel):
    name: str | None = None


class Location(IIQModel):
    location_id: str
    name: str = ""
    abbreviation: str | None = None
    location_type: LocationTypeRef | None = None


class Room(IIQModel):
    location_room_id: str
    location_id: str | None = None
    name: str = ""


class Activity(IIQModel):
    """One line of an asset's history. The shape varies between sites, so several
    spellings of the same idea are accepted."""

    activity_id: str | None = None
    activity_date: str | None = None
    activity_type: str | None = None
    description: str | None = None
    by: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_variants(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, alternatives in (
            ("ActivityDate", ("CreatedDate", "Date", "ModifiedDate")),
            ("ActivityType", ("ActivityTypeName", "Type", "Action")),
            ("Description", ("Message", "Details", "Text")),
        ):
            if not out.get(key):
                out[key] = next((out[a] for a in alternatives if out.get(a)), None)
        if not out.get("By"):
            creator = out.get("CreatedBy") or out.get("User")
            if isinstance(creator, dict):
                out["By"] = creator.get("Name")
            elif isinstance(creator, str):
                out["By"] = creator
        return out


class LoginInfo(IIQModel):
    site_id: str | None = None
    user_id: str | None = None
    user: Person | None = None


class TicketRef(IIQModel):
    ticket_id: str
    ticket_number: str | None = None


def unbuilt_models() -> list[type[IIQModel]]:
    """The reply models whose validators are not built yet, in the order the kiosk meets
    them: build one with `model.model_rebuild(force=True)` when the window is idle, and the
    first scan does not wait for it."""
    models: list[type[IIQModel]] = [
        LoginInfo,
        StatusType,
        Asset,
        Person,
        Location,
        Room,
        Activity,
        TicketRef,
    ]
    return [m for m in models if not m.__pydantic_complete__]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a paged list reply."""

    items: list[T]
    total_rows: int | None
    page_count: int | None
    page_index: int


@dataclass(frozen=True)
class Filter:
    """A query filter. Record facets (location, status, user, model, role) use `id`;
    text facets (assettag, grade, email) use `value`. Same `group_index` = OR."""

    facet: str
    id: str | None = None
    value: str | None = None
    negative: bool = False
    group_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Facet": self.facet}
        if self.id is not None:
            out["Id"] = self.id
        if self.value is not None:
            out["Value"] = self.value
        if self.negative:
            out["Negative"] = True
        if self.group_index is not None:
            out["GroupIndex"] = self.group_index
        return out


@dataclass(frozen=True)
class TicketRequest:
    """A new ticket (a damage report at check-in). District-specific ids come from config."""

    subject: str
    description: str
    for_user_id: str
    asset_id: str
    issue_id: str | None = None
    issue_category_id: str | None = None
    issue_type_id: str | None = None
    wizard_category_id: str | None = None
    location_id: str | None = None
    product_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Subject": self.subject,
            "IssueDescription": self.description,
            "ForId": self.for_user_id,
            "IsUrgent": False,
            "HasSensitiveInformation": False,
            # Linked through Assets: an `AssetIds` field is silently ignored by the API.
            "Assets": [{"AssetId": self.asset_id}],
        }
        for key, value in (
            ("IssueId", self.issue_id),
            ("IssueCategoryId", self.issue_category_id),
            ("IssueTypeId", self.issue_type_id),
            ("TicketWizardCategoryId", self.wizard_category_id),
            ("LocationId", self.location_id),
            ("ProductId", self.product_id),
        ):
            if value:
                body[key] = value
        body.update(self.extra)
        return body
