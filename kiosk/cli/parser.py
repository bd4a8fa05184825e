"""The command line's parser, built from the verb modules.

Each module in `VERB_MODULES` is one group of verbs. It has:
- `register(verbs, common)`: adds its subparsers to `verbs` (each with `parents=[common]`,
  the global options; `kiosk.cli.args.add_verb` does both) and sets `verb=NAME` on each;
- `ONLINE_VERBS`: NAME -> `async def cmd(session) -> int`, run with a client;
- `LOCAL_VERBS`: NAME -> `def cmd(args, out) -> int`, for verbs that need no connection.
A new group of verbs is a new module here, imported and named once in `VERB_MODULES`.
"""

from __future__ import annotations

import argparse
from types import ModuleType

from kiosk import __version__
from kiosk.cli import (
    assets,
    bulk,
    change,
    doctor,
    event,
    journal,
    lookup,
    outbox,
    report,
    setup,
    sim,
    token,
    update,
)
from kiosk.cli.args import ArgumentParser, add_global_options
from kiosk.cli.session import LocalVerb, OnlineVerb
from kiosk.launch import add_window_options

#: The verb modules, in the order `--help` lists their verbs.
VERB_MODULES: tuple[ModuleType, ...] = (
    lookup,
    assets,
    change,
    update,
    bulk,
    report,
    event,
    outbox,
    journal,
    sim,
    token,
    setup,
    doctor,
)


def online_verbs() -> dict[str, OnlineVerb]:
    return {name: cmd for module in VERB_MODULES for name, cmd in module.ONLINE_VERBS.items()}


def local_verbs() -> dict[str, LocalVerb]:
    return {name: cmd for module in VERB_MODULES for name, cmd in module.LOCAL_VERBS.items()}


EXIT_CODES_EPILOG = (
    "Exit codes: 0 ok, 1 output pipe closed, 2 refused/usage/configuration, 3 not found, "
    "4 several matches or a conflict, 5 Incident IQ error, 6 network error, 130 interrupted."
)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="iiq-kiosk",
        description="Incident IQ device check-in/check-out kiosk. With no command, opens the "
        "kiosk window.",
        epilog=EXIT_CODES_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_global_options(parser, defaults=True)
    add_window_options(parser)
    parser.set_defaults(verb=None)

    # Global options are repeated on every verb, with SUPPRESS defaults so that a value given
    # before the verb is not reset by the verb's parser.
    common = ArgumentParser(add_help=False)
    add_global_options(common, defaults=False)
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in VERB_MODULES:
        module.register(verbs, common)
    return parser
