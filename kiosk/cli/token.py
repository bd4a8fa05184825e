"""`token set` and `token check`: store the API token in the OS keyring, and test it."""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk.cli.output import Output
from kiosk.cli.session import (
    EXIT_OK,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    stdin_is_tty,
)
from kiosk.config import keyring_account, load_settings
from kiosk.logs import setup_logging


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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


def cmd_token_set(args: argparse.Namespace, out: Output) -> int:
    from kiosk.config import store_token

    if args.demo:
        raise CommandError("Demo mode needs no token: 'token set' stores a district's token.")
    settings = load_settings(config=args.config)
    setup_logging(settings.data_dir, verbose=args.verbose)
    if stdin_is_tty():
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


ONLINE_VERBS: dict[str, OnlineVerb] = {"token check": cmd_token_check}
LOCAL_VERBS: dict[str, LocalVerb] = {"token set": cmd_token_set}
