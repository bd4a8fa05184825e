"""The client against scripted replies (`httpx.MockTransport`): what the simulator cannot
produce on demand — odd bodies, exact Retry-After values, transport exceptions, seeded
jitter — and what must never happen (a repeated change, a token in a log line)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kiosk.iiq import (
    Asset,
    AuthError,
    Connection,
    Filter,
    ForbiddenError,
    IIQClient,
    IIQError,
    InvalidInputError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ResponseError,
    RetryPolicy,
    ServerError,
    TicketRequest,
)
from kiosk.iiq.client import ASSETS_PRODUCT_ID, TICKETING_PRODUCT_ID, retry_after_seconds

TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWtpb3NrLXRva2Vu.ZG8tbm90LWxvZy1tZQ"
SITE = "https://district.incidentiq.com"
SITE_ID = "6a1e0c9b-0f5e-4b7e-9e5d-0c8f7f3a1b2c"
ASSET_ITEM = {"AssetId": "a-1", "AssetTag": "CB-004512", "SerialNumber": "5CD3110A4512"}
ASSET = Asset.model_validate(ASSET_ITEM)
TICKET = TicketRequest(
    subject="Cracked screen", description="Dropped at lunch", for_user_id="u-2", asset_id="a-1"
)

Action = Callable[[IIQClient], Awaitable[Any]]
Reply = httpx.Response | type[httpx.TransportError] | Callable[[httpx.Request], httpx.Response]


class Sleeps:
    """A fake `sleep` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Server:
    """Scripted replies in order (the last one repeats); records every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, type) and issubclass(reply, httpx.TransportError):
            raise reply("scripted failure", request=request)
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]

    def body(self, index: int) -> Any:
        return json.loads(self.requests[index].content)


def ok(payload: Any = None) -> httpx.Response:
    return httpx.Response(200, json=payload if payload is not None else {"Items": []})


def item(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"Item": data})


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, headers=headers)


def call(
    server: Server,
    action: Action,
    *,
    sleeps: Sleeps | None = None,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
    product_id: str | None = None,
    **client_options: Any,
) -> Any:
    async def main() -> Any:
        connection = Connection(site_url=SITE, site_id=SITE_ID, token=TOKEN, product_id=product_id)
        async with IIQClient(
            connection,
            retry=retry or RetryPolicy(base_delay=0.01),
            transport=httpx.MockTransport(server),
            sleep=sleeps or Sleeps(),
            rng=rng,
            **client_options,
        ) as client:
            return await action(client)

    return asyncio.run(main())


def fails(server: Server, action: Action, error: type[IIQError], **options: Any) -> Any:
    with pytest.raises(error) as info:
        call(server, action, **options)
    return info.value


MUTATIONS: dict[str, Action] = {
    "transfer": lambda c: c.transfer("a-1", "u-2"),
    "checkin": lambda c: c.checkin("a-1"),
    "update_asset": lambda c: c.update_asset(ASSET, {"Notes": "x"}),
    "set_status": lambda c: c.set_status("a-1", "s-1"),
    "create_ticket": lambda c: c.create_ticket(TICKET),
}
MUTATION_PATHS = {
    "transfer": "POST /api/v1.0/assets/checkouts/checkout-or-transfer",
    "checkin": "POST /api/v1.0/assets/checkouts/checkin",
    "update_asset": "POST /api/v1.0/assets/a-1",
    "set_status": "POST /api/v1.0/assets/a-1/status/s-1",
    "create_ticket": "POST /api/v1.0/tickets/new",
}
# reply, error class, request_sent, timeout
FAILURES: dict[str, tuple[Reply, type[IIQError], bool, bool]] = {
    "500": (status(500), ServerError, True, False),
    "503": (status(503), ServerError, True, False),
    "read-timeout": (httpx.ReadTimeout, NetworkError, True, True),
    "write-timeout": (httpx.WriteTimeout, NetworkError, True, True),
    "connect-timeout": (httpx.ConnectTimeout, NetworkError, False, True),
    "pool-timeout": (httpx.PoolTimeout, NetworkError, False, True),
    "connect-error": (httpx.ConnectError, NetworkError, False, False),
    "dropped": (httpx.RemoteProtocolError, NetworkError, True, False),
    "read-error": (httpx.ReadError, NetworkError, True, False),
}


# --- replies that are not what the API promises -----------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.asset("a-1"),
        lambda c: c.assets_by_tag("CB-1"),
        lambda c: c.login(),
        lambda c: c.transfer("a-1", "u-2"),
    ],
    ids=["asset", "assets_by_tag", "login", "transfer"],
)
def test_html_200_is_a_response_error_and_not_retried(action: Action) -> None:
    server = Server(httpx.Response(200, html="<html><body>Sign in to continue</body></html>"))
    error = fails(server, action, ResponseError)
    assert error.status == 200
    assert error.detail.startswith("text/html")
    assert "site address" in str(error)
    assert len(server.requests) == 1


def test_truncated_json_is_a_response_error() -> None:
    server = Server(
        httpx.Response(200, content=b'{"Items": [', headers={"Content-Type": "application/json"})
    )
    fails(server, lambda c: c.assets_by_tag("CB-1"), ResponseError)


@pytest.mark.parametrize(
    ("payload", "action"),
    [
        ({"Item": {"AssetTag": "CB-1"}}, lambda c: c.asset("a-1")),
        ({"Item": ["a-1"]}, lambda c: c.asset("a-1")),
        ({"Items": [ASSET_ITEM]}, lambda c: c.asset("a-1")),
        ([ASSET_ITEM], lambda c: c.asset("a-1")),
        ({"Items": [{"AssetTag": "CB-1"}]}, lambda c: c.assets_by_tag("CB-1")),
        ({"Items": ["CB-1"]}, lambda c: c.assets_by_tag("CB-1")),
        ({"Items": [{"AssetId": "a", "Owner": "Marcus"}]}, lambda c: c.assets_by_tag("CB-1")),
        ({"Items": [{"Name": "Broken"}]}, lambda c: c.status_types()),
        ({"Items": [{"Name": "HS"}]}, lambda c: c.locations()),
        ({"Items": [{"UserId": "u", "IsActive": "maybe"}]}, lambda c: c.search_users("ana")),
        ({"Item": {"TicketNumber": 7}}, lambda c: c.create_ticket(TICKET)),
    ],
)
def test_malformed_items_are_response_errors(payload: Any, action: Action) -> None:
    server = Server(ok(payload))
    error = fails(server, action, ResponseError)
    assert "does not understand" in str(error)
    assert error.detail
    assert len(server.requests) == 1


def test_empty_200_is_fine_for_lists_and_changes_not_for_a_record() -> None:
    assert call(Server(httpx.Response(200)), lambda c: c.assets_by_tag("CB-1")) == []
    assert call(Server(httpx.Response(200)), lambda c: c.transfer("a-1", "u-2")) == "checkout"
    assert call(Server(httpx.Response(200)), lambda c: c.update_asset(ASSET, {})) is None
    fails(Server(httpx.Response(200)), lambda c: c.asset("a-1"), ResponseError)


def test_lists_parse_when_items_key_is_missing_or_reply_is_a_bare_list() -> None:
    assert call(Server(ok({"ItemCount": 0})), lambda c: c.assets_by_tag("CB-1")) == []
    found = call(Server(ok([ASSET_ITEM])), lambda c: c.assets_by_tag("CB-1"))
    assert [a.asset_id for a in found] == ["a-1"]


# --- 429: Retry-After honoured, backoff otherwise ---------------------------------------


def test_429_retry_after_seconds_is_honoured() -> None:
    sleeps = Sleeps()
    server = Server(
        status(429, **{"Retry-After": "3"}), status(429, **{"Retry-After": "0.5"}), item(ASSET_ITEM)
    )
    asset = call(server, lambda c: c.asset("a-1"), sleeps=sleeps)
    assert asset.asset_tag == "CB-004512"
    assert sleeps.delays == [3.0, 0.5]
    assert len(server.requests) == 3


def test_429_retry_after_http_date_is_honoured() -> None:
    sleeps = Sleeps()
    when = datetime.now(UTC) + timedelta(seconds=12)
    server = Server(
        status(429, **{"Retry-After": email.utils.format_datetime(when, usegmt=True)}),
        item(ASSET_ITEM),
    )
    call(server, lambda c: c.asset("a-1"), sleeps=sleeps)
    assert len(sleeps.delays) == 1
    assert 10.0 <= sleeps.delays[0] <= 12.0
    assert len(server.requests) == 2


def test_retry_after_parsing() -> None:
    now = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(" 2.5 ", now) == 2.5
    assert retry_after_seconds("-3", now) == 0.0
    assert retry_after_seconds("Mon, 02 Mar 2026 08:00:20 GMT", now) == 20.0
    assert retry_after_seconds("Mon, 02 Mar 2026 07:59:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("", now) is None
    assert retry_after_seconds(None, now) is None


def test_429_retry_after_above_max_delay_raises_at_once() -> None:
    sleeps = Sleeps()
    server = Server(status(429, **{"Retry-After": "120"}), item(ASSET_ITEM))
    error = fails(
        server,
        lambda c: c.asset("a-1"),
        RateLimitedError,
        sleeps=sleeps,
        retry=RetryPolicy(base_delay=0.01, max_delay=30),
    )
    assert error.retry_after == 120.0
    assert error.status == 429
    assert error.request_sent is False
    assert "slow down" in str(error)
    assert sleeps.delays == []
    assert len(server.requests) == 1


def test_429_without_retry_after_backs_off_and_gives_up() -> None:
    sleeps = Sleeps()
    server = Server(status(429))
    error = fails(
        server,
        lambda c: c.assets_by_tag("CB-1"),
        RateLimitedError,
        sleeps=sleeps,
        retry=RetryPolicy(base_delay=1, jitter=0),
    )
    assert error.retry_after is None
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert len(server.requests) == 4


def test_429_with_unparseable_retry_after_uses_backoff() -> None:
    sleeps = Sleeps()
    server = Server(status(429, **{"Retry-After": "later"}), ok())
    call(server, lambda c: c.assets_by_tag("CB-1"), sleeps=sleeps, retry=RetryPolicy(jitter=0))
    assert sleeps.delays == [1.0]


# --- 5xx and network failures on reads: retried, bounded --------------------------------


def test_5xx_backoff_is_1_2_4_with_seeded_jitter() -> None:
    sleeps = Sleeps()
    server = Server(status(503))
    error = fails(
        server,
        lambda c: c.asset("a-1"),
        ServerError,
        sleeps=sleeps,
        retry=RetryPolicy(base_delay=1),
        rng=random.Random(0),
    )
    expected_rng = random.Random(0)
    expected = [base * (1 + expected_rng.uniform(-0.25, 0.25)) for base in (1, 2, 4)]
    assert sleeps.delays == pytest.approx(expected)
    for delay, base in zip(sleeps.delays, (1, 2, 4), strict=True):
        assert 0.75 * base <= delay <= 1.25 * base
        assert delay != base
    assert len(server.requests) == 4
    assert error.status == 503
    assert "503" in str(error)


def test_5xx_then_success() -> None:
    sleeps = Sleeps()
    server = Server(status(502), status(500), item(ASSET_ITEM))
    asset = call(server, lambda c: c.asset("a-1"), sleeps=sleeps)
    assert asset.asset_id == "a-1"
    assert len(sleeps.delays) == 2
    assert server.paths == ["GET /api/v1.0/assets/a-1"] * 3


@pytest.mark.parametrize("attempts", [1, 2, 6])
def test_attempts_are_bounded(attempts: int) -> None:
    sleeps = Sleeps()
    server = Server(status(500))
    fails(
        server,
        lambda c: c.asset("a-1"),
        ServerError,
        sleeps=sleeps,
        retry=RetryPolicy(attempts=attempts, base_delay=0.01),
    )
    assert len(server.requests) == attempts
    assert len(sleeps.delays) == attempts - 1


def test_backoff_is_capped_by_max_delay() -> None:
    sleeps = Sleeps()
    fails(
        Server(status(500)),
        lambda c: c.asset("a-1"),
        ServerError,
        sleeps=sleeps,
        retry=RetryPolicy(base_delay=10, max_delay=15, jitter=0),
    )
    assert sleeps.delays == [10.0, 15.0, 15.0]


@pytest.mark.parametrize("failure", list(FAILURES))
def test_read_failures_are_retried_then_raised(failure: str) -> None:
    reply, error_class, sent, timeout = FAILURES[failure]
    sleeps = Sleeps()
    server = Server(reply)
    error = fails(server, lambda c: c.asset("a-1"), error_class, sleeps=sleeps)
    assert len(server.requests) == 4
    assert len(sleeps.delays) == 3
    assert error.request_sent is sent
    if isinstance(error, NetworkError):
        assert error.timeout is timeout


@pytest.mark.parametrize("failure", ["503", "read-timeout", "connect-error", "dropped"])
def test_read_failure_then_success(failure: str) -> None:
    server = Server(FAILURES[failure][0], ok({"Items": [ASSET_ITEM]}))
    found = call(server, lambda c: c.assets_by_tag("CB-004512"))
    assert [a.asset_tag for a in found] == ["CB-004512"]
    assert len(server.requests) == 2


def test_query_routes_are_retried_with_the_same_body() -> None:
    server = Server(status(503), ok({"Items": [ASSET_ITEM]}))
    found = call(server, lambda c: c.query_assets([Filter("assettag", value="CB-004512")]))
    assert len(found) == 1
    assert len(server.requests) == 2
    assert server.body(0) == server.body(1)
    assert server.requests[0].url == server.requests[1].url


def test_connect_timeout_and_read_timeout_differ() -> None:
    connect = fails(
        Server(httpx.ConnectTimeout),
        lambda c: c.asset("a-1"),
        NetworkError,
        retry=RetryPolicy(attempts=1),
    )
    read = fails(
        Server(httpx.ReadTimeout),
        lambda c: c.asset("a-1"),
        NetworkError,
        retry=RetryPolicy(attempts=1),
    )
    assert connect.timeout is True and read.timeout is True
    assert connect.request_sent is False
    assert read.request_sent is True
    assert connect.detail == "timed out (ConnectTimeout)"
    assert read.detail == "timed out (ReadTimeout)"
    assert "did not answer in time" in str(read)


# --- changes are sent once --------------------------------------------------------------


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_mutations_are_sent_exactly_once(mutation: str, failure: str) -> None:
    reply, error_class, sent, timeout = FAILURES[failure]
    sleeps = Sleeps()
    server = Server(reply, ok())
    error = fails(server, MUTATIONS[mutation], error_class, sleeps=sleeps)
    assert server.paths == [MUTATION_PATHS[mutation]]
    assert sleeps.delays == []
    assert error.request_sent is sent
    if isinstance(error, NetworkError):
        assert error.timeout is timeout


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_mutations_are_not_repeated_on_429(mutation: str) -> None:
    sleeps = Sleeps()
    server = Server(status(429, **{"Retry-After": "1"}), ok())
    error = fails(server, MUTATIONS[mutation], RateLimitedError, sleeps=sleeps)
    assert len(server.requests) == 1
    assert error.request_sent is False
    assert sleeps.delays == []


@pytest.mark.parametrize("failure", ["503", "read-timeout", "dropped"])
def test_owner_route_transfer_is_sent_once(failure: str) -> None:
    server = Server(FAILURES[failure][0], ok())
    fails(server, lambda c: c.transfer("a-1", "u-2"), FAILURES[failure][1], transfer_api="owner")
    assert server.paths == ["POST /api/v1.0/assets/a-1/owner"]


def test_failed_checkout_does_not_fall_back_to_owner_route() -> None:
    async def action(client: IIQClient) -> str:
        with pytest.raises(ServerError):
            await client.transfer("a-1", "u-2")
        return client.transfer_api

    server = Server(status(500))
    assert call(server, action) == "checkout"
    assert len(server.requests) == 1


# --- other statuses ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_redirects_are_not_followed(code: int) -> None:
    server = Server(httpx.Response(code, headers={"Location": "https://login.example.org/sso"}))
    error = fails(server, lambda c: c.asset("a-1"), ResponseError)
    assert error.status == code
    assert "redirected" in str(error)
    assert len(server.requests) == 1
    assert all(r.url.host == "district.incidentiq.com" for r in server.requests)


def test_400_message_includes_the_server_text() -> None:
    server = Server(
        httpx.Response(
            400,
            json={
                "Message": "The request is invalid.",
                "ErrorKey": "ValidationFailed",
                "Errors": [
                    {"Field": "Subject", "Message": "Subject is required"},
                    {"Message": "IssueId is unknown"},
                    {"Field": "Ignored"},
                ],
            },
        )
    )
    error = fails(server, lambda c: c.create_ticket(TICKET), InvalidInputError)
    assert str(error) == (
        "Incident IQ refused the request: The request is invalid.; "
        "Subject: Subject is required; IssueId is unknown"
    )
    assert error.status == 400
    assert error.detail.startswith("400: ")
    assert "ValidationFailed" in error.detail


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(400), httpx.Response(400, json=["x"]), httpx.Response(400, text="bad")],
)
def test_400_without_a_usable_message(reply: httpx.Response) -> None:
    server = Server(reply)
    error = fails(server, lambda c: c.asset("a-1"), InvalidInputError)
    assert str(error) == "Incident IQ refused the request."
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "site_id_rejected", "said"),
    [
        (None, False, None),
        ({"Message": "Authorization has been denied for this request."}, False, None),
        ({"ErrorKey": "Unauthorized", "Message": "Token expired"}, False, None),
        ({"Message": "A website identifier is wrong"}, False, None),
        (
            {"ErrorKey": "InvalidSiteId", "Message": "The SiteId header does not match."},
            True,
            "The SiteId header does not match.",
        ),
        ({"ErrorKey": "INVALID_SITE_ID"}, True, "INVALID_SITE_ID"),
        ({"errorkey": "siteidmismatch", "message": "Nope."}, True, "Nope."),
        ({"Message": "Invalid site id."}, True, "Invalid site id."),
        ({"Message": "Unknown Site-Id 1234"}, True, "Unknown Site-Id 1234"),
    ],
)
def test_401_says_whether_the_site_id_or_the_token_was_refused(
    body: dict[str, str] | None, site_id_rejected: bool, said: str | None
) -> None:
    reply = httpx.Response(401) if body is None else httpx.Response(401, json=body)
    error = fails(Server(reply), lambda c: c.login(), AuthError)
    assert error.site_id_rejected is site_id_rejected
    if said is None:
        assert "API token" in str(error)
        assert "site id" not in str(error)
    else:
        assert str(error) == (
            f"Incident IQ did not accept the site id (IIQ_SITE_ID / [iiq] site_id): {said}"
        )


@pytest.mark.parametrize(
    ("reply", "error_class", "words"),
    [
        (status(401), AuthError, "token"),
        (status(403), ForbiddenError, "not allowed"),
        (status(409), InvalidInputError, "refused"),
        (status(422), InvalidInputError, "refused"),
    ],
)
def test_client_errors_are_typed_and_not_retried(
    reply: httpx.Response, error_class: type[IIQError], words: str
) -> None:
    server = Server(reply)
    error = fails(server, lambda c: c.asset("a-1"), error_class)
    assert words in str(error)
    assert error.status == reply.status_code
    assert len(server.requests) == 1


ASP_NET_URI = "https://district.incidentiq.com/api/v1.0/assets/checkouts/checkout-or-transfer"
ASP_NET_404 = {
    "Message": f"No HTTP resource was found that matches the request URI '{ASP_NET_URI}'.",
    "MessageDetail": f"No route providing a controller name was found to match request URI "
    f"'{ASP_NET_URI}'",
}


@pytest.mark.parametrize(
    ("reply", "route_missing"),
    [
        # No JSON at all: a proxy, CDN or IIS itself answered.
        (httpx.Response(404), True),
        (httpx.Response(404, content=b"  \r\n"), True),
        (httpx.Response(404, html="<h1>Not Found</h1>"), True),
        (httpx.Response(404, text="Not Found"), True),
        (httpx.Response(404, json=ASP_NET_404), True),
        # ASP.NET's wording, tolerantly: one of the two fields, other key case.
        (httpx.Response(404, json={"Message": ASP_NET_404["Message"]}), True),
        (httpx.Response(404, json={"MessageDetail": ASP_NET_404["MessageDetail"]}), True),
        (httpx.Response(404, json={"message": ASP_NET_404["Message"].upper()}), True),
        (
            httpx.Response(
                404,
                json={
                    "Message": "Not found.",
                    "MessageDetail": "No type was found that matches the controller named "
                    "'checkouts'.",
                },
            ),
            True,
        ),
        # The application itself answered: the record is missing.
        (httpx.Response(404, json={"Message": "Asset not found"}), False),
        (httpx.Response(404, json={"ErrorKey": "AssetNotFound", "Message": "nope"}), False),
        (httpx.Response(404, json={**ASP_NET_404, "ErrorKey": "NoOpenCheckout"}), False),
        (httpx.Response(404, json={**ASP_NET_404, "Item": {}}), False),
        (httpx.Response(404, json={"StatusCode": 404}), False),
        (httpx.Response(404, json={}), False),
        (httpx.Response(404, json=[]), False),
    ],
)
def test_404_route_missing(reply: httpx.Response, route_missing: bool) -> None:
    server = Server(reply)
    error = fails(server, lambda c: c.asset("a-1"), NotFoundError)
    assert error.route_missing is route_missing
    assert len(server.requests) == 1


def test_lookup_404_is_an_empty_list() -> None:
    server = Server(httpx.Response(404), httpx.Response(404, json={"Message": "none"}))
    found = call(server, lambda c: c.find_assets("CB-1"))
    assert found.assets == [] and found.matched_by is None
    assert server.paths == [
        "GET /api/v1.0/assets/assettag/CB-1",
        "GET /api/v1.0/assets/serial/CB-1",
    ]


# --- transfer / check-in route choice ---------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [
        httpx.Response(404, json=ASP_NET_404),
        httpx.Response(404),
        httpx.Response(404, html="<html>404</html>"),
    ],
    ids=["asp-net-json", "empty", "html"],
)
def test_transfer_falls_back_when_checkout_route_is_missing(
    missing: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    async def action(client: IIQClient) -> list[str]:
        return [
            await client.transfer("a-1", "u-2"),
            await client.transfer("a-2", "u-3"),
            client.transfer_api,
        ]

    server = Server(missing, ok(), ok())
    with caplog.at_level(logging.WARNING, logger="kiosk.iiq"):
        assert call(server, action) == ["owner", "owner", "owner"]
    assert server.paths == [
        "POST /api/v1.0/assets/checkouts/checkout-or-transfer",
        "POST /api/v1.0/assets/a-1/owner",
        "POST /api/v1.0/assets/a-2/owner",
    ]
    assert server.body(1) == {
        "OwnerId": "u-2",
        "UpdateAssetWithUserLocation": False,
        "Force": False,
    }
    assert any("does not exist on this site" in r.getMessage() for r in caplog.records)


def test_transfer_json_404_is_not_a_missing_route() -> None:
    async def action(client: IIQClient) -> str:
        with pytest.raises(NotFoundError) as info:
            await client.transfer("nope", "u-2")
        assert info.value.route_missing is False
        return client.transfer_api

    server = Server(httpx.Response(404, json={"Message": "Asset not found"}))
    assert call(server, action) == "checkout"
    assert len(server.requests) == 1


def test_transfer_body_and_owner_route_options() -> None:
    server = Server(ok())
    call(server, lambda c: c.transfer("a-1", "u-2", due_date="2026-06-01", ticket_id="t-9"))
    assert server.body(0) == {
        "AssetId": "a-1",
        "OwnerId": "u-2",
        "ToOwnerId": "u-2",
        "Source": "api",
        "DueDate": "2026-06-01",
        "TicketId": "t-9",
    }
    server = Server(ok())
    result = call(
        server,
        lambda c: c.transfer("a-1", "u-2"),
        transfer_api="owner",
        update_asset_with_user_location=True,
    )
    assert result == "owner"
    assert server.body(0) == {"OwnerId": "u-2", "UpdateAssetWithUserLocation": True, "Force": False}


def test_checkin_routes() -> None:
    server = Server(ok())
    assert call(server, lambda c: c.checkin("a-1", owner_id="u-2")) == "checkin"
    assert server.body(0) == {"AssetId": "a-1", "OwnerId": "u-2"}

    no_open = httpx.Response(404, json={"ErrorKey": "NoOpenCheckout", "Message": "No checkout"})
    server = Server(no_open, ok())

    async def twice(client: IIQClient) -> list[str]:
        return [await client.checkin("a-1"), client.transfer_api]

    assert call(server, twice) == ["remove-owner", "checkout"]
    assert server.paths == [
        "POST /api/v1.0/assets/checkouts/checkin",
        "POST /api/v1.0/assets/a-1/remove-owner",
    ]
    assert server.requests[1].content == b""

    for missing in (
        httpx.Response(404),
        httpx.Response(404, html="<html>404</html>"),
        httpx.Response(404, json=ASP_NET_404),
    ):
        server = Server(missing, ok())
        assert call(server, twice) == ["remove-owner", "owner"]

    server = Server(ok())
    assert call(server, lambda c: c.checkin("a-1"), transfer_api="owner") == "remove-owner"
    assert server.paths == ["POST /api/v1.0/assets/a-1/remove-owner"]


def test_update_asset_and_ticket_replies() -> None:
    server = Server(item({**ASSET_ITEM, "Notes": "x"}))
    updated = call(server, lambda c: c.update_asset(ASSET, {"Notes": "x"}))
    assert updated is not None and updated.notes == "x"
    assert call(Server(ok({"Uid": "u", "Id": "a-1"})), lambda c: c.update_asset(ASSET, {})) is None

    server = Server(httpx.Response(201, json={"Item": {"TicketId": "t-1", "TicketNumber": 1042}}))
    ticket = call(server, lambda c: c.create_ticket(TICKET))
    assert (ticket.ticket_id, ticket.ticket_number) == ("t-1", "1042")
    assert server.body(0)["ProductId"] == TICKETING_PRODUCT_ID
    assert server.body(0)["Assets"] == [{"AssetId": "a-1"}]

    server = Server(item({"TicketId": "t-2"}))
    custom = TicketRequest(
        subject="s", description="d", for_user_id="u", asset_id="a", product_id="p"
    )
    call(server, lambda c: c.create_ticket(custom))
    assert server.body(0)["ProductId"] == "p"


# --- headers ----------------------------------------------------------------------------


def test_headers_on_a_read() -> None:
    server = Server(item(ASSET_ITEM))
    call(server, lambda c: c.asset("a-1"))
    headers = server.requests[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["SiteId"] == SITE_ID
    assert headers["Client"] == "ApiClient"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("iiq-kiosk/")
    assert "ProductId" not in headers
    assert "ApiFlags" not in headers
    assert "Content-Type" not in headers
    assert server.requests[0].content == b""


def test_product_id_header_when_configured() -> None:
    server = Server(item(ASSET_ITEM), ok())

    async def two(client: IIQClient) -> None:
        await client.asset("a-1")
        await client.transfer("a-1", "u-2")

    call(server, two, product_id=ASSETS_PRODUCT_ID)
    assert [r.headers["ProductId"] for r in server.requests] == [ASSETS_PRODUCT_ID] * 2


def test_update_asset_headers_and_body() -> None:
    server = Server(item(ASSET_ITEM))
    call(server, lambda c: c.update_asset(ASSET, {"LocationId": "l-1", "LocationRoomId": "r-1"}))
    request = server.requests[0]
    assert request.method == "POST"
    assert request.headers["ApiFlags"] == "OnlySetMappedProperties"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert server.body(0) == {
        "AssetTag": "CB-004512",
        "SerialNumber": "5CD3110A4512",
        "LocationId": "l-1",
        "LocationRoomId": "r-1",
    }


@pytest.mark.parametrize("mutation", ["transfer", "checkin", "set_status", "create_ticket"])
def test_bodies_carry_content_type_and_no_api_flags(mutation: str) -> None:
    server = Server(ok({"Item": {"TicketId": "t"}}))
    call(server, MUTATIONS[mutation])
    request = server.requests[0]
    assert request.headers["Content-Type"] == "application/json"
    assert "ApiFlags" not in request.headers
    assert isinstance(json.loads(request.content), dict)


# --- paging -----------------------------------------------------------------------------


def rows(n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"AssetId": f"a-{i}", "AssetTag": f"CB-{i:06d}"} for i in range(start, start + n)]


def paged(total: int, *, with_paging: bool = True) -> Callable[[httpx.Request], httpx.Response]:
    def reply(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params["$s"])
        index = int(request.url.params["$p"])
        body: dict[str, Any] = {
            "Items": rows(max(0, min(size, total - index * size)), index * size)
        }
        if with_paging:
            body["Paging"] = {
                "TotalRows": total,
                "PageCount": -(-total // size),
                "PageSize": size,
                "PageIndex": index,
            }
        return ok(body)

    return reply


def test_paging_stops_on_page_count() -> None:
    server = Server(paged(6))
    found = call(server, lambda c: c.query_assets(page_size=2))
    assert [a.asset_id for a in found] == [f"a-{i}" for i in range(6)]
    assert [r.url.query for r in server.requests] == [
        b"$s=2&$p=0",
        b"$s=2&$p=1",
        b"$s=2&$p=2",
    ]
    assert all(
        json.loads(r.content)
        == {"Filters": [], "OnlyShowDeleted": False, "FilterByViewPermission": True}
        for r in server.requests
    )


def test_paging_stops_on_page_count_even_when_the_page_is_full() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return ok({"Items": rows(2), "Paging": {"PageIndex": 0, "PageCount": 1}})

    server = Server(reply)
    assert len(call(server, lambda c: c.query_assets(page_size=2))) == 2
    assert len(server.requests) == 1


def test_paging_follows_page_count_when_the_server_caps_the_page_size() -> None:
    def capped(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params["$p"])
        size = min(int(request.url.params["$s"]), 1000)
        body = {
            "Items": rows(max(0, min(size, 2500 - index * size)), index * size),
            "Paging": {"TotalRows": 2500, "PageCount": 3, "PageSize": size, "PageIndex": index},
        }
        return ok(body)

    server = Server(capped)
    found = call(server, lambda c: c.query_users(page_size=2000))
    assert len(found) == 2500
    assert len(server.requests) == 3


def test_paging_stops_on_a_short_page_without_paging_info() -> None:
    server = Server(paged(5, with_paging=False))
    found = call(server, lambda c: c.query_users(page_size=2))
    assert len(found) == 5
    assert len(server.requests) == 3
    assert server.requests[0].url.raw_path == b"/api/v1.0/users?$s=2&$p=0"


def test_paging_exact_multiple_ends_on_an_empty_page() -> None:
    server = Server(paged(4, with_paging=False))
    assert len(call(server, lambda c: c.query_assets(page_size=2))) == 4
    assert len(server.requests) == 3


@pytest.mark.parametrize(("page_size", "max_items", "calls"), [(10, 15, 2), (10, 3, 1), (5, 5, 1)])
def test_paging_stops_at_max_items(page_size: int, max_items: int, calls: int) -> None:
    server = Server(paged(1000))
    found = call(server, lambda c: c.query_assets(page_size=page_size, max_items=max_items))
    assert [a.asset_id for a in found] == [f"a-{i}" for i in range(max_items)]
    assert len(server.requests) == calls


def test_search_users_pages_and_limits() -> None:
    def people(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params["$s"])
        return ok({"Items": [{"UserId": f"u-{i}"} for i in range(size)]})

    server = Server(people)
    found = call(server, lambda c: c.search_users("smith", limit=150))
    assert len(found) == 150
    assert [r.url.raw_path for r in server.requests] == [
        b"/api/v1.0/users/search/smith?$s=100&$p=0",
        b"/api/v1.0/users/search/smith?$s=100&$p=1",
    ]


def test_activities_ask_for_one_page() -> None:
    server = Server(ok({"Items": [{"ActivityType": "Checked out"}] * 30}))
    found = call(server, lambda c: c.activities("a-1", limit=5))
    assert len(found) == 5
    assert server.paths == ["GET /api/v1.0/assets/a-1/activities?$s=5&$p=0"]


def test_dollar_signs_stay_literal_in_the_query_string() -> None:
    server = Server(ok())
    call(server, lambda c: c.search_users("a b?c", limit=20))
    raw = server.requests[0].url.raw_path
    assert raw == b"/api/v1.0/users/search/a%20b%3Fc?$s=20&$p=0"
    assert b"%24" not in raw


# --- secrets and personal data stay out of logs and messages ----------------------------


ERROR_PATHS: list[tuple[list[Reply], Action]] = [
    ([status(401)], lambda c: c.login()),
    ([status(403)], lambda c: c.transfer("a-1", "u-2")),
    ([httpx.Response(404)], lambda c: c.asset("a-1")),
    (
        [httpx.Response(400, json={"Message": "bad", "Errors": [{"Field": "F", "Message": "m"}]})],
        lambda c: c.update_asset(ASSET, {}),
    ),
    (
        [status(429, **{"Retry-After": "1"}), status(429, **{"Retry-After": "999"})],
        lambda c: c.asset("a-1"),
    ),
    ([status(503)], lambda c: c.assets_by_tag("CB-1")),
    ([status(500)], lambda c: c.create_ticket(TICKET)),
    ([status(302, Location="https://evil.example/")], lambda c: c.locations()),
    ([httpx.Response(200, html="<html/>")], lambda c: c.status_types()),
    ([ok({"Items": [{"bad": 1}]})], lambda c: c.assets_by_serial("SN")),
    ([httpx.ConnectError], lambda c: c.asset("a-1")),
    ([httpx.ConnectTimeout], lambda c: c.asset("a-1")),
    ([httpx.ReadTimeout], lambda c: c.checkin("a-1")),
    ([httpx.RemoteProtocolError], lambda c: c.transfer("a-1", "u-2")),
    ([httpx.Response(404), status(500)], lambda c: c.transfer("a-1", "u-2")),
]


@pytest.mark.parametrize(("replies", "action"), ERROR_PATHS)
def test_token_never_in_errors_or_logs(
    replies: list[Reply], action: Action, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IIQError) as info:
        call(Server(*replies), action)
    error = info.value
    texts = [str(error), repr(error), error.detail, error.message, *map(str, error.args)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert caplog.records, "the error path logged nothing"
    for text in texts:
        assert TOKEN not in text
        assert TOKEN[20:40] not in text


def test_token_never_in_reprs() -> None:
    connection = Connection(site_url=SITE, site_id=SITE_ID, token=TOKEN)
    assert TOKEN not in repr(connection)
    assert TOKEN not in str(connection)
    assert SITE in repr(connection)

    async def main() -> str:
        async with IIQClient(connection) as client:
            return repr(client) + str(client)

    text = asyncio.run(main())
    assert TOKEN not in text
    assert "district.incidentiq.com/api/v1.0" in text


SEARCH_PATHS: list[list[Reply]] = [
    [ok({"Items": [{"UserId": "u-1"}]})],
    [status(503), ok()],
    [status(500)],
    [httpx.Response(404)],
    [httpx.Response(400, json={"Message": "bad query"})],
    [httpx.ReadTimeout],
    [httpx.ConnectError],
    [httpx.RemoteProtocolError],
    [httpx.Response(200, html="<html/>")],
    [status(429, **{"Retry-After": "0"}), ok()],
]
PRIVATE = ("Ana", "Ruiz", "204518", "ana.ruiz")


def _search_everything(replies: list[Reply]) -> None:
    async def action(client: IIQClient) -> None:
        for query in ("Ana Ruiz", "204518", "ana.ruiz@students.example.org"):
            try:
                await client.search_users(query)
            except IIQError as error:
                for text in (str(error), error.detail):
                    assert not any(word in text for word in PRIVATE)

    call(Server(*replies), action)


@pytest.mark.parametrize("replies", SEARCH_PATHS)
def test_person_search_query_not_in_client_logs(
    replies: list[Reply], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _search_everything(replies)
    mine = [r for r in caplog.records if r.name.startswith("kiosk")]
    assert mine, "the client logged nothing"
    assert any("/users/search/<query>" in r.getMessage() for r in mine)
    for record in mine:
        assert not any(word in record.getMessage() for word in PRIVATE), record.getMessage()


def test_person_search_query_not_in_any_log_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _search_everything([ok()])
    for record in caplog.records:
        assert not any(word in record.getMessage() for word in PRIVATE), (
            record.name,
            record.getMessage(),
        )


@pytest.mark.parametrize("with_paging", [True, False])
def test_a_server_that_ignores_the_page_number_is_read_once(with_paging: bool) -> None:
    """`$p` ignored: every request answers the first page. The query stops at the repeat,
    with every row once, instead of looping or handing out the same rows again."""
    rows = [{"AssetId": f"a{i}", "AssetTag": f"T{i}"} for i in range(2)]
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["$p"])
        body: dict[str, Any] = {"Items": rows}
        if with_paging:
            body["Paging"] = {"PageIndex": 0, "PageCount": 5, "PageSize": 2, "TotalRows": 10}
        return httpx.Response(200, json=body)

    async def action(client: IIQClient) -> list[str]:
        return [a.asset_id async for page in client.asset_pages(page_size=2) for a in page.items]

    assert call(server, action) == ["a0", "a1"]
    assert asked == ["0", "1"]
