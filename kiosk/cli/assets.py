"""`assets`: query devices with facet filters (status, location, model, type, owner, tag),
every page read, to a table, JSON or a CSV file. See `kiosk.core.assets`."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
from typing import Any

from kiosk.cli.args import add_verb, bounded_int, text_arg
from kiosk.cli.lookup import one_person
from kiosk.cli.output import clean_json, formula_safe, open_csv
from kiosk.cli.session import (
    EXIT_API,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    count,
)
from kiosk.core.assets import (
    ASSET_COLUMNS,
    AssetQuery,
    FacetResolver,
    UnknownNameError,
    asset_row,
    query_assets,
)
from kiosk.core.text import clean_text
from kiosk.iiq.errors import IIQError, NetworkError

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    assets = add_verb(
        verbs,
        common,
        "assets",
        "query devices by status, location, model, type, owner or tag",
        description="Query devices with filters. Names are checked against Incident IQ "
        "first (a name it does not have stops here, with the closest names it has). Repeat "
        "an option for several values (any of them); different options must all match. "
        "Every page is read. Exit 0 devices found, 3 none, 2 an unknown name or bad "
        "options, 5 Incident IQ error, 6 network.",
        epilog="Examples: iiq-kiosk assets --status Available --location 'Lincoln High "
        "School' --csv available.csv;  iiq-kiosk assets --owner 204518 --json;  "
        "iiq-kiosk assets --model 'Dell Chromebook 3110' --unassigned --limit 20",
    )
    for option, what in (
        ("--status", "status name, e.g. Available"),
        ("--location", "location name or abbreviation"),
        ("--model", "model name, e.g. 'Dell Chromebook 3110'"),
        ("--type", "asset type (category) name, e.g. Chromebook"),
    ):
        assets.add_argument(option, metavar="NAME", action="append", type=text_arg, help=what)
    owner = assets.add_mutually_exclusive_group()
    owner.add_argument(
        "--owner",
        metavar="PERSON",
        action="append",
        type=text_arg,
        help="held by this person: school ID number, email, username or UserId (exact)",
    )
    owner.add_argument("--unassigned", action="store_true", help="only devices nobody holds")
    assets.add_argument(
        "--tag", metavar="TEXT", action="append", type=text_arg, help="asset tag (exact)"
    )
    assets.add_argument(
        "--page-size",
        metavar="N",
        type=_page_size_arg,
        default=DEFAULT_PAGE_SIZE,
        help=f"rows asked for per request (1 to {MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE})",
    )
    assets.add_argument(
        "--limit", metavar="N", type=_limit_arg, help="stop after N devices (default: all)"
    )
    assets.add_argument(
        "--csv", metavar="FILE", help="write a CSV file (- for stdout) instead of a table"
    )


def _page_size_arg(text: str) -> int:
    return bounded_int(text, 1, MAX_PAGE_SIZE, "a page size")


def _limit_arg(text: str) -> int:
    return bounded_int(text, 1, 10_000_000, "a number of devices")


async def resolve_query(s: Session) -> AssetQuery:
    """The query the options ask for, every name resolved to an id before anything is
    queried. A name that matches nothing is exit 2, with the closest names."""
    args = s.args
    resolver = FacetResolver(s.service)
    try:
        query = AssetQuery(
            status_ids=await resolver.status_ids(args.status or []),
            location_ids=await resolver.location_ids(args.location or []),
            types=list(args.type or []),
            tags=list(args.tag or []),
            unassigned=bool(getattr(args, "unassigned", False)),
        )
        model_ids = await resolver.model_ids(args.model or [])
    except UnknownNameError as exc:
        raise CommandError(f"{exc} Nothing was queried.", EXIT_REFUSED) from None
    if model_ids is None:
        query.model_names = list(args.model or [])
    else:
        query.model_ids = model_ids
    for text in getattr(args, "owner", None) or []:
        try:
            person = await one_person(s, text, option="--owner")
        except CommandError as exc:
            code = EXIT_REFUSED if exc.code == EXIT_NOT_FOUND else exc.code
            raise CommandError(f"{exc}\nNothing was queried.", code) from None
        query.owner_ids.append(person.user_id)
    return query


async def cmd_assets(s: Session) -> int:
    args = s.args
    if args.csv and s.out.json_mode:
        raise CommandError("Choose one: --csv FILE or --json.")
    query = await resolve_query(s)
    rows = 0
    table: list[list[str]] = []
    progress = None
    with contextlib.ExitStack() as stack:
        if args.csv:
            handle = stack.enter_context(open_csv(args.csv, s.out))
            writer = csv.DictWriter(handle, fieldnames=list(ASSET_COLUMNS))
            writer.writeheader()
        elif s.out.json_mode:
            s.out.stdout.write("[")
        try:
            async for page, where in query_assets(
                s.service, query, page_size=args.page_size, limit=args.limit
            ):
                if progress is None and (where.page_count or 0) > 1:
                    total = where.total_rows if args.limit is None else args.limit
                    progress = stack.enter_context(s.out.progress(total, "Reading devices"))
                for asset in page:
                    row = asset_row(asset)
                    if args.csv:
                        writer.writerow({k: formula_safe(_cell(v)) for k, v in row.items()})
                    elif s.out.json_mode:
                        text = json.dumps(clean_json(row), ensure_ascii=False)
                        s.out.stdout.write(("\n  " if rows == 0 else ",\n  ") + text)
                    else:
                        table.append(_table_row(row))
                    rows += 1
                if progress is not None:
                    progress.advance(len(page))
        except IIQError as exc:
            code = EXIT_NETWORK if isinstance(exc, NetworkError) else EXIT_API
            if args.csv and args.csv != "-":
                raise CommandError(
                    f"{exc}\nThe file {args.csv} has only the first {count(rows, 'device')}.",
                    code,
                ) from None
            raise
        finally:
            if s.out.json_mode and not args.csv:
                s.out.stdout.write("\n]\n" if rows else "]\n")
    if table:
        s.out.table(["Tag", "Serial", "Model", "Status", "Location", "Owner"], table)
    if not rows:
        s.out.error("No devices match these filters in Incident IQ.")
        return EXIT_NOT_FOUND
    if args.csv and args.csv != "-":
        s.out.error(f"{count(rows, 'device')} written to {args.csv}.")
    elif not s.out.json_mode and not args.csv:
        s.out.say(f"{count(rows, 'device')}.")
    return EXIT_OK


def _cell(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _table_row(row: dict[str, Any]) -> list[str]:
    place = ", ".join(p for p in (row["Location"], row["Room"]) if p)
    owner = row["Owner"] or ("someone" if row["OwnerId"] else "-")
    return [
        row["AssetTag"] or "-",
        row["SerialNumber"] or "-",
        row["Model"] or "-",
        row["Status"] or "-",
        place or "-",
        owner,
    ]


ONLINE_VERBS: dict[str, OnlineVerb] = {"assets": cmd_assets}
LOCAL_VERBS: dict[str, LocalVerb] = {}
