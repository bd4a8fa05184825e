"""`asset` and `user`: look a device or people up; and the exact lookups the changing
verbs use (`one_device`, `one_person`)."""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.cli.args import add_verb, text_arg
from kiosk.cli.output import table_lines
from kiosk.cli.session import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_SEVERAL,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
)
from kiosk.core.assets import asset_row
from kiosk.core.rules import person_line
from kiosk.iiq.models import Asset, Person


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    asset = add_verb(
        verbs,
        common,
        "asset",
        "look up a device by asset tag, then serial number",
        description="Look up one device by its asset tag (exact, any case), then by its "
        "serial number. Exit 0 found, 3 none, 4 several (duplicate tags: the list says "
        "which serial to use).",
    )
    asset.add_argument("query", metavar="QUERY", type=text_arg, help="asset tag or serial number")

    user = add_verb(
        verbs,
        common,
        "user",
        "search people by name, email, username or school ID number",
        description="Search people by name, email, username or school ID number (the first "
        f"{USER_SEARCH_LIMIT} matches). Exit 0 found, 3 none.",
    )
    user.add_argument("query", metavar="QUERY", type=text_arg)


# --- asset ---------------------------------------------------------------------------------


async def cmd_asset(s: Session) -> int:
    query = s.args.query
    lookup = await s.service.find_device(query)
    assets = lookup.assets
    if not assets:
        if s.out.json_mode:
            s.out.data(None)
        s.out.error(no_device(query))
        return EXIT_NOT_FOUND
    if s.out.json_mode:
        rows = [asset_json(a) for a in assets]
        s.out.data(rows[0] if len(rows) == 1 else rows)
    if len(assets) > 1:
        if not s.out.json_mode:
            s.out.say(several_devices(query, assets))
        return EXIT_SEVERAL
    if not s.out.json_mode:
        s.out.say(asset_card(assets[0], lookup.matched_by))
    return EXIT_OK


def asset_card(asset: Asset, matched_by: str | None) -> str:
    owner = person_line(asset.owner) if asset.owner else None
    if owner is None:
        owner = "someone (no name in the reply)" if asset.current_owner_id else "no owner"
    place = ", ".join(p for p in (asset.location_name, asset.room_name) if p)
    tickets = asset.open_ticket_count
    lines = [
        asset.label,
        f"  Serial:       {asset.serial_number or '-'}",
        f"  Status:       {asset.status_name or '-'}",
        f"  Location:     {place or '-'}",
        f"  Owner:        {owner}",
        f"  Open tickets: {tickets}",
    ]
    if matched_by == "serial":
        lines.append("  (found by serial number)")
    return "\n".join(lines)


def asset_json(asset: Asset) -> dict[str, Any]:
    """A device for `asset --json`: the query's row (`assets`), and its open tickets."""
    return asset_row(asset) | {"OpenTickets": asset.open_ticket_count}


def no_device(query: str) -> str:
    return f"No device with tag or serial “{query}” in Incident IQ."


def several_devices(query: str, assets: list[Asset]) -> str:
    lines = [f"{len(assets)} devices match “{query}”:"]
    rows = [
        [
            a.asset_tag or "-",
            f"serial {a.serial_number or '-'}",
            a.model_name or "-",
            a.owner_name or ("no owner" if not a.current_owner_id else "owned"),
        ]
        for a in assets
    ]
    lines += ["  " + line for line in table_lines(rows)]
    return "\n".join(lines)


async def one_device(s: Session, query: str) -> Asset:
    """The one device `query` names, read fresh (lookups come from a lagging index)."""
    assets = (await s.service.find_device(query)).assets
    if not assets:
        raise CommandError(no_device(query), EXIT_NOT_FOUND)
    if len(assets) > 1:
        raise CommandError(
            several_devices(query, assets) + "\nUse the serial number to pick one.",
            EXIT_SEVERAL,
        )
    return await s.service.refresh(assets[0])


# --- user ------------------------------------------------------------------------------------

USER_SEARCH_LIMIT = 50


async def cmd_user(s: Session) -> int:
    query = s.args.query
    people = await s.client.search_users(query, limit=USER_SEARCH_LIMIT)
    if s.out.json_mode:
        s.out.data([person_json(p) for p in people])
    if not people:
        s.out.error(no_one(query))
        return EXIT_NOT_FOUND
    if not s.out.json_mode:
        s.out.say("\n".join(table_lines([person_row(p) for p in people])))
        if len(people) >= USER_SEARCH_LIMIT:
            s.out.say(f"(first {USER_SEARCH_LIMIT} shown: search for something more specific)")
    return EXIT_OK


def no_one(query: str) -> str:
    return f"No one matches “{query}”. New students can take a day or two to appear in Incident IQ."


def person_row(person: Person) -> list[str]:
    marks = []
    if person.is_deleted:
        marks.append("DELETED")
    elif not person.is_active:
        marks.append("INACTIVE")
    return [
        person.display_name,
        f"grade {person.grade}" if person.grade else "",
        f"ID {person.school_id_number}" if person.school_id_number else "",
        person.role_label or "",
        person.username or person.email or "",
        *marks,
    ]


def person_json(person: Person) -> dict[str, Any]:
    return {
        "UserId": person.user_id,
        "Name": person.display_name,
        "SchoolIdNumber": person.school_id_number,
        "Grade": person.grade,
        "Email": person.email,
        "Username": person.username,
        "Role": person.role_label,
        "IsActive": person.is_active,
        "IsDeleted": person.is_deleted,
    }


async def one_person(s: Session, text: str, option: str = "--to") -> Person:
    """The person whose school ID number, email, username or UserId is exactly `text`."""
    match = await s.service.find_person(text)
    if match.exact is not None:
        return match.exact
    if match.ambiguous_exact:
        rows = table_lines([[*person_row(p), p.user_id] for p in match.candidates])
        raise CommandError(
            f"{len(match.candidates)} people have “{text}” as their ID, email or username:\n"
            + "\n".join("  " + r for r in rows)
            + "\nUse the UserId to pick one.",
            EXIT_SEVERAL,
        )
    message = f"No one has the school ID number, email or username “{text}”."
    if match.candidates:
        shown = match.candidates[:5]
        rows = table_lines([person_row(p) for p in shown])
        message += "\nDid you mean:\n" + "\n".join("  " + r for r in rows)
        message += f"\nGive their school ID number, email or username with {option}."
    else:
        message += " New students can take a day or two to appear in Incident IQ."
    raise CommandError(message, EXIT_NOT_FOUND)


ONLINE_VERBS: dict[str, OnlineVerb] = {"asset": cmd_asset, "user": cmd_user}
LOCAL_VERBS: dict[str, LocalVerb] = {}
