"""The outbox: confirmed changes that are not yet known to be applied, and the sender that
keeps trying them until they are.

Order of events for every change, and why nothing is lost or done twice:
1. `submit` records the change in the journal (durable on disk) before anything is sent;
   a crash from here on cannot lose it, a crash before it means it was never confirmed.
2. Before each try the journal is told that a try is starting (`attempts` + 1), so a check-in
   that files a repair ticket knows after a crash that an earlier try may have filed it.
3. `ChangeService.apply` re-reads the asset first: a change that already arrived (reply lost,
   process killed after sending) is marked done without sending it again; a device whose
   owner changed elsewhere becomes a conflict and is never forced.
   The try also notes its start time and marks the change "in doubt": after an ambiguous
   failure (a timeout, a dropped reply, a crash mid-request) the change is not re-read or
   sent again sooner than `verify_after_s` after that try started, so a request still
   running at Incident IQ can land first. Neither a nudge nor a restart cuts that wait.
4. The outcome is written to the journal. A change still pending waits for its next try
   (a refused token keeps changes pending too: it is the token that is wrong, not them):
   exponential backoff with jitter, `Retry-After` when Incident IQ asks for it, at most one
   try per `min_interval_s` overall, and changes to the same device strictly in order.
After a restart, `load` picks up every pending change from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from kiosk.core.changes import ATTENTION_STATES, ApplyResult, Change, ChangeState, now_iso
from kiosk.core.journal import AsyncJournal, JournalEntry
from kiosk.iiq.errors import AuthError, IIQError, NetworkError, RateLimitedError

log = logging.getLogger(__name__)

ApplyFunc = Callable[[Change], Awaitable[ApplyResult]]
ConfirmFunc = Callable[[Change], Awaitable[bool]]
Listener = Callable[[Change], None]
HealthListener = Callable[[], None]


class Outbox:
    """Sends confirmed changes exactly once, now or later. One per journal and process.

    `apply` is `ChangeService.apply` (or `TransactionService.apply`): it must re-read before
    sending, as that is what makes repeating a change safe.
    """

    def __init__(
        self,
        journal: AsyncJournal,
        apply: ApplyFunc,
        *,
        min_interval_s: float = 0.2,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        verify_after_s: float = 30.0,
        restart_s: float = 5.0,
        confirm: ConfirmFunc | None = None,
        confirm_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """`verify_after_s`: after an ambiguous failure the request may still be running at
        Incident IQ; the change is not tried again (re-read, maybe re-sent) sooner than this
        many seconds after that try started. `restart_s`: how long `serve` waits before it
        restarts a sender that died."""
        self._journal = journal
        self._apply = apply
        self.min_interval_s = min_interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.verify_after_s = verify_after_s
        self.restart_s = restart_s
        #: `ChangeService.confirm`: a new owner is read again `confirm_after_s` after it was
        #: confirmed, so that a write of another station landing just after ours turns a
        #: success into the conflict it is (last write wins, with no conditional write).
        self._confirm = confirm
        self.confirm_after_s = confirm_after_s
        self._confirming: set[asyncio.Task[None]] = set()
        self._latest: dict[str, str] = {}  # asset id -> the newest change to it here
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._pending: dict[str, Change] = {}  # oldest first
        self._next_at: dict[str, float] = {}  # change id -> earliest next try
        self._verify_at: dict[str, float] = {}  # in doubt: not before (no nudge cuts it)
        self._busy: set[str] = set()  # asset ids with a try under way
        self._trying: set[str] = set()  # change ids with a try under way
        self._attention = 0
        self._fail_streak = 0
        self._backoff_until = 0.0  # after failures: Incident IQ or the network is down
        self._retry_after_until = 0.0  # Incident IQ asked us to wait (429 Retry-After)
        self._last_try = float("-inf")
        self._listeners: list[Listener] = []
        self._health_listeners: list[HealthListener] = []
        #: Why the background sender is not running (it died and waits to restart).
        self.sender_problem: str | None = None
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._load_lock = asyncio.Lock()
        self._loaded = False
        self._running = False
        #: The error of the last try that did not get through; None after a success.
        self.last_error: IIQError | None = None

    # --- what the window shows ---------------------------------------------------------

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(change)` whenever a change is recorded or tried; returns a function
        that removes it. Called on the event loop; keep it short."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def add_health_listener(self, callback: HealthListener) -> None:
        """Call `callback()` when the background sender dies or runs again."""
        self._health_listeners.append(callback)

    def counts(self) -> dict[str, int]:
        """`pending`: saved, will be sent; `attention`: conflicts and failures to resolve."""
        return {"pending": len(self._pending), "attention": self._attention}

    @property
    def pending_changes(self) -> list[Change]:
        return list(self._pending.values())

    @property
    def offline(self) -> bool:
        """The last try could not reach Incident IQ."""
        return isinstance(self.last_error, NetworkError)

    # --- use -------------------------------------------------------------------------

    async def load(self) -> None:
        """Pick up what an earlier run left pending. Safe to call more than once."""
        async with self._load_lock:
            if self._loaded:
                return
            for change in await self._journal.pending():
                self._pending.setdefault(change.id, change)
                self._latest[change.asset_id] = change.id
                if change.in_doubt:
                    self._verify_at[change.id] = self._clock() + self._verify_wait(change)
            self._attention = (await self._journal.counts())["attention"]
            self._loaded = True
            if self._pending:
                self._empty.clear()
                log.info("outbox: %d changes pending from an earlier run", len(self._pending))
                self._wake.set()

    async def submit(
        self, change: Change, *, recorded: Callable[[], None] | None = None
    ) -> ApplyResult:
        """Record a confirmed change, then try it at once unless an older change to the same
        device is still waiting (or Incident IQ asked us to wait). A result in state PENDING
        means "saved, will be sent". Raises when it cannot be recorded: then nothing was
        sent and the operator must be told it was not saved. `recorded()` is called once
        the change is on disk, before it is tried."""
        if change.state is not ChangeState.PENDING:
            raise ValueError(f"change {change.id} is {change.state.value}, not pending")
        await self.load()
        await self._journal.record(change)
        if recorded is not None:
            recorded()
        self._latest[change.asset_id] = change.id
        self._pending[change.id] = change
        self._empty.clear()
        self._notify(change)
        if self._blocked(change) or self._clock() < self._retry_after_until:
            self._wake.set()
            return ApplyResult(change)
        try:
            return await self._try(change)
        except asyncio.CancelledError:
            raise
        except Exception:
            # It is recorded, so it is saved: the sender tries it again later.
            log.exception("outbox: could not process change %s", change.id)
            self._next_at[change.id] = self._clock() + self.backoff_max_s
            self._wake.set()
            return ApplyResult(change)

    def nudge(self) -> None:
        """Try everything now (the network is back, or "send now" was pressed); a wait that
        Incident IQ asked for (Retry-After) and the wait of a change in doubt still hold."""
        self._next_at.clear()
        self._backoff_until = 0.0
        self._fail_streak = 0
        self._wake.set()

    async def resolve(self, change_id: str, note: str | None = None) -> JournalEntry:
        """An operator settled a conflict or failure by hand."""
        entry = await self._journal.resolve(change_id, note)
        self._attention = (await self._journal.counts())["attention"]
        self._notify(entry.change)
        return entry

    def in_flight(self, change_id: str) -> bool:
        """A try of this change is under way right now."""
        return change_id in self._trying

    async def withdraw(self, change_id: str) -> Change | None:
        """Take a pending change back before it is sent (undo). None when it cannot be: it
        is being tried, a step of it is done, an earlier try may have reached Incident IQ
        (in doubt), or it is not pending."""
        change = self._pending.get(change_id)
        if change is None or change_id in self._trying or change.in_doubt:
            return None
        if any(step.done for step in change.steps):
            return None
        # Not PENDING from here on: the sender skips it while the journal is written.
        change.state = ChangeState.WITHDRAWN
        change.updated_at = now_iso()
        try:
            await self._journal.update(change)
        except BaseException:
            change.state = ChangeState.PENDING
            self._wake.set()
            raise
        self._forget(change)
        self._notify(change)
        return change

    async def serve(self) -> None:
        """The background sender, watched: if it dies, that is logged and shown
        (`sender_problem`, health listeners) and it is restarted after `restart_s`."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("outbox: the sender stopped; restarting in %.0f s", self.restart_s)
                self.sender_problem = f"the sender stopped ({type(exc).__name__})"
                self._notify_health()
                await self._sleep(self.restart_s)
                self.sender_problem = None
                self._notify_health()

    async def run(self) -> None:
        """The background sender; runs until cancelled. Start it once and keep the task."""
        if self._running:
            raise RuntimeError("the outbox sender is already running")
        self._running = True
        try:
            await self.load()
            while True:
                self._wake.clear()
                change, wait = self._next_due()
                if change is None:
                    await self._wait(wait)
                    continue
                try:
                    await self._try(change)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The journal could not be written (disk full, file locked...). The
                    # change stays pending; try again later rather than stop sending.
                    log.exception("outbox: could not process change %s", change.id)
                    self._next_at[change.id] = self._clock() + self.backoff_max_s
        finally:
            self._running = False

    async def drain(self, timeout_s: float) -> dict[str, int]:
        """Send what is pending now, until nothing is left or `timeout_s` passed (the
        command line's `outbox --send`). Returns `counts()`."""
        await self.load()
        self.nudge()
        task = None if self._running else asyncio.create_task(self.run(), name="outbox-drain")
        try:
            waiter = asyncio.create_task(self._empty.wait())
            watched: set[asyncio.Future[Any]] = {waiter} | ({task} if task else set())
            await asyncio.wait(watched, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if task is not None and task.done() and not task.cancelled():
                task.result()  # the sender failed: say why
            if self._confirming:
                await asyncio.wait(set(self._confirming), timeout=timeout_s)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return self.counts()

    async def confirmations(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) for the confirming reads still to come."""
        if self._confirming:
            await asyncio.wait(set(self._confirming), timeout=timeout_s)

    async def stop(self) -> None:
        """Cancel the confirming reads still to come (shutting down)."""
        tasks = list(self._confirming)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _confirm_later(self, change: Change) -> None:
        await self._sleep(self.confirm_after_s)
        if self._confirm is None or self._latest.get(change.asset_id) != change.id:
            return  # a newer change to the device (an undo, a check-in) speaks for it now
        try:
            if await self._confirm(change):
                return
            await self._journal.update(change)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the confirmation is extra care: never a reason to fail
            log.info("outbox: change %s not confirmed again (%s)", change.id, type(exc).__name__)
            return
        log.warning("outbox: change %s changed elsewhere a moment after it was done", change.id)
        self._attention += 1
        self._notify(change)

    # --- the sender ------------------------------------------------------------------

    def _blocked(self, change: Change) -> bool:
        """An older change to the same device is still pending, or one is being tried."""
        if change.asset_id in self._busy:
            return True
        for other in self._pending.values():
            if other is change:
                return False
            if other.asset_id == change.asset_id:
                return True
        return False

    def _next_due(self) -> tuple[Change | None, float | None]:
        """The oldest change that may be tried now, or how long until one may."""
        now = self._clock()
        gate = max(
            self._retry_after_until, self._backoff_until, self._last_try + self.min_interval_s
        )
        seen: set[str] = set()
        soonest: float | None = None
        for change in self._pending.values():
            if change.asset_id in seen:
                continue  # only the oldest change per device may go
            seen.add(change.asset_id)
            if change.asset_id in self._busy or change.state is not ChangeState.PENDING:
                continue  # a try is under way, or it is being withdrawn
            due = max(gate, self._next_at.get(change.id, 0.0), self._verify_at.get(change.id, 0.0))
            if due <= now:
                return change, None
            soonest = due if soonest is None else min(soonest, due)
        return None, None if soonest is None else soonest - now

    async def _wait(self, seconds: float | None) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        waits: set[asyncio.Future[Any]] = {waiter}
        if seconds is not None:
            waits.add(asyncio.ensure_future(self._sleep(max(seconds, 0.0))))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in waits:
                future.cancel()

    async def _try(self, change: Change) -> ApplyResult:
        self._busy.add(change.asset_id)
        self._trying.add(change.id)
        self._last_try = self._clock()
        try:
            # Durable note that a try is starting: after a crash the next try knows that
            # this one may have sent something (see ChangeService's ticket step) and waits
            # `verify_after_s` from now before it looks.
            started = change.copy()
            started.attempts += 1
            # To the millisecond, on the clock `_verify_wait` reads after a restart: a time
            # cut to whole seconds would shorten that wait by up to a second.
            stamp = self._wall_clock().isoformat(timespec="milliseconds")
            started.attempt_started_at = change.attempt_started_at = stamp
            started.in_doubt = True
            await self._journal.update(started)
            try:
                result = await self._apply(change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A bug, not Incident IQ: keep the change, it is re-read before any repeat.
                log.exception("outbox: applying change %s failed unexpectedly", change.id)
                change.state = ChangeState.PENDING
                change.in_doubt = True
                change.last_error = f"Unexpected error ({type(exc).__name__}); will retry."
                result = ApplyResult(change)
            change.attempts = max(change.attempts, started.attempts)
            if change.state is ChangeState.FAILED and isinstance(result.error, AuthError):
                # The token was refused: nothing is wrong with the change. Keep it for when
                # IT has fixed the token, instead of asking someone to redo it by hand.
                change.state = ChangeState.PENDING
            await self._journal.update(change)
        finally:
            self._busy.discard(change.asset_id)
            self._trying.discard(change.id)
        self._settle(result)
        return result

    def _settle(self, result: ApplyResult) -> None:
        change, error = result.change, result.error
        now = self._clock()
        if change.state is ChangeState.PENDING:
            self._fail_streak += 1
            delay = self._backoff(change.attempts)
            pause = self._backoff(self._fail_streak)
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                delay = max(delay, error.retry_after)
                self._retry_after_until = max(self._retry_after_until, now + error.retry_after)
            elif isinstance(error, AuthError):
                delay = pause = self.backoff_max_s
            self._next_at[change.id] = now + delay
            if change.in_doubt:
                self._verify_at[change.id] = self._last_try + self.verify_after_s
            else:
                self._verify_at.pop(change.id, None)
            self._backoff_until = max(self._backoff_until, now + pause)
            self.last_error = error
            log.info(
                "outbox: %s %s still pending (try %d, %s); next try in %.2f s",
                change.kind.value,
                change.asset_tag,
                change.attempts,
                error.kind if error else "no error",
                delay,
            )
        else:
            self._forget(change)
            if change.state in ATTENTION_STATES:
                self._attention += 1
            elif change.state is ChangeState.DONE and self._confirm is not None:
                task = asyncio.ensure_future(self._confirm_later(change))
                self._confirming.add(task)
                task.add_done_callback(self._confirming.discard)
            # Incident IQ answered: whatever was down is up again.
            self._fail_streak = 0
            self._backoff_until = 0.0
            self.last_error = None
        self._notify(change)
        self._wake.set()

    def _forget(self, change: Change) -> None:
        self._pending.pop(change.id, None)
        self._next_at.pop(change.id, None)
        self._verify_at.pop(change.id, None)
        if not self._pending:
            self._empty.set()

    def _verify_wait(self, change: Change) -> float:
        """Seconds left until a change in doubt may be looked at again."""
        if not change.attempt_started_at:
            return self.verify_after_s
        try:
            started = datetime.fromisoformat(change.attempt_started_at)
        except ValueError:
            return self.verify_after_s
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        elapsed = (self._wall_clock() - started).total_seconds()
        return min(self.verify_after_s, max(0.0, self.verify_after_s - elapsed))

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with "equal jitter": between half and all of base * 2^(n-1)."""
        ceiling = min(
            self.backoff_max_s, self.backoff_base_s * 2.0 ** min(max(failures, 1) - 1, 30)
        )
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _notify_health(self) -> None:
        for callback in list(self._health_listeners):
            try:
                callback()
            except Exception:
                log.exception("outbox health listener %r failed", callback)

    def _notify(self, change: Change) -> None:
        for callback in list(self._listeners):
            try:
                callback(change)
            except Exception:
                log.exception("outbox listener %r failed", callback)
