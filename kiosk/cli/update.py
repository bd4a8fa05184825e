"""`update`: change a device's status, location, room or notes, through the journal and the
change desk like every change (see `kiosk.core.updates`)."""

from __future__ import annotations

import argparse

from kiosk.cli.args import add_operator, add_verb, add_yes, text_arg
from kiosk.cli.lookup import one_device
from kiosk.cli.session import (
    EXIT_OK,
    EXIT_REFUSED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    confirm,
    finish,
    send,
    set_operator,
    show_plan,
    station,
)
from kiosk.core.assets import UnknownNameError
from kiosk.core.changes import ChangeState
from kiosk.core.updates import UpdatePlanner, UpdateRequest


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    update = add_verb(
        verbs,
        common,
        "update",
        "change a device's status, location, room or notes",
        description="Change a device's status (by name), location and room (by name; a "
        "new location clears the old room), or add a line to its notes. Status alone uses "
        "Incident IQ's status route; the rest a partial update that always carries the "
        "device's own tag and serial. A retired or deleted device is refused; a device "
        "changed elsewhere since it was read is a conflict, never overwritten. Exit 0 "
        "done (or already so), 2 refused, unknown name or not confirmed, 3 not found, 4 "
        "several or changed elsewhere, 5 Incident IQ error, 6 network (saved, sent later).",
        epilog="Example: iiq-kiosk update CB-004512 --status 'In Repair' --location "
        "'Lincoln High School' --room 'Room 101' --note 'cracked hinge' --yes",
    )
    update.add_argument("tag", metavar="TAG", type=text_arg, help="asset tag or serial number")
    update.add_argument("--status", metavar="NAME", type=text_arg, help="new status, by name")
    update.add_argument(
        "--location", metavar="NAME", type=text_arg, help="new location, by name or abbreviation"
    )
    update.add_argument(
        "--room", metavar="NAME", type=text_arg, help="room at the (new) location, by name"
    )
    update.add_argument("--note", metavar="TEXT", type=text_arg, help="a line added to the notes")
    add_yes(update)
    add_operator(update)


async def cmd_update(s: Session) -> int:
    args = s.args
    request = UpdateRequest(args.status, args.location, args.room, args.note)
    if request.empty:
        raise CommandError(
            "Nothing to change: give --status, --location, --room or --note (see: "
            "iiq-kiosk update --help)."
        )
    async with station(s) as services:
        asset = await one_device(s, args.tag)
        set_operator(s)
        try:
            plan = await UpdatePlanner(s.service).plan(asset, request)
        except UnknownNameError as exc:
            raise CommandError(f"{exc} Nothing was changed.", EXIT_REFUSED) from None
        if plan.refusal:
            raise CommandError(f"{plan.refusal}\nNothing was changed.")
        if plan.change is None:
            if s.out.json_mode:
                s.out.data({"AssetId": asset.asset_id, "AssetTag": args.tag, "State": "unchanged"})
            s.out.say(f"{asset.label} is already so: nothing to change.")
            return EXIT_OK
        change = plan.change
        show_plan(s.out, f"Update {asset.label}: " + "; ".join(plan.details), [])
        confirm(s)
        result = await send(s, services, change)
    if result.change.state is ChangeState.DONE:
        s.out.say(f"{change.asset_tag} updated.")
    return finish(s, result)


ONLINE_VERBS: dict[str, OnlineVerb] = {"update": cmd_update}
LOCAL_VERBS: dict[str, LocalVerb] = {}
