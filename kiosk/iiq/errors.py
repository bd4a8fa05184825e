"""One error hierarchy for everything that can go wrong talking to Incident IQ.

Each error carries a message a person at the kiosk understands (`str(error)`) and, apart
from it, the technical detail for the log (`detail`). Neither ever contains the API token:
errors are built from the status, the route and a trimmed reply body only.
"""

from __future__ import annotations

from typing import ClassVar

#: How much of a reply body goes into a log line; replies can hold personal data.
BODY_LOG_LIMIT = 300


class IIQError(Exception):
    """Base of every Incident IQ client error.

    `request_sent` tells whether the request may have reached the server. For a change
    (transfer, check-in) that is what decides whether it might already be applied and must be
    verified by re-reading the asset before it is tried again.
    """

    kind: ClassVar[str] = "error"
    #: Whether trying the same read again later can help.
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        request_sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail
        self.request_sent = request_sent

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class InvalidInputError(IIQError):
    """The input cannot be sent (empty tag, bad URL) or the server said 400."""

    kind = "invalid"


class AuthError(IIQError):
    """401: the token is wrong, expired or revoked, or (`site_id_rejected`) the server
    refused the SiteId header the kiosk sent."""

    kind = "auth"

    def __init__(
        self,
        message: str,
        *,
        site_id_rejected: bool = False,
        status: int | None = None,
        detail: str = "",
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, detail=detail, request_sent=request_sent)
        self.site_id_rejected = site_id_rejected


class ForbiddenError(IIQError):
    """403: the token's user lacks a right."""

    kind = "forbidden"


class NotFoundError(IIQError):
    """404. `route_missing` is True when the route itself does not exist on this site
    (ASP.NET's "No HTTP resource was found" JSON, or a body that is not JSON at all), False
    when the route answered that the record is missing (ErrorKey, Item, the app's own
    message)."""

    kind = "not_found"

    def __init__(
        self,
        message: str,
        *,
        route_missing: bool = False,
        status: int | None = None,
        detail: str = "",
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, detail=detail, request_sent=request_sent)
        self.route_missing = route_missing


class RateLimitedError(IIQError):
    """429: Incident IQ asks us to slow down; `retry_after` in seconds when it said."""

    kind = "rate_limited"
    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        detail: str = "",
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, detail=detail, request_sent=request_sent)
        self.retry_after = retry_after


class ServerError(IIQError):
    """5xx: Incident IQ failed. A change may or may not have been applied."""

    kind = "server"
    transient = True


class NetworkError(IIQError):
    """No usable reply: cannot connect, timed out, connection dropped. Also raised at once,
    with `request_sent=False`, while the client knows it is offline (see
    `IIQClient.online`)."""

    kind = "network"
    transient = True

    def __init__(
        self,
        message: str,
        *,
        timeout: bool = False,
        status: int | None = None,
        detail: str = "",
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, detail=detail, request_sent=request_sent)
        self.timeout = timeout


class ResponseError(IIQError):
    """A reply that is not what the API promises (not JSON, wrong shape)."""

    kind = "response"
