"""Incident IQ API client: requests, typed replies and errors. No Qt in here.

The names below are re-exported lazily: importing `kiosk.iiq.errors` (which the settings and
the first window need) must not load httpx and the reply models, which only the connection
needs, a moment later.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

# httpx imports its own command-line tool (click, pygments and rich: about 50 ms) whenever it
# is imported; the kiosk never runs it. A None entry makes that one import fail, which httpx
# expects (it then offers a stub `httpx.main`), and keeps it off the kiosk's start-up. Here,
# because this package is imported before the client, and before anything else uses httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from kiosk.iiq.client import Connection, IIQClient, RetryPolicy, api_base, path_segment
    from kiosk.iiq.errors import (
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

_HOMES = {
    "client": ("Connection", "IIQClient", "RetryPolicy", "api_base", "path_segment"),
    "errors": (
        "AuthError",
        "ForbiddenError",
        "IIQError",
        "InvalidInputError",
        "NetworkError",
        "NotFoundError",
        "RateLimitedError",
        "ResponseError",
        "ServerError",
    ),
    "models": (
        "Activity",
        "Asset",
        "Filter",
        "Location",
        "LoginInfo",
        "Person",
        "Room",
        "StatusType",
        "TicketRef",
        "TicketRequest",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "Activity",
    "Asset",
    "AuthError",
    "Connection",
    "Filter",
    "ForbiddenError",
    "IIQClient",
    "IIQError",
    "InvalidInputError",
    "Location",
    "LoginInfo",
    "NetworkError",
    "NotFoundError",
    "Person",
    "RateLimitedError",
    "ResponseError",
    "RetryPolicy",
    "Room",
    "ServerError",
    "StatusType",
    "TicketRef",
    "TicketRequest",
    "api_base",
    "path_segment",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'kiosk.iiq' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kiosk.iiq.{module}"), name)
    globals()[name] = value
    return value
