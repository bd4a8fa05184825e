"""The assignments report: who holds which devices, the devices nobody holds, and the
people holding more than one, from paged queries (nothing is changed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.core.assets import AssetQuery, Named, query_assets, resolve_names
from kiosk.core.transactions import TransactionService
from kiosk.iiq.models import Filter, Person

#: The role ids every Incident IQ site shares (shared/iiq-api.md).
ROLE_IDS: dict[str, str] = {
    "Student": "6d5fee76-e05e-43c0-b8e9-b8447746e501",
    "Faculty": "6d5fee76-e05e-43c0-b8e9-b8447746e502",
    "Staff": "6d5fee76-e05e-43c0-b8e9-b8447746e503",
    "Agent": "6d5fee76-e05e-43c0-b8e9-b8447746e504",
    "Parent": "6d5fee76-e05e-43c0-b8e9-b8447746e507",
}


@dataclass(frozen=True)
class HeldDevice:
    asset_id: str
    asset_tag: str


@dataclass
class Holder:
    person: Person
    devices: list[HeldDevice] = field(default_factory=list)

    @property
    def school(self) -> str | None:
        return self.person.location_name


@dataclass
class AssignmentReport:
    holders: list[Holder]
    unassigned: list[HeldDevice]
    devices_read: int

    @property
    def more_than_one(self) -> list[Holder]:
        return [h for h in self.holders if len(h.devices) > 1]

    def totals(self) -> dict[str, int]:
        return {
            "Holders": len(self.holders),
            "DevicesAssigned": sum(len(h.devices) for h in self.holders),
            "Unassigned": len(self.unassigned),
            "HoldingMoreThanOne": len(self.more_than_one),
            "DevicesRead": self.devices_read,
        }


def role_ids(names: list[str]) -> list[str]:
    return resolve_names("role", names, [Named(i, n) for n, i in ROLE_IDS.items()])


async def assignments(
    service: TransactionService,
    *,
    location_ids: list[str],
    grades: list[str],
    roles: list[str],
    page_size: int = 500,
    on_page: Callable[[int, int | None], None] | None = None,
) -> AssignmentReport:
    """Every device (at the locations, when given) read page by page and grouped by
    owner; with grades or roles, only holders among those people count (their list read
    from the people query first)."""
    people: dict[str, Person] | None = None
    if grades or roles:
        filters = [Filter("grade", value=g, group_index=0) for g in grades]
        index = 1 if grades else 0
        filters += [Filter("role", id=r, group_index=index) for r in role_ids(roles)]
        people = {}
        async for page in service.client.user_pages(filters, page_size=page_size):
            people.update((p.user_id.casefold(), p) for p in page.items)
    holders: dict[str, Holder] = {}
    unassigned: list[HeldDevice] = []
    read = 0
    query = AssetQuery(location_ids=location_ids)
    async for rows, where in query_assets(service, query, page_size=page_size):
        read = where.rows_read
        if on_page is not None:
            on_page(len(rows), where.total_rows)
        for asset in rows:
            device = HeldDevice(asset.asset_id, asset.asset_tag or asset.asset_id)
            owner_id = asset.current_owner_id
            if owner_id is None:
                unassigned.append(device)
                continue
            key = owner_id.casefold()
            if people is not None and key not in people:
                continue
            holder = holders.get(key)
            if holder is None:
                person = (people or {}).get(key) or asset.owner or Person(user_id=owner_id)
                holder = holders[key] = Holder(person)
            holder.devices.append(device)
    ordered = sorted(
        holders.values(),
        key=lambda h: (h.person.last_name or h.person.display_name, h.person.display_name),
    )
    return AssignmentReport(ordered, unassigned, read)
