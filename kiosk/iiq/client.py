"""The async Incident IQ client: one `httpx.AsyncClient`, the API's headers and paging,
typed replies, safe retries for reads, and never a blind repeat of a change.

See `shared/iiq-api.md` for the contract this follows.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
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
    Filter,
    Location,
    LoginInfo,
    Person,
    Room,
    StatusType,
    TicketRef,
    TicketRequest,
)

log = logging.getLogger("kiosk.iiq")
# httpx logs every request URL at INFO; person searches carry names in the URL.
logging.getLogger("httpx").setLevel(logging.WARNING)

M = TypeVar("M", bound=BaseModel)
TransferApi = Literal["checkout", "owner"]

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


def api_base(site_url: str) -> str:
    """The API base (`https://district.incidentiq.com/api/v1.0`) for a site URL.

    Accepts the site root with or without `/api/v1.0` and a bare host name. Plain http is
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
    path = parts.path.rstrip("/")
    if path.lower().endswith(API_SUFFIX):
        path = path[: -len(API_SUFFIX)].rstrip("/")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{path}{API_SUFFIX}"


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
    `aclose()` or use `async with`."""

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
    ) -> None:
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
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"IIQClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> IIQClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def transfer_api(self) -> TransferApi:
        """The mechanism in use now (it changes to "owner" after a fallback)."""
        return "checkout" if self._use_checkout_routes else "owner"

    # --- connection ----------------------------------------------------------------

    async def login(self) -> LoginInfo:
        """The connection check: who the token belongs to."""
        reply = await self._send("GET", "/login")
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
                self._checkout_routes_missing("checkout-or-transfer")
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
                    self._checkout_routes_missing("checkin")
                else:
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

    def _checkout_routes_missing(self, route: str) -> None:
        self._use_checkout_routes = False
        log.warning(
            "the checkout route %s does not exist on this site; "
            "using the owner routes for the rest of this run",
            route,
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

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        safe: bool = True,
    ) -> Any:
        """Send a request; retry it only when `safe` (reads and query routes)."""
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


def _parse_list(model: type[M], rows: list[Any]) -> list[M]:
    adapter = _adapters.get(model)
    if adapter is None:
        adapter = _adapters[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    try:
        result: list[M] = adapter.validate_python(rows)
    except ValidationError as exc:
        raise ResponseError(
            "Incident IQ sent an answer the kiosk does not understand.",
            detail=f"list of {model.__name__}: {exc.error_count()} invalid fields",
        ) from None
    return result


def _error_message_of(response: httpx.Response) -> tuple[str | None, bool]:
    """The server's own message, and whether the body was JSON at all."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, False
    if not isinstance(data, dict):
        return None, True
    parts: list[str] = []
    if isinstance(data.get("Message"), str) and data["Message"]:
        parts.append(data["Message"])
    errors = data.get("Errors")
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict) and item.get("Message"):
                field_name = item.get("Field")
                text = str(item["Message"])
                parts.append(f"{field_name}: {text}" if field_name else text)
    return ("; ".join(parts) or None), True


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
    server_message, is_json = _error_message_of(response)
    detail = f"{status}: {response.text[:BODY_LOG_LIMIT]!r}"
    if status == 401:
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
            route_missing=not (is_json and response.content.strip()),
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
