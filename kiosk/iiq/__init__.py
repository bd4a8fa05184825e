"""Incident IQ API client: requests, typed replies and errors. No Qt in here."""

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
