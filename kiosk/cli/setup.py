"""`setup`: set up this station from a terminal, as the setup window does (kiosk.setup)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from pathlib import Path

from kiosk.cli.args import add_verb
from kiosk.cli.output import Output
from kiosk.cli.session import (
    EXIT_API,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_REFUSED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    stdin_is_tty,
)
from kiosk.config import load_settings
from kiosk.core.pin import PIN_MAX_DIGITS, PIN_MIN_DIGITS
from kiosk.logs import setup_logging
from kiosk.setup import (
    MECHANISMS,
    Mechanism,
    SetupAnswers,
    answer_problems,
    check_connection,
    save,
)


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    setup = add_verb(
        verbs,
        common,
        "setup",
        "set up this station: site, token, name, transfer routes, admin PIN",
        description="Asks for what is not given (the token and the PIN hidden, the PIN "
        "twice), tests the connection with the self-check (read-only), and saves: the token "
        "to the OS keyring (Windows Credential Manager), the rest to your config file, the "
        "PIN as a salted scrypt hash. Nothing is saved when the test finds a FAIL. "
        "Exit 0 saved, 2 an answer is missing or wrong, 5 the test failed, 6 the site "
        "cannot be reached.",
    )
    setup.add_argument("--url", help="the site, e.g. https://yourdistrict.incidentiq.com")
    setup.add_argument("--site-id", help="the site id (Admin > Developer Tools)")
    setup.add_argument("--station", help="this station's name (default: the computer's)")
    setup.add_argument(
        "--mechanism",
        choices=list(MECHANISMS),
        default=None,
        help="which routes change an owner: detect (default: the self-check decides), "
        "checkout or owner",
    )
    setup.add_argument(
        "--token-stdin", action="store_true", help="read the API token from standard input"
    )
    setup.add_argument(
        "--pin",
        help=f"the admin PIN, {PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits (else asked for, hidden, "
        "twice; an option shows in the process list and the shell's history)",
    )
    setup.add_argument(
        "--non-interactive",
        action="store_true",
        help="ask nothing: every answer comes from the options (the token with --token-stdin)",
    )


def cmd_setup(args: argparse.Namespace, out: Output) -> int:
    if args.demo:
        raise CommandError("Demo mode needs no setup: 'setup' is for a district's site.")
    if args.config and not Path(args.config).exists():
        # Setup is what writes it: an empty file stands for "nothing set yet".
        try:
            Path(args.config).touch()
        except OSError as exc:
            raise CommandError(f"Cannot create {args.config}: {exc.strerror}.") from None
    settings = load_settings(config=args.config)
    setup_logging(settings.data_dir, verbose=args.verbose)
    ask = not args.non_interactive and stdin_is_tty()
    if args.non_interactive and not args.token_stdin:
        raise CommandError("--non-interactive needs --token-stdin: the token is never an option.")

    def value(given: str | None, prompt: str, default: str | None = None) -> str:
        if given is not None:
            return given
        if not ask:
            return default or ""
        shown = f" [{default}]" if default else ""
        return input(f"{prompt}{shown}: ").strip() or (default or "")

    url = value(args.url, "Incident IQ site address", settings.iiq.url)
    site_id = value(args.site_id, "Site id (Admin > Developer Tools)", settings.iiq.site_id)
    station = value(args.station, "Station name", settings.station.name or socket.gethostname())
    mechanism: Mechanism = args.mechanism or "detect"
    if args.token_stdin:
        token = sys.stdin.readline()
    elif ask:
        token = getpass.getpass("API token (not shown): ")
    else:
        raise CommandError("No token: pass --token-stdin and pipe it in.")
    pin, again = args.pin, args.pin
    # getpass reads the terminal itself, so the PIN can be asked for with the token piped in.
    terminal = ask or (not args.non_interactive and sys.stderr is not None and sys.stderr.isatty())
    if pin is None and terminal and not settings.admin.pin_hash:
        pin = getpass.getpass(f"Admin PIN, {PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits (not shown): ")
        again = getpass.getpass("The same PIN again: ")
    answers = SetupAnswers(
        url=url,
        site_id=site_id,
        token=token,
        station=station,
        mechanism=mechanism,
        pin=pin or None,
        pin_again=again or None,
    )
    problems = answer_problems(answers, pin_required=not settings.admin.pin_hash)
    if problems:
        for message in problems.values():
            out.error(message)
        return EXIT_REFUSED
    out.say("Testing the connection (read-only checks)…")
    report = asyncio.run(check_connection(answers, settings))
    out.say(report.render(who=True).rstrip("\n"))
    if not report.ok:
        out.error("Nothing was saved: fix what the FAIL lines say and run setup again.")
        return EXIT_NETWORK if report.unreachable else EXIT_API
    saved = save(answers, settings, report, config=args.config)
    where = saved.user_file or "your config file"
    out.say(
        f"Saved: the token in the keyring for {saved.iiq.url}, the settings in {where} "
        f"({saved.iiq.transfer_api} routes). Start the kiosk with: iiq-kiosk"
    )
    return EXIT_OK


ONLINE_VERBS: dict[str, OnlineVerb] = {}
LOCAL_VERBS: dict[str, LocalVerb] = {"setup": cmd_setup}
