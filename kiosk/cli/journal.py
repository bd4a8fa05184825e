"""`journal export` and `journal purge`: the audit trail of this computer's changes."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any

from kiosk.cli.args import date_arg, days_arg
from kiosk.cli.output import Output, clean_json, open_csv, table_lines
from kiosk.cli.session import (
    EXIT_OK,
    LocalVerb,
    OnlineVerb,
    count,
    local_settings,
    local_time,
    reading_journal,
)
from kiosk.core.changes import ChangeKind
from kiosk.core.journal import write_csv


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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
        "--since", metavar="YYYY-MM-DD", type=date_arg, help="changes from this day on"
    )
    export.add_argument("--csv", metavar="FILE", help="write a CSV file (- for stdout)")
    purge = journal_verbs.add_parser(
        "purge", parents=[common], help="blank names and notes in old settled changes now"
    )
    purge.set_defaults(verb="journal purge")
    purge.add_argument(
        "--older-than-days",
        metavar="N",
        type=days_arg,
        help="settled more than N days ago (default: [journal] retention_days)",
    )


_EXPORT_HEADER = ["Time", "Station", "Operator", "Change", "Device", "From", "To", "State"]


def cmd_journal_export(args: argparse.Namespace, out: Output) -> int:
    """The audit report, read without the lock (works while the kiosk window runs)."""
    settings = local_settings(args)
    since = datetime.combine(args.since, datetime.min.time()) if args.since else None
    with reading_journal(settings) as journal:
        rows = journal.export(since) if journal else []
    if args.csv:
        _write_csv(args.csv, rows, out)
    if out.json_mode:
        out.data(rows)
    elif not args.csv:
        if not rows:
            out.say("No changes in the journal" + (f" since {args.since}." if since else "."))
        else:
            out.say("\n".join(table_lines([_EXPORT_HEADER, *(_export_row(r) for r in rows)])))
    return EXIT_OK


def _write_csv(target: str, rows: list[dict[str, Any]], out: Output) -> None:
    rows = [clean_json(row) for row in rows]  # names and notes, as on the screen
    with open_csv(target, out) as handle:
        write_csv(handle, rows)
    if target != "-":
        out.error(f"{count(len(rows), 'change')} written to {handle.name}.")


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
    kind = {
        ChangeKind.CHECKIN.value: "check-in",
        ChangeKind.UPDATE.value: "update",
    }.get(str(row["kind"]), "check-out")
    if row["ticket_number"]:
        kind += f", ticket #{row['ticket_number']}"
    return [
        local_time(row["created_at"]),
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
    settings = local_settings(args)
    days = args.older_than_days
    if days is None:
        days = settings.journal.retention_days
    with reading_journal(settings) as journal:
        purged = journal.purge_personal_data(timedelta(days=days)) if journal else 0
    if out.json_mode:
        out.data({"Purged": purged, "OlderThanDays": days})
    else:
        out.say(
            f"Personal data purged from {count(purged, 'change')} settled more than "
            f"{count(days, 'day')} ago."
        )
    return EXIT_OK


ONLINE_VERBS: dict[str, OnlineVerb] = {}
LOCAL_VERBS: dict[str, LocalVerb] = {
    "journal export": cmd_journal_export,
    "journal purge": cmd_journal_purge,
}
