"""`report assignments`: who holds what, the devices nobody holds, and the people holding
more than one (see `kiosk.core.report`)."""

from __future__ import annotations

import argparse
import csv
from typing import Any

from kiosk.cli.args import add_verb, text_arg
from kiosk.cli.output import formula_safe, open_csv
from kiosk.cli.session import (
    EXIT_OK,
    EXIT_REFUSED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    count,
)
from kiosk.core.assets import FacetResolver, UnknownNameError
from kiosk.core.report import AssignmentReport, Holder, assignments, role_ids
from kiosk.core.text import clean_text


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    report = verbs.add_parser("report", parents=[common], help="reports from Incident IQ")
    report_verbs = report.add_subparsers(title="reports", metavar="REPORT", required=True)
    sub = add_verb(
        report_verbs,
        common,
        "assignments",
        "who holds which devices, devices nobody holds, people holding more than one",
        description="Who holds what: per person (name, ID, grade, school) the devices they "
        "hold, then the devices assigned to nobody and the people holding more than one, "
        "and the totals. Every device is read page by page; nothing is changed. Exit 0, "
        "2 an unknown location or role, 5 Incident IQ error, 6 network.",
        epilog="Example: iiq-kiosk report assignments --location 'Roosevelt Middle School' "
        "--grade 07 --role Student --csv grade7.csv",
    )
    sub.set_defaults(verb="report assignments")
    sub.add_argument(
        "--location",
        metavar="NAME",
        action="append",
        type=text_arg,
        help="devices at this location (name or abbreviation)",
    )
    sub.add_argument("--grade", metavar="G", action="append", type=text_arg, help="e.g. 07")
    sub.add_argument(
        "--role", metavar="R", action="append", type=text_arg, help="e.g. Student, Staff"
    )
    sub.add_argument("--csv", metavar="FILE", help="one row per device held (- for stdout)")


async def cmd_report_assignments(s: Session) -> int:
    args = s.args
    try:
        locations = await FacetResolver(s.service).location_ids(args.location or [])
        role_ids(args.role or [])
    except UnknownNameError as exc:
        raise CommandError(f"{exc} Nothing was read.", EXIT_REFUSED) from None
    with s.out.progress(None, "Reading devices") as progress:
        report = await assignments(
            s.service,
            location_ids=locations,
            grades=list(args.grade or []),
            roles=list(args.role or []),
            on_page=lambda n, total: progress.advance(n, total=total),
        )
    if args.csv:
        _write_csv(s, args.csv, report)
    if s.out.json_mode:
        s.out.data(_json(report))
    elif not args.csv or args.csv != "-":
        _say(s, report)
    return EXIT_OK


def _person_cells(holder: Holder) -> list[str]:
    p = holder.person
    return [p.display_name, p.school_id_number or "", p.grade or "", holder.school or ""]


def _say(s: Session, report: AssignmentReport) -> None:
    if report.holders:
        s.out.table(
            ["Name", "ID", "Grade", "School", "Devices"],
            [
                [*_person_cells(h), ", ".join(d.asset_tag for d in h.devices)]
                for h in report.holders
            ],
        )
    if report.unassigned:
        s.out.say(f"\nAssigned to nobody ({len(report.unassigned)}):")
        s.out.say("  " + ", ".join(d.asset_tag for d in report.unassigned))
    if report.more_than_one:
        s.out.say(f"\nHolding more than one ({len(report.more_than_one)}):")
        for h in report.more_than_one:
            s.out.say(f"  {h.person.display_name}: {', '.join(d.asset_tag for d in h.devices)}")
    t = report.totals()
    s.out.say(
        f"\nTotals: {t['Holders']} holding {count(t['DevicesAssigned'], 'device')}, "
        f"{t['HoldingMoreThanOne']} holding more than one, {t['Unassigned']} assigned to nobody "
        f"({count(t['DevicesRead'], 'device')} read)."
    )


def _json(report: AssignmentReport) -> dict[str, Any]:
    return {
        "Holders": [
            {
                "UserId": h.person.user_id,
                "Name": h.person.display_name,
                "SchoolIdNumber": h.person.school_id_number,
                "Grade": h.person.grade,
                "School": h.school,
                "Devices": [{"AssetId": d.asset_id, "AssetTag": d.asset_tag} for d in h.devices],
            }
            for h in report.holders
        ],
        "Unassigned": [{"AssetId": d.asset_id, "AssetTag": d.asset_tag} for d in report.unassigned],
        "Totals": report.totals(),
    }


def _write_csv(s: Session, target: str, report: AssignmentReport) -> None:
    with open_csv(target, s.out) as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "SchoolIdNumber", "Grade", "School", "AssetTag", "AssetId"])
        for h in report.holders:
            cells = [clean_text(c) for c in _person_cells(h)]
            for d in h.devices:
                writer.writerow([formula_safe(c) for c in [*cells, d.asset_tag, d.asset_id]])
        for d in report.unassigned:
            writer.writerow(["", "", "", "", formula_safe(d.asset_tag), d.asset_id])
    if target != "-":
        s.out.error(f"Written to {target}.")


ONLINE_VERBS: dict[str, OnlineVerb] = {"report assignments": cmd_report_assignments}
LOCAL_VERBS: dict[str, LocalVerb] = {}
