"""`outbox`, `outbox --send` and `outbox resolve`: the changes waiting to be sent or
needing attention, sending them now, and settling a conflict by hand."""

from __future__ import annotations

import argparse

from kiosk.cli.args import add_verb
from kiosk.cli.output import Output
from kiosk.cli.session import (
    EXIT_API,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_SEVERAL,
    JOURNAL_LOCKED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    change_json,
    count,
    local_settings,
    local_time,
    reading_journal,
    run_online,
    send_window,
    short_id,
    station,
)
from kiosk.core.changes import Change, ChangeState
from kiosk.core.journal import Journal, JournalEntry, JournalError, JournalLockedError


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    outbox = add_verb(
        verbs,
        common,
        "outbox",
        "list the changes waiting to be sent or needing attention; --send sends them now",
        description="The changes in this computer's journal that are waiting to be sent, "
        "and those that need a person (conflicts, failures, unreadable rows). Reading works "
        "offline and while the kiosk window runs.",
    )
    outbox.add_argument(
        "--send",
        action="store_true",
        help="send what is waiting now (exit 0 when nothing is left waiting)",
    )
    outbox_verbs = outbox.add_subparsers(title="outbox commands", metavar="ACTION")
    resolve = outbox_verbs.add_parser(
        "resolve",
        parents=[common],
        help="mark a conflict or failure as settled by hand in Incident IQ",
    )
    resolve.set_defaults(verb="outbox resolve")
    resolve.add_argument("change_id", metavar="ID", help="the change's id (its first characters)")
    resolve.add_argument("--note", help="what was done, for the audit")


def cmd_outbox(args: argparse.Namespace, out: Output) -> int:
    """List what waits and what needs attention, from the journal alone (no connection,
    no token: it works offline and while the kiosk window runs). --send sends."""
    if args.send:
        return run_online(args, out, cmd_outbox_send)
    settings = local_settings(args)
    with reading_journal(settings) as journal:
        pending = journal.pending() if journal else []
        attention = journal.attention() if journal else []
        unreadable = journal.unreadable() if journal else []
    if out.json_mode:
        out.data(
            {
                "Pending": [change_json(c) for c in pending],
                "Attention": [change_json(c) for c in attention],
                "Unreadable": [
                    {
                        "Id": r.id,
                        "CreatedAt": r.created_at,
                        "AssetTag": r.asset_tag,
                        "Why": r.reason,
                    }
                    for r in unreadable
                ],
            }
        )
        return EXIT_OK
    if unreadable:
        out.say(f"Unreadable journal rows, set aside ({len(unreadable)}):")
        for row in unreadable:
            when = local_time(row.created_at) if row.created_at else "-"
            out.say(f"  {row.id}  {when}  {row.asset_tag or '-'}  {row.reason}")
        out.say("Check each device in Incident IQ by hand; the rest of the journal is fine.")
        if pending or attention:
            out.say()
    if not pending and not attention and not unreadable:
        out.say("Nothing is waiting: every change in the journal was sent.")
        return EXIT_OK
    if pending:
        out.say(f"Waiting to be sent ({len(pending)}):")
        out.say("\n".join(outbox_lines(pending)))
        out.say("Send now with `iiq-kiosk outbox --send` (or leave it to the kiosk window).")
    if attention:
        if pending:
            out.say()
        out.say(f"Needs attention ({len(attention)}):")
        out.say("\n".join(outbox_lines(attention)))
        out.say(
            "Settle each in Incident IQ by hand, then: iiq-kiosk outbox resolve ID [--note TEXT]"
        )
    return EXIT_OK


def outbox_lines(changes: list[Change]) -> list[str]:
    """Two or three lines a change: id, time, what; state, tries, last error; for a
    conflict, both owners (the one seen at the kiosk and the one in Incident IQ now)."""
    indent = " " * 12
    lines = []
    for change in changes:
        tries = f"{change.attempts} {'try' if change.attempts == 1 else 'tries'}"
        when = local_time(change.created_at)
        lines.append(f"  {short_id(change.id)}  {when}  {change.description}")
        state = f"{indent}{change.state.value}, {tries}"
        lines.append(f"{state}: {change.last_error}" if change.last_error else state)
        if change.state is ChangeState.CONFLICT:
            seen = change.from_owner_name or ("nobody" if not change.from_owner_id else "-")
            now = change.conflict_owner_name or change.conflict_owner_id or "nobody"
            lines.append(f"{indent}owner when scanned: {seen}; in Incident IQ now: {now}")
    return lines


async def cmd_outbox_send(s: Session) -> int:
    """Send what is waiting, as long as that makes progress; say what happened to each."""
    settled: list[Change] = []

    def on_change(change: Change) -> None:
        if change.state is ChangeState.PENDING:
            return
        settled.append(Change.from_dict(change.to_dict()))
        if s.out.json_mode:
            return
        if change.state is ChangeState.DONE:
            s.out.say(f"Sent: {change.description}")
        elif change.state is ChangeState.CONFLICT:
            s.out.say(f"Conflict: {change.last_error}")
        else:
            s.out.say(f"Failed: {change.description}: {change.last_error}")

    async with station(s) as services:
        outbox, journal = services.outbox, services.journal
        outbox.add_listener(on_change)
        waiting = outbox.counts()["pending"]
        if waiting:
            s.out.say(f"Sending {count(waiting, 'change')}…")
        counts = outbox.counts()
        while counts["pending"]:
            before = counts["pending"]
            counts = await outbox.drain(send_window(s.settings))
            if counts["pending"] >= before:
                break  # no progress: Incident IQ or the network is still failing
        left = outbox.pending_changes
        attention = (await journal.counts())["attention"]
    if s.out.json_mode:
        s.out.data(
            {
                "Sent": [change_json(c) for c in settled if c.state is ChangeState.DONE],
                "Attention": [change_json(c) for c in settled if c.state is not ChangeState.DONE],
                "Pending": [change_json(c) for c in left],
            }
        )
    elif not waiting:
        s.out.say("Nothing to send.")
    if attention:
        s.out.error(f"{count(attention, 'change')} need attention: see `iiq-kiosk outbox`.")
    if not left:
        return EXIT_OK
    why = outbox.last_error or left[0].last_error or "no answer"
    s.out.error(
        f"{count(len(left), 'change')} still waiting ({why}). They stay in the journal; "
        "try again later."
    )
    return EXIT_NETWORK if outbox.offline else EXIT_API


def cmd_outbox_resolve(args: argparse.Namespace, out: Output) -> int:
    """Mark a conflict or failure as settled by hand (it stays in the journal, resolved)."""
    settings = local_settings(args)
    if not settings.journal_path.exists():
        raise CommandError("The journal is empty: nothing to resolve.", EXIT_NOT_FOUND)
    try:
        journal = Journal.open(settings.journal_path, lock=True)
    except JournalLockedError:
        raise CommandError(JOURNAL_LOCKED) from None
    try:
        entry = _entry_to_resolve(journal, args.change_id)
        if entry.resolved:
            out.say(
                f"Already resolved on {local_time(entry.resolved_at)}: {entry.change.description}"
            )
        else:
            try:
                entry = journal.resolve(entry.change.id, (args.note or "").strip() or None)
            except JournalError as exc:
                raise CommandError(str(exc)) from None
            out.say(f"Resolved: {entry.change.description} ({entry.change.state.value}).")
    finally:
        journal.close()
    if out.json_mode:
        out.data(
            {
                **change_json(entry.change),
                "ResolvedAt": entry.resolved_at,
                "ResolutionNote": entry.resolution_note,
            }
        )
    return EXIT_OK


MIN_ID_PREFIX = 4


def _entry_to_resolve(journal: Journal, text: str) -> JournalEntry:
    query = text.strip().casefold()
    entry = journal.entry(query)
    if entry is not None:
        if not entry.needs_attention and not entry.resolved:
            raise CommandError(
                f"{entry.change.description} is {entry.change.state.value}: only conflicts "
                "and failures are resolved by hand."
            )
        return entry
    matches = (
        [c for c in journal.attention() if c.id.startswith(query)]
        if len(query) >= MIN_ID_PREFIX
        else []
    )
    if not matches:
        raise CommandError(
            f"No change that needs attention has the id “{text}” (give at least "
            f"{MIN_ID_PREFIX} characters). `iiq-kiosk outbox` lists them.",
            EXIT_NOT_FOUND,
        )
    if len(matches) > 1:
        raise CommandError(
            f"{len(matches)} changes start with “{text}”: give more of the id.\n"
            + "\n".join(outbox_lines(matches)),
            EXIT_SEVERAL,
        )
    found = journal.entry(matches[0].id)
    assert found is not None
    return found


ONLINE_VERBS: dict[str, OnlineVerb] = {}
#: `outbox --send` runs online from `cmd_outbox`.
LOCAL_VERBS: dict[str, LocalVerb] = {
    "outbox": cmd_outbox,
    "outbox resolve": cmd_outbox_resolve,
}
