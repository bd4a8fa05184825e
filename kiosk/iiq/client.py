"""The async Incident IQ client: one `httpx.AsyncClient`, the API's headers and paging,
typed replies, safe retries for reads, and never a blind repeat of a change.

See `shared/iiq-api.md` for the contract this follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import ipaddress
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from kiosk import __version__
from kiosk.iiq.errors import (
    BODY_LOG_LIMIT,
    AuthError,
    ForbiddenError,
    IIQError,
    InvalidInputError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ResponseError,
    ServerError,
)
from kiosk.iiq.models import (
    Activity,
    Asset,
    AssetModelInfo,
    Filter,
    Location,
    LoginInfo,
    Page,
    Person,
    Room,
    StatusType,
    TicketRef,
    TicketRequest,
    unbuilt_models,
)

log = logging.getLogger("kiosk.iiq")
# httpx logs every request URL at INFO; person searches carry names in the URL.
logging.getLogger("httpx").setLevel(logging.WARNING)

M = TypeVar("M", bound=BaseModel)
TransferApi = Literal["checkout", "owner"]
#: Told `False` when the client goes offline, `True` when Incident IQ answers again.
ConnectivityListener = Callable[[bool], None]

API_SUFFIX = "/api/v1.0"
ASSETS_PRODUCT_ID = "88df910c-91aa-e711-80c2-0004ffa00050"
TICKETING_PRODUCT_ID = "88df910c-91aa-e711-80c2-0004ffa00010"


# --- URLs ------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain_transport(base_url: str) -> httpx.AsyncBaseTransport | None:
    """For a plain-http base (`api_base` allows it only on loopback: the simulator) a
    transport without a certificate store: no request can ever use TLS (redirects are not
    followed), and loading the store is about 30 ms of start-up. None (httpx's default,
    verifying certificates) for https."""
    if base_url.startswith("http://"):
        return httpx.AsyncHTTPTransport(verify=False)
    return None


def api_base(site_url: str) -> str:
    """The API base (`https://district.incidentiq.com/api/v1.0`) for a site URL.

    Accepts the site root with or without `/api/v1.0` (any case, trailing slashes) and a
    bare host name; any other path is refused, naming the address expected. Plain http is
    allowed only for loopback hosts (the simulator); everything else must be https.
    """
    text = site_url.strip()
    if not text:
        raise InvalidInputError(
            "The Incident IQ site address is empty: set IIQ_URL to "
            "https://yourdistrict.incidentiq.com",
            request_sent=False,
        )
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(
            f"The Incident IQ site address is not a valid URL ({exc}).", request_sent=False
        ) from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        raise InvalidInputError(
            "The Incident IQ site address must look like https://yourdistrict.incidentiq.com",
            request_sent=False,
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidInputError(
            "The Incident IQ site address must not contain a user name, '?' or '#': "
            "use just https://yourdistrict.incidentiq.com",
            request_sent=False,
        )
    if scheme == "http" and not is_loopback_host(host):
        raise InvalidInputError(
            "Incident IQ must be reached over https:// (plain http:// is only for the "
            "simulator on this computer).",
            request_sent=False,
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    site = f"{scheme}://{netloc}"
    path = parts.path.rstrip("/")
    if path.lower().endswith(API_SUFFIX):
        path = path[: -len(API_SUFFIX)].rstrip("/")
    if path:
        # A page address pasted from the browser (/login, /agent/assets) would send every
        # call to a route that does not exist: every lookup would be "not found".
        shown = " ".join(site_url.split())
        raise InvalidInputError(
            f"{shown} has a path; use the site address only: {site}", request_sent=False
        )
    return site + API_SUFFIX


def path_segment(text: str) -> str:
    """Percent-encode scanned text as exactly one path segment.

    Everything but letters, digits, `-`, `_` and `~` is encoded, dots included, so that a
    scan of `..` or `../users` can never reach another route.
    """
    if not text or not text.strip():
        raise InvalidInputError("Nothing to look up.", request_sent=False)
    return quote(text, safe="").replace(".", "%2E")


def _loggable(path: str) -> str:
    """The path as it may appear in a log line: person searches are not written down."""
    if path.startswith("/users/search/"):
        rest = path[len("/users/search/") :]
        query = rest[rest.find("?") :] if "?" in rest else ""
        return "/users/search/<query>" + query
    return path


# --- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """Where and as whom to connect. The token never shows in a repr."""

    site_url: str
    site_id: str
    token: str = field(repr=False)
    product_id: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 15.0


@dataclass(frozen=True)
class RetryPolicy:
    """How reads are retried: up to `attempts` tries, waiting Retry-After when given,
    otherwise `base_delay` doubling (1 s, 2 s, 4 s) with +-`jitter` (a fraction)."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.25

    def delay(self, attempt: int, error: IIQError, rng: random.Random) -> float | None:
        """Seconds to wait before try number `attempt + 1`, or None to give up."""
        if attempt >= self.attempts or not error.transient:
            return None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_delay else None
        base = self.base_delay * (1 << (attempt - 1))
        return min(self.max_delay, base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class AssetLookup:
    """What a scan found: `matched_by` says whether the tag or the serial matched."""

    query: str
    assets: list[Asset]
    matched_by: Literal["tag", "serial"] | None


# --- the client ------------------------------------------------------------------------


class IIQClient:
    """Async Incident IQ client. Create it inside the running event loop; close with
    `aclose()` or use `async with`.

    Offline latch: once a request has failed for network reasons (after its own retries),
    the client is offline (`online` is False) and every later request fails at once with a
    `NetworkError` (`request_sent=False`) without touching the network, so a scan gets its
    offline answer immediately instead of after the whole retry budget. One background
    probe (`GET /login`, every `offline_probe_s` seconds, `offline_probe_timeout_s` each)
    watches for the way back; the first reply of any status reopens it, and connectivity
    listeners hear `False` then `True`. A change (POST) that may have reached the server
    (`request_sent=True`: a read timeout, a dropped reply) does not close the latch by
    itself: the caller re-reads the asset to verify it at once, and that read decides.
    Server replies (4xx, 5xx) are answers, never offline. `offline_probe_s=None` turns the
    latch off. `login()` always goes to the network (see there).
    """

    def __init__(
        self,
        connection: Connection,
        *,
        retry: RetryPolicy | None = None,
        transfer_api: TransferApi = "checkout",
        update_asset_with_user_location: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        offline_probe_s: float | None = 3.0,
        offline_probe_timeout_s: float = 2.0,
    ) -> None:
        if offline_probe_s is not None and not offline_probe_s > 0:
            raise ValueError("offline_probe_s must be a positive number of seconds, or None")
        if not offline_probe_timeout_s > 0:
            raise ValueError("offline_probe_timeout_s must be a positive number of seconds")
        if not connection.token:
            raise InvalidInputError(
                "No Incident IQ API token: set IIQ_TOKEN or store it in the keyring.",
                request_sent=False,
            )
        if not connection.site_id:
            raise InvalidInputError("No Incident IQ site id: set IIQ_SITE_ID.", request_sent=False)
        self.base_url = api_base(connection.site_url)
        self.product_id = connection.product_id
        self._retry = retry or RetryPolicy()
        self._use_checkout_routes = transfer_api == "checkout"
        self._update_location = update_asset_with_user_location
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._probe_interval = offline_probe_s
        self._probe_timeout = offline_probe_timeout_s
        self._offline_cause: NetworkError | None = None  # set while the latch is closed
        self._offline_since = 0.0
        self._listeners: list[ConnectivityListener] = []
        self._probe_task: asyncio.Task[None] | None = None
        self._closed = False
        headers = {
            "Authorization": f"Bearer {connection.token}",
            "SiteId": connection.site_id,
            "Client": "ApiClient",
            "Accept": "application/json",
            "User-Agent": f"iiq-kiosk/{__version__}",
        }
        if connection.product_id:
            headers["ProductId"] = connection.product_id
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(
                connection.read_timeout,
                connect=connection.connect_timeout,
                pool=connection.connect_timeout,
            ),
            transport=transport or _plain_transport(self.base_url),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"IIQClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> IIQClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the offline probe (waiting for it to end), then close the connections."""
        self._closed = True
        task, self._probe_task = self._probe_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        await self._http.aclose()

    @property
    def transfer_api(self) -> TransferApi:
        """The mechanism in use now (it changes to "owner" after a fallback)."""
        return "checkout" if self._use_checkout_routes else "owner"

    # --- connectivity --------------------------------------------------------------

    @property
    def online(self) -> bool:
        """False while the offline latch is closed (requests fail fast, a probe runs)."""
        return self._offline_cause is None

    def add_connectivity_listener(self, callback: ConnectivityListener) -> Callable[[], None]:
        """Call `callback(False)` when the client goes offline and `callback(True)` when
        Incident IQ answers again (on the event loop). Returns a function that removes it."""
        self._listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    # --- connection ----------------------------------------------------------------

    async def login(self) -> LoginInfo:
        """The connection check: who the token belongs to.

        It bypasses the offline latch: it always goes to the network (with the usual
        retries), so the app's connection-check loop really checks; any reply reopens the
        latch at once, and a network failure closes it like any other request's."""
        reply = await self._send("GET", "/login", bypass_latch=True)
        return _parse_one(LoginInfo, reply)

    # --- assets --------------------------------------------------------------------

    async def assets_by_tag(self, tag: str) -> list[Asset]:
        return await self._lookup(f"/assets/assettag/{path_segment(tag)}")

    async def assets_by_serial(self, serial: str) -> list[Asset]:
        return await self._lookup(f"/assets/serial/{path_segment(serial)}")

    async def find_assets(self, text: str) -> AssetLookup:
        """A scan: the asset tag first, the serial number when no tag matches."""
        found = await self.assets_by_tag(text)
        if found:
            return AssetLookup(text, found, "tag")
        found = await self.assets_by_serial(text)
        return AssetLookup(text, found, "serial" if found else None)

    async def asset(self, asset_id: str) -> Asset:
        reply = await self._send("GET", f"/assets/{path_segment(asset_id)}")
        return _parse_one(Asset, reply)

    async def query_assets(
        self,
        filters: Sequence[Filter] = (),
        *,
        page_size: int = 100,
        max_items: int | None = None,
    ) -> list[Asset]:
        body = {
            "Filters": [f.to_json() for f in filters],
            "OnlyShowDeleted": False,
            "FilterByViewPermission": True,
        }
        rows = await self._paged("POST", "/assets", body, page_size, max_items)
        return _parse_list(Asset, rows)

    async def asset_pages(
        self, filters: Sequence[Filter] = (), *, page_size: int = 100
    ) -> AsyncIterator[Page[Asset]]:
        """The asset query (`POST /assets`), one page at a time, until `Paging` says it
        was the last: a large query never sits in memory whole. Each page is parsed on its
        own; the caller may stop early."""
        body = {
            "Filters": [f.to_json() for f in filters],
            "OnlyShowDeleted": False,
            "FilterByViewPermission": True,
        }
        async for page in self._pages("POST", "/assets", body, page_size):
            yield Page(
                _parse_list(Asset, page.items), page.total_rows, page.page_count, page.page_index
            )

    async def asset_models(self) -> list[AssetModelInfo]:
        """The asset models of the site, to resolve a model's name to its id.

        `GET /assets/models` is not in the official controllers (they only have the
        manufacturers); it is the route community descriptions of the API use. A site
        without it answers 404 (route missing): the caller then filters by name."""
        reply = await self._send("GET", "/assets/models")
        return _parse_list(AssetModelInfo, _items(reply))

    async def assets_for(self, user_id: str) -> list[Asset]:
        """The assets a person owns now."""
        return await self._lookup(f"/assets/for/{path_segment(user_id)}")

    async def status_types(self) -> list[StatusType]:
        reply = await self._send("GET", "/assets/status/types")
        return _parse_list(StatusType, _items(reply))

    async def activities(self, asset_id: str, *, limit: int = 20) -> list[Activity]:
        """The asset's most recent history."""
        path = f"/assets/{path_segment(asset_id)}/activities"
        rows = await self._paged("GET", path, None, limit, limit)
        return _parse_list(Activity, rows)

    # --- people --------------------------------------------------------------------

    async def search_users(self, query: str, *, limit: int = 50) -> list[Person]:
        """Keyword search over name, email, username and school id number."""
        path = f"/users/search/{path_segment(query)}"
        rows = await self._paged("GET", path, None, min(limit, 100), limit)
        return _parse_list(Person, rows)

    async def query_users(
        self, filters: Sequence[Filter] = (), *, page_size: int = 100, max_items: int | None = None
    ) -> list[Person]:
        body = {"Filters": [f.to_json() for f in filters], "OnlyShowDeleted": False}
        rows = await self._paged("POST", "/users", body, page_size, max_items)
        return _parse_list(Person, rows)

    async def user_pages(
        self, filters: Sequence[Filter] = (), *, page_size: int = 100
    ) -> AsyncIterator[Page[Person]]:
        """The people query (`POST /users`), one page at a time (see `asset_pages`)."""
        body = {"Filters": [f.to_json() for f in filters], "OnlyShowDeleted": False}
        async for page in self._pages("POST", "/users", body, page_size):
            yield Page(
                _parse_list(Person, page.items), page.total_rows, page.page_count, page.page_index
            )

    async def asset_page(
        self, filters: Sequence[Filter] = (), *, page_size: int = 100, page: int = 0
    ) -> Page[Asset]:
        """One page (`$p`, zero-based) of the asset query, for a reader that keeps its own
        place between runs (an event's prepare resumes where it stopped). The reply's
        `Paging` (None where absent) says whether more follow."""
        body = {
            "Filters": [f.to_json() for f in filters],
            "OnlyShowDeleted": False,
            "FilterByViewPermission": True,
        }
        raw = await self._one_page("POST", "/assets", body, page_size, page)
        return Page(_parse_list(Asset, raw.items), raw.total_rows, raw.page_count, raw.page_index)

    async def user_page(
        self, filters: Sequence[Filter] = (), *, page_size: int = 100, page: int = 0
    ) -> Page[Person]:
        """One page of the people query (see `asset_page`)."""
        body = {"Filters": [f.to_json() for f in filters], "OnlyShowDeleted": False}
        raw = await self._one_page("POST", "/users", body, page_size, page)
        return Page(_parse_list(Person, raw.items), raw.total_rows, raw.page_count, raw.page_index)

    async def _one_page(
        self, method: str, path: str, body: dict[str, Any], page_size: int, page: int
    ) -> Page[Any]:
        reply = await self._send(method, f"{path}?$s={page_size}&$p={page}", body=body)
        batch = _items(reply)
        paging = reply.get("Paging") if isinstance(reply, dict) else None
        if isinstance(paging, dict) and paging.get("PageCount") is not None:
            total = paging.get("TotalRows")
            return Page(
                batch,
                _int(total, len(batch)) if total is not None else None,
                _int(paging.get("PageCount"), 0),
                _int(paging.get("PageIndex"), page),
            )
        return Page(batch, None, None, page)

    async def user(self, user_id: str) -> Person:
        reply = await self._send("GET", f"/users/{path_segment(user_id)}")
        return _parse_one(Person, reply)

    # --- locations -----------------------------------------------------------------

    async def locations(self) -> list[Location]:
        reply = await self._send("GET", "/locations/all")
        return _parse_list(Location, _items(reply))

    async def rooms(self, location_id: str) -> list[Room]:
        reply = await self._send("GET", f"/locations/{path_segment(location_id)}/rooms")
        return _parse_list(Room, _items(reply))

    # --- changes: each is sent once; the caller verifies before any repeat ----------

    async def transfer(
        self,
        asset_id: str,
        to_user_id: str,
        *,
        due_date: str | None = None,
        ticket_id: str | None = None,
    ) -> TransferApi:
        """Give the asset to a person (check-out, or transfer from its owner).

        Returns the mechanism used. Falls back to the owner route for the rest of the run
        when the checkout route does not exist on this site.
        """
        if self._use_checkout_routes:
            body: dict[str, Any] = {
                "AssetId": asset_id,
                # The product guide says ToOwnerId, the OpenAPI spec OwnerId: send both.
                "OwnerId": to_user_id,
                "ToOwnerId": to_user_id,
                "Source": "api",
            }
            if due_date:
                body["DueDate"] = due_date
            if ticket_id:
                body["TicketId"] = ticket_id
            try:
                await self._send(
                    "POST", "/assets/checkouts/checkout-or-transfer", body=body, safe=False
                )
                return "checkout"
            except NotFoundError as exc:
                if not exc.route_missing:
                    raise
                self._checkout_routes_missing("checkout-or-transfer", exc)
        await self._send(
            "POST",
            f"/assets/{path_segment(asset_id)}/owner",
            body={
                "OwnerId": to_user_id,
                "UpdateAssetWithUserLocation": self._update_location,
                "Force": False,
            },
            safe=False,
        )
        return "owner"

    async def checkin(self, asset_id: str, *, owner_id: str | None = None) -> str:
        """Take the asset back: close its checkout, or remove its owner when there is no
        open checkout (or no checkout route). Returns the route used."""
        if self._use_checkout_routes:
            body: dict[str, Any] = {"AssetId": asset_id}
            if owner_id:
                body["OwnerId"] = owner_id
            try:
                await self._send("POST", "/assets/checkouts/checkin", body=body, safe=False)
                return "checkin"
            except NotFoundError as exc:
                if exc.route_missing:
                    self._checkout_routes_missing("checkin", exc)
                else:
                    # A record-level 404 ("no open checkout"): this asset only, not the run.
                    log.info("asset %s has no open checkout; removing its owner instead", asset_id)
        await self._send("POST", f"/assets/{path_segment(asset_id)}/remove-owner", safe=False)
        return "remove-owner"

    async def update_asset(self, asset: Asset, changes: dict[str, Any]) -> Asset | None:
        """Partial update: only the given fields change. AssetTag and SerialNumber are
        always sent, because the API clears the serial when it is left out."""
        body = {"AssetTag": asset.asset_tag, "SerialNumber": asset.serial_number, **changes}
        reply = await self._send(
            "POST",
            f"/assets/{path_segment(asset.asset_id)}",
            body=body,
            headers={"ApiFlags": "OnlySetMappedProperties"},
            safe=False,
        )
        if isinstance(reply, dict) and isinstance(reply.get("Item"), dict):
            return _parse_one(Asset, reply)
        return None

    async def set_status(self, asset_id: str, status_type_id: str) -> None:
        path = f"/assets/{path_segment(asset_id)}/status/{path_segment(status_type_id)}"
        await self._send("POST", path, body={}, safe=False)

    async def create_ticket(self, request: TicketRequest) -> TicketRef:
        body = request.to_json()
        body.setdefault("ProductId", request.product_id or TICKETING_PRODUCT_ID)
        reply = await self._send("POST", "/tickets/new", body=body, safe=False)
        return _parse_one(TicketRef, reply)

    # --- plumbing ------------------------------------------------------------------

    def _checkout_routes_missing(self, route: str, error: NotFoundError) -> None:
        self._use_checkout_routes = False
        log.warning(
            "the checkout route %s does not exist on this site (%s); "
            "using the owner routes for the rest of this run",
            route,
            error.detail,
        )

    async def _lookup(self, path: str) -> list[Asset]:
        """An exact lookup: not found is an empty list, whether 200-empty or 404."""
        try:
            reply = await self._send("GET", path)
        except NotFoundError as exc:
            log.debug("lookup %s answered 404 (route_missing=%s)", path, exc.route_missing)
            return []
        return _parse_list(Asset, _items(reply))

    async def _paged(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        page_size: int,
        max_items: int | None,
    ) -> list[Any]:
        rows: list[Any] = []
        page = 0
        while True:
            reply = await self._send(method, f"{path}?$s={page_size}&$p={page}", body=body)
            batch = _items(reply)
            rows.extend(batch)
            if max_items is not None and len(rows) >= max_items:
                return rows[:max_items]
            paging = reply.get("Paging") if isinstance(reply, dict) else None
            if isinstance(paging, dict) and paging.get("PageCount") is not None:
                # Trust Paging over the page length: a server may cap $s below what we asked.
                index = _int(paging.get("PageIndex"), page)
                if not batch or index + 1 >= _int(paging.get("PageCount"), 0):
                    return rows
            elif len(batch) < page_size:
                return rows
            page += 1

    async def _pages(
        self, method: str, path: str, body: dict[str, Any] | None, page_size: int
    ) -> AsyncIterator[Page[Any]]:
        """A paged list, one raw page at a time. Paging is trusted over the page length (a
        server may cap `$s` below what was asked); only without Paging does an empty or
        short page end it. A page that repeats one already read (its index, or without
        Paging its first row) ends it unread, so a server that ignores `$p` cannot loop
        forever nor hand the same rows out twice."""
        page = 0
        first_rows: set[str] = set()
        while True:
            reply = await self._send(method, f"{path}?$s={page_size}&$p={page}", body=body)
            batch = _items(reply)
            paging = reply.get("Paging") if isinstance(reply, dict) else None
            if isinstance(paging, dict) and paging.get("PageCount") is not None:
                index = _int(paging.get("PageIndex"), page)
                count = _int(paging.get("PageCount"), 0)
                total = paging.get("TotalRows")
                if index < page:
                    log.warning("the server sent page %d again for page %d: stopped", index, page)
                    return
                yield Page(
                    batch, _int(total, len(batch)) if total is not None else None, count, index
                )
                if not batch or index + 1 >= count:
                    return
            else:
                first = json.dumps(batch[0], sort_keys=True, default=str) if batch else ""
                if first in first_rows:
                    log.warning("the server sent the rows of an earlier page again: stopped")
                    return
                first_rows.add(first)
                yield Page(batch, None, None, page)
                if not batch or len(batch) < page_size:
                    return
            page += 1

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        safe: bool = True,
        bypass_latch: bool = False,
    ) -> Any:
        """Send a request; retry it only when `safe` (reads and query routes). While the
        offline latch is closed, fail at once without sending (unless `bypass_latch`)."""
        if not bypass_latch:
            self._fail_fast_if_offline(method, path)
        attempt = 1
        while True:
            try:
                return await self._send_once(method, path, body, headers)
            except IIQError as exc:
                delay = self._retry.delay(attempt, exc, self._rng) if safe else None
                if delay is None:
                    # A 404 is usually an answer the caller handles (not found, fallback).
                    level = logging.INFO if isinstance(exc, NotFoundError) else logging.WARNING
                    log.log(level, "%s %s failed: %s", method, _loggable(path), exc.detail)
                    if isinstance(exc, NetworkError) and (safe or not exc.request_sent):
                        self._went_offline(exc)
                    raise
                log.info(
                    "%s %s failed (%s); try %d in %.1f s",
                    method,
                    _loggable(path),
                    exc.detail,
                    attempt + 1,
                    delay,
                )
                await self._sleep(delay)
                attempt += 1

    async def _send_once(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> Any:
        started = time.perf_counter()
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise NetworkError(
                "Incident IQ did not answer in time. Check the network and try again.",
                timeout=True,
                request_sent=sent,
                detail=f"timed out ({type(exc).__name__})",
            ) from exc
        except httpx.ConnectError as exc:
            raise NetworkError(
                "Cannot reach Incident IQ. Check the network connection.",
                request_sent=False,
                detail=f"cannot connect ({exc})",
            ) from exc
        except httpx.TransportError as exc:
            raise NetworkError(
                "The connection to Incident IQ was interrupted. Check the network.",
                request_sent=True,
                detail=f"connection failed ({exc!r})",
            ) from exc
        self._came_online()
        status = response.status_code
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d in %.0f ms",
                method,
                _loggable(path),
                status,
                (time.perf_counter() - started) * 1000,
            )
        if 200 <= status < 300:
            return _json_or_none(response, method, path)
        raise _error_for(response, method, path)

    # --- the offline latch ----------------------------------------------------------

    def _fail_fast_if_offline(self, method: str, path: str) -> None:
        cause = self._offline_cause
        if cause is None:
            return
        self._ensure_probe()
        log.debug("%s %s not sent: Incident IQ is unreachable", method, _loggable(path))
        raise NetworkError(
            cause.message,
            timeout=cause.timeout,
            request_sent=False,
            detail=(
                f"not sent: offline for {time.monotonic() - self._offline_since:.1f} s "
                f"(last failure: {cause.detail})"
            ),
        )

    def _went_offline(self, cause: NetworkError) -> None:
        if self._probe_interval is None or self._closed:
            return
        was_online = self._offline_cause is None
        self._offline_cause = cause
        if was_online:
            self._offline_since = time.monotonic()
            log.warning(
                "Incident IQ is unreachable (%s); requests fail at once until a probe "
                "every %.1f s gets through",
                cause.detail,
                self._probe_interval,
            )
            self._notify(False)
        self._ensure_probe()

    def _came_online(self) -> None:
        if self._offline_cause is None:
            return
        self._offline_cause = None
        log.info(
            "Incident IQ answers again (offline for %.1f s)",
            time.monotonic() - self._offline_since,
        )
        self._notify(True)

    def _notify(self, online: bool) -> None:
        for callback in list(self._listeners):
            try:
                callback(online)
            except Exception:  # a listener's bug must not break the client
                log.exception("connectivity listener %r failed", callback)

    def _ensure_probe(self) -> None:
        """Start the probe unless one runs (it is restarted here should it ever die)."""
        if self._closed or (self._probe_task is not None and not self._probe_task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._probe_until_online(), name="iiq-offline-probe")
        task.add_done_callback(_log_probe_end)
        self._probe_task = task

    async def _probe_until_online(self) -> None:
        interval = self._probe_interval
        if interval is None:
            return
        while self._offline_cause is not None and not self._closed:
            await asyncio.sleep(interval)
            if self._offline_cause is None or self._closed:
                return
            try:
                response = await self._http.get("/login", timeout=self._probe_timeout)
            except httpx.TransportError as exc:
                log.debug("offline probe: still unreachable (%s)", type(exc).__name__)
                continue
            log.debug("offline probe: GET /login -> %d", response.status_code)
            self._came_online()

    # --- the self-check ---------------------------------------------------------------

    async def probe(
        self, method: str, path: str, *, body: dict[str, Any] | None = None
    ) -> ProbeReply:
        """One request exactly as sent, for the district self-check (`kiosk.core.doctor`):
        the usual headers, no retry, no offline latch (it always goes to the network; a
        reply reopens the latch, a failure does not close it), and no exception for an
        error status. The reply keeps the status, the headers (`Date`, `Retry-After`), the
        parsed body and, for a status outside 2xx, the error the client would raise for it
        (so a 404 says whether the route or the record is missing). Raises `NetworkError`
        when no reply came. `path` is sent as given: encode scanned text with
        `path_segment`. Nothing here logs the token, the headers or a person search."""
        started = time.perf_counter()
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise NetworkError(
                "Cannot reach Incident IQ. Check the site address and the network connection.",
                timeout=isinstance(exc, httpx.TimeoutException),
                request_sent=connected and not isinstance(exc, httpx.PoolTimeout),
                detail=f"{method} {_loggable(path)}: no reply ({type(exc).__name__}: {exc})",
            ) from exc
        elapsed = time.perf_counter() - started
        self._came_online()
        data = _error_body(response)
        status = response.status_code
        log.debug("probe %s %s -> %d in %.0f ms", method, _loggable(path), status, elapsed * 1000)
        return ProbeReply(
            status=status,
            headers={name.lower(): value for name, value in response.headers.items()},
            data=None if data is _NOT_JSON else data,
            is_json=data is not _NOT_JSON,
            text=response.text[:BODY_LOG_LIMIT],
            elapsed_s=elapsed,
            error=None if 200 <= status < 300 else _error_for(response, method, path),
        )


@dataclass(frozen=True)
class ProbeReply:
    """A raw reply (`IIQClient.probe`). `data` is the parsed JSON body (None when the body
    is empty or not JSON: `is_json` tells which); `text` is its start, for a log line;
    `error` is the client's reading of an error status (None for 2xx)."""

    status: int
    headers: dict[str, str]  # lower-case names
    data: Any
    is_json: bool
    text: str
    elapsed_s: float
    error: IIQError | None = None


def _log_probe_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("the offline probe failed", exc_info=exc)


# --- replies ---------------------------------------------------------------------------


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _json_or_none(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        content_type = response.headers.get("content-type", "")
        log.error(
            "%s %s: reply is not JSON (%s): %r",
            method,
            _loggable(path),
            content_type,
            response.text[:BODY_LOG_LIMIT],
        )
        raise ResponseError(
            "The site did not answer like Incident IQ does. Check the site address.",
            status=response.status_code,
            detail=content_type,
        ) from None


def _items(reply: Any) -> list[Any]:
    if isinstance(reply, dict):
        items = reply.get("Items")
        return items if isinstance(items, list) else []
    if isinstance(reply, list):
        return reply
    return []


def _parse_one(model: type[M], reply: Any) -> M:
    item = reply.get("Item") if isinstance(reply, dict) else None
    if not isinstance(item, dict):
        raise ResponseError(
            "Incident IQ sent an answer the kiosk does not understand.",
            detail=f"expected {{Item}} for {model.__name__}",
        )
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise ResponseError(
            "Incident IQ sent an answer the kiosk does not understand.",
            detail=f"{model.__name__}: {exc.error_count()} invalid fields",
        ) from None


_adapters: dict[type[BaseModel], TypeAdapter[Any]] = {}


def _list_adapter(model: type[M]) -> TypeAdapter[list[M]]:
    adapter = _adapters.get(model)
    if adapter is None:
        adapter = _adapters[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter


def parsers_to_build() -> list[Callable[[], object]]:
    """What parsing a reply builds on first use (each model's validator, the lists of them),
    one small step each: the window runs them while idle after start-up, so that neither the
    start nor the first scan waits for them (the models defer their build)."""
    steps: list[Callable[[], object]] = [
        functools.partial(m.model_rebuild, force=True) for m in unbuilt_models()
    ]
    for model in (Asset, Person, StatusType, Location, Room, Activity):
        if model not in _adapters:
            steps.append(functools.partial(_list_adapter, model))
    return steps


def _parse_list(model: type[M], rows: list[Any]) -> list[M]:
    adapter = _list_adapter(model)
    try:
        result: list[M] = adapter.validate_python(rows)
    except ValidationError as exc:
        raise ResponseError(
            "Incident IQ sent an answer the kiosk does not understand.",
            detail=f"list of {model.__name__}: {exc.error_count()} invalid fields",
        ) from None
    return result


_NOT_JSON = object()

# ASP.NET Web API's own answer for a URI no route matches (the checkout module switched
# off, an older site): {"Message": "No HTTP resource was found that matches the request URI
# '...'", "MessageDetail": "No route providing a controller name was found ..."}.
_ROUTE_MISSING_MESSAGE = re.compile(r"no http resource was found", re.IGNORECASE)
_ROUTE_MISSING_DETAIL = re.compile(
    r"no route\b|no (?:type|action) was found\b.*\bcontroller", re.IGNORECASE | re.DOTALL
)
_SITE_ID_WORDS = re.compile(r"\bsite[\s_-]?id\b", re.IGNORECASE)


def _error_body(response: httpx.Response) -> Any:
    """The error reply's JSON, or `_NOT_JSON` (empty, HTML, plain text)."""
    if not response.content.strip():
        return _NOT_JSON
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _NOT_JSON


def _fields(data: Any) -> dict[str, Any]:
    """Top-level keys folded to lower case: metadata keys are matched tolerantly."""
    if not isinstance(data, dict):
        return {}
    return {str(key).casefold(): value for key, value in data.items()}


def _text_field(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def _route_missing(data: Any) -> bool:
    """Whether a 404 body (parsed JSON, or `_NOT_JSON`) says the route does not exist,
    rather than that the record is missing. Decided by content, never by emptiness alone:
    no JSON at all (a proxy's empty or HTML page) or ASP.NET's unmatched-route message
    without ErrorKey/Item means the route; anything the application itself said (ErrorKey,
    Item, its own NotFound message) means the record."""
    if data is _NOT_JSON:
        return True
    fields = _fields(data)
    if not fields or fields.get("errorkey") or fields.get("item") is not None:
        return False
    return bool(
        _ROUTE_MISSING_MESSAGE.search(_text_field(fields, "message"))
        or _ROUTE_MISSING_DETAIL.search(_text_field(fields, "messagedetail"))
    )


def _site_id_rejected(data: Any) -> bool:
    """Whether a 401 body blames the SiteId header rather than the token."""
    fields = _fields(data)
    key = re.sub(r"[^a-z]", "", _text_field(fields, "errorkey").casefold())
    return "siteid" in key or bool(_SITE_ID_WORDS.search(_text_field(fields, "message")))


def _error_message_of(data: Any) -> str | None:
    """The server's own message from an error body (`_error_body`)."""
    fields = _fields(data)
    parts: list[str] = []
    if message := _text_field(fields, "message"):
        parts.append(message)
    errors = fields.get("errors")
    if isinstance(errors, list):
        for item in errors:
            entry = _fields(item)
            if entry.get("message"):
                field_name = entry.get("field")
                text = str(entry["message"])
                parts.append(f"{field_name}: {text}" if field_name else text)
    return "; ".join(parts) or None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error_for(response: httpx.Response, method: str, path: str) -> IIQError:
    status = response.status_code
    data = _error_body(response)
    server_message = _error_message_of(data)
    detail = f"{status}: {response.text[:BODY_LOG_LIMIT]!r}"
    if status == 401:
        if _site_id_rejected(data):
            said = server_message or _text_field(_fields(data), "errorkey")
            return AuthError(
                f"Incident IQ did not accept the site id (IIQ_SITE_ID / [iiq] site_id): {said}",
                site_id_rejected=True,
                status=status,
                detail=detail,
            )
        return AuthError(
            "Incident IQ did not accept the kiosk's API token (it may have expired or been "
            "revoked). Please call IT.",
            status=status,
            detail=detail,
        )
    if status == 403:
        return ForbiddenError(
            "The kiosk's Incident IQ account is not allowed to do this. Please call IT to "
            "check its rights.",
            status=status,
            detail=detail,
        )
    if status == 404:
        return NotFoundError(
            "Incident IQ could not find that.",
            route_missing=_route_missing(data),
            status=status,
            detail=detail,
        )
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return RateLimitedError(
            "Incident IQ asked the kiosk to slow down. Wait a few seconds and try again.",
            retry_after=retry_after,
            status=status,
            detail=detail,
            request_sent=False,
        )
    if status >= 500:
        return ServerError(
            f"Incident IQ is having trouble right now (error {status}). Try again in a minute.",
            status=status,
            detail=detail,
        )
    if 300 <= status < 400:
        return ResponseError(
            "The site redirected the kiosk elsewhere. Check the Incident IQ site address.",
            status=status,
            detail=detail,
            request_sent=False,
        )
    suffix = f": {server_message}" if server_message else "."
    return InvalidInputError(
        f"Incident IQ refused the request{suffix}", status=status, detail=detail
    )
