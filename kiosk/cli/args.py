"""Argument types and the options every verb shares: each turns what was typed into a value
or into one plain usage line (argparse adds where to find help)."""

from __future__ import annotations

import argparse
import re
from datetime import date
from typing import Any, NoReturn

from kiosk.cli.output import clean_lines
from kiosk.cli.session import EXIT_REFUSED
from kiosk.core.text import clean_text


class ArgumentParser(argparse.ArgumentParser):
    """A usage error is one line, where to find help at its end (not the usage block
    first), and cleaned: it quotes what was typed (“unrecognized arguments: ...”)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        super().exit(status, None if message is None else clean_lines(message))


def add_verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    help_text: str,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """A verb's subparser, with the global options (`common`), dispatched by `name`: what
    a verb module's `register(verbs, common)` calls for each of its verbs."""
    sub = verbs.add_parser(name, parents=[common], help=help_text, **kwargs)
    sub.set_defaults(verb=name)
    return sub


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
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


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y", "--yes", action="store_true", help="do not ask; needed without a terminal"
    )


def add_operator(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operator", metavar="NAME", help="who is at the desk (written to the journal)"
    )


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_arg(text: str) -> date:
    try:
        if _DATE.fullmatch(text.strip()):
            return date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"“{shown(text)}” is not a date: use YYYY-MM-DD, for example 2026-01-31"
    )


#: A hundred years: more than any journal holds, and far from datetime's limits.
MAX_DAYS = 36_500
MAX_LATENCY_MS = 3_600_000


def days_arg(text: str) -> int:
    return bounded_int(text, 0, MAX_DAYS, "a number of days")


def port_arg(text: str) -> int:
    return bounded_int(text, 0, 65_535, "a port number")


def latency_arg(text: str) -> int:
    return bounded_int(text, 0, MAX_LATENCY_MS, "a delay in milliseconds")


def bounded_int(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"“{shown(text)}” is not {what} ({low} to {high})")
    return value


def text_arg(text: str) -> str:
    """A tag, a query or a person, without surrounding blanks; never empty."""
    stripped = text.strip()
    if not stripped:
        raise argparse.ArgumentTypeError("it is empty: give something to look for")
    return stripped


def shown(text: str) -> str:
    return clean_text(text, 40)
