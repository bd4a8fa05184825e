"""The `iiq-kiosk` command: the window with no verb, or one verb for scripts and the help desk.

    iiq-kiosk [--demo] [--windowed] [--config PATH]     the kiosk window
    iiq-kiosk --demo --smoke                            check this build: one check-out and
                                                        one check-in in the window, exit 0/1
    iiq-kiosk asset QUERY                               look a device up (tag, then serial)
    iiq-kiosk user QUERY                                search people
    iiq-kiosk checkout TAG --to PERSON [--yes]          give or transfer a device
    iiq-kiosk checkin TAG [--condition ...] [--yes]     take a device back
    iiq-kiosk outbox [--send]                           changes waiting / needing attention
    iiq-kiosk outbox resolve ID [--note TEXT]           a conflict was settled by hand
    iiq-kiosk journal export [--since DATE] [--csv FILE]  the audit report
    iiq-kiosk journal purge [--older-than-days N]       blank names in old journal rows
    iiq-kiosk sim [--host ...] [--port ...]             run the simulator
    iiq-kiosk token set | token check                   store / test the API token

Global options (before or after the verb): --config PATH, --demo, --json, -v/--verbose.
The verbs use the same `TransactionService` as the window, so they refuse, warn and apply
changes exactly as it does. `checkout` and `checkin` go through the journal and the outbox
like the window: the confirmed change is written to the journal before anything is sent,
and a change Incident IQ did not confirm stays there for `outbox --send` or the window.

Exit codes: 0 ok, 2 refused / usage / configuration / journal in use, 3 not found,
4 several matches, 5 Incident IQ refused or failed (auth, rights, conflict), 6 network,
130 interrupted. A change that was saved but not sent yet exits 6 (network) or 5. Output
into a pipe that closed early (`| head`) ends quietly with 1, as Python's own tools do.

Everything printed goes through `Output`, which removes escape sequences, control and bidi
characters from names, notes, tags and server messages (`kiosk.core.text.clean_text`), so
a name in Incident IQ cannot recolour, retitle or rewrite the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO

from kiosk import __version__
from kiosk.config import ConfigError, Settings, keyring_account, load_settings, resolve_token
from kiosk.core.changes import (
    ApplyResult,
    Change,
    ChangeKind,
    ChangeState,
    Condition,
    LocationStep,
    give_sentence,
)
from kiosk.core.journal import (
    AsyncJournal,
    Journal,
    JournalEntry,
    JournalError,
    JournalFullError,
    JournalLockedError,
    write_csv,
)
from kiosk.core.rules import check_checkin, person_line
from kiosk.core.text import clean_text
from kiosk.core.transactions import SetupError, TransactionService
from kiosk.iiq.client import IIQClient, RetryPolicy
from kiosk.iiq.errors import IIQError, NetworkError
from kiosk.iiq.models import Asset, Person
from kiosk.logs import setup_logging
from kiosk.wiring import Services, build_client, build_services, build_transactions

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BROKEN_PIPE = 1  # stdout closed early (`| head`): what Python exits with on EPIPE
EXIT_REFUSED = 2  # refused by a rule or the operator, bad usage, configuration
EXIT_NOT_FOUND = 3
EXIT_SEVERAL = 4
EXIT_CONFLICT = 4  # the device changed elsewhere (another station): nothing was forced
EXIT_API = 5  # Incident IQ refused or failed: auth, rights, conflict
EXIT_NETWORK = 6
EXIT_INTERRUPTED = 130

RETRY_DELAY_ENV = "IIQ_KIOSK_CLI_RETRY_DELAY"


def _retry_base_delay() -> float:
    try:
        return max(0.0, float(os.environ.get(RETRY_DELAY_ENV, "1")))
    except ValueError:
        return 1.0


#: Base of the backoff between tries of a change still pending after a transient failure
#: (the client's retries of reads and the outbox's of changes). `ChangeService.apply`
#: re-reads the asset first, so a try after a lost reply never applies the change twice.
#: The environment variable shrinks it for tests.
RETRY_BASE_DELAY = _retry_base_delay()
#: How long `checkout` / `checkin` keep trying a change that is still pending (in units of
#: RETRY_BASE_DELAY, plus a few of the outbox's minimum interval between sends): about four
#: tries. Then it stays in the journal for `outbox --send` or the kiosk window.
SEND_WINDOW_BASE = 10.0
SEND_WINDOW_INTERVALS = 4

JOURNAL_LOCKED = (
    "The kiosk window is running on this computer and owns the journal; use it, or close "
    "it first.\n(Or another iiq-kiosk command is sending right now: wait for it.)"
)
SAVED_FOR_LATER = (
    "Saved in the journal; it will be sent by `iiq-kiosk outbox --send` or the kiosk window."
)
DISK_FULL = "The kiosk's disk is full: nothing was sent."


class CommandError(Exception):
    """The command stops here with a message and an exit code: a refusal, nothing found,
    several found. Not a fault of the program."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


# --- output ----------------------------------------------------------------------------


@dataclass
class Output:
    """Where text goes: plain sentences on stdout, or, with --json, JSON on stdout and the
    sentences on stderr so a script can read stdout as is."""

    json_mode: bool
    stdout: TextIO
    stderr: TextIO

    def say(self, text: str = "") -> None:
        print(_clean_lines(text), file=self.stderr if self.json_mode else self.stdout)

    def error(self, text: str) -> None:
        print(_clean_lines(text), file=self.stderr)

    def data(self, value: Any) -> None:
        print(json.dumps(_clean_json(value), ensure_ascii=False, indent=2), file=self.stdout)


def _clean_lines(text: str) -> str:
    """`text` safe for a terminal: its own line breaks stay, each line is cleaned."""
    return "\n".join(clean_text(line) for line in text.split("\n"))


def _clean_json(value: Any) -> Any:
    """`value` with every string in it cleaned (keys too); still the same JSON shape."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_clean_json(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


# --- the session a network verb runs in ----------------------------------------------


@dataclass
class Session:
    args: argparse.Namespace
    settings: Settings
    client: IIQClient
    service: TransactionService
    out: Output


OnlineVerb = Callable[[Session], Awaitable[int]]
LocalVerb = Callable[[argparse.Namespace, Output], int]


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    _tolerate_unprintable()
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_REFUSED
    out = Output(json_mode=args.json, stdout=sys.stdout, stderr=sys.stderr)
    undecodable = _undecodable_argument(args)
    if undecodable is not None:
        out.error(
            f"iiq-kiosk: the argument “{undecodable}” is not valid UTF-8 text (the bytes "
            "shown as \ufffd): type it again, or set the terminal to UTF-8."
        )
        return EXIT_REFUSED
    try:
        code = _dispatch(args, out)
        if sys.stdout is not None:  # None in a windowed build: no console at all
            sys.stdout.flush()  # a closed pipe shows here, while it can still be handled
        return code
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        out.error("Interrupted.")
        return EXIT_INTERRUPTED
    except CommandError as exc:
        out.error(str(exc))
        return exc.code
    except JournalLockedError:
        out.error(JOURNAL_LOCKED + " Nothing was changed.")
        return EXIT_REFUSED
    except (ConfigError, SetupError, JournalError) as exc:
        out.error(str(exc))
        return EXIT_REFUSED
    except IIQError as exc:
        out.error(str(exc))
        return EXIT_NETWORK if isinstance(exc, NetworkError) else EXIT_API


#: Arguments that are paths: on POSIX a file name may be bytes in another encoding, which
#: Python carries through (surrogate escapes) to the file system untouched.
_PATH_ARGUMENTS = frozenset({"config", "csv"})


def _undecodable_argument(args: argparse.Namespace) -> str | None:
    """The first text argument holding bytes that were not UTF-8 (Python turns them into
    lone surrogates), cleaned for showing; None when all are text."""
    for name, value in vars(args).items():
        if name in _PATH_ARGUMENTS or not isinstance(value, str):
            continue
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return clean_text(value, 60)
    return None


def _drop_stdout() -> None:
    """After a broken pipe, point stdout at the null device so that the flush at exit does
    not fail again (the recipe of Python's `signal` documentation, "Note on SIGPIPE")."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _tolerate_unprintable() -> None:
    """A name the console cannot show becomes '?' instead of a crash (on Windows, output
    into a pipe uses the ANSI code page, which lacks most of Unicode)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")


class _ArgumentParser(argparse.ArgumentParser):
    """A usage error is one line, where to find help at its end (not the usage block
    first), and cleaned: it quotes what was typed (“unrecognized arguments: ...”)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        super().exit(status, None if message is None else _clean_lines(message))


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="iiq-kiosk",
        description="Incident IQ device check-in/check-out kiosk. With no command, opens the "
        "kiosk window.",
        epilog="Exit codes: 0 ok, 2 refused/usage/configuration, 3 not found, "
        "4 several matches, 5 Incident IQ error, 6 network error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, defaults=True)
    parser.add_argument("--windowed", action="store_true", help="window instead of fullscreen")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="with --demo: check this build. The demo kiosk starts (windowed, offscreen on "
        "Linux without a display), checks a device out and one in through the window with "
        "the keys a person presses, prints a line per step, and exits 0 when all passed, "
        "1 when not",
    )
    parser.set_defaults(verb=None)

    # Global options are repeated on every verb, with SUPPRESS defaults so that a value given
    # before the verb is not reset by the verb's parser.
    common = _ArgumentParser(add_help=False)
    _add_global_options(common, defaults=False)
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")

    def verb(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, parents=[common], help=help_text, **kwargs)
        sub.set_defaults(verb=name)
        return sub

    asset = verb("asset", "look up a device by asset tag, then serial number")
    asset.add_argument("query", metavar="QUERY", type=_text_arg, help="asset tag or serial number")

    user = verb("user", "search people by name, email, username or school ID number")
    user.add_argument("query", metavar="QUERY", type=_text_arg)

    checkout = verb("checkout", "give a device to a person (or transfer it to them)")
    checkout.add_argument("tag", metavar="TAG", type=_text_arg, help="asset tag or serial number")
    checkout.add_argument(
        "--to",
        required=True,
        metavar="PERSON",
        type=_text_arg,
        help="school ID number, email, username or UserId (exact)",
    )
    _add_yes(checkout)

    checkin = verb("checkin", "take a device back")
    checkin.add_argument("tag", metavar="TAG", type=_text_arg, help="asset tag or serial number")
    checkin.add_argument(
        "--condition",
        choices=[c.value for c in Condition],
        default=Condition.GOOD.value,
        help="damaged or broken files a repair ticket (default: good)",
    )
    checkin.add_argument("--note", help="note for the repair ticket")
    checkin.add_argument("--charger", choices=["yes", "no"], help="was the charger returned?")
    _add_yes(checkin)
    for changing in (checkout, checkin):
        changing.add_argument(
            "--operator", metavar="NAME", help="who is at the desk (written to the journal)"
        )

    outbox = verb(
        "outbox",
        "list the changes waiting to be sent or needing attention; --send sends them now",
    )
    outbox.add_argument(
        "--send",
        action="store_true",
        help="send what is waiting now (exit 0 when nothing is left waiting)",
    )
    outbox_verbs = outbox.add_subparsers(title="outbox commands", metavar="ACTION")
    resolve = outbox_verbs.add_parser(
        "resolve",
        parents=[common],
        help="mark a conflict or failure as settled by hand in Incident IQ",
    )
    resolve.set_defaults(verb="outbox resolve")
    resolve.add_argument("change_id", metavar="ID", help="the change's id (its first characters)")
    resolve.add_argument("--note", help="what was done, for the audit")

    journal = verbs.add_parser("journal", parents=[common], help="the audit journal")
    journal_verbs = journal.add_subparsers(
        title="journal commands", metavar="ACTION", required=True
    )
    export = journal_verbs.add_parser(
        "export",
        parents=[common],
        help="the changes made at this computer (works while the kiosk window runs)",
    )
    export.set_defaults(verb="journal export")
    export.add_argument(
        "--since", metavar="YYYY-MM-DD", type=_date_arg, help="changes from this day on"
    )
    export.add_argument("--csv", metavar="FILE", help="write a CSV file (- for stdout)")
    purge = journal_verbs.add_parser(
        "purge", parents=[common], help="blank names and notes in old settled changes now"
    )
    purge.set_defaults(verb="journal purge")
    purge.add_argument(
        "--older-than-days",
        metavar="N",
        type=_days_arg,
        help="settled more than N days ago (default: [journal] retention_days)",
    )

    sim = verb("sim", "run the Incident IQ simulator until Ctrl+C")
    sim.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    sim.add_argument("--port", type=_port_arg, default=8765, help="0 to 65535 (0: any free port)")
    sim.add_argument("--seed", type=int, default=2026)
    sim.add_argument(
        "--latency-ms", type=_latency_arg, default=0, help="delay added to every reply"
    )

    token = verbs.add_parser("token", parents=[common], help="store or test the API token")
    token_verbs = token.add_subparsers(title="token commands", metavar="ACTION", required=True)
    token_set = token_verbs.add_parser(
        "set", parents=[common], help="read the token from stdin and store it in the keyring"
    )
    token_set.set_defaults(verb="token set")
    token_check = token_verbs.add_parser(
        "check", parents=[common], help="show the site and the user the token belongs to"
    )
    token_check.set_defaults(verb="token check")
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--config", metavar="PATH", default=default(None), help="config file")
    parser.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="use the built-in simulator with demo data (no configuration needed)",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="JSON output for scripts"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default(False), help="more logging"
    )


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_arg(text: str) -> date:
    try:
        if _DATE.fullmatch(text.strip()):
            return date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"“{_shown(text)}” is not a date: use YYYY-MM-DD, for example 2026-01-31"
    )


#: A hundred years: more than any journal holds, and far from datetime's limits.
MAX_DAYS = 36_500
MAX_LATENCY_MS = 3_600_000


def _days_arg(text: str) -> int:
    return _bounded_int(text, 0, MAX_DAYS, "a number of days")


def _port_arg(text: str) -> int:
    return _bounded_int(text, 0, 65_535, "a port number")


def _latency_arg(text: str) -> int:
    return _bounded_int(text, 0, MAX_LATENCY_MS, "a delay in milliseconds")


def _bounded_int(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"“{_shown(text)}” is not {what} ({low} to {high})")
    return value


def _text_arg(text: str) -> str:
    """A tag, a query or a person, without surrounding blanks; never empty."""
    stripped = text.strip()
    if not stripped:
        raise argparse.ArgumentTypeError("it is empty: give something to look for")
    return stripped


def _shown(text: str) -> str:
    return clean_text(text, 40)


def _add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y", "--yes", action="store_true", help="do not ask; needed without a terminal"
    )


def _dispatch(args: argparse.Namespace, out: Output) -> int:
    if args.smoke and (not args.demo or args.verb is not None):
        out.error(
            "iiq-kiosk: error: --smoke checks the demo kiosk: use `iiq-kiosk --demo --smoke` "
            "(see: iiq-kiosk --help)"
        )
        return EXIT_REFUSED
    if args.verb is None:
        return _gui(args)
    local = LOCAL_VERBS.get(args.verb)
    if local is not None:
        return local(args, out)
    return _run_online(args, out, ONLINE_VERBS[args.verb])


def _gui(args: argparse.Namespace) -> int:
    from kiosk.app import run_gui  # Qt loads only for the window

    smoke = {"smoke": True} if args.smoke else {}  # kiosk.tools.smoke
    return run_gui(demo=args.demo, windowed=args.windowed, config=args.config, **smoke)


def _run_online(args: argparse.Namespace, out: Output, verb: OnlineVerb) -> int:
    """Settings, logging and a client, then the verb; the demo simulator lives as long."""
    stop_demo: Callable[[], None] | None = None
    token: str | None
    if args.demo:
        from kiosk.demo import start_demo  # the simulator loads only in demo mode

        demo_sim, settings, token = start_demo(config=args.config)
        stop_demo = demo_sim.stop
    else:
        settings = load_settings(config=args.config)
        token = resolve_token(settings)
    try:
        setup_logging(settings.data_dir, verbose=args.verbose)
        settings.connection(token)  # a missing setting is said before anything runs

        async def run() -> int:
            # The httpx client belongs to this loop: created and closed inside it.
            retry = RetryPolicy(base_delay=RETRY_BASE_DELAY)
            async with build_client(settings, token, retry=retry) as client:
                service = build_transactions(settings, client)
                return await verb(Session(args, settings, client, service, out))

        return asyncio.run(run())
    finally:
        if stop_demo is not None:
            stop_demo()


# --- asset ---------------------------------------------------------------------------------


async def cmd_asset(s: Session) -> int:
    query = s.args.query
    lookup = await s.service.find_device(query)
    assets = lookup.assets
    if not assets:
        if s.out.json_mode:
            s.out.data(None)
        s.out.error(_no_device(query))
        return EXIT_NOT_FOUND
    if s.out.json_mode:
        rows = [_asset_json(a) for a in assets]
        s.out.data(rows[0] if len(rows) == 1 else rows)
    if len(assets) > 1:
        if not s.out.json_mode:
            s.out.say(_several_devices(query, assets))
        return EXIT_SEVERAL
    if not s.out.json_mode:
        s.out.say(_asset_card(assets[0], lookup.matched_by))
    return EXIT_OK


def _asset_card(asset: Asset, matched_by: str | None) -> str:
    owner = person_line(asset.owner) if asset.owner else None
    if owner is None:
        owner = "someone (no name in the reply)" if asset.current_owner_id else "no owner"
    place = ", ".join(p for p in (asset.location_name, asset.room_name) if p)
    tickets = asset.open_ticket_count
    lines = [
        asset.label,
        f"  Serial:       {asset.serial_number or '-'}",
        f"  Status:       {asset.status_name or '-'}",
        f"  Location:     {place or '-'}",
        f"  Owner:        {owner}",
        f"  Open tickets: {tickets}",
    ]
    if matched_by == "serial":
        lines.append("  (found by serial number)")
    return "\n".join(lines)


def _asset_json(asset: Asset) -> dict[str, Any]:
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
        "OpenTickets": asset.open_ticket_count,
    }


def _no_device(query: str) -> str:
    return f"No device with tag or serial “{query}” in Incident IQ."


def _several_devices(query: str, assets: list[Asset]) -> str:
    lines = [f"{len(assets)} devices match “{query}”:"]
    rows = [
        [
            a.asset_tag or "-",
            f"serial {a.serial_number or '-'}",
            a.model_name or "-",
            a.owner_name or ("no owner" if not a.current_owner_id else "owned"),
        ]
        for a in assets
    ]
    lines += ["  " + line for line in _table(rows)]
    return "\n".join(lines)


async def _one_device(s: Session, query: str) -> Asset:
    """The one device `query` names, read fresh (lookups come from a lagging index)."""
    assets = (await s.service.find_device(query)).assets
    if not assets:
        raise CommandError(_no_device(query), EXIT_NOT_FOUND)
    if len(assets) > 1:
        raise CommandError(
            _several_devices(query, assets) + "\nUse the serial number to pick one.",
            EXIT_SEVERAL,
        )
    return await s.service.refresh(assets[0])


# --- user ------------------------------------------------------------------------------------

USER_SEARCH_LIMIT = 50


async def cmd_user(s: Session) -> int:
    query = s.args.query
    people = await s.client.search_users(query, limit=USER_SEARCH_LIMIT)
    if s.out.json_mode:
        s.out.data([_person_json(p) for p in people])
    if not people:
        s.out.error(_no_one(query))
        return EXIT_NOT_FOUND
    if not s.out.json_mode:
        s.out.say("\n".join(_table([_person_row(p) for p in people])))
        if len(people) >= USER_SEARCH_LIMIT:
            s.out.say(f"(first {USER_SEARCH_LIMIT} shown: search for something more specific)")
    return EXIT_OK


def _no_one(query: str) -> str:
    return f"No one matches “{query}”. New students can take a day or two to appear in Incident IQ."


def _person_row(person: Person) -> list[str]:
    marks = []
    if person.is_deleted:
        marks.append("DELETED")
    elif not person.is_active:
        marks.append("INACTIVE")
    return [
        person.display_name,
        f"grade {person.grade}" if person.grade else "",
        f"ID {person.school_id_number}" if person.school_id_number else "",
        person.role_label or "",
        person.username or person.email or "",
        *marks,
    ]


def _person_json(person: Person) -> dict[str, Any]:
    return {
        "UserId": person.user_id,
        "Name": person.display_name,
        "SchoolIdNumber": person.school_id_number,
        "Grade": person.grade,
        "Email": person.email,
        "Username": person.username,
        "Role": person.role_label,
        "IsActive": person.is_active,
        "IsDeleted": person.is_deleted,
    }


async def _one_person(s: Session, text: str) -> Person:
    """The person whose school ID number, email, username or UserId is exactly `text`."""
    match = await s.service.find_person(text)
    if match.exact is not None:
        return match.exact
    if match.ambiguous_exact:
        rows = _table([[*_person_row(p), p.user_id] for p in match.candidates])
        raise CommandError(
            f"{len(match.candidates)} people have “{text}” as their ID, email or username:\n"
            + "\n".join("  " + r for r in rows)
            + "\nUse the UserId to pick one.",
            EXIT_SEVERAL,
        )
    message = f"No one has the school ID number, email or username “{text}”."
    if match.candidates:
        shown = match.candidates[:5]
        rows = _table([_person_row(p) for p in shown])
        message += "\nDid you mean:\n" + "\n".join("  " + r for r in rows)
        message += "\nGive their school ID number, email or username with --to."
    else:
        message += " New students can take a day or two to appear in Incident IQ."
    raise CommandError(message, EXIT_NOT_FOUND)


# --- checkout -------------------------------------------------------------------------------


async def cmd_checkout(s: Session) -> int:
    async with _station(s) as services:
        asset = await _one_device(s, s.args.tag)
        person = await _one_person(s, s.args.to)
        prepared = await s.service.prepare_checkout(asset, person)
        check = prepared.check
        if not check.allowed:
            raise CommandError(f"{check.refusal}\nNothing was changed.")
        owner = check.from_owner.display_name if check.from_owner else None
        _show_plan(s.out, give_sentence(asset.label, person_line(person), owner), check.warnings)
        _confirm(s)
        _set_operator(s)
        change = s.service.checkout_change(prepared)
        result = await _send(s, services, change)
    if result.change.state is ChangeState.DONE:
        s.out.say(f"{person.display_name} now has {change.asset_tag}.")
    return _finish(s, result)


# --- checkin ----------------------------------------------------------------------------------


async def cmd_checkin(s: Session) -> int:
    async with _station(s) as services:
        asset = await _one_device(s, s.args.tag)
        condition = Condition(s.args.condition)
        returned_by = None
        if asset.current_owner_id is None and condition is not Condition.GOOD:
            # A repair ticket needs a person: with no owner, the token's user files it.
            returned_by = (await s.client.login()).user_id
        _set_operator(s)
        change = await s.service.checkin_change(
            asset,
            condition=condition,
            charger_returned=None if s.args.charger is None else s.args.charger == "yes",
            note=s.args.note,
            returned_by=returned_by,
        )
        policy = s.service.checkin_policy
        warnings = []
        no_owner = check_checkin(asset)
        if no_owner:
            warnings.append(no_owner)
            plan = f"Check in {asset.label}"
        else:
            owner = person_line(asset.owner) if asset.owner else "another person"
            plan = f"Check in {asset.label} from {owner}"
        details = [f"condition {condition.value}"]
        status = (
            policy.repair_status_name if condition is not Condition.GOOD else policy.status_name
        )
        if status:
            details.append(f"status “{status}”")
        if any(isinstance(step, LocationStep) for step in change.steps):
            details.append("location as configured")
        if change.ticket:
            details.append("a repair ticket is filed")
        _show_plan(s.out, f"{plan} ({', '.join(details)})", warnings)
        _confirm(s)
        result = await _send(s, services, change)
    if result.change.state is ChangeState.DONE:
        who = f" from {change.from_owner_name}" if change.from_owner_name else ""
        s.out.say(f"{change.asset_tag} checked in{who}.")
        if change.ticket_number or change.ticket_id:
            s.out.say(f"Repair ticket #{change.ticket_number or change.ticket_id} filed.")
    return _finish(s, result)


# --- shared by the changing verbs ---------------------------------------------------------


def _show_plan(out: Output, plan: str, warnings: list[str]) -> None:
    out.say(plan)
    for warning in warnings:
        out.say(f"  Warning: {warning}")


def _confirm(s: Session) -> None:
    """Ask before changing anything, unless --yes. Raises CommandError when not confirmed."""
    if s.args.yes:
        return
    if not _stdin_is_tty():
        raise CommandError(
            "Not confirmed: add --yes to confirm without a terminal. Nothing was changed."
        )
    # A blocking read on the loop is fine here: the command line has nothing else running,
    # and Ctrl+C interrupts it (a read in a worker thread would outlive the loop).
    print("Proceed? [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except EOFError:
        answer = ""
    if answer.strip().casefold() not in ("y", "yes"):
        raise CommandError("Cancelled. Nothing was changed.")


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


#: Longest operator name written to the journal.
OPERATOR_MAX = 80


def _set_operator(s: Session) -> None:
    operator = clean_text(getattr(s.args, "operator", None) or "").strip()
    s.service.operator = clean_text(operator, OPERATOR_MAX) or None


@contextlib.asynccontextmanager
async def _station(s: Session) -> AsyncIterator[Services]:
    """The station's services on this session's client: the journal, held for sending (one
    process at a time), the outbox and the change desk. Names older than the retention
    period are purged first. Closed when the block ends."""
    outbox = {"backoff_base_s": RETRY_BASE_DELAY}
    try:
        services = await build_services(
            s.settings, None, transactions=s.service, outbox_options=outbox
        )
    except JournalLockedError:
        raise CommandError(JOURNAL_LOCKED + " Nothing was changed.") from None
    except JournalError as exc:
        raise CommandError(f"{exc} Nothing was changed.") from None
    try:
        await _purge_expired(services.journal, s.settings)
        yield services
    finally:
        await services.aclose()


async def _purge_expired(journal: AsyncJournal, settings: Settings) -> None:
    """Retention: blank names in settled changes older than `[journal] retention_days`.
    One indexed query when there is nothing to purge; a failure here never stops a change."""
    try:
        await journal.purge_personal_data(timedelta(days=settings.journal.retention_days))
    except (JournalError, sqlite3.Error, OSError) as exc:
        log.warning("journal: personal data not purged this time (%s)", exc)


def _send_window(settings: Settings) -> float:
    """Seconds to keep trying a pending change (see SEND_WINDOW_BASE)."""
    return (
        SEND_WINDOW_BASE * RETRY_BASE_DELAY
        + SEND_WINDOW_INTERVALS * settings.journal.min_interval_s
    )


async def _send(s: Session, services: Services, change: Change) -> ApplyResult:
    """Hand the confirmed change to the desk (recorded in the journal, then sent); while
    it is pending after a transient failure, keep trying for a bounded time. The result's
    error says why it is still pending or failed."""
    outbox = services.outbox
    try:
        outcome = await services.desk.submit(change)
    except (JournalError, sqlite3.Error, OSError) as exc:
        if _disk_full(exc):
            raise CommandError(DISK_FULL) from None
        raise CommandError(
            f"The change could not be saved in the journal {services.journal.path} ({exc}). "
            "Nothing was changed."
        ) from None
    error = outcome.error
    if change.state is ChangeState.DONE:
        # The new owner is read again a moment later: another station's write landing just
        # after ours turns this into a conflict (exit 4), never a false success.
        await outbox.confirmations(outbox.confirm_after_s + _send_window(s.settings))
    if change.state is ChangeState.PENDING:
        # Older changes to the same device go first; the outbox keeps them in order.
        try:
            await outbox.drain(_send_window(s.settings))
        except Exception:  # it is saved: the outbox or the window sends it later
            log.exception("outbox: sending change %s failed unexpectedly", change.id)
        error = outbox.last_error if change.state is ChangeState.PENDING else None
    others = outbox.counts()["pending"] - (1 if change.state is ChangeState.PENDING else 0)
    if others > 0:
        s.out.error(
            f"{others} earlier change{'s are' if others != 1 else ' is'} still waiting in the "
            "journal: see `iiq-kiosk outbox`."
        )
    return ApplyResult(change, outcome.asset, error)


def _disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, says the disk (or the user's quota) is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, JournalFullError):
            return True
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(current)
        ):
            return True
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


_DISK_FULL_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)


def _finish(s: Session, result: ApplyResult) -> int:
    change = result.change
    if s.out.json_mode:
        s.out.data(_change_json(change))
    if change.state is ChangeState.DONE:
        return EXIT_OK
    network = isinstance(result.error, NetworkError)
    if change.state is ChangeState.PENDING:
        why = change.last_error or "an earlier change to this device is still waiting."
        s.out.error(f"Not confirmed yet: {why}\n{SAVED_FOR_LATER}")
    elif change.state is ChangeState.CONFLICT:  # the message names who has it now
        s.out.error(change.last_error or f"{change.description}: changed elsewhere.")
        return EXIT_CONFLICT
    else:  # FAILED: Incident IQ's answer
        s.out.error(change.last_error or f"{change.description} failed.")
    return EXIT_NETWORK if network else EXIT_API


def _change_json(change: Change) -> dict[str, Any]:
    return {
        "Id": change.id,
        "Kind": change.kind.value,
        "State": change.state.value,
        "AssetId": change.asset_id,
        "AssetTag": change.asset_tag,
        "FromOwnerId": change.from_owner_id,
        "FromOwner": change.from_owner_name,
        "ToOwnerId": change.to_owner_id,
        "ToOwner": change.to_owner_name,
        "Condition": change.condition.value if change.condition else None,
        "TicketId": change.ticket_id,
        "TicketNumber": change.ticket_number,
        "Attempts": change.attempts,
        "Error": change.last_error,
        "ConflictOwnerId": change.conflict_owner_id,
        "ConflictOwner": change.conflict_owner_name,
        "Description": change.description,
        "Station": change.station,
        "Operator": change.operator,
        "CreatedAt": change.created_at,
        "UpdatedAt": change.updated_at,
        "StepsDone": change.steps_done,
        "InDoubt": change.in_doubt,
        "BatchId": change.batch_id,
        "UndoOf": change.undo_of,
    }


# --- outbox ---------------------------------------------------------------------------------


def cmd_outbox(args: argparse.Namespace, out: Output) -> int:
    """List what waits and what needs attention, from the journal alone (no connection,
    no token: it works offline and while the kiosk window runs). --send sends."""
    if args.send:
        return _run_online(args, out, cmd_outbox_send)
    settings = _local_settings(args)
    with _reading_journal(settings) as journal:
        pending = journal.pending() if journal else []
        attention = journal.attention() if journal else []
        unreadable = journal.unreadable() if journal else []
    if out.json_mode:
        out.data(
            {
                "Pending": [_change_json(c) for c in pending],
                "Attention": [_change_json(c) for c in attention],
                "Unreadable": [
                    {
                        "Id": r.id,
                        "CreatedAt": r.created_at,
                        "AssetTag": r.asset_tag,
                        "Why": r.reason,
                    }
                    for r in unreadable
                ],
            }
        )
        return EXIT_OK
    if unreadable:
        out.say(f"Unreadable journal rows, set aside ({len(unreadable)}):")
        for row in unreadable:
            when = _local_time(row.created_at) if row.created_at else "-"
            out.say(f"  {row.id}  {when}  {row.asset_tag or '-'}  {row.reason}")
        out.say("Check each device in Incident IQ by hand; the rest of the journal is fine.")
        if pending or attention:
            out.say()
    if not pending and not attention and not unreadable:
        out.say("Nothing is waiting: every change in the journal was sent.")
        return EXIT_OK
    if pending:
        out.say(f"Waiting to be sent ({len(pending)}):")
        out.say("\n".join(_outbox_lines(pending)))
        out.say("Send now with `iiq-kiosk outbox --send` (or leave it to the kiosk window).")
    if attention:
        if pending:
            out.say()
        out.say(f"Needs attention ({len(attention)}):")
        out.say("\n".join(_outbox_lines(attention)))
        out.say(
            "Settle each in Incident IQ by hand, then: iiq-kiosk outbox resolve ID [--note TEXT]"
        )
    return EXIT_OK


def _outbox_lines(changes: list[Change]) -> list[str]:
    """Two or three lines a change: id, time, what; state, tries, last error; for a
    conflict, both owners (the one seen at the kiosk and the one in Incident IQ now)."""
    indent = " " * 12
    lines = []
    for change in changes:
        tries = f"{change.attempts} {'try' if change.attempts == 1 else 'tries'}"
        when = _local_time(change.created_at)
        lines.append(f"  {_short_id(change.id)}  {when}  {change.description}")
        state = f"{indent}{change.state.value}, {tries}"
        lines.append(f"{state}: {change.last_error}" if change.last_error else state)
        if change.state is ChangeState.CONFLICT:
            seen = change.from_owner_name or ("nobody" if not change.from_owner_id else "-")
            now = change.conflict_owner_name or change.conflict_owner_id or "nobody"
            lines.append(f"{indent}owner when scanned: {seen}; in Incident IQ now: {now}")
    return lines


async def cmd_outbox_send(s: Session) -> int:
    """Send what is waiting, as long as that makes progress; say what happened to each."""
    settled: list[Change] = []

    def on_change(change: Change) -> None:
        if change.state is ChangeState.PENDING:
            return
        settled.append(Change.from_dict(change.to_dict()))
        if s.out.json_mode:
            return
        if change.state is ChangeState.DONE:
            s.out.say(f"Sent: {change.description}")
        elif change.state is ChangeState.CONFLICT:
            s.out.say(f"Conflict: {change.last_error}")
        else:
            s.out.say(f"Failed: {change.description}: {change.last_error}")

    async with _station(s) as services:
        outbox, journal = services.outbox, services.journal
        outbox.add_listener(on_change)
        waiting = outbox.counts()["pending"]
        if waiting:
            s.out.say(f"Sending {_count(waiting, 'change')}…")
        counts = outbox.counts()
        while counts["pending"]:
            before = counts["pending"]
            counts = await outbox.drain(_send_window(s.settings))
            if counts["pending"] >= before:
                break  # no progress: Incident IQ or the network is still failing
        left = outbox.pending_changes
        attention = (await journal.counts())["attention"]
    if s.out.json_mode:
        s.out.data(
            {
                "Sent": [_change_json(c) for c in settled if c.state is ChangeState.DONE],
                "Attention": [_change_json(c) for c in settled if c.state is not ChangeState.DONE],
                "Pending": [_change_json(c) for c in left],
            }
        )
    elif not waiting:
        s.out.say("Nothing to send.")
    if attention:
        s.out.error(f"{_count(attention, 'change')} need attention: see `iiq-kiosk outbox`.")
    if not left:
        return EXIT_OK
    why = outbox.last_error or left[0].last_error or "no answer"
    s.out.error(
        f"{_count(len(left), 'change')} still waiting ({why}). They stay in the journal; "
        "try again later."
    )
    return EXIT_NETWORK if outbox.offline else EXIT_API


def cmd_outbox_resolve(args: argparse.Namespace, out: Output) -> int:
    """Mark a conflict or failure as settled by hand (it stays in the journal, resolved)."""
    settings = _local_settings(args)
    if not settings.journal_path.exists():
        raise CommandError("The journal is empty: nothing to resolve.", EXIT_NOT_FOUND)
    try:
        journal = Journal.open(settings.journal_path, lock=True)
    except JournalLockedError:
        raise CommandError(JOURNAL_LOCKED) from None
    try:
        entry = _entry_to_resolve(journal, args.change_id)
        if entry.resolved:
            out.say(
                f"Already resolved on {_local_time(entry.resolved_at)}: {entry.change.description}"
            )
        else:
            try:
                entry = journal.resolve(entry.change.id, (args.note or "").strip() or None)
            except JournalError as exc:
                raise CommandError(str(exc)) from None
            out.say(f"Resolved: {entry.change.description} ({entry.change.state.value}).")
    finally:
        journal.close()
    if out.json_mode:
        out.data(
            {
                **_change_json(entry.change),
                "ResolvedAt": entry.resolved_at,
                "ResolutionNote": entry.resolution_note,
            }
        )
    return EXIT_OK


MIN_ID_PREFIX = 4


def _entry_to_resolve(journal: Journal, text: str) -> JournalEntry:
    query = text.strip().casefold()
    entry = journal.entry(query)
    if entry is not None:
        if not entry.needs_attention and not entry.resolved:
            raise CommandError(
                f"{entry.change.description} is {entry.change.state.value}: only conflicts "
                "and failures are resolved by hand."
            )
        return entry
    matches = (
        [c for c in journal.attention() if c.id.startswith(query)]
        if len(query) >= MIN_ID_PREFIX
        else []
    )
    if not matches:
        raise CommandError(
            f"No change that needs attention has the id “{text}” (give at least "
            f"{MIN_ID_PREFIX} characters). `iiq-kiosk outbox` lists them.",
            EXIT_NOT_FOUND,
        )
    if len(matches) > 1:
        raise CommandError(
            f"{len(matches)} changes start with “{text}”: give more of the id.\n"
            + "\n".join(_outbox_lines(matches)),
            EXIT_SEVERAL,
        )
    found = journal.entry(matches[0].id)
    assert found is not None
    return found


# --- journal --------------------------------------------------------------------------------

_EXPORT_HEADER = ["Time", "Station", "Operator", "Change", "Device", "From", "To", "State"]


def cmd_journal_export(args: argparse.Namespace, out: Output) -> int:
    """The audit report, read without the lock (works while the kiosk window runs)."""
    settings = _local_settings(args)
    since = datetime.combine(args.since, datetime.min.time()) if args.since else None
    with _reading_journal(settings) as journal:
        rows = journal.export(since) if journal else []
    if args.csv:
        _write_csv(args.csv, rows, out)
    if out.json_mode:
        out.data(rows)
    elif not args.csv:
        if not rows:
            out.say("No changes in the journal" + (f" since {args.since}." if since else "."))
        else:
            out.say("\n".join(_table([_EXPORT_HEADER, *(_export_row(r) for r in rows)])))
    return EXIT_OK


def _write_csv(target: str, rows: list[dict[str, Any]], out: Output) -> None:
    rows = [_clean_json(row) for row in rows]  # names and notes, as on the screen
    if target == "-":
        write_csv(out.stdout, rows)
        return
    path = Path(target).expanduser()
    try:
        with path.open("w", newline="", encoding="utf-8-sig") as handle:  # BOM: for Excel
            write_csv(handle, rows)
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from None
    out.error(f"{_count(len(rows), 'change')} written to {path}.")


def _export_row(row: dict[str, Any]) -> list[str]:
    def name(prefix: str) -> str:
        if row[f"{prefix}_name"]:
            return str(row[f"{prefix}_name"])
        if not row[f"{prefix}_id"]:
            return "-"
        return "(purged)" if row["purged_at"] else str(row[f"{prefix}_id"])

    state = str(row["state"])
    if row["resolved_at"]:
        state += " (resolved)"
    kind = "check-in" if row["kind"] == ChangeKind.CHECKIN.value else "check-out"
    if row["ticket_number"]:
        kind += f", ticket #{row['ticket_number']}"
    return [
        _local_time(row["created_at"]),
        str(row["station"] or "-"),
        str(row["operator"] or "-"),
        kind,
        str(row["asset_tag"]),
        name("from_owner"),
        name("to_owner"),
        state,
    ]


def cmd_journal_purge(args: argparse.Namespace, out: Output) -> int:
    """Blank names and notes in settled changes older than N days, now."""
    settings = _local_settings(args)
    days = args.older_than_days
    if days is None:
        days = settings.journal.retention_days
    with _reading_journal(settings) as journal:
        purged = journal.purge_personal_data(timedelta(days=days)) if journal else 0
    if out.json_mode:
        out.data({"Purged": purged, "OlderThanDays": days})
    else:
        out.say(
            f"Personal data purged from {_count(purged, 'change')} settled more than "
            f"{_count(days, 'day')} ago."
        )
    return EXIT_OK


def _local_settings(args: argparse.Namespace) -> Settings:
    """Settings for a verb that only reads the journal: no connection, no token needed."""
    settings = load_settings(config=args.config)
    if args.demo:  # demo mode keeps its journal apart (see kiosk.demo.start_demo)
        settings = settings.model_copy(update={"data_dir": settings.data_dir / "demo"})
    setup_logging(settings.data_dir, verbose=args.verbose)
    return settings


@contextlib.contextmanager
def _reading_journal(settings: Settings) -> Iterator[Journal | None]:
    """The journal without the lock (SQLite keeps readers and the kiosk's writer apart),
    or None when there is none yet: reading never creates it."""
    if not settings.journal_path.exists():
        yield None
        return
    journal = Journal.open(settings.journal_path, lock=False)
    try:
        yield journal
    finally:
        journal.close()


# --- token ----------------------------------------------------------------------------------


def cmd_token_set(args: argparse.Namespace, out: Output) -> int:
    from kiosk.config import store_token

    if args.demo:
        raise CommandError("Demo mode needs no token: 'token set' stores a district's token.")
    settings = load_settings(config=args.config)
    setup_logging(settings.data_dir, verbose=args.verbose)
    if _stdin_is_tty():
        token = getpass.getpass("Incident IQ API token (input is not shown): ")
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise CommandError("No token given: paste the token from Admin > Developer Tools.")
    store_token(settings, token)
    out.say(
        f"Token stored in the keyring for {keyring_account(settings)}. "
        "Test it with 'iiq-kiosk token check'."
    )
    return EXIT_OK


async def cmd_token_check(s: Session) -> int:
    login = await s.client.login()
    user = login.user.display_name if login.user else None
    if s.out.json_mode:
        s.out.data(
            {
                "Url": s.client.base_url,
                "SiteId": login.site_id,
                "UserId": login.user_id,
                "UserName": user,
            }
        )
    else:
        s.out.say(f"Connected to {s.client.base_url}")
        s.out.say(f"  Site id: {login.site_id or '-'}")
        s.out.say(f"  Token of: {user or login.user_id or 'unknown user'}")
    expected = s.settings.iiq.site_id
    if login.site_id and expected and login.site_id.casefold() != expected.casefold():
        s.out.error(
            f"Warning: the token belongs to site {login.site_id}, but the kiosk is set to "
            f"{expected} (IIQ_SITE_ID / [iiq] site_id)."
        )
    return EXIT_OK


# --- sim ------------------------------------------------------------------------------------


#: "Address in use" on POSIX and as Windows sockets say it.
_ADDRESS_IN_USE = frozenset(
    code for code in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None)) if code is not None
)


def cmd_sim(args: argparse.Namespace, out: Output) -> int:
    from kiosk.simulator import serve_forever

    setup_logging(None, verbose=args.verbose)
    try:
        serve_forever(host=args.host, port=args.port, seed=args.seed, latency_ms=args.latency_ms)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except BrokenPipeError:
        raise  # its output went into a closed pipe: main() ends quietly
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        if exc.errno in _ADDRESS_IN_USE:
            raise CommandError(
                f"Port {args.port} is in use on {args.host} (another simulator, or another "
                "program): choose another with --port, or --port 0 for any free one."
            ) from None
        raise CommandError(
            f"The simulator cannot listen on {where}: {exc.strerror or exc}."
        ) from None
    except KeyboardInterrupt:  # serve_forever handles it; this is a Ctrl+C during start-up
        pass
    return EXIT_OK


# --- helpers ----------------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _short_id(change_id: str) -> str:
    return change_id[:8]


def _local_time(iso: str | None) -> str:
    """A journal time (UTC) as this computer's local time, to the minute."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as lines with aligned columns (empty columns are kept, trailing blanks cut)."""
    if not rows:
        return []
    width = max(len(r) for r in rows)
    padded = [r + [""] * (width - len(r)) for r in rows]
    sizes = [max(len(r[i]) for r in padded) for i in range(width)]
    return ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in padded]


#: Verbs that talk to Incident IQ: run inside a session with a client.
ONLINE_VERBS: dict[str, OnlineVerb] = {
    "asset": cmd_asset,
    "user": cmd_user,
    "checkout": cmd_checkout,
    "checkin": cmd_checkin,
    "token check": cmd_token_check,
}
#: Verbs that do not (or bring their own server).
LOCAL_VERBS: dict[str, LocalVerb] = {
    "sim": cmd_sim,
    "token set": cmd_token_set,
    "outbox": cmd_outbox,  # --send runs online from there
    "outbox resolve": cmd_outbox_resolve,
    "journal export": cmd_journal_export,
    "journal purge": cmd_journal_purge,
}
