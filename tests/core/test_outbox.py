"""The outbox against the simulator's fault injection, over real loopback HTTP.

Every test checks what the server received: a change may be tried many times, but it is
applied exactly once, and a change nobody can confirm stays pending until it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.changes import ApplyResult, Change, ChangeState, owner_change
from kiosk.core.journal import AsyncJournal, Journal
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.iiq.errors import AuthError, NetworkError, RateLimitedError
from kiosk.simulator import DEMO, Fault, RecordedRequest, Simulator, owner_changes

CHECKOUT_PATH = "/assets/checkouts/checkout-or-transfer"
CHECKIN_PATH = "/assets/checkouts/checkin"
FAST = {"min_interval_s": 0.0, "backoff_base_s": 0.02, "backoff_max_s": 0.2, "verify_after_s": 0.2}


# --- helpers ---------------------------------------------------------------------------


@dataclass
class Kiosk:
    client: IIQClient
    service: TransactionService
    journal: AsyncJournal
    outbox: Outbox
    calls: list[tuple[float, str]] = field(default_factory=list)  # (time, change id)
    seen: list[tuple[str, ChangeState]] = field(default_factory=list)
    recorded_first: list[bool] = field(default_factory=list)


@contextlib.asynccontextmanager
async def kiosk(
    sim: Simulator,
    path: Path,
    *,
    read_timeout: float = 5.0,
    confirm: bool = False,
    **outbox_kw: Any,
) -> AsyncIterator[Kiosk]:
    client = IIQClient(
        Connection(
            site_url=sim.url, site_id=sim.site_id, token=sim.token, read_timeout=read_timeout
        ),
        retry=RetryPolicy(base_delay=0.01),
    )
    service = TransactionService(client, station="T1")
    journal = await AsyncJournal.open(path)
    holder: list[Kiosk] = []

    async def apply(change: Change) -> ApplyResult:
        holder[0].calls.append((time.monotonic(), change.id))
        # Before anything is sent: the change is on disk, with this try counted.
        stored = await journal.get(change.id)
        holder[0].recorded_first.append(
            stored is not None and stored.attempts == change.attempts + 1
        )
        return await service.apply(change)

    if confirm:  # as kiosk.wiring builds it: the new owner is read again a moment later
        outbox_kw = {"confirm": service.changes.confirm, **outbox_kw}
    outbox = Outbox(journal, apply, **{**FAST, **outbox_kw})
    box = Kiosk(client, service, journal, outbox)
    holder.append(box)
    outbox.add_listener(lambda change: box.seen.append((change.id, change.state)))
    try:
        yield box
    finally:
        await client.aclose()
        await journal.aclose()


@contextlib.asynccontextmanager
async def sender(outbox: Outbox) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(outbox.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


def free_assets(sim: Simulator, count: int) -> list[dict[str, Any]]:
    available = DEMO.free_asset_id
    assets = [
        a
        for a in sim.state.assets.values()
        if a["OwnerId"] is None and not a["IsDeleted"] and a["AssetId"] != available
    ]
    return sorted(assets, key=lambda a: a["AssetTag"] or "")[:count]


def people(sim: Simulator, count: int) -> list[str]:
    return sorted(sim.state.users)[:count]


def checkout(sim: Simulator, asset_id: str, to_user: str, from_user: str | None = None) -> Change:
    asset = sim.state.asset(asset_id)
    assert asset is not None
    return owner_change(
        asset_id,
        asset["AssetTag"],
        from_user if from_user is not None else asset["OwnerId"],
        to_user,
        to_owner_name=sim.state.users[to_user]["Name"],
        station="T1",
    )


def checkin(sim: Simulator, asset_id: str, from_user: str) -> Change:
    asset = sim.state.asset(asset_id)
    assert asset is not None
    return owner_change(
        asset_id,
        asset["AssetTag"],
        from_user,
        None,
        from_owner_name=sim.state.users[from_user]["Name"],
        station="T1",
    )


def owner_requests(sim: Simulator, asset_id: str) -> list[RecordedRequest]:
    """The requests that asked to change the device's owner."""
    return owner_changes(sim.requests).get(asset_id, [])


def applied_count(sim: Simulator, asset_id: str) -> int:
    return sum(r.applied for r in owner_requests(sim, asset_id))


def owner(sim: Simulator, asset_id: str) -> str | None:
    asset = sim.state.asset(asset_id)
    assert asset is not None
    return asset["OwnerId"]  # type: ignore[no-any-return]


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


# --- the happy path ------------------------------------------------------------------


def test_submit_records_first_then_applies_once(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]

    async def main() -> None:
        async with kiosk(sim, path) as k:
            change = checkout(sim, asset, user)
            result = await k.outbox.submit(change)
            assert result.change.state is ChangeState.DONE
            assert result.error is None
            assert k.seen == [(change.id, ChangeState.PENDING), (change.id, ChangeState.DONE)]
            assert k.outbox.counts() == {"pending": 0, "attention": 0}
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.DONE
            assert stored.attempts == 1
            assert k.recorded_first == [True]

    asyncio.run(main())
    assert owner(sim, asset) == user
    assert applied_count(sim, asset) == 1
    with Journal.open(path) as journal:
        assert journal.counts()["done"] == 1


# --- faults --------------------------------------------------------------------------


def test_503_before_apply_stays_pending_then_sent_once(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]
    sim.faults.add(Fault(kind="status", method="POST", path_contains=CHECKOUT_PATH, status=503))

    async def main() -> None:
        async with kiosk(sim, path) as k:
            result = await k.outbox.submit(checkout(sim, asset, user))
            assert result.change.state is ChangeState.PENDING  # "saved, will be sent"
            assert result.error is not None and result.error.transient
            assert k.outbox.counts()["pending"] == 1
            assert owner(sim, asset) is None
            async with sender(k.outbox):
                await until(lambda: k.outbox.counts()["pending"] == 0)
            assert result.change.state is ChangeState.DONE
            assert result.change.attempts == 2

    asyncio.run(main())
    requests = owner_requests(sim, asset)
    assert [r.status for r in requests] == [503, 200]
    assert applied_count(sim, asset) == 1
    assert owner(sim, asset) == user


@pytest.mark.parametrize("kind", ["apply_then_drop", "apply_then_status"])
def test_reply_lost_after_apply_is_done_without_resending(
    sim: Simulator, path: Path, kind: str
) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]
    sim.faults.add(Fault(kind=kind, method="POST", path_contains=CHECKOUT_PATH))

    async def main() -> None:
        async with kiosk(sim, path) as k:
            result = await k.outbox.submit(checkout(sim, asset, user))
            assert result.change.state is ChangeState.DONE

    asyncio.run(main())
    assert len(owner_requests(sim, asset)) == 1
    assert applied_count(sim, asset) == 1
    assert owner(sim, asset) == user


def test_lost_reply_then_restart_is_not_sent_again(sim: Simulator, path: Path) -> None:
    """The change arrived, the reply was lost, and the re-read failed too: pending. After a
    restart the sender re-reads, finds it applied and marks it done without sending."""
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]
    sim.faults.add(Fault(kind="apply_then_drop", method="POST", path_contains=CHECKOUT_PATH))

    async def first() -> str:
        async with kiosk(sim, path) as k:
            transfer = k.client.transfer

            async def transfer_then_fail_reads(*args: Any, **kw: Any) -> Any:
                try:
                    return await transfer(*args, **kw)
                finally:  # every read after the lost reply fails too
                    sim.faults.add(Fault(kind="status", method="GET", times=None))

            k.client.transfer = transfer_then_fail_reads  # type: ignore[method-assign]
            fresh = checkout(sim, asset, user)
            result = await k.outbox.submit(fresh)
            assert result.change.state is ChangeState.PENDING
            return fresh.id

    change_id = asyncio.run(first())
    assert applied_count(sim, asset) == 1
    sim.faults.clear()

    async def second() -> None:
        async with kiosk(sim, path) as k:
            await k.outbox.load()
            assert [c.id for c in k.outbox.pending_changes] == [change_id]
            assert await k.outbox.drain(5.0) == {"pending": 0, "attention": 0}

    asyncio.run(second())
    assert len(owner_requests(sim, asset)) == 1
    assert applied_count(sim, asset) == 1
    assert owner(sim, asset) == user


def test_429_retry_after_is_honoured(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]
    sim.faults.add(
        Fault(kind="rate_limit", method="POST", path_contains=CHECKOUT_PATH, retry_after=1)
    )

    async def main() -> None:
        async with kiosk(sim, path) as k:
            result = await k.outbox.submit(checkout(sim, asset, user))
            assert isinstance(result.error, RateLimitedError)
            assert result.error.retry_after == 1
            # Another change submitted during the wait is saved but not sent yet.
            other = free_assets(sim, 2)[1]["AssetId"]
            queued = await k.outbox.submit(checkout(sim, other, user))
            assert queued.change.state is ChangeState.PENDING and queued.error is None
            assert owner_requests(sim, other) == []
            async with sender(k.outbox):
                await until(lambda: k.outbox.counts()["pending"] == 0)
            first, second = [t for t, cid in k.calls if cid == result.change.id]
            assert second - first >= 1.0

    asyncio.run(main())
    tries = owner_requests(sim, asset)
    assert [r.status for r in tries] == [429, 200]
    assert tries[1].time - tries[0].time >= 0.95  # what the server saw, too
    assert applied_count(sim, asset) == 1


def test_timeout_waits_for_the_late_request_and_never_sends_twice(
    sim: Simulator, path: Path
) -> None:
    """The server is slow: the client gives up after 0.3 s, the request still lands at
    0.6 s. The sender waits `verify_after_s` before re-reading, then finds it applied."""
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]
    sim.faults.add(
        Fault(kind="latency", method="POST", path_contains=CHECKOUT_PATH, latency_ms=600)
    )

    async def main() -> None:
        async with kiosk(sim, path, read_timeout=0.3, verify_after_s=1.0) as k:
            result = await k.outbox.submit(checkout(sim, asset, user))
            assert result.change.state is ChangeState.PENDING
            assert isinstance(result.error, NetworkError) and result.error.timeout
            async with sender(k.outbox):
                await until(lambda: k.outbox.counts()["pending"] == 0)
            assert result.change.state is ChangeState.DONE
            first, second = [t for t, _ in k.calls]
            assert second - first >= 1.0

    asyncio.run(main())
    assert len(owner_requests(sim, asset)) == 1
    assert applied_count(sim, asset) == 1
    assert owner(sim, asset) == user


def test_simulator_stopped_then_restarted(own_sim: Simulator, path: Path) -> None:
    sim = own_sim
    assets = [a["AssetId"] for a in free_assets(sim, 3)]
    users = people(sim, 3)

    async def main() -> None:
        async with kiosk(sim, path) as k:
            sim.stop()
            results = [
                await k.outbox.submit(checkout(sim, a, u))
                for a, u in zip(assets, users, strict=True)
            ]
            assert all(r.change.state is ChangeState.PENDING for r in results)
            assert all(isinstance(r.error, NetworkError) for r in results)
            async with sender(k.outbox):
                await asyncio.sleep(0.5)  # offline: tries fail, nothing is lost
                assert k.outbox.counts()["pending"] == 3
                assert k.outbox.offline
                sim.start()
                await until(lambda: k.outbox.counts()["pending"] == 0)
            assert not k.outbox.offline
            assert all(r.change.state is ChangeState.DONE for r in results)

    asyncio.run(main())
    for asset, user in zip(assets, users, strict=True):
        assert owner(sim, asset) == user
        assert applied_count(sim, asset) == 1


def test_a_new_outbox_picks_up_what_was_pending(sim: Simulator, path: Path) -> None:
    assets = [a["AssetId"] for a in free_assets(sim, 4)]
    user = people(sim, 1)[0]
    sim.faults.add(
        Fault(kind="drop", method="POST", path_contains=CHECKOUT_PATH, times=len(assets))
    )

    async def first() -> None:
        async with kiosk(sim, path) as k:
            for asset in assets:
                result = await k.outbox.submit(checkout(sim, asset, user))
                assert result.change.state is ChangeState.PENDING
            # The window closes with everything still waiting; no sender ever ran.

    asyncio.run(first())
    assert all(owner(sim, a) is None for a in assets)

    async def second() -> None:
        async with kiosk(sim, path) as k:
            await k.outbox.load()
            assert k.outbox.counts() == {"pending": len(assets), "attention": 0}
            async with sender(k.outbox):
                await until(lambda: k.outbox.counts() == {"pending": 0, "attention": 0})
            assert len(k.calls) == len(assets)
            assert k.recorded_first == [True] * len(assets)

    asyncio.run(second())
    for asset in assets:
        assert owner(sim, asset) == user
        assert applied_count(sim, asset) == 1


def test_changes_to_one_device_are_applied_in_order(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    ana, ben = people(sim, 2)
    sim.faults.add(Fault(kind="status", method="POST", times=None))  # IIQ failing every change

    async def main() -> None:
        async with kiosk(sim, path) as k:
            out = await k.outbox.submit(checkout(sim, asset, ana))
            back = await k.outbox.submit(checkin(sim, asset, ana))
            again = await k.outbox.submit(checkout(sim, asset, ben, from_user=None))
            assert [r.change.state for r in (out, back, again)] == [ChangeState.PENDING] * 3
            # Only the first was tried: the later ones wait behind it.
            assert [cid for _, cid in k.calls] == [out.change.id]
            async with sender(k.outbox):
                await asyncio.sleep(0.3)
                assert {cid for _, cid in k.calls} == {out.change.id}
                sim.faults.clear()
                await until(lambda: k.outbox.counts()["pending"] == 0)
            assert [r.change.state for r in (out, back, again)] == [ChangeState.DONE] * 3

    asyncio.run(main())
    done = [r for r in owner_requests(sim, asset) if r.applied]
    assert [(r.path, r.json.get("ToOwnerId")) for r in done] == [
        (CHECKOUT_PATH, ana),
        (CHECKIN_PATH, None),
        (CHECKOUT_PATH, ben),
    ]
    assert owner(sim, asset) == ben


def test_the_sender_keeps_a_bounded_rate(sim: Simulator, path: Path) -> None:
    assets = [a["AssetId"] for a in free_assets(sim, 5)]
    user = people(sim, 1)[0]
    sim.faults.add(Fault(kind="status", method="POST", times=len(assets)))

    async def main() -> None:
        async with kiosk(sim, path, min_interval_s=0.1) as k:
            for asset in assets:
                await k.outbox.submit(checkout(sim, asset, user))
            k.calls.clear()
            counts = await k.outbox.drain(10.0)
            assert counts == {"pending": 0, "attention": 0}
            starts = [t for t, _ in k.calls]
            assert len(starts) == len(assets)
            # Spaced by the sender (journal writes before each call add a little jitter).
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            assert starts[-1] - starts[0] >= 0.1 * (len(assets) - 1) * 0.98
            assert min(gaps) >= 0.06, gaps

    asyncio.run(main())
    assert all(applied_count(sim, a) == 1 for a in assets)


# --- conflicts ---------------------------------------------------------------------


def test_owner_changed_behind_the_kiosks_back_is_a_conflict(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    ana, other = people(sim, 2)

    async def main() -> None:
        async with kiosk(sim, path) as k:
            change = checkout(sim, asset, ana)  # scanned here: the device was free
            sim.state.set_owner(asset, other, open_checkout=True)  # the web app, meanwhile
            result = await k.outbox.submit(change)
            assert result.change.state is ChangeState.CONFLICT
            assert result.change.conflict_owner_id == other
            assert result.change.conflict_owner_name == sim.state.users[other]["Name"]
            assert result.change.to_owner_name == sim.state.users[ana]["Name"]
            assert k.outbox.counts() == {"pending": 0, "attention": 1}
            attention = await k.journal.attention()
            assert [c.id for c in attention] == [change.id]
            entry = await k.outbox.resolve(change.id, "asked the library; Ana keeps hers")
            assert entry.resolved
            assert k.outbox.counts() == {"pending": 0, "attention": 0}

    asyncio.run(main())
    assert owner_requests(sim, asset) == []  # nothing forced
    assert owner(sim, asset) == other


def test_conflict_while_waiting_in_the_outbox(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    ana, other = people(sim, 2)
    sim.faults.add(Fault(kind="status", method="POST", path_contains=CHECKOUT_PATH))

    async def main() -> None:
        async with kiosk(sim, path) as k:
            result = await k.outbox.submit(checkout(sim, asset, ana))
            assert result.change.state is ChangeState.PENDING
            sim.state.set_owner(asset, other, open_checkout=True)
            assert await k.outbox.drain(5.0) == {"pending": 0, "attention": 1}
            assert result.change.state is ChangeState.CONFLICT

    asyncio.run(main())
    assert [r.applied for r in owner_requests(sim, asset)] == [False]
    assert owner(sim, asset) == other


# --- check-in and the journal -------------------------------------------------------


def test_checkin_with_lost_replies_applies_each_step_once(sim: Simulator, path: Path) -> None:
    asset_id = DEMO.assigned_asset_id
    sim.faults.add(Fault(kind="apply_then_drop", method="POST", path_contains=CHECKIN_PATH))
    sim.faults.add(Fault(kind="apply_then_status", method="POST", path_contains="/status/"))

    async def main() -> None:
        async with kiosk(sim, path) as k:
            asset = await k.client.asset(asset_id)
            change = await k.service.checkin_change(asset)
            result = await k.outbox.submit(change)
            # Each lost reply: read again, found applied, not sent again.
            assert result.change.state is ChangeState.DONE, result.change.last_error
            assert await k.outbox.drain(5.0) == {"pending": 0, "attention": 0}
            assert result.change.steps_done[:2] == ["owner", "status"]

    asyncio.run(main())
    assert owner(sim, asset_id) is None
    assert applied_count(sim, asset_id) == 1
    status_posts = [r for r in sim.requests if r.method == "POST" and "/status/" in r.path]
    assert len(status_posts) == 1


def test_nothing_is_sent_when_it_cannot_be_recorded(sim: Simulator, path: Path) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]

    async def main() -> None:
        async with kiosk(sim, path) as k:
            change = checkout(sim, asset, user)
            await k.outbox.submit(change)
            duplicate = checkout(sim, asset, people(sim, 2)[1], from_user=user)
            duplicate.id = change.id  # cannot be inserted: the journal refuses it
            with pytest.raises(Exception, match="UNIQUE"):
                await k.outbox.submit(duplicate)

    asyncio.run(main())
    assert applied_count(sim, asset) == 1
    assert owner(sim, asset) == user


def test_a_refused_token_keeps_changes_pending_until_it_is_fixed(
    sim: Simulator, path: Path
) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    user = people(sim, 1)[0]

    async def revoked() -> None:
        client = IIQClient(
            Connection(site_url=sim.url, site_id=sim.site_id, token="revoked-token"),
            retry=RetryPolicy(base_delay=0.01),
        )
        journal = await AsyncJournal.open(path)
        outbox = Outbox(journal, TransactionService(client, station="T1").apply, **FAST)
        result = await outbox.submit(checkout(sim, asset, user))
        assert result.change.state is ChangeState.PENDING
        assert isinstance(result.error, AuthError)
        assert outbox.counts() == {"pending": 1, "attention": 0}
        await client.aclose()
        await journal.aclose()

    asyncio.run(revoked())
    assert owner_requests(sim, asset) == []

    async def fixed() -> None:
        async with kiosk(sim, path) as k:
            assert await k.outbox.drain(5.0) == {"pending": 0, "attention": 0}

    asyncio.run(fixed())
    assert owner(sim, asset) == user
    assert applied_count(sim, asset) == 1


# --- a moment later: the confirming read -------------------------------------------------


def test_a_write_of_another_station_landing_just_after_ours_turns_done_into_a_conflict(
    sim: Simulator, path: Path
) -> None:
    """No conditional writes: a second station's write that lands after our confirming read
    would leave us told 'done'. The new owner is read again a moment later."""
    asset = free_assets(sim, 1)[0]["AssetId"]
    mine, theirs = people(sim, 2)

    async def main() -> None:
        async with kiosk(sim, path, confirm=True, confirm_after_s=0.3) as k:
            result = await k.outbox.submit(checkout(sim, asset, mine))
            assert result.change.state is ChangeState.DONE
            sim.state.set_owner(asset, theirs)  # the other station, a moment later
            await k.outbox.confirmations(5.0)
            change = result.change
            assert change.state is ChangeState.CONFLICT
            assert change.conflict_owner_id == theirs
            assert "another station changed it a moment later" in (change.last_error or "")
            stored = await k.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.CONFLICT
            assert k.outbox.counts()["attention"] == 1
            assert k.seen[-1] == (change.id, ChangeState.CONFLICT)

    asyncio.run(main())
    assert owner(sim, asset) == theirs  # never forced back


def test_a_newer_change_of_ours_is_not_taken_for_another_station(
    sim: Simulator, path: Path
) -> None:
    asset = free_assets(sim, 1)[0]["AssetId"]
    (mine,) = people(sim, 1)

    async def main() -> None:
        async with kiosk(sim, path, confirm=True, confirm_after_s=0.3) as k:
            first = await k.outbox.submit(checkout(sim, asset, mine))
            back = await k.outbox.submit(checkin(sim, asset, mine))  # undone at once
            assert back.change.state is ChangeState.DONE
            await k.outbox.confirmations(5.0)
            assert first.change.state is ChangeState.DONE
            assert k.outbox.counts()["attention"] == 0

    asyncio.run(main())
