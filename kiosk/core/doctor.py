"""The district self-check (`iiq-kiosk doctor`, the setup window's "Test connection",
`iiq-kiosk setup`): read-only calls against a district's Incident IQ site, each turned into
one line that says OK / WARN / FAIL, what was found, what it means for the kiosk and what
to do.

Nothing here changes a record. The two probes of the change routes ask to check in, and to
remove the owner of, a device whose id is all zeros: no such device exists, so the site can
only answer "no such record" (the route exists), "no such route", or "not allowed".

The report's `to_dict()` (and `write()`) is meant to be sent back to the kiosk's developers:
it answers the open questions of `shared/iiq-api.md` and carries nothing secret or personal:
no token, no person's name, email or id, no site address or site id. The name of the token's
account is kept apart (`DoctorReport.account`) and only `render(who=True)` shows it, on the
screen of whoever runs the check.

Every line's explanation lives once, in `OUTCOMES` (`explanations_markdown()` renders it
for the README).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import platform
import re
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from kiosk import __version__
from kiosk.core.files import write_atomically
from kiosk.iiq.client import (
    IIQClient,
    ProbeReply,
    is_loopback_host,
    path_segment,
    retry_after_seconds,
)
from kiosk.iiq.errors import AuthError, ForbiddenError, NetworkError, NotFoundError
from kiosk.iiq.models import LoginInfo
from kiosk.logs import redact

if TYPE_CHECKING:
    from kiosk.config import Settings

log = logging.getLogger(__name__)

Level = Literal["OK", "WARN", "FAIL"]
LEVELS: tuple[Level, ...] = ("OK", "WARN", "FAIL")

REPORT_FORMAT = 1
#: A device id no record can have: the change-route probes name it, so nothing can change.
ZERO_ID = "00000000-0000-0000-0000-000000000000"
#: The page size asked for to see whether Incident IQ caps `$s` (the kiosk asks <= 100).
CAP_PROBE_PAGE_SIZE = 5000
#: The largest page size the kiosk itself asks for (lookups, searches, history).
KIOSK_PAGE_SIZE = 100
#: Above this (absolute) clock difference the clock line warns.
CLOCK_SKEW_WARN_S = 120.0
#: Above this 95th percentile of lookup times the round-trip line warns.
ROUND_TRIP_WARN_S = 1.5
#: How often one request is tried while Incident IQ answers 429, and the longest wait.
RATE_LIMIT_TRIES = 3
RATE_LIMIT_MAX_WAIT_S = 30.0


# --- the explanations: one table, quoted by the README ---------------------------------


@dataclass(frozen=True)
class Outcome:
    """One possible line: its level, what it means for the kiosk, what to do ("" when
    nothing)."""

    check: str
    level: Level
    meaning: str
    action: str = ""


#: Check id -> title, in the order the lines appear.
CHECKS: dict[str, str] = {
    "login": "Connection and token (GET /login)",
    "status_types": "Status types (GET /assets/status/types)",
    "locations": "Locations (GET /locations/all)",
    "asset_query": "Asset query, one row (POST /assets)",
    "page_cap": "Page size cap ($s)",
    "tag_lookup": "Unknown tag (GET /assets/assettag/{tag})",
    "user_search": "People search (GET /users/search/{query})",
    "checkout_routes": "Check-out routes (POST /assets/checkouts/checkin, a made-up device)",
    "owner_routes": "Owner routes (POST /assets/{id}/remove-owner, a made-up device)",
    "rights": "What the token may do",
    "round_trip": "Round trips (tag lookups)",
    "clock": "Clock (the server's Date header)",
    "rate_limit": "Rate limits (429)",
}

_SEND_REPORT = "Send this report (iiq-kiosk doctor --write-report FILE) to the kiosk's developers."
_RIGHTS = (
    "Ask an Incident IQ administrator to give the token's account that right, or make the "
    "token for an account that has it (Admin > Developer Tools)."
)

OUTCOMES: dict[str, Outcome] = {
    # login
    "login.ok": Outcome(
        "login",
        "OK",
        "The site answers, the token is accepted and the site id fits: the kiosk can talk "
        "to Incident IQ.",
    ),
    "login.site_mismatch": Outcome(
        "login",
        "WARN",
        "Incident IQ says the token belongs to another site than the site id the kiosk is "
        "set up with.",
        "Compare IIQ_SITE_ID / [iiq] site_id with the Site ID in Incident IQ (Admin > "
        "Developer Tools).",
    ),
    "login.unreachable": Outcome(
        "login",
        "FAIL",
        "No answer from the site address: the kiosk cannot look anything up. It would only "
        "show what it saw before and keep changes to send later.",
        "Check the site address (https://yourdistrict.incidentiq.com), this PC's network "
        "connection, and any proxy or firewall between this PC and Incident IQ.",
    ),
    "login.not_iiq": Outcome(
        "login",
        "FAIL",
        "The address answers, but not like Incident IQ's API (a sign-in page, a redirect, "
        "a proxy's page): every lookup would fail.",
        "Use the site address only, e.g. https://yourdistrict.incidentiq.com (no page path).",
    ),
    "login.bad_token": Outcome(
        "login",
        "FAIL",
        "Incident IQ refused the API token: it is wrong, expired or revoked. The kiosk can do "
        "nothing with it.",
        "Make a new API token in Incident IQ (Admin > Developer Tools) and store it with "
        "'iiq-kiosk token set' (or IIQ_TOKEN).",
    ),
    "login.site_id": Outcome(
        "login",
        "FAIL",
        "Incident IQ refused the site id the kiosk sent: every request would be refused.",
        "Copy the Site ID from Incident IQ (Admin > Developer Tools) into IIQ_SITE_ID or "
        "[iiq] site_id.",
    ),
    "login.forbidden": Outcome(
        "login",
        "WARN",
        "The token is known, but its account may not use the sign-in check. The lines below "
        "tell what it may do.",
        _RIGHTS,
    ),
    "login.missing": Outcome(
        "login",
        "WARN",
        "This site has no GET /login route (it is only in Incident IQ's Postman collection): "
        "'iiq-kiosk token check' cannot say who the token belongs to. The kiosk itself works "
        "if the lines below are OK.",
        _SEND_REPORT,
    ),
    "login.failed": Outcome(
        "login",
        "FAIL",
        "Incident IQ did not answer the sign-in check normally (see the finding).",
        "Run the check again in a few minutes; if it stays, ask Incident IQ support.",
    ),
    # status types
    "status_types.ok": Outcome(
        "status_types",
        "OK",
        "The kiosk finds the statuses it sets at check-in by name.",
    ),
    "status_types.missing": Outcome(
        "status_types",
        "FAIL",
        "Check-in sets a device's status by name; a name this site does not have stops "
        "every such check-in before anything is sent.",
        "Set [checkin] status_name / repair_status_name to names from the list in the "
        "finding (case does not matter).",
    ),
    "status_types.empty": Outcome(
        "status_types",
        "WARN",
        "Incident IQ listed no status types: check-in cannot set a status.",
        _RIGHTS,
    ),
    "status_types.failed": Outcome(
        "status_types",
        "FAIL",
        "The kiosk reads the status types when it starts; without them check-in cannot set "
        "a status.",
        "403: " + _RIGHTS + " Otherwise run the check again later.",
    ),
    # locations
    "locations.ok": Outcome(
        "locations",
        "OK",
        "The locations the kiosk puts devices in at check-in exist on this site.",
    ),
    "locations.missing": Outcome(
        "locations",
        "FAIL",
        "A location id in the kiosk's settings is not one of this site's locations: "
        "check-ins to it would be refused by Incident IQ.",
        "Copy the location's id from Incident IQ into the setting named in the finding.",
    ),
    "locations.empty": Outcome(
        "locations",
        "WARN",
        "Incident IQ listed no locations: the token's account may not see them.",
        _RIGHTS,
    ),
    "locations.failed": Outcome(
        "locations",
        "FAIL",
        "The kiosk cannot read the locations: check-in cannot put a device in its place.",
        "403: " + _RIGHTS + " Otherwise run the check again later.",
    ),
    # asset query
    "asset_query.ok": Outcome(
        "asset_query",
        "OK",
        "Device queries work and say how many pages there are (Paging): long lists are read "
        "page by page.",
    ),
    "asset_query.no_paging": Outcome(
        "asset_query",
        "OK",
        "Device queries work, but the reply has no Paging: the kiosk then reads pages until "
        "an empty one.",
        _SEND_REPORT,
    ),
    "asset_query.empty": Outcome(
        "asset_query",
        "WARN",
        "The query answered, but the token's account sees no devices: every scan would be "
        "'not found'.",
        "Check that the token's account may view assets (and at which locations).",
    ),
    "asset_query.failed": Outcome(
        "asset_query",
        "FAIL",
        "The kiosk cannot query devices: batch modes and lists would fail.",
        "403: " + _RIGHTS + " Otherwise run the check again later.",
    ),
    # page size cap
    "page_cap.capped": Outcome(
        "page_cap",
        "OK",
        "Incident IQ caps pages at the size in the finding; the kiosk asks for at most 100 "
        "rows a page and follows Paging, so nothing changes.",
    ),
    "page_cap.none": Outcome(
        "page_cap",
        "OK",
        "Incident IQ gave the page size asked for: no cap at that size.",
    ),
    "page_cap.low": Outcome(
        "page_cap",
        "WARN",
        "Incident IQ caps pages below the 100 rows the kiosk asks for: lists still complete "
        "(the kiosk follows Paging), in more requests.",
        _SEND_REPORT,
    ),
    "page_cap.unknown": Outcome(
        "page_cap",
        "OK",
        "The cap could not be read (no Paging, or no PageSize in it). This only answers an "
        "open question; the kiosk does not depend on it.",
    ),
    "page_cap.refused": Outcome(
        "page_cap",
        "OK",
        "Incident IQ refused the large page size asked for. The kiosk never asks for more "
        "than 100 rows, so this only answers an open question.",
    ),
    # unknown tag
    "tag_lookup.empty_200": Outcome(
        "tag_lookup",
        "OK",
        "An unknown tag answers 200 with an empty list (as documented); the kiosk says "
        "'not found'.",
    ),
    "tag_lookup.not_found_404": Outcome(
        "tag_lookup",
        "OK",
        "An unknown tag answers 404; the kiosk treats that as 'not found' too.",
    ),
    "tag_lookup.found_unknown": Outcome(
        "tag_lookup",
        "WARN",
        "A lookup of a tag no device can have found devices: the tag route may search rather "
        "than match exactly, and a scan could pick the wrong device.",
        _SEND_REPORT,
    ),
    "tag_lookup.route_missing": Outcome(
        "tag_lookup",
        "FAIL",
        "The tag lookup answered 'no such route': every scan would look 'not found'.",
        "Check the site address. " + _SEND_REPORT,
    ),
    "tag_lookup.failed": Outcome(
        "tag_lookup",
        "FAIL",
        "The kiosk cannot look devices up by tag: scanning does not work.",
        "403: " + _RIGHTS + " Otherwise run the check again later.",
    ),
    # people search
    "user_search.ok": Outcome(
        "user_search",
        "OK",
        "Scanning an ID card or typing a name finds people.",
    ),
    "user_search.empty": Outcome(
        "user_search",
        "WARN",
        "The search answered but found no one: the token's account may not see people, and "
        "every ID card scan would be 'not found'.",
        "Check that the token's account may view users.",
    ),
    "user_search.route_missing": Outcome(
        "user_search",
        "FAIL",
        "This site has no people search route (it is only in the community docs): ID card "
        "scans and typed names cannot find anyone.",
        _SEND_REPORT,
    ),
    "user_search.failed": Outcome(
        "user_search",
        "FAIL",
        "The kiosk cannot search people: ID card scans and typed names would fail.",
        "403: " + _RIGHTS + " Otherwise run the check again later.",
    ),
    # checkout routes
    "checkout_routes.enabled": Outcome(
        "checkout_routes",
        "OK",
        "The check-out routes exist (the check-in route answered for a made-up device): "
        "check-outs are recorded as Incident IQ checkouts.",
    ),
    "checkout_routes.missing_fallback": Outcome(
        "checkout_routes",
        "WARN",
        "The check-out routes are not enabled for this token. The kiosk is set to use them; "
        "at the first change it falls back to the owner routes for the rest of the run (and "
        "logs it). Devices then change owner without a checkout record.",
        'Set [iiq] transfer_api = "owner" (or IIQ_TRANSFER_API=owner), or ask Incident IQ '
        "to enable check-outs for API tokens.",
    ),
    "checkout_routes.missing_unused": Outcome(
        "checkout_routes",
        "OK",
        "The check-out routes are not enabled for this token; the kiosk is set to use the "
        "owner routes, so it does not need them.",
    ),
    "checkout_routes.refused": Outcome(
        "checkout_routes",
        "WARN",
        "The check-out routes exist, but Incident IQ refused (403) the token's account to use "
        "them.",
        _RIGHTS,
    ),
    "checkout_routes.failed": Outcome(
        "checkout_routes",
        "WARN",
        "Whether the check-out routes exist could not be told (see the finding).",
        "Run the check again later.",
    ),
    # owner routes
    "owner_routes.present": Outcome(
        "owner_routes",
        "OK",
        "The owner routes exist (remove-owner answered for a made-up device).",
    ),
    "owner_routes.missing": Outcome(
        "owner_routes",
        "WARN",
        "The owner routes do not exist on this site: when the check-out routes are not "
        "enabled, the kiosk has no way to change an owner.",
        _SEND_REPORT,
    ),
    "owner_routes.refused": Outcome(
        "owner_routes",
        "WARN",
        "The owner routes exist, but Incident IQ refused (403) the token's account to use them.",
        _RIGHTS,
    ),
    "owner_routes.failed": Outcome(
        "owner_routes",
        "WARN",
        "Whether the owner routes exist could not be told (see the finding).",
        "Run the check again later.",
    ),
    # rights
    "rights.ok": Outcome(
        "rights",
        "OK",
        "The kiosk can look up devices and people. Whether Incident IQ lets the token change "
        "an owner shows at the first real change: a refusal then says 'Not allowed' at the "
        "kiosk, and nothing is changed.",
    ),
    "rights.partial_read": Outcome(
        "rights",
        "WARN",
        "The token's account may not read everything the kiosk needs (see the lines above).",
        _RIGHTS,
    ),
    "rights.cannot_change": Outcome(
        "rights",
        "FAIL",
        "The kiosk can look devices up, but Incident IQ refuses the token every change: "
        "check-outs and check-ins would all be refused.",
        "Use a token of an account that may edit assets (Admin > Developer Tools), or ask an "
        "Incident IQ administrator to give this account that right.",
    ),
    "rights.no_route": Outcome(
        "rights",
        "FAIL",
        "Neither the check-out routes nor the owner routes exist for this token: the kiosk "
        "cannot change an owner.",
        _SEND_REPORT,
    ),
    # round trips
    "round_trip.ok": Outcome(
        "round_trip",
        "OK",
        "A scan gets its answer quickly.",
    ),
    "round_trip.slow": Outcome(
        "round_trip",
        "WARN",
        "Lookups are slow: scans will feel sluggish (the kiosk shows that it is looking).",
        "Check this PC's network (Wi-Fi signal, proxy, VPN) and run the check again at "
        "another time of day.",
    ),
    "round_trip.failed": Outcome(
        "round_trip",
        "WARN",
        "Some lookups got no answer: the connection is unreliable, and the kiosk will often "
        "work offline.",
        "Check this PC's network connection and run the check again.",
    ),
    # clock
    "clock.ok": Outcome(
        "clock",
        "OK",
        "This PC's clock agrees with Incident IQ's: times in the journal match the device history.",
    ),
    "clock.skewed": Outcome(
        "clock",
        "WARN",
        "This PC's clock is off: times in the journal, on screen and in notes disagree with "
        "Incident IQ's history (a clock far off also breaks https).",
        "Turn on automatic time (Windows: Settings > Time & language > Date & time > Set "
        "time automatically).",
    ),
    "clock.unknown": Outcome(
        "clock",
        "OK",
        "Incident IQ sent no Date header, so the clocks could not be compared.",
    ),
    # rate limits
    "rate_limit.none": Outcome(
        "rate_limit",
        "OK",
        "Incident IQ did not ask the kiosk to slow down during the check (its real limits "
        "are not published).",
    ),
    "rate_limit.seen": Outcome(
        "rate_limit",
        "WARN",
        "Incident IQ asked the kiosk to slow down (429). The kiosk waits as told "
        "(Retry-After) and sends changes one by one, but a busy desk may see delays.",
        "If this happens at a quiet time, ask Incident IQ about the token's rate limit. "
        + _SEND_REPORT,
    ),
}


def explanations_markdown() -> str:
    """Every possible line as Markdown (the README quotes it)."""
    out = [
        "| check | line | level | what it means for the kiosk | what to do |",
        "|---|---|---|---|---|",
    ]
    for outcome_id, outcome in OUTCOMES.items():
        cells = [
            CHECKS[outcome.check],
            f"`{outcome_id}`",
            f"**{outcome.level}**",
            outcome.meaning,
            outcome.action or "nothing",
        ]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


# --- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class DoctorLine:
    """One checked thing. `finding` holds what was measured; it never names a person."""

    check: str
    outcome: str
    level: Level
    title: str
    finding: str
    meaning: str
    action: str

    def text(self) -> str:
        lines = [f"[{self.level:<4}] {self.title}: {self.finding}", f"       {self.meaning}"]
        if self.action:
            lines.append(f"       What to do: {self.action}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "outcome": self.outcome,
            "level": self.level,
            "title": self.title,
            "finding": self.finding,
            "meaning": self.meaning,
            "action": self.action,
        }


@dataclass(frozen=True)
class Account:
    """Who the token belongs to: for the screen only, never in `to_dict()`."""

    name: str | None
    role: str | None

    def describe(self) -> str:
        name = self.name or "an account without a name"
        return f"{name} ({self.role})" if self.role else name


@dataclass(frozen=True)
class DoctorReport:
    lines: list[DoctorLine]
    #: The answers to the open questions of iiq-api.md (nothing personal or secret).
    answers: dict[str, Any]
    account: Account | None
    started: datetime
    duration_s: float
    requests: int
    site_kind: str

    @property
    def level(self) -> Level:
        """The worst level of all lines."""
        return max((line.level for line in self.lines), key=LEVELS.index, default="OK")

    @property
    def ok(self) -> bool:
        """True when no line failed (warnings allowed)."""
        return self.level != "FAIL"

    @property
    def unreachable(self) -> bool:
        """The site did not answer at all (a network problem, not Incident IQ's answer)."""
        login = self.line("login")
        return login is not None and login.outcome == "login.unreachable"

    def line(self, check: str) -> DoctorLine | None:
        return next((line for line in self.lines if line.check == check), None)

    @property
    def who(self) -> str | None:
        """'Name (Role)' of the token's account, for the screen; None when unknown."""
        return self.account.describe() if self.account else None

    @property
    def may_do(self) -> str | None:
        """What the token may do, in words (the rights line's finding)."""
        rights = self.line("rights")
        return rights.finding if rights else None

    def counts(self) -> dict[str, int]:
        return {level: sum(1 for line in self.lines if line.level == level) for level in LEVELS}

    def render(self, *, who: bool = True) -> str:
        """The report as text for a terminal or a window. With `who`, the first line names
        the token's account: do not send that text; send `to_dict()` / `write()`."""
        out = [f"Incident IQ self-check (iiq-kiosk {__version__})"]
        if who and self.account is not None:
            out.append(f"The token belongs to: {self.account.describe()}")
        out.extend(line.text() for line in self.lines)
        counts = self.counts()
        out.append(
            f"Result: {self.level} ({counts['FAIL']} failed, {counts['WARN']} warnings, "
            f"{counts['OK']} OK; {self.requests} requests in {self.duration_s:.1f} s)"
        )
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The report to send back: answers, lines, versions; nothing secret or personal."""
        return {
            "report": "iiq-kiosk doctor",
            "format": REPORT_FORMAT,
            "created": self.started.isoformat(timespec="seconds"),
            "duration_s": round(self.duration_s, 2),
            "requests": self.requests,
            "result": self.level,
            "counts": self.counts(),
            "versions": _versions(),
            # Neither the site address nor the site id: neither answers an open question,
            # and together with a leaked token they point at a district. Whether the site
            # is Incident IQ's own host or something in front of it (a proxy changes how
            # unknown routes answer) is enough.
            "site": {"kind": self.site_kind},
            "answers": self.answers,
            "lines": [line.to_dict() for line in self.lines],
        }

    def write(self, path: Path) -> None:
        """Write `to_dict()` as JSON, whole or not at all."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        write_atomically(Path(path), text)


def _versions() -> dict[str, str]:
    return {
        "iiq_kiosk": __version__,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}".strip(),
        "machine": platform.machine(),
    }


# --- the checks --------------------------------------------------------------------------


async def run_doctor(
    client: IIQClient,
    settings: Settings | None = None,
    *,
    lookups: int = 10,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
) -> DoctorReport:
    """Run every check on `client` and return the report. Never raises for what Incident
    IQ answers or for a network failure: those are lines. With `settings`, the check-in
    status names, the check-in and cart locations and the site id are checked too.
    `lookups` tag lookups measure the round trips; `sleep` waits after a 429 and `clock`
    (seconds since the epoch) is compared with the server's Date (both for tests)."""
    doctor = _Doctor(client, settings, sleep=sleep, clock=clock)
    return await doctor.run(max(0, lookups))


@dataclass
class _RateLimit:
    check: str
    retry_after: str | None


@dataclass
class _Doctor:
    client: IIQClient
    settings: Settings | None
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    lines: list[DoctorLine] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    account: Account | None = None
    requests: int = 0
    replies: int = 0
    skews: list[float] = field(default_factory=list)
    rate_limits: list[_RateLimit] = field(default_factory=list)
    reads: dict[str, bool] = field(default_factory=dict)
    known_tag: str | None = None
    total_assets: int | None = None

    def __post_init__(self) -> None:
        self.host = (urlsplit(self.client.base_url).hostname or "").lower()

    # ---- the run

    async def run(self, lookups: int) -> DoctorReport:
        started = datetime.now(UTC)
        began = time.perf_counter()
        self.answers = {
            "account_role": None,
            "tag_not_found": None,
            "checkout_routes_enabled": None,
            "owner_routes_present": None,
            "page_size_cap": None,
            "paging_present": {"asset_query": None, "user_search": None, "tag_lookup": None},
            "rate_limited": None,
            "mechanism": {"configured": self.client.transfer_api, "will_use": None},
            "rights": None,
            "clock_skew_s": None,
            "round_trip_ms": None,
        }
        if await self._login():
            await self._status_types()
            await self._locations()
            await self._asset_query()
            await self._tag_lookup()
            await self._user_search()
            checkout = await self._change_route(
                "checkout_routes", "POST", "/assets/checkouts/checkin", {"AssetId": ZERO_ID}
            )
            owner = await self._change_route(
                "owner_routes", "POST", f"/assets/{ZERO_ID}/remove-owner", None
            )
            self._rights(checkout, owner)
            if lookups:
                await self._round_trips(lookups)
        if self.replies:  # without any reply there is no clock and no 429 to speak of
            self._clock()
            self._rate_limit()
        report = DoctorReport(
            lines=list(self.lines),
            answers=self.answers,
            account=self.account,
            started=started,
            duration_s=time.perf_counter() - began,
            requests=self.requests,
            site_kind=self._site_kind(),
        )
        log.info("doctor: %s after %d requests", report.level, report.requests)
        return report

    def _site_kind(self) -> str:
        if is_loopback_host(self.host):
            return "this computer (simulator)"
        if self.host == "incidentiq.com" or self.host.endswith(".incidentiq.com"):
            return "incidentiq.com"
        return "another host (a proxy or custom domain)"

    # ---- plumbing

    def _add(self, outcome_id: str, finding: str) -> None:
        outcome = OUTCOMES[outcome_id]
        line = DoctorLine(
            check=outcome.check,
            outcome=outcome_id,
            level=outcome.level,
            title=CHECKS[outcome.check],
            finding=self._scrub(finding),
            meaning=outcome.meaning,
            action=outcome.action,
        )
        self.lines.append(line)
        log.info("doctor: %s %s", line.level, outcome_id)

    def _scrub(self, text: str) -> str:
        """No token, no URL and no site host in a finding (server messages quote URIs)."""
        text = re.sub(r"https?://[^\s'\"]+", "<address>", redact(text))
        if self.host:
            text = re.sub(re.escape(self.host), "<site>", text, flags=re.IGNORECASE)
        return text

    async def _call(
        self, check: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> ProbeReply:
        """One probe; while Incident IQ answers 429, wait as it says (or 1 s, 2 s) and try
        again, up to RATE_LIMIT_TRIES times. Raises NetworkError when no reply came."""
        attempt = 1
        while True:
            before = self.clock()
            self.requests += 1
            reply = await self.client.probe(method, path, body=body)
            self.replies += 1
            self._note_date(reply, before, self.clock())
            if reply.status != 429:
                return reply
            header = reply.headers.get("retry-after")
            self.rate_limits.append(_RateLimit(check, header))
            if attempt >= RATE_LIMIT_TRIES:
                return reply
            wait = retry_after_seconds(header)
            await self.sleep(
                min(RATE_LIMIT_MAX_WAIT_S, wait if wait is not None else 2.0**attempt / 2)
            )
            attempt += 1

    def _note_date(self, reply: ProbeReply, before: float, after: float) -> None:
        header = reply.headers.get("date")
        if not header:
            return
        try:
            server = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        # Date has whole seconds: the server's time was somewhere in [Date, Date + 1 s).
        self.skews.append(server.timestamp() + 0.5 - (before + after) / 2)

    def _failed(self, outcome_id: str, reply: ProbeReply) -> None:
        self._add(outcome_id, _status_words(reply))

    # ---- login

    async def _login(self) -> bool:
        """False when nothing else can work (no answer, token or site id refused)."""
        try:
            reply = await self._call("login", "GET", "/login")
        except NetworkError as exc:
            self._add("login.unreachable", f"no answer ({exc.detail})")
            return False
        error = reply.error
        if isinstance(error, AuthError):
            if error.site_id_rejected:
                self._add("login.site_id", "Incident IQ answered 401 and names the site id")
            else:
                self._add("login.bad_token", "Incident IQ answered 401 (token refused)")
            return False
        if isinstance(error, ForbiddenError):
            self._add("login.forbidden", _status_words(reply))
            return True
        if isinstance(error, NotFoundError):
            self._add("login.missing", _status_words(reply))
            return True
        if 300 <= reply.status < 400:
            self._add("login.not_iiq", f"a redirect ({reply.status}) instead of an answer")
            return False
        if error is not None:
            self._add("login.failed", _status_words(reply))
            return True
        item = reply.data.get("Item") if isinstance(reply.data, dict) else None
        try:
            info = LoginInfo.model_validate(item) if isinstance(item, dict) else None
        except ValidationError:
            info = None
        if info is None:
            shape = "a reply that is not JSON" if not reply.is_json else "JSON without an Item"
            self._add("login.not_iiq", f"{reply.status} with {shape}")
            return False
        role = info.user.role_label if info.user else None
        self.account = Account(info.user.display_name if info.user else None, role)
        self.answers["account_role"] = role
        said = f"signed in; the token's account has the role {role or '(none given)'}"
        configured = self.settings.iiq.site_id if self.settings is not None else None
        if info.site_id and configured and _norm_id(info.site_id) != _norm_id(configured):
            self._add("login.site_mismatch", said + "; the site id in the answer differs")
            return True
        matched = "; the site id matches" if info.site_id and configured else ""
        self._add("login.ok", said + matched)
        return True

    # ---- reference data

    async def _read(
        self, check: str, method: str, path: str, body: Any = None
    ) -> ProbeReply | None:
        """A read whose only expected answer is 2xx: any other is the check's failed line."""
        try:
            reply = await self._call(check, method, path, body)
        except NetworkError as exc:
            self._add(f"{check}.failed", f"no answer ({exc.detail})")
            return None
        if reply.error is not None or not 200 <= reply.status < 300:
            self._failed(f"{check}.failed", reply)
            return None
        return reply

    async def _status_types(self) -> None:
        reply = await self._read("status_types", "GET", "/assets/status/types")
        self.reads["status types"] = reply is not None
        if reply is None:
            return
        names = [str(row.get("Name") or "") for row in _rows(reply.data)]
        names = [name for name in names if name]
        if not names:
            self._add("status_types.empty", f"{reply.status} with no status types")
            return
        wanted: list[str] = []
        if self.settings is not None:
            wanted = [
                name
                for name in (
                    self.settings.checkin.status_name,
                    self.settings.checkin.repair_status_name,
                )
                if name
            ]
        known = {name.casefold() for name in names}
        missing = [name for name in wanted if name.casefold() not in known]
        listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        if missing:
            quoted = ", ".join(f"'{name}'" for name in missing)
            self._add("status_types.missing", f"not on this site: {quoted}; it has: {listed}")
            return
        found = f"; the check-in names exist: {', '.join(wanted)}" if wanted else ""
        self._add("status_types.ok", f"{len(names)} status types{found}")

    async def _locations(self) -> None:
        reply = await self._read("locations", "GET", "/locations/all")
        self.reads["locations"] = reply is not None
        if reply is None:
            return
        ids = {_norm_id(str(row.get("LocationId") or "")) for row in _rows(reply.data)}
        ids.discard("")
        if not ids:
            self._add("locations.empty", f"{reply.status} with no locations")
            return
        wanted: list[tuple[str, str]] = []
        if self.settings is not None:
            checkin = self.settings.checkin
            if checkin.location_id:
                wanted.append(("[checkin] location_id", checkin.location_id))
            for label, cart in checkin.carts.items():
                wanted.append((f'[checkin.carts."{label}"] location_id', cart.location_id))
        missing = [f"{where} = {value}" for where, value in wanted if _norm_id(value) not in ids]
        if missing:
            self._add("locations.missing", "not a location of this site: " + "; ".join(missing))
            return
        found = f"; the {len(wanted)} configured location(s) exist" if wanted else ""
        self._add("locations.ok", f"{len(ids)} locations{found}")

    # ---- devices

    async def _asset_query(self) -> None:
        body = {"Filters": [], "OnlyShowDeleted": False, "FilterByViewPermission": True}
        reply = await self._read("asset_query", "POST", "/assets?$s=1&$p=0", body)
        self.reads["devices"] = reply is not None
        if reply is None:
            return
        rows = _rows(reply.data)
        paging = _paging(reply.data)
        self.answers["paging_present"]["asset_query"] = paging is not None
        if rows:
            tag = rows[0].get("AssetTag")
            self.known_tag = tag if isinstance(tag, str) and tag.strip() else None
        total = _int_or_none(paging.get("TotalRows")) if paging else None
        self.total_assets = total
        if not rows:
            self._add("asset_query.empty", f"{reply.status} with no devices")
            return
        if paging is None:
            self._add("asset_query.no_paging", f"{len(rows)} row; no Paging in the reply")
        else:
            count = f"{total} devices visible to the token" if total is not None else "rows"
            self._add("asset_query.ok", f"{count}; Paging present")
        await self._page_cap(body)

    async def _page_cap(self, body: dict[str, Any]) -> None:
        asked = CAP_PROBE_PAGE_SIZE
        answer: dict[str, Any] = {"asked": asked, "page_size_reported": None, "capped_at": None}
        self.answers["page_size_cap"] = answer
        if self.total_assets is None:
            self._add("page_cap.unknown", "no Paging with TotalRows to read it from")
            return
        # A page past the end of the list for any page size: nothing to download, and the
        # reply's Paging still reports the page size the server used.
        page = self.total_assets + 1
        try:
            reply = await self._call("page_cap", "POST", f"/assets?$s={asked}&$p={page}", body)
        except NetworkError as exc:
            self._add("page_cap.refused", f"no answer ({exc.detail})")
            return
        if reply.error is not None:
            self._add("page_cap.refused", f"$s={asked}: " + _status_words(reply))
            return
        paging = _paging(reply.data)
        size = _int_or_none(paging.get("PageSize")) if paging else None
        answer["page_size_reported"] = size
        if size is None:
            self._add("page_cap.unknown", f"asked $s={asked}; the reply gave no PageSize")
        elif size < asked:
            answer["capped_at"] = size
            outcome = "page_cap.low" if size < KIOSK_PAGE_SIZE else "page_cap.capped"
            self._add(outcome, f"asked $s={asked}, Paging says PageSize {size}")
        else:
            self._add("page_cap.none", f"asked $s={asked}, Paging says PageSize {size}")

    async def _tag_lookup(self) -> None:
        tag = f"ZZ-DOCTOR-{secrets.token_hex(4).upper()}"
        try:
            reply = await self._call("tag_lookup", "GET", f"/assets/assettag/{path_segment(tag)}")
        except NetworkError as exc:
            self._add("tag_lookup.failed", f"no answer ({exc.detail})")
            return
        shape = _shape(reply)
        if shape["message"]:
            shape["message"] = self._scrub(shape["message"])
        self.answers["tag_not_found"] = shape
        if 200 <= reply.status < 300:
            self.answers["paging_present"]["tag_lookup"] = _paging(reply.data) is not None
            if _rows(reply.data):
                self._add(
                    "tag_lookup.found_unknown", f"{reply.status} with {shape['items']} devices"
                )
            else:
                self._add("tag_lookup.empty_200", f"{reply.status} with {shape['described']}")
            return
        error = reply.error
        if isinstance(error, NotFoundError):
            if not error.route_missing or await self._known_tag_found():
                shape["route_missing"] = False
                self._add("tag_lookup.not_found_404", f"404 with {shape['described']}")
            else:
                self._add("tag_lookup.route_missing", f"404 with {shape['described']}")
            return
        self.reads["devices"] = False
        self._failed("tag_lookup.failed", reply)

    async def _known_tag_found(self) -> bool:
        """Whether the tag route finds a device the query listed: then a 404 that looked
        like a missing route was this site's own (bodiless) not-found answer."""
        if self.known_tag is None:
            return False
        try:
            reply = await self._call(
                "tag_lookup", "GET", f"/assets/assettag/{path_segment(self.known_tag)}"
            )
        except NetworkError:
            return False
        return 200 <= reply.status < 300 and bool(_rows(reply.data))

    # ---- people

    async def _user_search(self) -> None:
        # One letter finds someone on any site; one row of it is read, and only counted.
        try:
            reply = await self._call("user_search", "GET", "/users/search/a?$s=1&$p=0")
        except NetworkError as exc:
            self.reads["people"] = False
            self._add("user_search.failed", f"no answer ({exc.detail})")
            return
        error = reply.error
        self.reads["people"] = error is None
        if isinstance(error, NotFoundError) and error.route_missing:
            self._add("user_search.route_missing", _status_words(reply))
            return
        if error is not None:
            self._failed("user_search.failed", reply)
            return
        rows = _rows(reply.data)
        paging = _paging(reply.data)
        self.answers["paging_present"]["user_search"] = paging is not None
        if not rows:
            self._add("user_search.empty", f"{reply.status}: no one matches a one-letter search")
            return
        total = _int_or_none(paging.get("TotalRows")) if paging else None
        count = f"{total} people match" if total is not None else "people match"
        self._add("user_search.ok", f"{count} a one-letter search")

    # ---- changes, without changing anything

    async def _change_route(
        self, check: str, method: str, path: str, body: dict[str, Any] | None
    ) -> str:
        """'present' | 'missing' | 'refused' | 'unknown' for a change route, probed with a
        device id no record has."""
        outcomes = {
            "present": "checkout_routes.enabled"
            if check == "checkout_routes"
            else "owner_routes.present",
            "refused": f"{check}.refused",
            "unknown": f"{check}.failed",
        }
        try:
            reply = await self._call(check, method, path, body)
        except NetworkError as exc:
            self._answer_route(check, None)
            self._add(outcomes["unknown"], f"no answer ({exc.detail})")
            return "unknown"
        error = reply.error
        words = _status_words(reply)
        if (isinstance(error, NotFoundError) and error.route_missing) or reply.status == 405:
            self._answer_route(check, False)
            if check == "owner_routes":
                self._add("owner_routes.missing", words)
            elif self.client.transfer_api == "checkout":
                self._add("checkout_routes.missing_fallback", words)
            else:
                self._add("checkout_routes.missing_unused", words)
            return "missing"
        if isinstance(error, ForbiddenError):
            self._answer_route(check, True)
            self._add(outcomes["refused"], words)
            return "refused"
        if error is None or isinstance(error, NotFoundError) or reply.status == 400:
            # The route ran: it found no such device, or it checked the body.
            self._answer_route(check, True)
            self._add(outcomes["present"], words)
            return "present"
        self._answer_route(check, None)
        self._add(outcomes["unknown"], words)
        return "unknown"

    def _answer_route(self, check: str, present: bool | None) -> None:
        key = "checkout_routes_enabled" if check == "checkout_routes" else "owner_routes_present"
        self.answers[key] = present

    def _rights(self, checkout: str, owner: str) -> None:
        configured = self.client.transfer_api
        if configured == "checkout" and checkout != "missing":
            mechanism: str | None = "checkout"
            state = checkout
        else:
            mechanism = "owner" if owner != "missing" else None
            state = owner
        self.answers["mechanism"]["will_use"] = mechanism
        readable = [
            name
            for name in ("devices", "people", "locations", "status types")
            if self.reads.get(name)
        ]
        unreadable = [
            name
            for name in ("devices", "people", "locations", "status types")
            if not self.reads.get(name)
        ]
        read_words = (
            f"can read {_join(readable)}" if readable else "can read nothing the kiosk needs"
        )
        if unreadable:
            read_words += f"; cannot read {_join(unreadable)}"
        route = {"checkout": "the check-out routes", "owner": "the owner routes"}.get(
            mechanism or ""
        )
        if mechanism is None:
            change = "no route to change an owner exists"
            change_answer = "no route"
            outcome = "rights.no_route"
        elif state == "refused":
            change = f"cannot change owners (Incident IQ refused {route} with 403)"
            change_answer = "refused"
            outcome = "rights.cannot_change"
        else:
            change = (
                f"can change owners: not known until a change is tried (the kiosk will use "
                f"{route}, which answered for a made-up device without refusing)"
            )
            change_answer = "unknown until a change is tried"
            outcome = "rights.partial_read" if unreadable else "rights.ok"
        self.answers["rights"] = {
            "read": {
                name: bool(self.reads.get(name))
                for name in ("devices", "people", "locations", "status types")
            },
            "change_owners": change_answer,
        }
        self._add(outcome, f"{read_words}; {change}")

    # ---- timing

    async def _round_trips(self, count: int) -> None:
        tag = self.known_tag or f"ZZ-DOCTOR-{secrets.token_hex(4).upper()}"
        path = f"/assets/assettag/{path_segment(tag)}"
        samples: list[float] = []
        failed = 0
        for _ in range(count):
            try:
                reply = await self._call("round_trip", "GET", path)
            except NetworkError:
                failed += 1
                continue
            if reply.status in (200, 404):
                samples.append(reply.elapsed_s)
            else:
                failed += 1
        answer: dict[str, Any] = {"count": len(samples), "failed": failed}
        self.answers["round_trip_ms"] = answer
        if not samples:
            self._add("round_trip.failed", f"none of {count} lookups got an answer")
            return
        p50, p95 = _percentile(samples, 50), _percentile(samples, 95)
        answer.update(p50=round(p50 * 1000), p95=round(p95 * 1000), max=round(max(samples) * 1000))
        finding = f"{len(samples)} lookups: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
        if failed:
            self._add("round_trip.failed", f"{failed} of {count} lookups failed; {finding}")
        elif p95 > ROUND_TRIP_WARN_S:
            self._add("round_trip.slow", finding)
        else:
            self._add("round_trip.ok", finding)

    def _clock(self) -> None:
        if not self.skews:
            self._add("clock.unknown", "no Date header in the replies")
            return
        skew = statistics.median(self.skews)
        self.answers["clock_skew_s"] = round(skew, 1)
        if abs(skew) <= 1.5:
            finding = "within about a second of Incident IQ's"
        else:
            ahead = "behind" if skew > 0 else "ahead of"
            finding = f"this PC is {_duration(abs(skew))} {ahead} Incident IQ"
        self._add("clock.skewed" if abs(skew) > CLOCK_SKEW_WARN_S else "clock.ok", finding)

    def _rate_limit(self) -> None:
        seen = self.rate_limits
        self.answers["rate_limited"] = {
            "count": len(seen),
            "retry_after": [entry.retry_after for entry in seen],
            "checks": sorted({entry.check for entry in seen}),
        }
        if not seen:
            self._add("rate_limit.none", f"no 429 in {self.requests} requests")
            return
        waits = sorted({entry.retry_after or "not sent" for entry in seen})
        self._add(
            "rate_limit.seen",
            f"{len(seen)} of {self.requests} replies were 429 (Retry-After: {', '.join(waits)})",
        )


# --- small helpers -------------------------------------------------------------------------


def _norm_id(value: str) -> str:
    return value.strip().strip("{}").casefold()


def _rows(data: Any) -> list[dict[str, Any]]:
    items = data.get("Items") if isinstance(data, dict) else data
    return [row for row in items if isinstance(row, dict)] if isinstance(items, list) else []


def _paging(data: Any) -> dict[str, Any] | None:
    paging = data.get("Paging") if isinstance(data, dict) else None
    return paging if isinstance(paging, dict) else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _shape(reply: ProbeReply) -> dict[str, Any]:
    """What a reply looks like, without its values: status, keys, ErrorKey, row count."""
    data = reply.data
    keys = sorted(str(key) for key in data) if isinstance(data, dict) else []
    error_key = data.get("ErrorKey") if isinstance(data, dict) else None
    message = data.get("Message") if isinstance(data, dict) else None
    if not reply.is_json:
        described = "no body" if not reply.text.strip() else "a body that is not JSON"
    elif isinstance(data, dict) and isinstance(data.get("Items"), list):
        described = f"JSON Items ({len(data['Items'])} rows)"
    else:
        described = "JSON " + ("{" + ", ".join(keys) + "}" if keys else type(data).__name__)
    if isinstance(error_key, str) and error_key:
        described += f", ErrorKey {error_key}"
    route_missing = isinstance(reply.error, NotFoundError) and reply.error.route_missing
    return {
        "status": reply.status,
        "body": "json" if reply.is_json else ("empty" if not reply.text.strip() else "not json"),
        "keys": keys,
        "items": len(_rows(data)),
        "error_key": error_key if isinstance(error_key, str) else None,
        "message": message[:200] if isinstance(message, str) else None,
        "route_missing": route_missing,
        "described": described,
    }


def _status_words(reply: ProbeReply) -> str:
    """'Incident IQ answered 403 (...): <its message>' for a finding."""
    kinds = {
        400: "the request was refused as invalid",
        401: "not signed in",
        403: "the account lacks a right",
        404: "not found",
        405: "method not allowed",
        429: "too many requests",
    }
    error = reply.error
    if isinstance(error, NotFoundError):
        kind = "no such route" if error.route_missing else "no such record"
    elif reply.status >= 500:
        kind = "Incident IQ failed"
    else:
        kind = kinds.get(reply.status, "unexpected")
    said = reply.data.get("Message") if isinstance(reply.data, dict) else None
    words = f"Incident IQ answered {reply.status} ({kind})"
    if isinstance(said, str) and said.strip():
        words += f": {said.strip()[:160]}"
    return words


def _percentile(samples: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile (of 10 samples, p95 is the slowest)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
