"""`event` and `audit`: prepare an event pack (its people and devices read ahead, for work
without the network), list, show, refresh, report on and close it; mark devices seen in an
audit walk and list what was expected but not seen. See `kiosk.core.events`.

Packs live in the data folder's `events/`, one per event and station; every verb first
deletes the packs older than `[events] keep_days`.
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.cli.args import add_verb, text_arg
from kiosk.cli.output import Output, formula_safe, open_csv
from kiosk.cli.session import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    count,
    local_settings,
    local_time,
)
from kiosk.config import Settings
from kiosk.core.assets import UnknownNameError
from kiosk.core.events import (
    AuditResult,
    EventError,
    EventExistsError,
    EventKind,
    EventNotFoundError,
    EventPack,
    EventReport,
    EventScope,
    OutstandingDevice,
    PrepareProgress,
    expire_packs,
    list_packs,
    pack_path,
    prepare,
    read_journal,
)
from kiosk.core.text import clean_text
from kiosk.iiq.errors import IIQError, NetworkError


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    event = verbs.add_parser(
        "event", parents=[common], help="events: prepared hand-outs and collections"
    )
    event_verbs = event.add_subparsers(title="event commands", metavar="COMMAND", required=True)

    sub = _add(
        "event",
        event_verbs,
        common,
        "prepare",
        "read an event's people and devices into a pack on this station",
        "Read the people in scope and their devices (collect), or the devices waiting at a "
        "place and the people in scope who hold none (distribute), or every device at a "
        "place (audit), into an event pack in the data folder: lookups and name search "
        "then work without the network. One request at a time, at most one per [events] "
        "min_interval_s. Interrupted? Run the same command again: it goes on where it "
        "stopped. Exit 0 prepared, 2 an unknown name or a pack that exists already, "
        "5 Incident IQ error, 6 network (run it again to go on).",
        "Example: iiq-kiosk event prepare 'June returns RMS' --kind collect --location "
        "'Roosevelt Middle School' --grade 07 --role Student",
    )
    sub.add_argument("name", metavar="NAME", type=text_arg, help="the event's name")
    sub.add_argument("--kind", required=True, choices=[k.value for k in EventKind])
    for option, what in (
        ("--location", "the people's school (name or abbreviation)"),
        ("--grade", "grade, e.g. 07"),
        ("--role", "role, e.g. Student"),
        ("--model", "only devices of this model"),
    ):
        sub.add_argument(option, metavar="NAME", action="append", type=text_arg, help=what)
    sub.add_argument(
        "--devices-at",
        metavar="NAME",
        type=text_arg,
        help="distribute / audit: where the devices are (a location, or a cart's label "
        "from [checkin.carts])",
    )

    _add("event", event_verbs, common, "list", "the event packs on this station", "Exit 0.", None)
    for name, what, about in (
        ("show", "an event's scope, age and progress", "Exit 0, 3 no such event."),
        (
            "close",
            "end an event on this station: its pack (names, ID numbers) is deleted",
            "Exit 0, 3 no such event.",
        ),
    ):
        sub = _add("event", event_verbs, common, name, what, about, None)
        sub.add_argument("name", metavar="NAME", type=text_arg)

    sub = _add(
        "event",
        event_verbs,
        common,
        "refresh",
        "re-read the event's devices from Incident IQ (what other stations did)",
        "Re-read the owner, status and location of the pack's devices (queries by tag, "
        "rate-bounded), then show the progress. Exit 0, 3 no such event, 5, 6.",
        None,
    )
    sub.add_argument("name", metavar="NAME", type=text_arg)

    sub = _add(
        "event",
        event_verbs,
        common,
        "report",
        "outstanding devices and holders, damaged returns, hand-outs, people with none",
        "The event's report from the pack (as last refreshed) and this station's journal: "
        "outstanding devices with their holder, devices returned damaged (ticket numbers), "
        "devices handed out, people with none, and counts per station. Add other "
        "stations' journal files with --journal. Exit 0, 3 no such event.",
        "Example: iiq-kiosk event refresh 'June returns RMS' && iiq-kiosk event report "
        "'June returns RMS' --csv outstanding.csv",
    )
    sub.add_argument("name", metavar="NAME", type=text_arg)
    sub.add_argument("--csv", metavar="FILE", help="one row per device or person (- for stdout)")
    sub.add_argument(
        "--journal",
        metavar="FILE",
        action="append",
        help="another station's journal.sqlite3 (a copy) to count as well",
    )

    audit = verbs.add_parser("audit", parents=[common], help="audit scans: what is where")
    audit_verbs = audit.add_subparsers(title="audit commands", metavar="COMMAND", required=True)
    sub = _add(
        "audit",
        audit_verbs,
        common,
        "scan",
        "mark devices seen at the event's place (changes nothing in Incident IQ)",
        "Each code (tag or serial) is marked seen once and judged: belongs here, misplaced "
        "(where it belongs), or unknown; a device not in the pack is looked up in Incident "
        "IQ. Exit 0 all belong here, 4 some misplaced or unknown, 3 no such event.",
        "Example: iiq-kiosk audit scan 'Cart audit' CB-004512 CB-004513",
    )
    sub.add_argument("name", metavar="NAME", type=text_arg)
    sub.add_argument("codes", metavar="CODE", nargs="+", type=text_arg)
    sub = _add(
        "audit",
        audit_verbs,
        common,
        "report",
        "devices expected at the place but not seen, and what was misplaced or unknown",
        "Exit 0 everything seen, 4 some expected devices not seen, 3 no such event.",
        None,
    )
    sub.add_argument("name", metavar="NAME", type=text_arg)
    sub.add_argument("--csv", metavar="FILE", help="the devices not seen (- for stdout)")


def _add(
    group: str,
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    help_text: str,
    description: str,
    epilog: str | None,
) -> argparse.ArgumentParser:
    """A verb of a group, dispatched as "event prepare", "audit report"."""
    sub = add_verb(verbs, common, name, help_text, description=description, epilog=epilog)
    sub.set_defaults(verb=f"{group} {name}")
    return sub


# --- shared -----------------------------------------------------------------------------


def _expire(settings: Settings) -> None:
    expire_packs(settings.data_dir, settings.events.keep_days)


def _open(settings: Settings, name: str) -> EventPack:
    try:
        return EventPack.open(pack_path(settings.data_dir, name))
    except EventNotFoundError:
        raise CommandError(
            f"There is no event “{clean_text(name, 60)}” on this station (see: iiq-kiosk "
            "event list).",
            EXIT_NOT_FOUND,
        ) from None
    except EventError as exc:
        raise CommandError(str(exc)) from None


def _rows(
    settings: Settings, pack: EventPack, extra: list[str] | None = None
) -> list[dict[str, Any]]:
    """This station's journal rows since the pack was prepared, and any others given."""
    since = pack.prepared_at or pack.created_at
    rows = read_journal(settings.journal_path, since)
    for name in extra or []:
        path = Path(name).expanduser()
        if not path.exists():
            raise CommandError(f"There is no journal file {path}.")
        rows += read_journal(path, since)
    return rows


def _age(pack: EventPack) -> str:
    age = pack.age
    if age is None:
        return "not prepared yet (run the same prepare again to go on)"
    minutes = int(age / timedelta(minutes=1))
    if minutes < 1:
        return "read from Incident IQ less than a minute ago"
    if minutes < 120:
        return f"read from Incident IQ {minutes} min ago"
    return f"read from Incident IQ {minutes // 60} h ago"


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _say_progress(out: Output, pack: EventPack, rows: list[dict[str, Any]]) -> dict[str, Any]:
    progress = pack.progress(rows)
    data = {
        "Headline": progress.headline(),
        "Total": progress.total,
        "Done": progress.done,
        "Left": progress.left,
        "DevicesTotal": progress.devices_total,
        "DevicesDone": progress.devices_done,
        "CountedFromThisJournal": progress.local_changes,
        "GroupBy": progress.group_by,
        "Groups": [
            {"Group": g.group, "Total": g.total, "Done": g.done, "Left": g.left}
            for g in progress.groups
        ],
    }
    if not out.json_mode:
        out.say(progress.headline() + ".")
        if progress.groups:
            done_word = "returned" if pack.kind is EventKind.COLLECT else "given one"
            left_word = "still out" if pack.kind is EventKind.COLLECT else "still without"
            out.table(
                [
                    progress.group_by.capitalize(),
                    "Total",
                    done_word.capitalize(),
                    left_word.capitalize(),
                ],
                [[g.group, str(g.total), str(g.done), str(g.left)] for g in progress.groups],
            )
    return data


# --- event prepare / refresh (online) ---------------------------------------------------


async def cmd_event_prepare(s: Session) -> int:
    args = s.args
    _expire(s.settings)
    kind = EventKind(args.kind)
    scope = EventScope(
        locations=tuple(args.location or ()),
        grades=tuple(args.grade or ()),
        roles=tuple(args.role or ()),
        devices_at=args.devices_at,
        models=tuple(args.model or ()),
    )
    if kind is EventKind.COLLECT and args.devices_at:
        raise CommandError("--devices-at is for distribute and audit events. Nothing was read.")
    path = pack_path(s.settings.data_dir, args.name)
    resuming = path.exists()
    progress_bar = s.out.progress(None, "Reading people and devices")
    last: list[PrepareProgress] = []

    def on_page(where: PrepareProgress) -> None:
        before = last[-1].rows if last else 0
        last.append(where)
        progress_bar.advance(where.rows - before, total=where.total)
        if not s.out.terminal and not s.out.json_mode:
            total = f" of {where.total}" if where.total is not None else ""
            s.out.say(f"{count(where.pages, 'page')} read, {count(where.rows, 'row')}{total}")

    try:
        with progress_bar:
            pack = await prepare(
                s.client,
                path,
                args.name,
                kind,
                scope,
                station=s.settings.station.name,
                carts=s.settings.cart_targets(),
                progress=on_page,
                min_interval_s=s.settings.events.min_interval_s,
            )
    except (UnknownNameError, EventExistsError) as exc:
        raise CommandError(f"{exc} Nothing was read.", EXIT_REFUSED) from None
    except EventError as exc:
        raise CommandError(str(exc)) from None
    except IIQError as exc:
        stored = last[-1].pages if last else 0
        again = (
            f"\n{count(stored, 'page')} are stored; run the same command again to go on from there."
            if path.exists()
            else ""
        )
        raise CommandError(f"{exc}{again}", 6 if isinstance(exc, NetworkError) else 5) from None
    with pack:
        people, devices = pack.counts()
        requests = last[-1].requests if last else 0
        data = {
            "Name": pack.name,
            "Kind": pack.kind.value,
            "Scope": pack.scope.to_json(),
            "People": people,
            "Devices": devices,
            "Requests": requests,
            "Resumed": resuming,
            "File": str(pack.path),
        }
        if s.out.json_mode:
            s.out.data(data)
        else:
            s.out.say(
                f"Event “{pack.name}” ({pack.kind.value}, {pack.scope.describe()}) prepared"
                f"{' (resumed)' if resuming else ''}: {_people(people)}, "
                f"{count(devices, 'device')}, {count(requests, 'request')}."
            )
    return EXIT_OK


async def cmd_event_refresh(s: Session) -> int:
    _expire(s.settings)
    with _open(s.settings, s.args.name) as pack:
        if not pack.ready:
            raise CommandError(
                f"The event “{pack.name}” is not prepared yet: run its prepare again first."
            )
        result = await pack.refresh(s.client, min_interval_s=s.settings.events.min_interval_s)
        data: dict[str, Any] = {
            "DevicesRead": result.devices_read,
            "Changed": result.changed,
            "Requests": result.requests,
        }
        if not s.out.json_mode:
            s.out.say(
                f"{count(result.devices_read, 'device')} read again, {result.changed} changed "
                f"since the last read ({count(result.requests, 'request')})."
            )
        data["Progress"] = _say_progress(s.out, pack, _rows(s.settings, pack))
        if s.out.json_mode:
            s.out.data(data)
    return EXIT_OK


# --- event list / show / close / report (local) -----------------------------------------


def cmd_event_list(args: argparse.Namespace, out: Output) -> int:
    settings = local_settings(args)
    _expire(settings)
    packs = list_packs(settings.data_dir)
    if out.json_mode:
        out.data(
            [
                {
                    "Name": p.name,
                    "Kind": p.kind.value,
                    "Scope": p.scope.to_json(),
                    "CreatedAt": p.created_at,
                    "PreparedAt": p.prepared_at,
                    "RefreshedAt": p.refreshed_at,
                    "People": p.people,
                    "Devices": p.devices,
                }
                for p in packs
            ]
        )
        return EXIT_OK
    if not packs:
        out.say("No events on this station.")
        return EXIT_OK
    out.table(
        ["Event", "Kind", "Scope", "People", "Devices", "Prepared", "Refreshed"],
        [
            [
                p.name,
                p.kind.value,
                p.scope.describe(),
                str(p.people),
                str(p.devices),
                local_time(p.prepared_at) if p.ready else "not finished",
                local_time(p.refreshed_at),
            ]
            for p in packs
        ],
    )
    return EXIT_OK


def cmd_event_show(args: argparse.Namespace, out: Output) -> int:
    settings = local_settings(args)
    _expire(settings)
    with _open(settings, args.name) as pack:
        people, devices = pack.counts()
        expires = datetime.fromisoformat(pack.created_at) + timedelta(
            days=settings.events.keep_days
        )
        data: dict[str, Any] = {
            "Name": pack.name,
            "Kind": pack.kind.value,
            "Scope": pack.scope.to_json(),
            "Station": pack.station,
            "CreatedAt": pack.created_at,
            "PreparedAt": pack.prepared_at,
            "RefreshedAt": pack.refreshed_at,
            "AgeSeconds": int(pack.age.total_seconds()) if pack.age is not None else None,
            "ExpiresAt": expires.astimezone(UTC).isoformat(timespec="seconds"),
            "People": people,
            "Devices": devices,
        }
        if not out.json_mode:
            out.say(f"Event “{pack.name}”: {pack.kind.value}, {pack.scope.describe()}.")
            out.say(f"{_people(people)}, {count(devices, 'device')}; {_age(pack)}.")
            out.say(f"Deleted on {local_time(data['ExpiresAt'])} (or with: iiq-kiosk event close).")
        if pack.ready:
            data["Progress"] = _say_progress(out, pack, _rows(settings, pack))
        if out.json_mode:
            out.data(data)
    return EXIT_OK


def cmd_event_close(args: argparse.Namespace, out: Output) -> int:
    settings = local_settings(args)
    _expire(settings)
    pack = _open(settings, args.name)
    name = pack.name
    pack.close()
    if out.json_mode:
        out.data({"Name": name, "Deleted": True})
    else:
        out.say(f"Event “{name}” closed: its pack is deleted from this station.")
    return EXIT_OK


def cmd_event_report(args: argparse.Namespace, out: Output) -> int:
    settings = local_settings(args)
    _expire(settings)
    if args.csv and out.json_mode:
        raise CommandError("Choose one: --csv FILE or --json.")
    with _open(settings, args.name) as pack:
        rows = _rows(settings, pack, args.journal)
        report = pack.report(rows)
        if args.csv:
            _report_csv(out, args.csv, report)
        if out.json_mode:
            out.data(_report_json(pack, report))
        elif not args.csv or args.csv != "-":
            _say_report(out, pack, report)
    return EXIT_OK


def _holder_cells(d: OutstandingDevice) -> list[str]:
    return [
        d.tag or d.asset_id,
        d.model_name or "",
        d.holder_name or ("someone not in scope" if d.holder_id else ""),
        d.school_id or "",
        d.grade or "",
        d.homeroom or "",
    ]


def _say_report(out: Output, pack: EventPack, report: EventReport) -> None:
    p = report.progress
    out.say(f"Event “{pack.name}”: {p.headline()}; {_age(pack)}.")
    header = ["Tag", "Model", "Holder", "ID", "Grade", "Homeroom"]
    if report.outstanding:
        out.say(f"\nStill out ({len(report.outstanding)}):")
        out.table(header, [_holder_cells(d) for d in report.outstanding])
    if report.handed_out:
        out.say(f"\nHanded out ({len(report.handed_out)}):")
        out.table(header, [_holder_cells(d) for d in report.handed_out])
    if report.without:
        out.say(f"\nStill without a device ({len(report.without)}):")
        out.table(
            ["Name", "ID", "Grade", "Homeroom"],
            [[w.name, w.school_id or "", w.grade or "", w.homeroom or ""] for w in report.without],
        )
    if report.damaged:
        out.say(f"\nReturned damaged ({len(report.damaged)}):")
        out.table(
            ["Tag", "Condition", "Ticket", "Station", "When"],
            [
                [
                    d.tag,
                    d.condition,
                    d.ticket_number or "not filed yet",
                    d.station,
                    local_time(d.when),
                ]
                for d in report.damaged
            ],
        )
    if report.stations:
        out.say("\nBy station (journals read):")
        out.table(
            ["Station", "Check-outs", "Check-ins", "Damaged", "Not sent yet"],
            [
                [c.station, str(c.checkouts), str(c.checkins), str(c.damaged), str(c.pending)]
                for c in report.stations
            ],
        )


def _report_json(pack: EventPack, report: EventReport) -> dict[str, Any]:
    def device(d: OutstandingDevice) -> dict[str, Any]:
        return {
            "AssetId": d.asset_id,
            "AssetTag": d.tag,
            "Model": d.model_name,
            "HolderId": d.holder_id,
            "Holder": d.holder_name,
            "SchoolIdNumber": d.school_id,
            "Grade": d.grade,
            "Homeroom": d.homeroom,
        }

    p = report.progress
    return {
        "Name": pack.name,
        "Kind": pack.kind.value,
        "RefreshedAt": pack.refreshed_at,
        "Progress": {
            "Total": p.total,
            "Done": p.done,
            "Left": p.left,
            "DevicesTotal": p.devices_total,
            "DevicesDone": p.devices_done,
        },
        "Outstanding": [device(d) for d in report.outstanding],
        "HandedOut": [device(d) for d in report.handed_out],
        "Without": [
            {
                "UserId": w.user_id,
                "Name": w.name,
                "SchoolIdNumber": w.school_id,
                "Grade": w.grade,
                "Homeroom": w.homeroom,
            }
            for w in report.without
        ],
        "Damaged": [
            {
                "AssetId": d.asset_id,
                "AssetTag": d.tag,
                "Condition": d.condition,
                "TicketNumber": d.ticket_number,
                "Station": d.station,
                "When": d.when,
            }
            for d in report.damaged
        ],
        "Stations": [
            {
                "Station": c.station,
                "Checkouts": c.checkouts,
                "Checkins": c.checkins,
                "Damaged": c.damaged,
                "Pending": c.pending,
            }
            for c in report.stations
        ],
    }


def _report_csv(out: Output, target: str, report: EventReport) -> None:
    with open_csv(target, out) as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "Section",
                "AssetTag",
                "Model",
                "Name",
                "SchoolIdNumber",
                "Grade",
                "Homeroom",
                "Condition",
                "TicketNumber",
                "AssetId",
                "UserId",
            ]
        )
        rows: list[list[Any]] = []
        for section, devices in (
            ("still out", report.outstanding),
            ("handed out", report.handed_out),
        ):
            for d in devices:
                tag, model, holder, school_id, grade, homeroom = _holder_cells(d)
                rows.append(
                    [
                        section,
                        tag,
                        model,
                        holder,
                        school_id,
                        grade,
                        homeroom,
                        "",
                        "",
                        d.asset_id,
                        d.holder_id or "",
                    ]
                )
        for w in report.without:
            rows.append(
                [
                    "without a device",
                    "",
                    "",
                    w.name,
                    w.school_id or "",
                    w.grade or "",
                    w.homeroom or "",
                    "",
                    "",
                    "",
                    w.user_id,
                ]
            )
        for dmg in report.damaged:
            rows.append(
                [
                    "returned damaged",
                    dmg.tag,
                    "",
                    "",
                    "",
                    "",
                    "",
                    dmg.condition,
                    dmg.ticket_number or "",
                    dmg.asset_id,
                    "",
                ]
            )
        for row in rows:
            writer.writerow([formula_safe(clean_text(c) if isinstance(c, str) else c) for c in row])
    if target != "-":
        out.error(f"Written to {target}.")


# --- audit ------------------------------------------------------------------------------

EXIT_AUDIT_PROBLEMS = 4


async def cmd_audit_scan(s: Session) -> int:
    _expire(s.settings)
    results: list[AuditResult] = []
    with _open(s.settings, s.args.name) as pack:
        if pack.expected_place()[0] is None:
            raise CommandError(
                f"The event “{pack.name}” has no place to audit: prepare an audit or "
                "distribute event with --devices-at."
            )
        for code in s.args.codes:
            asset = None
            if not pack.device_by_code(code):
                try:
                    found = await s.client.find_assets(code)
                except NetworkError:
                    found = None
                if found is not None and len(found.assets) == 1:
                    asset = found.assets[0]
            result = pack.audit_scan(code, station=s.settings.station.name, asset=asset)
            results.append(result)
            if not s.out.json_mode:
                s.out.say(result.sentence())
        if s.out.json_mode:
            s.out.data(
                [
                    {
                        "Code": r.code,
                        "Verdict": r.verdict.value,
                        "AssetId": r.asset_id,
                        "AssetTag": r.tag,
                        "BelongsAt": r.location_name,
                        "FirstScan": r.first_scan,
                    }
                    for r in results
                ]
            )
        else:
            s.out.say(pack.progress().headline() + ".")
    problems = [r for r in results if r.verdict.value != "here"]
    return EXIT_AUDIT_PROBLEMS if problems else EXIT_OK


def cmd_audit_report(args: argparse.Namespace, out: Output) -> int:
    settings = local_settings(args)
    _expire(settings)
    if args.csv and out.json_mode:
        raise CommandError("Choose one: --csv FILE or --json.")
    with _open(settings, args.name) as pack:
        missing = pack.audit_missing()
        seen = pack.audit_seen()
        progress = pack.progress()
        if args.csv:
            with open_csv(args.csv, out) as handle:
                writer = csv.writer(handle)
                writer.writerow(["AssetTag", "SerialNumber", "Model", "Location", "AssetId"])
                for d in missing:
                    cells = [d.tag or "", d.serial or "", d.model_name or "", d.location_name or ""]
                    writer.writerow([formula_safe(clean_text(c)) for c in cells] + [d.asset_id])
            if args.csv != "-":
                out.error(f"Written to {args.csv}.")
        if out.json_mode:
            out.data(
                {
                    "Name": pack.name,
                    "Expected": progress.total,
                    "Seen": progress.done,
                    "NotSeen": [
                        {"AssetId": d.asset_id, "AssetTag": d.tag, "Model": d.model_name}
                        for d in missing
                    ],
                    "Misplaced": [
                        {"AssetId": x.asset_id, "AssetTag": x.tag}
                        for x in seen
                        if x.verdict.value == "misplaced"
                    ],
                    "Unknown": [x.tag for x in seen if x.verdict.value == "unknown"],
                }
            )
        elif not args.csv or args.csv != "-":
            out.say(f"Audit “{pack.name}”: {progress.headline()}.")
            if missing:
                out.say(f"\nExpected but not seen ({len(missing)}):")
                out.table(
                    ["Tag", "Serial", "Model"],
                    [[d.tag or d.asset_id, d.serial or "", d.model_name or ""] for d in missing],
                )
            odd = [x for x in seen if x.verdict.value != "here"]
            if odd:
                out.say(f"\nMisplaced or unknown ({len(odd)}):")
                out.table(
                    ["Tag", "Verdict", "Station", "When"],
                    [[x.tag, x.verdict.value, x.station, local_time(x.seen_at)] for x in odd],
                )
    return EXIT_AUDIT_PROBLEMS if missing else EXIT_OK


ONLINE_VERBS: dict[str, OnlineVerb] = {
    "event prepare": cmd_event_prepare,
    "event refresh": cmd_event_refresh,
    "audit scan": cmd_audit_scan,
}
LOCAL_VERBS: dict[str, LocalVerb] = {
    "event list": cmd_event_list,
    "event show": cmd_event_show,
    "event close": cmd_event_close,
    "event report": cmd_event_report,
    "audit report": cmd_audit_report,
}
