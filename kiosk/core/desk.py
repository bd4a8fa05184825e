"""The change desk: the one way a confirmed change reaches Incident IQ, and is taken back.

The window, the command line and (later) bulk files all hand their changes to the desk:
- `submit(change, wait_s)` records the change in the journal, sends it through the outbox
  and waits at most `wait_s` for the answer. A slow Incident IQ is no reason to keep a
  line of students waiting: after `wait_s` the outcome says "still sending" and the outbox
  finishes the change on its own (it is in the journal already).
- `plan_undo(change_id)` says exactly what undoing an earlier change of this station would
  do, or why it cannot be undone; `undo(plan, wait_s)` does it. A change still waiting to
  be sent is withdrawn from the outbox instead (nothing reaches Incident IQ); a change that
  was applied gets a reverse plan (previous owner, status and location back) applied like
  any other change, so an undo whose device changed again elsewhere is a conflict, shown
  and never forced. Both the change and its undo stay in the journal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.core.changes import (
    ApplyResult,
    Change,
    ChangeKind,
    ChangeState,
    LocationStep,
    OwnerStep,
    StatusStep,
    Step,
)
from kiosk.core.journal import AsyncJournal
from kiosk.core.outbox import Outbox
from kiosk.iiq.errors import IIQError
from kiosk.iiq.models import Asset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How a submitted change stands when the desk stops waiting."""

    change: Change
    asset: Asset | None = None
    error: IIQError | None = None
    #: The wait ended before Incident IQ answered: saved, and the outbox carries on.
    still_sending: bool = False
    #: An undo that took a waiting change back before it was sent.
    withdrawn: bool = False

    @property
    def state(self) -> ChangeState:
        return self.change.state


class UndoRefusedError(Exception):
    """The change cannot be undone here; the message says why, in words. `change`: the
    change it names (a window with privacy on words its people its own way)."""

    def __init__(self, message: str, change: Change | None = None) -> None:
        super().__init__(message)
        self.change = change


@dataclass(frozen=True)
class UndoPlan:
    original: Change
    #: The sentence the confirm dialog asks, e.g. "Give CB-004512 back to nobody?".
    question: str
    #: The reverse change to apply, or None when the original is withdrawn instead.
    change: Change | None


class ChangeDesk:
    def __init__(
        self,
        outbox: Outbox,
        journal: AsyncJournal,
        *,
        undo_minutes: float = 5.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox = outbox
        self._journal = journal
        self.undo_minutes = undo_minutes
        self._now = now
        self._sending: set[asyncio.Task[ApplyResult]] = set()

    # --- submit ----------------------------------------------------------------------

    async def submit(self, change: Change, wait_s: float | None = None) -> Outcome:
        """Record `change`, send it, and wait at most `wait_s` (None: until it settles).
        Raises (JournalError and the like) only when it could not be recorded: then
        nothing was sent."""
        saved = asyncio.Event()
        task = asyncio.ensure_future(self.outbox.submit(change, recorded=saved.set))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        if wait_s is None:
            result = await task
        else:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            # The record is waited for however long the disk takes: "still sending" must
            # mean "saved", and a change that could not be saved must raise here.
            waiter = asyncio.ensure_future(saved.wait())
            try:
                await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            try:
                result = await asyncio.wait_for(
                    asyncio.shield(task), max(0.0, deadline - loop.time())
                )
            except TimeoutError:
                # Nobody awaits it any more: what becomes of it is logged, not lost.
                task.add_done_callback(self._finished_unseen)
                return Outcome(change, still_sending=True)
        return Outcome(result.change, result.asset, result.error)

    def shutdown(self) -> list[asyncio.Task[ApplyResult]]:
        """Cancel the sends still under way and return them for the caller to await (a
        cancelled send stays pending in the journal and goes out on the next start)."""
        sending = list(self._sending)
        for task in sending:
            task.cancel()
        return sending

    @staticmethod
    def _finished_unseen(task: asyncio.Task[ApplyResult]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("desk: a change could not be submitted", exc_info=task.exception())

    # --- undo ------------------------------------------------------------------------

    async def plan_undo(self, change_id: str) -> UndoPlan:
        original = next((c for c in self.outbox.pending_changes if c.id == change_id), None)
        if original is None:
            original = await self._journal.get(change_id)
        if original is None:
            raise UndoRefusedError("That change is not in this kiosk's journal.")
        what = original.description
        if original.kind is ChangeKind.UNDO:
            raise UndoRefusedError(
                f"“{what}” was itself an undo: change it in the usual way.", original
            )
        age = self._now() - datetime.fromisoformat(original.created_at)
        if age > timedelta(minutes=self.undo_minutes):
            raise UndoRefusedError(
                f"“{what}” is older than {self.undo_minutes:g} minutes: change it in the "
                "usual way (or in Incident IQ).",
                original,
            )
        for earlier in await self._journal.undo_of(change_id):
            if earlier.state in (ChangeState.DONE, ChangeState.PENDING):
                raise UndoRefusedError(f"“{what}” was undone already.", original)
        if original.state is ChangeState.PENDING:
            if self.outbox.in_flight(change_id) or original.in_doubt or _started(original):
                raise UndoRefusedError(
                    f"“{what}” is being sent right now: try again in a few seconds.",
                    original,
                )
            return UndoPlan(original, f"Take back “{what}” before it is sent?", None)
        if original.state is not ChangeState.DONE:
            raise UndoRefusedError(
                f"“{what}” did not change Incident IQ ({original.state.value}): nothing to undo.",
                original,
            )
        steps: list[Step] = [
            r for r in (s.reverse() for s in reversed(original.steps)) if r is not None
        ]
        if not steps:
            raise UndoRefusedError(f"“{what}” has nothing that can be undone.", original)
        question = _undo_question(original, steps)
        change = Change(
            kind=ChangeKind.UNDO,
            asset_id=original.asset_id,
            asset_tag=original.asset_tag,
            from_owner_id=original.to_owner_id if original.kind is ChangeKind.CHECKOUT else None,
            from_owner_name=original.to_owner_name
            if original.kind is ChangeKind.CHECKOUT
            else None,
            to_owner_id=original.from_owner_id,
            to_owner_name=original.from_owner_name,
            station=original.station,
            operator=original.operator,
            steps=steps,
            undo_of=original.id,
            summary="Undo: " + question.rstrip("?"),
        )
        return UndoPlan(original, question, change)

    async def undo(self, plan: UndoPlan, wait_s: float | None = None) -> Outcome:
        if plan.change is not None:
            return await self.submit(plan.change, wait_s)
        withdrawn = await self.outbox.withdraw(plan.original.id)
        if withdrawn is None:
            raise UndoRefusedError(
                f"“{plan.original.description}” is being sent right now: try again in a few "
                "seconds.",
                plan.original,
            )
        record = Change(
            kind=ChangeKind.UNDO,
            asset_id=withdrawn.asset_id,
            asset_tag=withdrawn.asset_tag,
            station=withdrawn.station,
            operator=withdrawn.operator,
            undo_of=withdrawn.id,
            state=ChangeState.DONE,
            summary=f"Undo: “{withdrawn.description}” taken back before it was sent",
        )
        await self._journal.record(record)
        log.info("desk: change %s withdrawn before it was sent", withdrawn.id)
        return Outcome(record, withdrawn=True)


def _started(change: Change) -> bool:
    return any(step.done for step in change.steps)


def _undo_question(original: Change, steps: list[Step]) -> str:
    """ "Give CB-004512 back to nobody and set it Available again?" """
    parts: list[str] = []
    for step in steps:
        if isinstance(step, OwnerStep):
            parts.append(_owner_back(original, step))
        elif isinstance(step, StatusStep):
            parts.append(f"set it {step.status_name or 'to its earlier status'} again")
        elif isinstance(step, LocationStep):
            parts.append("put it back where it was")
    text = _join(parts)
    if original.ticket is not None:
        number = original.ticket_number
        text += f" (the repair ticket{f' #{number}' if number else ''} stays open)"
    return text[:1].upper() + text[1:] + "?"


def _owner_back(original: Change, step: OwnerStep) -> str:
    """ "give CB-004512 back to nobody (take it from Ana Ruiz)", or back to the person who
    had it; a charger is named by its own previous owner, never the device's."""
    if step.to_owner_id is None:
        holder = original.to_owner_name if original.kind is ChangeKind.CHECKOUT else None
        taken = f" (take it from {holder})" if holder else ""
        return f"give {step.asset_tag} back to nobody{taken}"
    if step.to_owner_id == original.from_owner_id and original.from_owner_name:
        return f"give {step.asset_tag} back to {original.from_owner_name}"
    return f"give {step.asset_tag} back to the person who had it"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
