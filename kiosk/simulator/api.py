"""The Incident IQ API surface (`/api/v1.0/...`) as a raw ASGI app.

Routing works on the raw, still percent-encoded path split into segments, so an encoded
`/` inside a tag stays inside its segment, as on the real service. Literal segments match
case-insensitively (the real service runs on IIS). Unknown routes under the API base (and
the checkout routes while they are switched off) answer 404 the way ASP.NET Web API does:
JSON with `Message` "No HTTP resource was found that matches the request URI '...'" and a
`MessageDetail`, but no `ErrorKey`. Application-level "not found" answers carry an
`ErrorKey`. Paths outside the API base answer 404 with an empty body, as a web server or
proxy in front would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, unquote

from starlette.types import Receive, Scope, Send

from kiosk.simulator.dataset import Record, format_date
from kiosk.simulator.demo import DEMO
from kiosk.simulator.faults import AFTER_KINDS, FaultInjector
from kiosk.simulator.state import SimState, _model_ref, _norm_id

API_PREFIX = "/api/v1.0"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
JSON_TYPE = "application/json; charset=utf-8"


class SimulatedDrop(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised after a partial reply so the server closes the connection."""


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        error_key: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"StatusCode": status, "Message": message}
        if error_key:
            self.body["ErrorKey"] = error_key
        if errors:
            self.body["Errors"] = errors


def not_found(message: str, error_key: str) -> ApiError:
    return ApiError(404, message, error_key)


def route_not_found(request_uri: str) -> Reply:
    """ASP.NET Web API's answer when no route matches the request URI."""
    return Reply(
        404,
        {
            "Message": f"No HTTP resource was found that matches the request URI '{request_uri}'.",
            "MessageDetail": (
                f"No route providing a controller name was found to match request URI "
                f"'{request_uri}'"
            ),
        },
    )


def request_uri(scope: Scope, raw_path: str, headers: dict[str, str]) -> str:
    """The absolute request URI as the server saw it (scheme, Host, raw path, query)."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{raw_path}" + (f"?{query}" if query else "")


def invalid(field_name: str, message: str) -> ApiError:
    return ApiError(
        400, "The request is invalid.", errors=[{"Field": field_name, "Message": message}]
    )


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None  # None: empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


# --------------------------------------------------------------------------- recording


@dataclass
class RecordedRequest:
    """One request as the simulator saw it. The token never appears here."""

    method: str
    path: str  # relative to /api/v1.0 when under it; raw, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; authorization shown as "Bearer ***"
    authorized: bool = False
    json: Any = None
    status: int | None = None  # None: dropped (or still running)
    fault: str | None = None
    time: float = 0.0  # time.time() when it arrived

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def applied(self) -> bool:
        """Whether the simulator carried the request out, whatever the client got back
        (an "apply, then fail" fault applies it; a plain error or drop does not)."""
        if self.fault in ("apply_then_status", "apply_then_drop"):
            return True
        if self.fault in ("status", "drop", "rate_limit"):
            return False
        return self.status is not None and 200 <= self.status < 300

    @property
    def owner_change_of(self) -> str | None:
        """The AssetId whose owner this request asks to change (check-out, transfer,
        check-in, owner, remove-owner), or None for any other request."""
        if self.method.upper() != "POST":
            return None
        path = self.path.lower()
        if path in ("/assets/checkouts/checkout-or-transfer", "/assets/checkouts/checkin"):
            body = self.json if isinstance(self.json, dict) else {}
            asset_id = body.get("AssetId")
            return asset_id if isinstance(asset_id, str) else None
        parts = self.path.split("/")
        if (
            len(parts) == 4
            and parts[1].lower() == "assets"
            and path.endswith(("/owner", "/remove-owner"))
        ):
            return parts[2]
        return None


def owner_changes(requests: list[RecordedRequest]) -> dict[str, list[RecordedRequest]]:
    """The requests that asked to change an owner, by AssetId (tests and benchmarks count
    with `.applied` how often each change really happened)."""
    found: dict[str, list[RecordedRequest]] = {}
    for request in requests:
        asset_id = request.owner_change_of
        if asset_id:
            found.setdefault(asset_id, []).append(request)
    return found


class RequestRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def add(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def update(self, item: RecordedRequest, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(item, key, value)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return [dataclasses.replace(item) for item in self._items]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# --------------------------------------------------------------------------- context


@dataclass
class SimContext:
    """Everything a request needs; the Simulator exposes and changes it at runtime."""

    state: SimState
    faults: FaultInjector
    recorder: RequestRecorder
    token: str
    readonly_token: str
    site_id: str
    checkout_routes_enabled: bool = True
    latency_ms: int = 0
    #: How the tag route answers a tag no device has: 200 with empty Items (what the docs
    #: say) or 404 with an application JSON body (ErrorKey); the real one is unconfirmed.
    tag_not_found_status: int = 200
    #: The largest `$s` the asset query (`POST /assets`) honours (None: MAX_PAGE_SIZE), as
    #: a real site may cap it: a client must follow `Paging`, not the page length.
    asset_query_page_cap: int | None = None


@dataclass
class Call:
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    user_id: str
    started: float
    uri: str = ""  # the absolute request URI, for ASP.NET-style route errors


Handler = Callable[["IncidentIQApi", Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    mutating: bool = False
    checkout: bool = False
    needs_body: bool = False

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.pattern, segments, strict=True):
            if want.startswith("{"):
                if not got:
                    return None
                params[want[1:-1]] = unquote(got)
            elif want.casefold() != unquote(got).casefold():
                return None
        return params


# --------------------------------------------------------------------------- helpers


def _ci(body: Any) -> dict[str, Any]:
    """JSON bodies bind case-insensitively on the real service."""
    if not isinstance(body, dict):
        return {}
    return {str(k).casefold(): v for k, v in body.items()}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _page_args(query: dict[str, str]) -> tuple[int, int]:
    try:
        size = int(query.get("$s", DEFAULT_PAGE_SIZE))
        index = int(query.get("$p", 0))
    except ValueError:
        raise ApiError(400, "Paging values $s and $p must be whole numbers.") from None
    if size < 1 or index < 0:
        raise ApiError(400, "Paging values are out of range: $s >= 1, $p >= 0.")
    return min(size, MAX_PAGE_SIZE), index


def paged(items: list[Any], query: dict[str, str], shape: Callable[[Any], Record]) -> Reply:
    size, index = _page_args(query)
    total = len(items)
    page = [shape(item) for item in items[index * size : (index + 1) * size]]
    return Reply(
        200,
        {
            "Items": page,
            "ItemCount": len(page),
            "Paging": {
                "TotalRows": total,
                "PageCount": math.ceil(total / size),
                "PageSize": size,
                "PageIndex": index,
            },
        },
    )


def lookup(items: Iterable[Record]) -> Reply:
    listed = list(items)
    return Reply(200, {"Items": listed, "ItemCount": len(listed)})


def _filters(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """(filters with case-folded keys, OnlyShowDeleted) from a query body."""
    if body is None:
        return [], False
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    fields_ = _ci(body)
    raw = fields_.get("filters") or []
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        raise invalid("Filters", "Filters must be a list of objects.")
    filters = [_ci(f) for f in raw]
    for f in filters:
        if not isinstance(f.get("facet"), str) or not f["facet"]:
            raise invalid("Filters", "Each filter needs a Facet.")
    return filters, bool(fields_.get("onlyshowdeleted"))


def _evaluate(
    filters: list[dict[str, Any]],
    record: Record,
    match: Callable[[str, dict[str, Any], Record], bool],
) -> bool:
    """Same GroupIndex = OR, different = AND; without GroupIndex, same facet = OR."""
    groups: dict[str, bool] = {}
    for f in filters:
        facet = f["facet"].casefold()
        group = f.get("groupindex")
        key = f"g:{group}" if group is not None else f"f:{facet}"
        hit = match(facet, f, record) != bool(f.get("negative"))
        groups[key] = groups.get(key, False) or hit
    return all(groups.values())


#: Asset facets a whole filter group of can be answered by one set lookup (an event's
#: hundreds of owners or tags in one query), with the same result as `_evaluate`.
_SET_FACETS = {
    "user": ("OwnerId", "id"),
    "owner": ("OwnerId", "id"),
    "assettag": ("AssetTag", "value"),
}


def _fold(value: Any) -> str:
    return str(value).strip().casefold() if value is not None else ""


def _set_groups(
    filters: list[dict[str, Any]],
) -> tuple[list[tuple[str, set[str]]], list[dict[str, Any]]]:
    """Split off the groups (same GroupIndex) made only of plain `user`/`owner` (by Id) or
    `assettag` (by Value) filters of one facet: (field, wanted values) each, and the rest."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for f in filters:
        if f.get("groupindex") is not None:
            groups.setdefault(f["groupindex"], []).append(f)
    sets: list[tuple[str, set[str]]] = []
    taken: set[int] = set()
    for members in groups.values():
        facets = {f["facet"].casefold() for f in members}
        if len(facets) != 1 or (facet := facets.pop()) not in _SET_FACETS:
            continue
        field_name, key = _SET_FACETS[facet]
        values = [f.get(key) for f in members]
        if any(f.get("negative") for f in members) or not all(
            isinstance(v, str) and v for v in values
        ):
            continue
        sets.append((field_name, {_fold(v) for v in values}))
        taken.update(id(f) for f in members)
    return sets, [f for f in filters if id(f) not in taken]


def _filter_value(f: dict[str, Any]) -> str | None:
    for key in ("value", "name"):
        value = f.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


# --------------------------------------------------------------------------- the API


class IncidentIQApi:
    """Route handlers. Each runs under the state lock and returns a Reply."""

    ASSET_FACETS = frozenset(
        {
            "assettag",
            "assetserialnumber",
            "serialnumber",
            "assettype",
            "assetstatus",
            "status",
            "model",
            "user",
            "owner",
            "location",
        }
    )
    USER_FACETS = frozenset({"role", "location", "grade", "schoolidnumber", "email", "username"})
    UPDATABLE: ClassVar[dict[str, str]] = {
        name.casefold(): name
        for name in (
            "AssetTag",
            "SerialNumber",
            "Name",
            "Notes",
            "LocationId",
            "LocationRoomId",
            "StorageLocationId",
            "StorageUnitNumber",
            "StorageSlotNumber",
            "StatusTypeId",
            "ModelId",
            "PurchasedDate",
        )
    }
    # Without `ApiFlags: OnlySetMappedProperties` an update replaces the whole record:
    # these fields are cleared when the body does not carry them.
    CLEARED_WHEN_UNMAPPED = (
        "SerialNumber",
        "Name",
        "Notes",
        "LocationId",
        "LocationRoomId",
        "StorageLocationId",
        "StorageUnitNumber",
        "StorageSlotNumber",
        "PurchasedDate",
    )

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    @property
    def state(self) -> SimState:
        return self.ctx.state

    # ---- small helpers
    def _asset_or_404(self, asset_id: str) -> Record:
        asset = self.state.asset(asset_id)
        if asset is None:
            raise not_found("Asset not found", "AssetNotFound")
        return asset

    def _user_or_404(self, user_id: Any) -> Record:
        user = self.state.user(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise not_found("User not found", "UserNotFound")
        return user

    @staticmethod
    def _object_body(call: Call) -> dict[str, Any]:
        if not isinstance(call.body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return _ci(call.body)

    def _item(self, asset: Record) -> Reply:
        return Reply(200, {"Item": self.state.api_asset(asset), "Uid": asset["AssetId"]})

    # ---- session
    def login(self, call: Call) -> Reply:
        user = self.state.user(call.user_id)
        item: Record = {"SiteId": self.ctx.site_id, "UserId": call.user_id}
        if user is not None:
            item["User"] = self.state.api_user(user)
        return Reply(200, {"Item": item})

    # ---- assets: reads
    def status_types(self, call: Call) -> Reply:
        return lookup(dict(s) for s in self.state.status_types.values())

    def asset_by_tag(self, call: Call) -> Reply:
        found = self.state.asset_by_tag(call.params["tag"])
        if not found and self.ctx.tag_not_found_status == 404:
            raise not_found("Asset not found", "AssetNotFound")
        return lookup(self.state.api_asset(a) for a in _sorted_assets(found))

    def asset_by_serial(self, call: Call) -> Reply:
        found = self.state.asset_by_serial(call.params["serial"])
        return lookup(self.state.api_asset(a) for a in _sorted_assets(found))

    def assets_for(self, call: Call) -> Reply:
        found = self.state.assets_for(call.params["user_id"])
        return lookup(self.state.api_asset(a) for a in _sorted_assets(found))

    def asset_get(self, call: Call) -> Reply:
        return Reply(
            200, {"Item": self.state.api_asset(self._asset_or_404(call.params["asset_id"]))}
        )

    def asset_activities(self, call: Call) -> Reply:
        asset = self._asset_or_404(call.params["asset_id"])
        return paged(self.state.activities(asset["AssetId"]), call.query, self.state.api_activity)

    def asset_models(self, call: Call) -> Reply:
        # Not in the official controllers; see IIQClient.asset_models.
        models = sorted(self.state.models.values(), key=lambda m: (m["Name"], m["ModelId"]))
        return lookup(_model_ref(m) for m in models)

    def assets_query(self, call: Call) -> Reply:
        filters, deleted = _filters(call.body)
        for f in filters:
            if f["facet"].casefold() not in self.ASSET_FACETS:
                raise invalid("Filters", f"Unknown asset facet '{f['facet']}'.")
        sets, rest = _set_groups(filters)
        found = [
            a
            for a in self.state.assets.values()
            if bool(a["IsDeleted"]) == deleted
            and all(_fold(a[name]) in wanted for name, wanted in sets)
            and _evaluate(rest, a, self._asset_facet)
        ]
        query = call.query
        cap = self.ctx.asset_query_page_cap
        if cap is not None:
            size, _ = _page_args(query)
            query = {**query, "$s": str(min(size, cap))}
        return paged(_sorted_assets(found), query, self.state.api_asset)

    def _asset_facet(self, facet: str, f: dict[str, Any], asset: Record) -> bool:
        value = _filter_value(f)
        ident = _text(f.get("id"))
        if facet in ("assettag", "assetserialnumber", "serialnumber"):
            text = value or ident
            if text is None:
                raise invalid("Filters", f"The {facet} filter needs a Value.")
            return _same(asset["AssetTag" if facet == "assettag" else "SerialNumber"], text)
        if ident is None and value is None:
            raise invalid("Filters", f"The {facet} filter needs an Id.")
        state = self.state
        model = state.models.get(asset["ModelId"] or "")
        if facet == "assettype":
            if ident is not None:
                return model is not None and _norm_id(ident) == model["CategoryId"]
            return model is not None and _same(model["CategoryName"], value)
        if facet in ("assetstatus", "status"):
            if ident is not None:
                return bool(_norm_id(ident) == asset["StatusTypeId"])
            status = state.status_types.get(asset["StatusTypeId"] or "")
            return status is not None and _same(status["Name"], value)
        if facet == "model":
            if ident is not None:
                return bool(_norm_id(ident) == asset["ModelId"])
            return model is not None and _same(model["Name"], value)
        if facet in ("user", "owner"):
            if ident is not None:
                return bool(_norm_id(ident) == asset["OwnerId"])
            owner = state.users.get(asset["OwnerId"] or "")
            return owner is not None and any(
                _same(owner[k], value) for k in ("Name", "Username", "SchoolIdNumber", "Email")
            )
        # location
        if ident is not None:
            return bool(_norm_id(ident) == asset["LocationId"])
        loc = state.locations.get(asset["LocationId"] or "")
        return loc is not None and _same(loc["Name"], value)

    # ---- assets: changes
    def asset_update(self, call: Call) -> Reply:
        asset = self._asset_or_404(call.params["asset_id"])
        if not isinstance(call.body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        flags = call.headers.get("apiflags", "").replace(";", ",").split(",")
        only_mapped = any(f.strip().casefold() == "onlysetmappedproperties" for f in flags)
        changes: dict[str, Any] = {}
        for key, value in call.body.items():
            name = self.UPDATABLE.get(str(key).casefold())
            if name is not None:
                changes[name] = value
        if not only_mapped:
            for name in self.CLEARED_WHEN_UNMAPPED:
                changes.setdefault(name, None)
        elif "SerialNumber" not in changes:
            # Known Incident IQ bug: a partial update without SerialNumber clears it.
            changes["SerialNumber"] = None
        clean = {name: self._checked(name, value) for name, value in changes.items()}
        changed = sorted(name for name, value in clean.items() if asset[name] != value)
        asset.update(clean)
        self.state.touch(asset)
        if changed:
            self.state.add_activity(asset["AssetId"], "Updated", "Updated: " + ", ".join(changed))
        return self._item(asset)

    def _checked(self, name: str, value: Any) -> Any:
        state = self.state
        if name == "AssetTag":
            if not isinstance(value, str) or not value.strip():
                raise invalid(name, "AssetTag is required.")
            return value.strip()
        if name in ("SerialNumber", "Name", "Notes", "PurchasedDate"):
            if value is not None and not isinstance(value, str):
                raise invalid(name, f"{name} must be text.")
            return value or None
        if name in ("StorageUnitNumber", "StorageSlotNumber"):
            if value is None or value == "":
                return None
            if isinstance(value, bool) or not str(value).strip().isdigit():
                raise invalid(name, f"{name} must be a whole number.")
            return int(value)
        # id fields
        if value is None or value == "":
            if name in ("StatusTypeId", "ModelId"):
                raise invalid(name, f"{name} is required.")
            return None
        if not isinstance(value, str):
            raise invalid(name, f"{name} must be a GUID string.")
        ident = _norm_id(value)
        table = {
            "LocationId": state.locations,
            "LocationRoomId": state.rooms,
            "StatusTypeId": state.status_types,
            "ModelId": state.models,
        }.get(name)
        if table is not None and ident not in table:
            raise invalid(name, f"No record matches {name} '{value}'.")
        return ident

    def asset_status(self, call: Call) -> Reply:
        asset = self._asset_or_404(call.params["asset_id"])
        status_id = _norm_id(call.params["status_id"])
        if status_id not in self.state.status_types:
            raise not_found("Asset status type not found", "StatusTypeNotFound")
        self.state.set_status(asset["AssetId"], status_id)
        return self._item(asset)

    def asset_owner(self, call: Call) -> Reply:
        asset = self._asset_or_404(call.params["asset_id"])
        body = self._object_body(call)
        if not body.get("ownerid"):
            raise invalid("OwnerId", "OwnerId is required.")
        user = self._user_or_404(body["ownerid"])
        self.state.set_owner(asset["AssetId"], user["UserId"])
        moves = body.get("updateassetwithuserlocation") and user["LocationId"]
        if moves and asset["LocationId"] != user["LocationId"]:
            asset.update(
                LocationId=user["LocationId"],
                LocationRoomId=None,
                StorageLocationId=None,
                StorageUnitNumber=None,
                StorageSlotNumber=None,
            )
            self.state.touch(asset)
            loc = self.state.locations[user["LocationId"]]["Name"]
            self.state.add_activity(asset["AssetId"], "LocationChanged", f"Location set to {loc}")
        return self._item(asset)

    def asset_remove_owner(self, call: Call) -> Reply:
        asset = self._asset_or_404(call.params["asset_id"])
        self.state.set_owner(asset["AssetId"], None)
        return self._item(asset)

    def checkout_or_transfer(self, call: Call) -> Reply:
        body = self._object_body(call)
        asset_id = body.get("assetid")
        if not isinstance(asset_id, str) or not asset_id:
            raise invalid("AssetId", "AssetId is required.")
        owner_id, to_owner_id = body.get("ownerid"), body.get("toownerid")
        if owner_id and to_owner_id and _norm_id(str(owner_id)) != _norm_id(str(to_owner_id)):
            raise invalid("ToOwnerId", "OwnerId and ToOwnerId name different people.")
        target = to_owner_id or owner_id
        if not target:
            raise invalid("ToOwnerId", "ToOwnerId (or OwnerId) is required.")
        asset = self._asset_or_404(asset_id)
        user = self._user_or_404(target)
        state = self.state
        previous = asset["OwnerId"]
        current = state.open_checkout(asset["AssetId"])
        if previous == user["UserId"] and current is not None:
            checkout = current  # already done: answer as if it just happened
        else:
            if previous != user["UserId"]:
                state.close_checkout(asset["AssetId"])
                if previous is not None:
                    asset["PreviousOwnerId"] = previous
                asset["OwnerId"] = user["UserId"]
            state.touch(asset)
            checkout = state.start_checkout(
                asset,
                user["UserId"],
                due_date=_text(body.get("duedate")),
                ticket_id=_text(body.get("ticketid")),
                source=_text(body.get("source")),
                previous_owner_id=previous if previous != user["UserId"] else None,
            )
        item = {
            "TransactionDate": checkout["CheckoutDate"],
            "IsCheckOut": True,
            "IsCheckIn": False,
            "AssetId": asset["AssetId"],
            "OwnerId": user["UserId"],
            "CheckoutId": checkout["CheckoutId"],
        }
        if previous and previous != user["UserId"]:
            item["PreviousOwnerId"] = previous
        if checkout["DueDate"]:
            item["DueDate"] = checkout["DueDate"]
        return Reply(200, {"Items": [item], "ItemCount": 1})

    def checkin(self, call: Call) -> Reply:
        body = self._object_body(call)
        asset_id = body.get("assetid")
        if not isinstance(asset_id, str) or not asset_id:
            raise invalid("AssetId", "AssetId is required.")
        asset = self._asset_or_404(asset_id)
        state = self.state
        checkout = state.open_checkout(asset["AssetId"])
        if checkout is None:
            raise not_found("Asset has no open checkout", "NoOpenCheckout")
        owner = checkout["OwnerId"]
        state.close_checkout(asset["AssetId"])
        if asset["OwnerId"] is not None:
            asset["PreviousOwnerId"] = asset["OwnerId"]
            asset["OwnerId"] = None
        state.touch(asset)
        name = state.users.get(owner, {}).get("Name", "unknown")
        state.add_activity(
            asset["AssetId"], "CheckIn", f"Checked in from {name}", PreviousOwnerId=owner
        )
        item = {
            "TransactionDate": checkout["CheckinDate"],
            "IsCheckOut": False,
            "IsCheckIn": True,
            "AssetId": asset["AssetId"],
            "OwnerId": owner,
            "CheckoutId": checkout["CheckoutId"],
        }
        return Reply(200, {"Items": [item], "ItemCount": 1})

    # ---- people
    def users_search(self, call: Call) -> Reply:
        query = call.params["query"].strip()
        words = [w.casefold() for w in query.split()]
        keys = ("Name", "FirstName", "LastName", "Email", "Username", "SchoolIdNumber")
        found: list[tuple[int, str, str, str, Record]] = []
        for user in self.state.users.values():
            if user["IsDeleted"]:
                continue
            values = [(user[k] or "").casefold() for k in keys]
            if words and all(any(w in v for v in values) for w in words):
                exact = 0 if query.casefold() in values else 1
                found.append((exact, user["LastName"], user["FirstName"], user["UserId"], user))
        found.sort(key=lambda row: row[:4])
        return paged([row[4] for row in found], call.query, self.state.api_user)

    def users_query(self, call: Call) -> Reply:
        filters, deleted = _filters(call.body)
        for f in filters:
            if f["facet"].casefold() not in self.USER_FACETS:
                raise invalid("Filters", f"Unknown user facet '{f['facet']}'.")
        found = [
            u
            for u in self.state.users.values()
            if bool(u["IsDeleted"]) == deleted and _evaluate(filters, u, self._user_facet)
        ]
        found.sort(key=lambda u: (u["LastName"], u["FirstName"], u["UserId"]))
        return paged(found, call.query, self.state.api_user)

    def _user_facet(self, facet: str, f: dict[str, Any], user: Record) -> bool:
        value = _filter_value(f)
        ident = _text(f.get("id"))
        if facet in ("role", "location"):
            field_name = "RoleId" if facet == "role" else "LocationId"
            if ident is not None:
                return bool(_norm_id(ident) == user[field_name])
            if value is None:
                raise invalid("Filters", f"The {facet} filter needs an Id.")
            if facet == "role":
                return _same(self.state.roles.get(user["RoleId"]), value)
            loc = self.state.locations.get(user["LocationId"] or "")
            return loc is not None and _same(loc["Name"], value)
        text = value or ident
        if text is None:
            raise invalid("Filters", f"The {facet} filter needs a Value.")
        key = {
            "grade": "Grade",
            "schoolidnumber": "SchoolIdNumber",
            "email": "Email",
            "username": "Username",
        }[facet]
        return _same(user[key], text.strip())

    def user_get(self, call: Call) -> Reply:
        return Reply(200, {"Item": self.state.api_user(self._user_or_404(call.params["user_id"]))})

    # ---- locations
    def locations_all(self, call: Call) -> Reply:
        locs = sorted(self.state.locations.values(), key=lambda loc: loc["Name"])
        return lookup(self.state.api_location(loc) for loc in locs)

    def location_rooms(self, call: Call) -> Reply:
        wanted = _norm_id(call.params["location_id"])
        rooms = [r for r in self.state.rooms.values() if r["LocationId"] == wanted]
        rooms.sort(key=lambda r: r["Name"])
        return lookup(self.state.api_room(r) for r in rooms)

    # ---- tickets
    def ticket_new(self, call: Call) -> Reply:
        body = self._object_body(call)
        errors: list[dict[str, str]] = []
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            errors.append({"Field": "Subject", "Message": "Subject is required."})
        for_id = body.get("forid")
        if not for_id:
            errors.append({"Field": "ForId", "Message": "ForId is required."})
        elif not isinstance(for_id, str) or self.state.user(for_id) is None:
            errors.append({"Field": "ForId", "Message": "ForId does not match a person."})
        links = body.get("assets") or []
        asset_ids: list[str] = []
        if not isinstance(links, list):
            errors.append({"Field": "Assets", "Message": "Assets must be a list of {AssetId}."})
            links = []
        for link in links:
            asset_id = _ci(link).get("assetid")
            asset = self.state.asset(asset_id) if isinstance(asset_id, str) else None
            if asset is None:
                errors.append({"Field": "Assets", "Message": f"Unknown asset {asset_id!r}."})
            else:
                asset_ids.append(asset["AssetId"])
        # `AssetIds` is accepted and ignored, as on the real service.
        if errors:
            raise ApiError(400, "The request is invalid.", errors=errors)
        kept = {}
        for name in (
            "Subject",
            "IssueDescription",
            "ForId",
            "LocationId",
            "IssueId",
            "IssueCategoryId",
            "IssueTypeId",
            "TicketWizardCategoryId",
            "ProductId",
            "IsUrgent",
            "HasSensitiveInformation",
        ):
            if name.casefold() in body:
                kept[name] = body[name.casefold()]
        kept["ForId"] = _norm_id(str(for_id))
        ticket = self.state.add_ticket(kept, asset_ids)
        item = {
            "TicketId": ticket["TicketId"],
            "TicketNumber": ticket["TicketNumber"],
            "Subject": ticket["Subject"],
            "ForId": ticket["ForId"],
            "Assets": [dict(a) for a in ticket["Assets"]],
            "CreatedDate": ticket["CreatedDate"],
        }
        return Reply(201, {"Item": item, "Uid": ticket["TicketId"], "Id": ticket["TicketNumber"]})


def _sorted_assets(assets: Iterable[Record]) -> list[Record]:
    return sorted(assets, key=lambda a: ((a["AssetTag"] or "").casefold(), a["AssetId"]))


def _route(method: str, path: str, handler: Handler, **kw: bool) -> Route:
    return Route(method, tuple(path.split("/")), handler, **kw)


A = IncidentIQApi
# Literal routes come before parameterised ones with the same shape.
ROUTES: tuple[Route, ...] = (
    _route("GET", "login", A.login),
    _route("GET", "assets/status/types", A.status_types),
    _route("GET", "assets/assettag/{tag}", A.asset_by_tag),
    _route("GET", "assets/serial/{serial}", A.asset_by_serial),
    _route("GET", "assets/for/{user_id}", A.assets_for),
    _route(
        "POST",
        "assets/checkouts/checkout-or-transfer",
        A.checkout_or_transfer,
        mutating=True,
        checkout=True,
        needs_body=True,
    ),
    _route(
        "POST", "assets/checkouts/checkin", A.checkin, mutating=True, checkout=True, needs_body=True
    ),
    _route("GET", "assets/models", A.asset_models),
    _route("GET", "assets/{asset_id}/activities", A.asset_activities),
    _route("POST", "assets/{asset_id}/status/{status_id}", A.asset_status, mutating=True),
    _route("POST", "assets/{asset_id}/owner", A.asset_owner, mutating=True, needs_body=True),
    _route("POST", "assets/{asset_id}/remove-owner", A.asset_remove_owner, mutating=True),
    _route("GET", "assets/{asset_id}", A.asset_get),
    _route("POST", "assets/{asset_id}", A.asset_update, mutating=True, needs_body=True),
    _route("POST", "assets", A.assets_query),
    _route("GET", "users/search/{query}", A.users_search),
    _route("POST", "users", A.users_query),
    _route("GET", "users/{user_id}", A.user_get),
    _route("GET", "locations/all", A.locations_all),
    _route("GET", "locations/{location_id}/rooms", A.location_rooms),
    _route("POST", "tickets/new", A.ticket_new, mutating=True, needs_body=True),
)


# --------------------------------------------------------------------------- ASGI


def _split_path(raw_path: str) -> tuple[str | None, list[str]]:
    """(path relative to the API base or None, its segments)."""
    if raw_path.casefold().startswith(API_PREFIX.casefold()):
        rest = raw_path[len(API_PREFIX) :]
        if rest == "" or rest.startswith("/"):
            relative = rest or "/"
            trimmed = relative.strip("/")
            return relative, trimmed.split("/") if trimmed else []
    return None, []


class ApiApp:
    """ASGI app answering everything that is not an admin route."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.api = IncidentIQApi(ctx)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        ctx = self.ctx
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(scope["path"])
        raw_path = raw_path.split("?", 1)[0]
        relative, segments = _split_path(raw_path)
        method = scope["method"].upper()
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        query = dict(
            parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        )
        body = await _read_body(receive)
        parsed: Any = None
        body_ok = True
        if body.strip():
            try:
                parsed = json.loads(body.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError):
                body_ok = False
        user_id, token_kind = self._authenticate(headers)
        shown = dict(headers)
        if "authorization" in shown:
            shown["authorization"] = "Bearer ***"
        record = RecordedRequest(
            method=method,
            path=relative if relative is not None else raw_path,
            query=query,
            headers=shown,
            authorized=token_kind is not None,
            json=parsed,
            time=time.time(),
        )
        ctx.recorder.add(record)

        decision = ctx.faults.decide(method, record.path)
        delay = ctx.latency_ms + decision.latency_ms
        if decision.label:
            ctx.recorder.update(record, fault=decision.label)
        if delay > 0:
            await asyncio.sleep(delay / 1000)

        if decision.kind == "drop":
            await _drop(send)
        if decision.kind in ("status", "rate_limit"):
            reply = _fault_reply(
                decision.status if decision.kind == "status" else 429, decision.retry_after
            )
        else:
            uri = request_uri(scope, raw_path, headers)
            call = Call({}, query, headers, parsed, user_id or "", started, uri)
            reply = self._dispatch(method, relative, segments, call, token_kind, body_ok)
            if decision.kind in AFTER_KINDS:
                if decision.kind == "apply_then_drop":
                    await _drop(send)
                reply = _fault_reply(decision.status, decision.retry_after)
        if reply.body is not None and reply.status < 400:
            reply.body.update(
                StatusCode=reply.status,
                ExecutionTime=round((time.perf_counter() - started) * 1000, 3),
                RequestDate=format_date(datetime.now()),
            )
        ctx.recorder.update(record, status=reply.status)
        await _send_reply(send, reply)

    def _authenticate(self, headers: dict[str, str]) -> tuple[str | None, str | None]:
        """(user id, "full" | "readonly") or (None, None) when not authorised."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.casefold() != "bearer" or not token:
            return None, None
        site = headers.get("siteid", "").strip().casefold()
        if site != self.ctx.site_id.casefold():
            return None, None
        if token == self.ctx.token:
            return DEMO.api_user_id, "full"
        if token == self.ctx.readonly_token:
            return DEMO.readonly_user_id, "readonly"
        return None, None

    def _dispatch(
        self,
        method: str,
        relative: str | None,
        segments: list[str],
        call: Call,
        token_kind: str | None,
        body_ok: bool,
    ) -> Reply:
        if relative is None:
            return Reply(404, None)
        route: Route | None = None
        wrong_method = False
        for candidate in ROUTES:
            if candidate.checkout and not self.ctx.checkout_routes_enabled:
                continue
            params = candidate.match(segments)
            if params is None:
                continue
            if candidate.method != method:
                wrong_method = True
                continue
            route, call.params = candidate, params
            break
        if route is None:
            if wrong_method:
                message = f"The requested resource does not support http method '{method}'."
                return Reply(405, {"Message": message}, {"Allow": "GET, POST"})
            return route_not_found(call.uri)
        try:
            self._check_access(call.headers, token_kind, route)
            if not body_ok and route.method == "POST":
                raise ApiError(400, "The request body is not valid JSON.", "InvalidJson")
            if route.needs_body and call.body is None:
                raise ApiError(400, "The request body is required.", "BodyRequired")
            with self.ctx.state.lock:
                return route.handler(self.api, call)
        except ApiError as error:
            return Reply(error.status, error.body)

    def _check_access(self, headers: dict[str, str], token_kind: str | None, route: Route) -> None:
        if token_kind is not None:
            if route.mutating and token_kind == "readonly":
                raise ApiError(
                    403, "You do not have permission to perform this action.", "Forbidden"
                )
            return
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.casefold() != "bearer" or not token:
            raise ApiError(401, "Authorization has been denied for this request.", "Unauthorized")
        if token not in (self.ctx.token, self.ctx.readonly_token):
            raise ApiError(401, "Authorization has been denied for this request.", "Unauthorized")
        raise ApiError(
            401, "The SiteId header is missing or does not match this site.", "InvalidSiteId"
        )


def _fault_reply(status: int, retry_after: float | None) -> Reply:
    messages = {429: "Too many requests.", 503: "Service unavailable."}
    body = {"StatusCode": status, "Message": messages.get(status, "Simulated failure.")}
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = _format_retry_after(retry_after)
    return Reply(status, body, headers)


def _format_retry_after(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_reply(send: Send, reply: Reply) -> None:
    payload = reply.encode()
    headers = [(b"content-length", str(len(payload)).encode())]
    if reply.body is not None:
        headers.append((b"content-type", JSON_TYPE.encode()))
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Send) -> None:
    """Start a reply that promises more than it sends, then give up: the server closes the
    connection and the client sees a broken response (a transport error)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", JSON_TYPE.encode()), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"Items":[', "more_body": True})
    raise SimulatedDrop
