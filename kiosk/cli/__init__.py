"""The `iiq-kiosk` command: the window with no verb, or one verb for scripts and the help desk.

    iiq-kiosk [--demo] [--windowed] [--config PATH]     the kiosk window
    iiq-kiosk --demo --smoke                            check this build: one check-out and
                                                        one check-in in the window, exit 0/1
    iiq-kiosk asset QUERY                               look a device up (tag, then serial)
    iiq-kiosk user QUERY                                search people
    iiq-kiosk assets [--status NAME] [--location NAME] [--model NAME] [--type NAME]
                     [--owner PERSON | --unassigned] [--tag TEXT] [--limit N]
                     [--csv FILE]                       query devices with facet filters
    iiq-kiosk checkout TAG --to PERSON [--yes]          give or transfer a device
    iiq-kiosk checkin TAG [--condition ...] [--yes]     take a device back
    iiq-kiosk update TAG [--status NAME] [--location NAME] [--room NAME] [--note TEXT]
                     [--yes]                            change a device's status, place, notes
    iiq-kiosk bulk FILE.csv [--dry-run] [--yes]         check-outs, check-ins and updates from
                                                        a file; FILE.results.csv says each row's
                                                        outcome
    iiq-kiosk report assignments [--location NAME] [--grade G] [--role R] [--csv FILE]
                                                        who holds what, unassigned devices
    iiq-kiosk outbox [--send]                           changes waiting / needing attention
    iiq-kiosk outbox resolve ID [--note TEXT]           a conflict was settled by hand
    iiq-kiosk journal export [--since DATE] [--csv FILE]  the audit report
    iiq-kiosk journal purge [--older-than-days N]       blank names in old journal rows
    iiq-kiosk sim [--host ...] [--port ...]             run the simulator
    iiq-kiosk token set | token check                   store / test the API token
    iiq-kiosk setup [--url U] [--site-id ID] [--station NAME] [--mechanism M]
                    [--token-stdin] [--pin PIN] [--non-interactive]
                                                        set up this station (as the window's
                                                        setup screen does)
    iiq-kiosk doctor [--write-report FILE]              the district self-check (read-only)
    iiq-kiosk event prepare NAME --kind collect|distribute|audit [--location NAME ...]
                    [--grade G ...] [--role R ...] [--devices-at PLACE] [--model NAME ...]
                                                        an event's people and devices, into a
                                                        pack on this station (resumable)
    iiq-kiosk event list | show NAME | refresh NAME | close NAME
    iiq-kiosk event report NAME [--csv FILE]            still out, returned damaged, handed
                                                        out, people with none, per station
    iiq-kiosk audit scan NAME CODE... | audit report NAME   devices seen where they belong

Global options (before or after the verb): --config PATH, --demo, --json, -v/--verbose.
The verbs use the same `TransactionService` as the window, so they refuse, warn and apply
changes exactly as it does. `checkout`, `checkin`, `update` and `bulk` go through the
journal and the outbox like the window: the confirmed change is written to the journal
before anything is sent, and a change Incident IQ did not confirm stays there for
`outbox --send` or the window. `bulk` gives each row's change an id made from the file's
content, so a second run of the same file (after a failure, or a kill) sends nothing twice.

Exit codes: 0 ok, 2 refused / usage / configuration / journal in use, 3 not found,
4 several matches or a conflict (the device changed elsewhere; nothing was forced),
5 Incident IQ refused or failed (auth, rights), 6 network, 130 interrupted. A change that
was saved but not sent yet exits 6 (network) or 5. Output into a pipe that closed early
(`| head`) ends quietly with 1, as Python's own tools do.

Layout: `parser.py` builds the parser from the verb modules it lists (each registers its
own subparsers), `session.py` holds the exit codes and what the changing verbs share,
`output.py` the text cleaning, tables, progress and JSON, `args.py` the argument types; one
module per group of verbs: `lookup` (asset, user), `assets`, `change` (checkout, checkin),
`update`, `bulk`, `report`, `event` (event, audit), `outbox`, `journal`, `sim`, `token`,
`setup`, `doctor`.

Everything printed goes through `Output`, which removes escape sequences, control and bidi
characters from names, notes, tags and server messages (`kiosk.core.text.clean_text`), so
a name in Incident IQ cannot recolour, retitle or rewrite the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from kiosk.cli.args import MAX_DAYS
from kiosk.cli.output import Output
from kiosk.cli.parser import build_parser, local_verbs, online_verbs
from kiosk.cli.session import (
    EXIT_API,
    EXIT_BROKEN_PIPE,
    EXIT_CONFLICT,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_SEVERAL,
    JOURNAL_LOCKED,
    OPERATOR_MAX,
    RETRY_BASE_DELAY,
    CommandError,
    run_online,
)
from kiosk.config import ConfigError
from kiosk.core.journal import JournalError, JournalLockedError
from kiosk.core.text import clean_text
from kiosk.core.transactions import SetupError
from kiosk.iiq.errors import IIQError, NetworkError

__all__ = [
    "EXIT_API",
    "EXIT_BROKEN_PIPE",
    "EXIT_CONFLICT",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_SEVERAL",
    "LOCAL_VERBS",
    "MAX_DAYS",
    "ONLINE_VERBS",
    "OPERATOR_MAX",
    "RETRY_BASE_DELAY",
    "CommandError",
    "Output",
    "build_parser",
    "main",
]

#: Verbs that talk to Incident IQ: run inside a session with a client.
ONLINE_VERBS = online_verbs()
#: Verbs that do not (or bring their own server).
LOCAL_VERBS = local_verbs()


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
_PATH_ARGUMENTS = frozenset({"config", "csv", "file"})


def _undecodable_argument(args: argparse.Namespace) -> str | None:
    """The first text argument holding bytes that were not UTF-8 (Python turns them into
    lone surrogates), cleaned for showing; None when all are text."""
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if name in _PATH_ARGUMENTS:
            continue
        for item in values:
            if isinstance(item, str) and any("\ud800" <= ch <= "\udfff" for ch in item):
                return clean_text(item, 60)
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
    return run_online(args, out, ONLINE_VERBS[args.verb])


def _gui(args: argparse.Namespace) -> int:
    from kiosk.app import run_gui  # Qt loads only for the window

    return run_gui(
        demo=args.demo,
        windowed=args.windowed,
        config=args.config,
        smoke=args.smoke,
        event=args.event,
    )
