"""Changes in doubt: a try that may have reached Incident IQ without an answer.

After a timeout, a dropped reply or a crash mid-request, the request may still be running at
Incident IQ. The outbox does not look again (re-read, maybe re-send) sooner than
`verify_after_s` after that try started: no nudge and no restart cuts the wait. Then it
checks, and what arrived is never sent twice. Also: the watched sender (`serve`) restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.changes import Change, ChangeState, Condition, owner_change
from kiosk.core.desk import ChangeDesk, UndoRefusedError
from kiosk.core.journal import AsyncJournal, Journal
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import CheckinPolicy, TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Fault, RecordedRequest, Simulator

CHECKOUT_PATH = "/assets/checkouts/checkout-or-transfer"
TICKETS_PATH = "/tickets/new"
FAST = {"min_interval_s": 0.0, "backoff_base_s": 0.02, "backoff_max_s": 0.1, "verify_after_s": 1.0}
ASSET = DEMO.free_asset_id
USER = DEMO.student_user_id


# --- helpers ---------------------------------------------------------------------------


@dataclass
class Kiosk:
    client: IIQClient
    service: TransactionService
    journal: AsyncJournal
    outbox: Outbox


@contextlib.asynccontextmanager
async def kiosk(
    sim: Simulator,
    path: Path,
    *,
    read_timeout: float = 5.0,
    policy: CheckinPolicy | None = None,
    offline_probe_s: float = 3.0,
    **outbox_kw: Any,
) -> AsyncIterator[Kiosk]:
    client = IIQClient(
        Connection(
            site_url=sim.url, site_id=sim.site_id, token=sim.token, read_timeout=read_timeout
        ),
        retry=RetryPolicy(base_delay=0.01),
        offline_probe_s=offline_probe_s,
        offline_probe_timeout_s=0.5,
    )
    service = TransactionService(client, station="T1", checkin=policy)
    journal = await AsyncJournal.open(path)
    outbox = Outbox(journal, service.apply, **{**FAST, **outbox_kw})
    try:
        yield Kiosk(client, service, journal, outbox)
    finally:
        await client.aclose()
        await journal.aclose()


@contextlib.asynccontextmanager
async def sender(outbox: Outbox, *, serve: bool = False) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(outbox.serve() if serve else outbox.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def nudging(outbox: Outbox, seconds: float) -> None:
    """Press "send now" over and over for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outbox.nudge()
        await asyncio.sleep(0.05)


def checkout() -> Change:
    return owner_change(ASSET, DEMO.free_tag, None, USER, to_owner_name=DEMO.student_name)


def about(sim: Simulator, asset_id: str = ASSET) -> list[RecordedRequest]:
    """Every request, read or write, that names the asset."""
    return [
        r
        for r in sim.requests
        if asset_id in r.path or (isinstance(r.json, dict) and asset_id in str(r.json))
    ]


def posts(sim: Simulator, path: str = CHECKOUT_PATH) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.method == "POST" and r.path == path]


def owner(sim: Simulator, asset_id: str = ASSET) -> str | None:
    record = sim.state.asset(asset_id)
    assert record is not None
    value: str | None = record["OwnerId"]
    return value


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_sim() -> Iterator[Simulator]:
    """A simulator of its own on a fixed port, so it can be stopped and started again."""
    sim = Simulator(seed=2026, port=free_port())
    sim.start()
    yield sim
    sim.stop()


def in_doubt_fault(sim: Simulator, k: Kiosk, kind: str) -> None:
    """Make the first checkout POST end without a clear answer."""
    if kind == "latency":  # lands at 0.7 s; the client gave up at 0.3 s
        sim.faults.add(
            Fault(kind="latency", method="POST", path_contains=CHECKOUT_PATH, latency_ms=700)
        )
    elif kind == "drop":  # never arrives; the client cannot know
        sim.faults.add(Fault(kind="drop", method="POST", path_contains=CHECKOUT_PATH))
    else:  # arrives, the reply is lost, and the read after it fails too
        sim.faults.add(Fault(kind="apply_then_drop", method="POST", path_contains=CHECKOUT_PATH))
        transfer = k.client.transfer

        async def transfer_then_reads_fail(*args: Any, **kw: Any) -> Any:
            try:
                return await transfer(*args, **kw)
            finally:  # every try of the next read (the client retries reads 4 times)
                sim.faults.add(Fault(kind="status", method="GET", status=503, times=4))

        k.client.transfer = transfer_then_reads_fail  # type: ignore[method-assign]


# --- in doubt ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["latency", "drop", "apply_then_drop_unseen"])
def test_a_change_in_doubt_waits_verify_after_s_then_is_checked_once(
    sim: Simulator, path: Path, kind: str
) -> None:
    async def main() -> None:
        async with kiosk(sim, path, read_timeout=0.3) as k:
            in_doubt_fault(sim, k, kind)
            change = checkout()
            before = datetime.now(UTC) - timedelta(milliseconds=2)
            result = await k.outbox.submit(change)
            assert result.change.state is ChangeState.PENDING
            assert change.in_doubt
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.PENDING
            assert stored.in_doubt and stored.attempts == 1
            assert stored.attempt_started_at is not None
            started = datetime.fromisoformat(stored.attempt_started_at)
            assert before <= started <= datetime.now(UTC)
            assert len(posts(sim)) == 1
            seen = len(about(sim))

            async with sender(k.outbox):
                await nudging(k.outbox, 0.6)  # "send now" does not cut the wait
                assert len(about(sim)) == seen, "looked again before verify_after_s"
                await until(lambda: k.outbox.counts()["pending"] == 0, 5.0)
            assert change.state is ChangeState.DONE, change.last_error
            assert not change.in_doubt
            # The first look after the wait came at least verify_after_s after the try.
            look = about(sim)[seen]
            assert look.method == "GET"
            assert look.time >= started.timestamp() + 0.99
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.DONE
            assert not stored.in_doubt and stored.attempts == 2

    asyncio.run(main())
    assert owner(sim) == USER
    sent = posts(sim)
    if kind == "drop":  # the first one never arrived: sent again, applied once
        assert [r.applied for r in sent] == [False, True]
    else:  # the first one arrived: marked done without a second POST
        assert len(sent) == 1 and sent[0].applied


def test_a_lost_reply_that_cannot_be_checked_stays_in_doubt_and_is_not_withdrawn(
    own_sim: Simulator, path: Path
) -> None:
    """The change lands, its reply is lost, and Incident IQ is gone before the kiosk can
    read whether it landed: in doubt, so undo may not take it back as "never sent"."""
    sim = own_sim
    sim.faults.add(Fault(kind="apply_then_drop", method="POST", path_contains=CHECKOUT_PATH))

    async def main() -> None:
        async with kiosk(sim, path, offline_probe_s=0.1) as k:
            transfer = k.client.transfer

            async def transfer_then_offline(*args: Any, **kw: Any) -> Any:
                try:
                    return await transfer(*args, **kw)
                finally:
                    sim.stop()  # the read that would tell cannot connect

            k.client.transfer = transfer_then_offline  # type: ignore[method-assign]
            desk = ChangeDesk(k.outbox, k.journal)
            change = checkout()
            outcome = await desk.submit(change, wait_s=5.0)
            assert outcome.state is ChangeState.PENDING
            assert change.in_doubt
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.in_doubt
            with pytest.raises(UndoRefusedError, match="being sent right now"):
                await desk.plan_undo(change.id)
            assert await k.outbox.withdraw(change.id) is None
            k.client.transfer = transfer  # type: ignore[method-assign]
            sim.start()
            await until(lambda: k.client.online, 5.0)
            assert await k.outbox.drain(5.0) == {"pending": 0, "attention": 0}
            assert change.state is ChangeState.DONE, change.last_error

    asyncio.run(main())
    assert owner(sim) == USER
    assert [r.applied for r in posts(sim)] == [True]  # found applied, not sent again


def test_a_restart_honours_the_wait_left_since_the_try_started(sim: Simulator, path: Path) -> None:
    """kill -9 after an ambiguous try: a fresh outbox on the journal waits what is left of
    `verify_after_s`, counted from `attempt_started_at` on the wall clock."""
    sim.faults.add(Fault(kind="drop", method="POST", path_contains=CHECKOUT_PATH))

    async def crashed() -> datetime:
        async with kiosk(sim, path, verify_after_s=30.0) as k:
            change = checkout()
            assert (await k.outbox.submit(change)).change.state is ChangeState.PENDING
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.in_doubt
            assert stored.attempt_started_at is not None
            return datetime.fromisoformat(stored.attempt_started_at)

    started = asyncio.run(crashed())  # the process ends here; nothing else is written
    seen = len(about(sim))

    async def too_early() -> None:  # 10 s after the try: 20 s are left
        ten_later = started + timedelta(seconds=10)
        async with kiosk(sim, path, verify_after_s=30.0, wall_clock=lambda: ten_later) as k:
            await k.outbox.load()
            assert k.outbox.counts()["pending"] == 1
            async with sender(k.outbox):
                await nudging(k.outbox, 0.5)
            assert k.outbox.counts()["pending"] == 1

    asyncio.run(too_early())
    assert len(about(sim)) == seen

    async def nearly() -> float:  # 29.4 s after the try: 0.6 s are left
        later = started + timedelta(seconds=29.4)
        async with kiosk(sim, path, verify_after_s=30.0, wall_clock=lambda: later) as k:
            begun = time.time()
            async with sender(k.outbox):
                await nudging(k.outbox, 0.4)
                assert len(about(sim)) == seen
                await until(lambda: k.outbox.counts()["pending"] == 0, 5.0)
            return begun

    begun = asyncio.run(nearly())
    look = about(sim)[seen]
    assert look.method == "GET" and look.time - begun >= 0.55
    assert owner(sim) == USER
    assert [r.applied for r in posts(sim)] == [False, True]
    with Journal.open(path) as journal:
        assert journal.counts()["done"] == 1


def test_a_restart_right_away_still_waits_the_whole_verify_after_s(
    sim: Simulator, path: Path
) -> None:
    """The real wall clock, restarted at once: the start of the try is kept precisely
    enough that no part of the wait is lost (a time cut to whole seconds would lose up to
    one, so the try is made late in a second)."""
    sim.faults.add(
        Fault(kind="latency", method="POST", path_contains=CHECKOUT_PATH, latency_ms=500)
    )

    async def crashed() -> datetime:
        async with kiosk(sim, path, read_timeout=0.2) as k:
            late = 0.6 - datetime.now(UTC).microsecond / 1e6  # to .6 s past the second
            await asyncio.sleep(max(0.0, late))
            before = time.time()
            change = checkout()
            assert (await k.outbox.submit(change)).change.state is ChangeState.PENDING
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.attempt_started_at is not None
            started = datetime.fromisoformat(stored.attempt_started_at)
            assert before - 0.001 <= started.timestamp() <= time.time()
            return started

    started = asyncio.run(crashed())
    seen = len(about(sim))

    async def restarted() -> None:
        async with kiosk(sim, path) as k, sender(k.outbox):
            await nudging(k.outbox, 0.3)
            await until(lambda: k.outbox.counts()["pending"] == 0, 5.0)

    asyncio.run(restarted())
    look = about(sim)[seen]
    assert look.time >= started.timestamp() + 0.99
    assert len(posts(sim)) == 1  # it had landed: not sent again
    assert owner(sim) == USER


def test_a_slow_ticket_reply_does_not_file_a_second_ticket(sim: Simulator, path: Path) -> None:
    sim.faults.add(Fault(kind="latency", method="POST", path_contains=TICKETS_PATH, latency_ms=700))
    policy = CheckinPolicy(ticket_issue_id=DEMO.ticket_issue_id)
    asset_id = DEMO.assigned_asset_id

    async def main() -> None:
        async with kiosk(sim, path, read_timeout=0.3, policy=policy) as k:
            asset = await k.client.asset(asset_id)
            change = await k.service.checkin_change(asset, condition=Condition.DAMAGED)
            result = await k.outbox.submit(change)
            assert result.change.state is ChangeState.PENDING
            assert change.in_doubt
            assert change.steps_done == ["owner", "status"]
            async with sender(k.outbox):
                await nudging(k.outbox, 0.5)
                await until(lambda: k.outbox.counts()["pending"] == 0, 5.0)
            assert change.state is ChangeState.DONE, change.last_error
            assert change.steps_done == ["owner", "status", "ticket"]
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.DONE

    asyncio.run(main())
    tickets = [t for t in sim.state.tickets if {"AssetId": asset_id} in t["Assets"]]
    assert len(tickets) == 1
    assert tickets[0]["ForId"] == DEMO.assigned_owner_id
    assert len(posts(sim, TICKETS_PATH)) == 1
    record = sim.state.asset(asset_id)
    assert record is not None and record["OpenTickets"] == 1 and record["OwnerId"] is None


# --- the watched sender ------------------------------------------------------------------


def test_serve_restarts_a_sender_that_died_and_it_sends_what_is_pending(
    sim: Simulator, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.faults.add(Fault(kind="status", method="GET", status=503, times=None))

    async def main() -> None:
        async with kiosk(sim, path, restart_s=0.4) as k:
            change = checkout()
            assert (await k.outbox.submit(change)).change.state is ChangeState.PENDING
            sim.faults.clear()
            sim.clear_requests()
            health: list[tuple[float, str | None]] = []
            k.outbox.add_health_listener(
                lambda: health.append((time.time(), k.outbox.sender_problem))
            )
            next_due = k.outbox._next_due
            calls = 0

            def broken_once() -> tuple[Change | None, float | None]:
                nonlocal calls
                calls += 1
                if calls == 1:
                    raise RuntimeError("a bug in the sender")
                return next_due()

            monkeypatch.setattr(k.outbox, "_next_due", broken_once)
            async with sender(k.outbox, serve=True) as task:
                await until(lambda: bool(health))
                assert k.outbox.sender_problem == "the sender stopped (RuntimeError)"
                await asyncio.sleep(0.2)
                assert sim.requests == []  # not running: nothing is sent meanwhile
                assert k.outbox.counts()["pending"] == 1
                await until(lambda: k.outbox.counts()["pending"] == 0, 5.0)
                assert not task.done()
            assert change.state is ChangeState.DONE, change.last_error
            assert [problem for _, problem in health] == [
                "the sender stopped (RuntimeError)",
                None,
            ]
            assert k.outbox.sender_problem is None
            (sent,) = posts(sim)
            assert sent.time - health[0][0] >= 0.35  # after restart_s
            assert health[1][0] - health[0][0] >= 0.35

    asyncio.run(main())
    assert owner(sim) == USER
    assert [r.applied for r in posts(sim)] == [True]
