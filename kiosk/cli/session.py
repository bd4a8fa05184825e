"""What every verb shares: exit codes, the session a network verb runs in, and how a
confirmed change is handed to the change desk, waited for and reported."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kiosk.cli.output import Output
from kiosk.config import Settings, load_settings, resolve_token
from kiosk.core.changes import ApplyResult, Change, ChangeState
from kiosk.core.journal import (
    AsyncJournal,
    Journal,
    JournalError,
    JournalFullError,
    JournalLockedError,
)
from kiosk.core.text import clean_text
from kiosk.core.transactions import TransactionService
from kiosk.iiq.client import IIQClient, RetryPolicy
from kiosk.iiq.errors import NetworkError
from kiosk.logs import setup_logging
from kiosk.wiring import Services, build_client, build_services, build_transactions

log = logging.getLogger("kiosk.cli")

EXIT_OK = 0
EXIT_BROKEN_PIPE = 1  # stdout closed early (`| head`): what Python exits with on EPIPE
EXIT_REFUSED = 2  # refused by a rule or the operator, bad usage, configuration
EXIT_NOT_FOUND = 3
EXIT_SEVERAL = 4
EXIT_CONFLICT = 4  # the device changed elsewhere (another station): nothing was forced
EXIT_API = 5  # Incident IQ refused or failed: auth, rights
EXIT_NETWORK = 6
EXIT_INTERRUPTED = 130

RETRY_DELAY_ENV = "IIQ_KIOSK_CLI_RETRY_DELAY"


def _retry_base_delay_from_env() -> float:
    try:
        return max(0.0, float(os.environ.get(RETRY_DELAY_ENV, "1")))
    except ValueError:
        return 1.0


#: Base of the backoff between tries of a change still pending after a transient failure
#: (the client's retries of reads and the outbox's of changes). `ChangeService.apply`
#: re-reads the asset first, so a try after a lost reply never applies the change twice.
#: The environment variable shrinks it for tests. `kiosk.cli.RETRY_BASE_DELAY` is the
#: knob (read at each use through `retry_base_delay()`).
RETRY_BASE_DELAY = _retry_base_delay_from_env()


def retry_base_delay() -> float:
    """`kiosk.cli.RETRY_BASE_DELAY` as it is now (tools and tests set it there)."""
    import kiosk.cli

    return float(getattr(kiosk.cli, "RETRY_BASE_DELAY", RETRY_BASE_DELAY))


#: How long `checkout` / `checkin` keep trying a change that is still pending (in units of
#: RETRY_BASE_DELAY, plus a few of the outbox's minimum interval between sends): about four
#: tries. Then it stays in the journal for `outbox --send` or the kiosk window.
SEND_WINDOW_BASE = 10.0
SEND_WINDOW_INTERVALS = 4

JOURNAL_LOCKED = (
    "The kiosk window is running on this computer and owns the journal; use it, or close "
    "it first.\n(Or another iiq-kiosk command is sending right now: wait for it.)"
)
SAVED_FOR_LATER = (
    "Saved in the journal; it will be sent by `iiq-kiosk outbox --send` or the kiosk window."
)
DISK_FULL = "The kiosk's disk is full: nothing was sent."


class CommandError(Exception):
    """The command stops here with a message and an exit code: a refusal, nothing found,
    several found. Not a fault of the program."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


# --- the session a network verb runs in ----------------------------------------------


@dataclass
class Session:
    args: argparse.Namespace
    settings: Settings
    client: IIQClient
    service: TransactionService
    out: Output


OnlineVerb = Callable[[Session], Awaitable[int]]
LocalVerb = Callable[[argparse.Namespace, Output], int]


def run_online(args: argparse.Namespace, out: Output, verb: OnlineVerb) -> int:
    """Settings, logging and a client, then the verb; the demo simulator lives as long."""
    stop_demo: Callable[[], None] | None = None
    token: str | None
    if args.demo:
        from kiosk.demo import start_demo  # the simulator loads only in demo mode

        demo_sim, settings, token = start_demo(config=args.config)
        stop_demo = demo_sim.stop
    else:
        settings = load_settings(config=args.config)
        token = resolve_token(settings)
    try:
        setup_logging(settings.data_dir, verbose=args.verbose)
        settings.connection(token)  # a missing setting is said before anything runs

        async def run() -> int:
            # The httpx client belongs to this loop: created and closed inside it.
            retry = RetryPolicy(base_delay=retry_base_delay())
            async with build_client(settings, token, retry=retry) as client:
                service = build_transactions(settings, client)
                return await verb(Session(args, settings, client, service, out))

        return asyncio.run(run())
    finally:
        if stop_demo is not None:
            stop_demo()


def local_settings(args: argparse.Namespace) -> Settings:
    """Settings for a verb that only reads the journal: no connection, no token needed."""
    settings = load_settings(config=args.config)
    if args.demo:  # demo mode keeps its journal apart (see kiosk.demo.start_demo)
        settings = settings.model_copy(update={"data_dir": settings.data_dir / "demo"})
    setup_logging(settings.data_dir, verbose=args.verbose)
    return settings


@contextlib.contextmanager
def reading_journal(settings: Settings) -> Iterator[Journal | None]:
    """The journal without the lock (SQLite keeps readers and the kiosk's writer apart),
    or None when there is none yet: reading never creates it."""
    if not settings.journal_path.exists():
        yield None
        return
    journal = Journal.open(settings.journal_path, lock=False)
    try:
        yield journal
    finally:
        journal.close()


# --- confirming and sending a change ----------------------------------------------------


def show_plan(out: Output, plan: str, warnings: list[str]) -> None:
    out.say(plan)
    for warning in warnings:
        out.say(f"  Warning: {warning}")


def confirm(s: Session, question: str = "Proceed?") -> None:
    """Ask before changing anything, unless --yes. Raises CommandError when not confirmed."""
    if s.args.yes:
        return
    if not stdin_is_tty():
        raise CommandError(
            "Not confirmed: add --yes to confirm without a terminal. Nothing was changed."
        )
    # A blocking read on the loop is fine here: the command line has nothing else running,
    # and Ctrl+C interrupts it (a read in a worker thread would outlive the loop).
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except EOFError:
        answer = ""
    if answer.strip().casefold() not in ("y", "yes"):
        raise CommandError("Cancelled. Nothing was changed.")


def stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


#: Longest operator name written to the journal.
OPERATOR_MAX = 80


def set_operator(s: Session) -> None:
    operator = clean_text(getattr(s.args, "operator", None) or "").strip()
    s.service.operator = clean_text(operator, OPERATOR_MAX) or None


@contextlib.asynccontextmanager
async def station(s: Session) -> AsyncIterator[Services]:
    """The station's services on this session's client: the journal, held for sending (one
    process at a time), the outbox and the change desk. Names older than the retention
    period are purged first. Closed when the block ends."""
    outbox = {"backoff_base_s": retry_base_delay()}
    try:
        services = await build_services(
            s.settings, None, transactions=s.service, outbox_options=outbox
        )
    except JournalLockedError:
        raise CommandError(JOURNAL_LOCKED + " Nothing was changed.") from None
    except JournalError as exc:
        raise CommandError(f"{exc} Nothing was changed.") from None
    try:
        await purge_expired(services.journal, s.settings)
        yield services
    finally:
        await services.aclose()


async def purge_expired(journal: AsyncJournal, settings: Settings) -> None:
    """Retention: blank names in settled changes older than `[journal] retention_days`.
    One indexed query when there is nothing to purge; a failure here never stops a change."""
    try:
        await journal.purge_personal_data(timedelta(days=settings.journal.retention_days))
    except (JournalError, sqlite3.Error, OSError) as exc:
        log.warning("journal: personal data not purged this time (%s)", exc)


def send_window(settings: Settings) -> float:
    """Seconds to keep trying a pending change (see SEND_WINDOW_BASE)."""
    return (
        SEND_WINDOW_BASE * retry_base_delay()
        + SEND_WINDOW_INTERVALS * settings.journal.min_interval_s
    )


async def send(s: Session, services: Services, change: Change) -> ApplyResult:
    """Hand the confirmed change to the desk (recorded in the journal, then sent); while
    it is pending after a transient failure, keep trying for a bounded time. The result's
    error says why it is still pending or failed."""
    outbox = services.outbox
    try:
        outcome = await services.desk.submit(change)
    except (JournalError, sqlite3.Error, OSError) as exc:
        raise not_saved(exc, services) from None
    error = outcome.error
    if change.state is ChangeState.DONE:
        # The new owner is read again a moment later: another station's write landing just
        # after ours turns this into a conflict (exit 4), never a false success.
        await outbox.confirmations(outbox.confirm_after_s + send_window(s.settings))
    if change.state is ChangeState.PENDING:
        # Older changes to the same device go first; the outbox keeps them in order.
        try:
            await outbox.drain(send_window(s.settings))
        except Exception:  # it is saved: the outbox or the window sends it later
            log.exception("outbox: sending change %s failed unexpectedly", change.id)
        error = outbox.last_error if change.state is ChangeState.PENDING else None
    others = outbox.counts()["pending"] - (1 if change.state is ChangeState.PENDING else 0)
    if others > 0:
        s.out.error(
            f"{others} earlier change{'s are' if others != 1 else ' is'} still waiting in the "
            "journal: see `iiq-kiosk outbox`."
        )
    return ApplyResult(change, outcome.asset, error)


def not_saved(exc: BaseException, services: Services) -> CommandError:
    """The words for a change the journal could not take: nothing was sent."""
    if disk_full(exc):
        return CommandError(DISK_FULL)
    return CommandError(
        f"The change could not be saved in the journal {services.journal.path} ({exc}). "
        "Nothing was changed."
    )


def disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, says the disk (or the user's quota) is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, JournalFullError):
            return True
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(current)
        ):
            return True
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


_DISK_FULL_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)


def finish(s: Session, result: ApplyResult) -> int:
    change = result.change
    if s.out.json_mode:
        s.out.data(change_json(change))
    if change.state is ChangeState.DONE:
        return EXIT_OK
    network = isinstance(result.error, NetworkError)
    if change.state is ChangeState.PENDING:
        why = change.last_error or "an earlier change to this device is still waiting."
        s.out.error(f"Not confirmed yet: {why}\n{SAVED_FOR_LATER}")
    elif change.state is ChangeState.CONFLICT:  # the message names who has it now
        s.out.error(change.last_error or f"{change.description}: changed elsewhere.")
        return EXIT_CONFLICT
    else:  # FAILED: Incident IQ's answer
        s.out.error(change.last_error or f"{change.description} failed.")
    return EXIT_NETWORK if network else EXIT_API


def change_json(change: Change) -> dict[str, Any]:
    return {
        "Id": change.id,
        "Kind": change.kind.value,
        "State": change.state.value,
        "AssetId": change.asset_id,
        "AssetTag": change.asset_tag,
        "FromOwnerId": change.from_owner_id,
        "FromOwner": change.from_owner_name,
        "ToOwnerId": change.to_owner_id,
        "ToOwner": change.to_owner_name,
        "Condition": change.condition.value if change.condition else None,
        "TicketId": change.ticket_id,
        "TicketNumber": change.ticket_number,
        "Attempts": change.attempts,
        "Error": change.last_error,
        "ConflictOwnerId": change.conflict_owner_id,
        "ConflictOwner": change.conflict_owner_name,
        "Description": change.description,
        "Station": change.station,
        "Operator": change.operator,
        "CreatedAt": change.created_at,
        "UpdatedAt": change.updated_at,
        "StepsDone": change.steps_done,
        "InDoubt": change.in_doubt,
        "BatchId": change.batch_id,
        "UndoOf": change.undo_of,
    }


# --- small words ------------------------------------------------------------------------


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def short_id(change_id: str) -> str:
    return change_id[:8]


def local_time(iso: str | None) -> str:
    """A journal time (UTC) as this computer's local time, to the minute."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso
