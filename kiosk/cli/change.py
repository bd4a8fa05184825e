"""`checkout` and `checkin`: give a device to a person, take it back. Both plan the change
with the window's `TransactionService`, ask, and hand it to the change desk."""

from __future__ import annotations

import argparse

from kiosk.cli.args import add_operator, add_verb, add_yes, text_arg
from kiosk.cli.lookup import one_device, one_person
from kiosk.cli.session import (
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
from kiosk.core.changes import ChangeState, Condition, LocationStep, give_sentence
from kiosk.core.rules import check_checkin, person_line


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    checkout = add_verb(
        verbs,
        common,
        "checkout",
        "give a device to a person (or transfer it to them)",
        description="Give a device to a person, or transfer it from whoever has it. The "
        "same rules as the kiosk window: an inactive person or a retired device is refused, "
        "warnings are shown, and the change is written to the journal before it is sent. "
        "Exit 0 done, 2 refused or not confirmed, 3 not found, 4 several or changed "
        "elsewhere, 5 Incident IQ error, 6 network (saved, sent later).",
    )
    checkout.add_argument("tag", metavar="TAG", type=text_arg, help="asset tag or serial number")
    checkout.add_argument(
        "--to",
        required=True,
        metavar="PERSON",
        type=text_arg,
        help="school ID number, email, username or UserId (exact)",
    )
    add_yes(checkout)

    checkin = add_verb(
        verbs,
        common,
        "checkin",
        "take a device back",
        description="Take a device back: its owner is removed, its status and location set "
        "as configured ([checkin]); damaged or broken files one repair ticket. Exit codes "
        "as for checkout.",
    )
    checkin.add_argument("tag", metavar="TAG", type=text_arg, help="asset tag or serial number")
    checkin.add_argument(
        "--condition",
        choices=[c.value for c in Condition],
        default=Condition.GOOD.value,
        help="damaged or broken files a repair ticket (default: good)",
    )
    checkin.add_argument("--note", help="note for the repair ticket")
    checkin.add_argument("--charger", choices=["yes", "no"], help="was the charger returned?")
    add_yes(checkin)
    for changing in (checkout, checkin):
        add_operator(changing)


async def cmd_checkout(s: Session) -> int:
    async with station(s) as services:
        asset = await one_device(s, s.args.tag)
        person = await one_person(s, s.args.to)
        prepared = await s.service.prepare_checkout(asset, person)
        check = prepared.check
        if not check.allowed:
            raise CommandError(f"{check.refusal}\nNothing was changed.")
        owner = check.from_owner.display_name if check.from_owner else None
        show_plan(s.out, give_sentence(asset.label, person_line(person), owner), check.warnings)
        confirm(s)
        set_operator(s)
        change = s.service.checkout_change(prepared)
        result = await send(s, services, change)
    if result.change.state is ChangeState.DONE:
        s.out.say(f"{person.display_name} now has {change.asset_tag}.")
    return finish(s, result)


async def cmd_checkin(s: Session) -> int:
    async with station(s) as services:
        asset = await one_device(s, s.args.tag)
        condition = Condition(s.args.condition)
        returned_by = None
        if asset.current_owner_id is None and condition is not Condition.GOOD:
            # A repair ticket needs a person: with no owner, the token's user files it.
            returned_by = (await s.client.login()).user_id
        set_operator(s)
        change = await s.service.checkin_change(
            asset,
            condition=condition,
            charger_returned=None if s.args.charger is None else s.args.charger == "yes",
            note=s.args.note,
            returned_by=returned_by,
        )
        policy = s.service.checkin_policy
        warnings = []
        no_owner = check_checkin(asset)
        if no_owner:
            warnings.append(no_owner)
            plan = f"Check in {asset.label}"
        else:
            owner = person_line(asset.owner) if asset.owner else "another person"
            plan = f"Check in {asset.label} from {owner}"
        details = [f"condition {condition.value}"]
        status = (
            policy.repair_status_name if condition is not Condition.GOOD else policy.status_name
        )
        if status:
            details.append(f"status “{status}”")
        if any(isinstance(step, LocationStep) for step in change.steps):
            details.append("location as configured")
        if change.ticket:
            details.append("a repair ticket is filed")
        show_plan(s.out, f"{plan} ({', '.join(details)})", warnings)
        confirm(s)
        result = await send(s, services, change)
    if result.change.state is ChangeState.DONE:
        who = f" from {change.from_owner_name}" if change.from_owner_name else ""
        s.out.say(f"{change.asset_tag} checked in{who}.")
        if change.ticket_number or change.ticket_id:
            s.out.say(f"Repair ticket #{change.ticket_number or change.ticket_id} filed.")
    return finish(s, result)


ONLINE_VERBS: dict[str, OnlineVerb] = {"checkout": cmd_checkout, "checkin": cmd_checkin}
LOCAL_VERBS: dict[str, LocalVerb] = {}
