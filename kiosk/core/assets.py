"""Asset queries with facet filters, as `iiq-kiosk assets` and the reports run them.

Names are resolved to ids before anything is queried (status types, locations, models);
a name that matches nothing stops the query with the closest names the site has. Each
option is one filter group (its `GroupIndex`): several values of one option are OR-ed,
different options AND-ed, as `shared/iiq-api.md` says. Record facets (status, location,
model, owner) go by `Id`, text facets (asset tag, type) by `Value`. Rows are read one page
at a time, following `Paging`, so a query of 50,000 devices never sits in memory whole.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.transactions import TransactionService
from kiosk.iiq.errors import NotFoundError
from kiosk.iiq.models import Asset, Filter, Location

log = logging.getLogger(__name__)

#: The columns of a device row, in the order of the CSV file and the JSON objects.
ASSET_COLUMNS: tuple[str, ...] = (
    "AssetId",
    "AssetTag",
    "SerialNumber",
    "Model",
    "Status",
    "Location",
    "Room",
    "OwnerId",
    "Owner",
)


class UnknownNameError(Exception):
    """A status, location or model name the site does not have. `closest` are the names
    it has that look most like it (maybe none)."""

    def __init__(self, what: str, name: str, closest: Sequence[str]) -> None:
        self.what, self.name, self.closest = what, name, list(closest)
        message = f"Incident IQ has no {what} called “{name}”."
        if self.closest:
            message += " Closest: " + ", ".join(f"“{c}”" for c in self.closest) + "."
        super().__init__(message)


@dataclass(frozen=True)
class Named:
    """A record a name can be resolved to."""

    id: str
    name: str


def closest_names(name: str, names: Iterable[str], n: int = 5) -> list[str]:
    """The known names most like `name`: close spellings first, then names containing it."""
    by_folded: dict[str, str] = {}
    for known in names:
        by_folded.setdefault(known.casefold(), known)
    wanted = name.casefold()
    close = difflib.get_close_matches(wanted, list(by_folded), n=n, cutoff=0.5)
    containing = [k for k in by_folded if wanted in k or k in wanted]
    ordered = list(dict.fromkeys([*close, *containing]))[:n]
    return [by_folded[k] for k in ordered]


def resolve_names(what: str, wanted: Sequence[str], known: Sequence[Named]) -> list[str]:
    """The ids of the records named `wanted` (exact, any case; a name shared by several
    records gives all of them). Raises UnknownNameError for the first that matches none."""
    ids: list[str] = []
    for name in wanted:
        hits = [k.id for k in known if k.name.casefold() == name.strip().casefold()]
        if not hits:
            raise UnknownNameError(what, name, closest_names(name, (k.name for k in known)))
        ids.extend(h for h in hits if h not in ids)
    return ids


@dataclass
class AssetQuery:
    """What to look for. Each list is one option (OR inside it); options are AND-ed.
    `owner_ids` are UserIds (resolved exactly beforehand, like `checkout --to`)."""

    status_ids: list[str] = field(default_factory=list)
    location_ids: list[str] = field(default_factory=list)
    model_ids: list[str] = field(default_factory=list)
    #: Models by name, when the site has no models list to resolve them with.
    model_names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    owner_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: Only devices with no owner. Incident IQ documents no facet for "no owner", so this
    #: one is applied to each page as it arrives.
    unassigned: bool = False

    def filters(self) -> list[Filter]:
        groups: list[list[Filter]] = [
            [Filter("assetstatus", id=i) for i in self.status_ids],
            [Filter("location", id=i) for i in self.location_ids],
            [Filter("model", id=i) for i in self.model_ids]
            + [Filter("model", value=n) for n in self.model_names],
            [Filter("assettype", value=t) for t in self.types],
            [Filter("user", id=i) for i in self.owner_ids],
            [Filter("assettag", value=t) for t in self.tags],
        ]
        filters: list[Filter] = []
        for group in (g for g in groups if g):
            index = len({f.group_index for f in filters})
            filters += [Filter(f.facet, id=f.id, value=f.value, group_index=index) for f in group]
        return filters

    def keeps(self, asset: Asset) -> bool:
        return not self.unassigned or asset.current_owner_id is None


class FacetResolver:
    """Names to ids through the site's own lists (each read once)."""

    def __init__(self, service: TransactionService) -> None:
        self._service = service

    async def status_ids(self, names: Sequence[str]) -> list[str]:
        if not names:
            return []
        known = [Named(s.asset_status_type_id, s.name) for s in await self._service.status_types()]
        return resolve_names("asset status", names, known)

    async def location_ids(self, names: Sequence[str]) -> list[str]:
        if not names:
            return []
        locations = await self._service.client.locations()
        return resolve_names("location", names, location_names(locations))

    async def model_ids(self, names: Sequence[str]) -> list[str] | None:
        """The models' ids, or None when the site has no models list (then the query
        filters by name, and a name that matches nothing simply finds nothing)."""
        if not names:
            return []
        try:
            models = await self._service.client.asset_models()
        except NotFoundError as exc:
            if not exc.route_missing:
                raise
            log.info("this site has no models list (GET /assets/models): filtering by name")
            return None
        return resolve_names("model", names, [Named(m.model_id, m.name) for m in models])


@dataclass(frozen=True)
class QueryProgress:
    """Where a query stands after a page: rows read so far and, from `Paging`, how many
    there are in all (None when the site does not say)."""

    pages: int
    rows_read: int
    total_rows: int | None
    page_count: int | None


async def query_assets(
    service: TransactionService,
    query: AssetQuery,
    *,
    page_size: int = 100,
    limit: int | None = None,
) -> AsyncIterator[tuple[list[Asset], QueryProgress]]:
    """The devices `query` finds, a page at a time (at most `limit` in all)."""
    kept = 0
    read = 0
    pages = 0
    async for page in service.client.asset_pages(query.filters(), page_size=page_size):
        pages += 1
        read += len(page.items)
        rows = [a for a in page.items if query.keeps(a)]
        if limit is not None:
            rows = rows[: max(0, limit - kept)]
        kept += len(rows)
        yield rows, QueryProgress(pages, read, page.total_rows, page.page_count)
        if limit is not None and kept >= limit:
            return


def location_names(locations: Sequence[Location]) -> list[Named]:
    """What names a location: its name, and its abbreviation ("LHS") as well."""
    known = [Named(loc.location_id, loc.name) for loc in locations]
    known += [Named(loc.location_id, loc.abbreviation) for loc in locations if loc.abbreviation]
    return known


def asset_row(asset: Asset) -> dict[str, Any]:
    """A device as a row of `ASSET_COLUMNS` (names from the nested records)."""
    return {
        "AssetId": asset.asset_id,
        "AssetTag": asset.asset_tag,
        "SerialNumber": asset.serial_number,
        "Model": asset.model_name,
        "Status": asset.status_name,
        "Location": asset.location_name,
        "Room": asset.room_name,
        "OwnerId": asset.current_owner_id,
        "Owner": asset.owner_name,
    }
