"""`doctor`: the district self-check, read-only (see kiosk.core.doctor and the README)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.cli.args import add_verb
from kiosk.cli.session import (
    EXIT_API,
    EXIT_NETWORK,
    EXIT_OK,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
)
from kiosk.core.doctor import run_doctor


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    doctor = add_verb(
        verbs,
        common,
        "doctor",
        "check this district's Incident IQ site, token and rights (read-only)",
        description="Read-only calls only: who the token belongs to, status types, "
        "locations, an unknown tag, a people search, a one-row asset query, whether the "
        "check-out and owner routes exist (asked about a device that cannot exist), the "
        "clock, round trips and rate limits. Each line says OK, WARN or FAIL, what it means "
        "for the kiosk and what to do. Exit 0 without a FAIL line, 5 with one, 6 when the "
        "site cannot be reached.",
    )
    doctor.add_argument(
        "--write-report",
        metavar="FILE",
        help="also write the report as JSON to FILE, to send back: it holds the answers to "
        "the open questions and nothing secret (no token, no names, no site address)",
    )
    doctor.add_argument(
        "--lookups", type=int, default=10, metavar="N", help="tag lookups timed (default 10)"
    )


async def cmd_doctor(s: Session) -> int:
    if not 0 <= s.args.lookups <= 100:
        raise CommandError("--lookups takes a number from 0 to 100.")
    report = await run_doctor(s.client, s.settings, lookups=s.args.lookups)
    if s.out.json_mode:
        s.out.data(report.to_dict())
    else:
        s.out.say(report.render(who=True).rstrip("\n"))
    if s.args.write_report:
        target = Path(s.args.write_report)
        try:
            report.write(target)
        except OSError as exc:
            raise CommandError(f"Cannot write the report to {target}: {exc.strerror}.") from None
        if not s.out.json_mode:
            s.out.say(f"Report written to {target} (nothing secret in it: send it back).")
    if report.ok:
        return EXIT_OK
    return EXIT_NETWORK if report.unreachable else EXIT_API


ONLINE_VERBS: dict[str, OnlineVerb] = {"doctor": cmd_doctor}
LOCAL_VERBS: dict[str, LocalVerb] = {}
