"""The change desk against the simulator over real loopback HTTP: submit and undo.

A real client, TransactionService, AsyncJournal, Outbox and ChangeDesk, as the window and the
command line use them. Every test checks what the server received (`sim.requests`), what it
ended up with (`sim.state`) and what the journal holds.
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

from kiosk.core.changes import Change, ChangeKind, ChangeState
from kiosk.core.desk import ChangeDesk, UndoRefusedError
from kiosk.core.journal import AsyncJournal, Journal, JournalFullError
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import CheckinPolicy, TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Fault, RecordedRequest, Simulator

CHECKOUT_PATH = "/assets/checkouts/checkout-or-transfer"
CHECKIN_PATH = "/assets/checkouts/checkin"
FAST = {"min_interval_s": 0.0, "backoff_base_s": 0.02, "backoff_max_s": 0.2, "verify_after_s": 0.2}
#: The room of Roosevelt Middle School's library (where the free demo device sits).
LIBRARY_ROOM = "c55e43aa-df14-5091-9b98-5c7345b2d72c"


# --- helpers ---------------------------------------------------------------------------


@dataclass
class Station:
    client: IIQClient
    service: TransactionService
    journal: AsyncJournal
    outbox: Outbox
    desk: ChangeDesk


@contextlib.asynccontextmanager
async def station(
    sim: Simulator,
    path: Path,
    *,
    read_timeout: float = 5.0,
    policy: CheckinPolicy | None = None,
    now: Callable[[], datetime] | None = None,
    offline_probe_s: float = 3.0,
    **outbox_kw: Any,
) -> AsyncIterator[Station]:
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
    desk = ChangeDesk(outbox, journal, **({"now": now} if now else {}))
    try:
        yield Station(client, service, journal, outbox, desk)
    finally:
        for task in desk.shutdown():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.aclose()
        await journal.aclose()


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def give(st: Station, tag: str, person_text: str) -> Change:
    """The check-out (or transfer) plan the window would make for these scans."""
    found = await st.service.find_device(tag)
    assert len(found.assets) == 1
    match = await st.service.find_person(person_text)
    assert match.exact is not None
    prepared = await st.service.prepare_checkout(found.assets[0], match.exact)
    return st.service.checkout_change(prepared)


@contextlib.asynccontextmanager
async def sender(outbox: Outbox) -> AsyncIterator[None]:
    task = asyncio.create_task(outbox.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def record(sim: Simulator, asset_id: str) -> dict[str, Any]:
    found = sim.state.asset(asset_id)
    assert found is not None
    return found


def owner(sim: Simulator, asset_id: str) -> str | None:
    value: str | None = record(sim, asset_id)["OwnerId"]
    return value


def writes(sim: Simulator, asset_id: str) -> list[RecordedRequest]:
    """Every request that asked to change the asset: owner, status, fields, tickets."""
    found = []
    for r in sim.requests:
        if r.method != "POST":
            continue
        body = r.json if isinstance(r.json, dict) else {}
        linked = [a.get("AssetId") for a in body.get("Assets") or [] if isinstance(a, dict)]
        if f"/assets/{asset_id}" in r.path or body.get("AssetId") == asset_id or asset_id in linked:
            found.append(r)
    return found


def touching(sim: Simulator, asset_id: str) -> list[RecordedRequest]:
    """Every request, read or write, that names the asset."""
    return [
        r
        for r in sim.requests
        if asset_id in r.path or (isinstance(r.json, dict) and asset_id in str(r.json))
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def own_sim() -> Iterator[Simulator]:
    """A simulator of its own on a fixed port, so it can be stopped and started again."""
    sim = Simulator(seed=2026, port=free_port())
    sim.start()
    yield sim
    sim.stop()


# --- submit ----------------------------------------------------------------------------


def test_submit_of_a_checkout_is_done_and_the_owner_changes(sim: Simulator, path: Path) -> None:
    async def main() -> str:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            outcome = await st.desk.submit(change, wait_s=5.0)
            assert outcome.state is ChangeState.DONE, outcome.change.last_error
            assert not outcome.still_sending and not outcome.withdrawn
            assert outcome.error is None
            assert outcome.asset is not None
            assert outcome.asset.current_owner_id == DEMO.student_user_id
            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.DONE
            assert stored.attempts == 1
            return change.id

    asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) == DEMO.student_user_id
    sent = writes(sim, DEMO.free_asset_id)
    assert [(r.path, r.status, r.json.get("ToOwnerId")) for r in sent] == [
        (CHECKOUT_PATH, 200, DEMO.student_user_id)
    ]


def test_a_slow_reply_says_still_sending_and_the_outbox_finishes_it_once(
    sim: Simulator, path: Path
) -> None:
    sim.faults.add(
        Fault(kind="latency", method="POST", path_contains=CHECKOUT_PATH, latency_ms=700)
    )

    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            started = time.monotonic()
            outcome = await st.desk.submit(change, wait_s=0.1)
            assert time.monotonic() - started < 0.6  # the line of students is not kept
            assert outcome.still_sending
            assert outcome.state is ChangeState.PENDING
            assert owner(sim, DEMO.free_asset_id) is None  # not there yet
            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.PENDING  # saved
            # Nobody waits for it any more; the outbox carries on and settles it.
            await until(lambda: st.outbox.counts() == {"pending": 0, "attention": 0})
            assert change.state is ChangeState.DONE, change.last_error
            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.DONE
            assert stored.attempts == 1

    asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) == DEMO.student_user_id
    sent = writes(sim, DEMO.free_asset_id)
    assert [(r.path, r.status) for r in sent] == [(CHECKOUT_PATH, 200)]


@pytest.mark.parametrize("wait_s", [None, 2.0])
def test_a_change_that_cannot_be_recorded_raises_and_nothing_is_sent(
    sim: Simulator, path: Path, monkeypatch: pytest.MonkeyPatch, wait_s: float | None
) -> None:
    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)

            async def disk_full(change: Change) -> None:
                raise JournalFullError("The kiosk's disk is full: nothing was sent.")

            monkeypatch.setattr(st.journal, "record", disk_full)
            with pytest.raises(JournalFullError, match="disk is full"):
                await st.desk.submit(change, wait_s=wait_s)
            assert st.outbox.counts() == {"pending": 0, "attention": 0}
            assert st.outbox.pending_changes == []
            await st.outbox.drain(0.3)  # the sender finds nothing to send either
            assert await st.journal.recent() == []

    asyncio.run(main())
    assert writes(sim, DEMO.free_asset_id) == []
    assert owner(sim, DEMO.free_asset_id) is None
    with Journal.open(path) as journal:
        assert journal.counts()["pending"] == 0
        assert journal.export() == []


@pytest.mark.parametrize("fails", [True, False])
def test_still_sending_is_only_said_of_a_change_that_was_recorded(
    sim: Simulator, path: Path, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    """A slow disk takes longer than `wait_s` to record: the desk waits for the record
    (saved or not is never a guess), and only the sending is left to the outbox."""

    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            record_change = st.journal.record

            async def slow_disk(change: Change) -> None:
                await asyncio.sleep(0.3)
                if fails:
                    raise JournalFullError("The kiosk's disk is full: nothing was sent.")
                await record_change(change)

            monkeypatch.setattr(st.journal, "record", slow_disk)
            if fails:
                with pytest.raises(JournalFullError, match="disk is full"):
                    await st.desk.submit(change, wait_s=0.05)
                assert await st.journal.get(change.id) is None
                return
            outcome = await st.desk.submit(change, wait_s=0.05)
            assert await st.journal.get(change.id) is not None  # saved when it says so
            if outcome.still_sending:
                await until(lambda: st.outbox.counts()["pending"] == 0)
            assert change.state is ChangeState.DONE, change.last_error

    asyncio.run(main())
    if fails:
        assert writes(sim, DEMO.free_asset_id) == []
        assert owner(sim, DEMO.free_asset_id) is None
    else:
        assert [r.path for r in writes(sim, DEMO.free_asset_id)] == [CHECKOUT_PATH]
        assert owner(sim, DEMO.free_asset_id) == DEMO.student_user_id


# --- undo of what was applied --------------------------------------------------------


def test_undo_of_a_checkout_gives_the_device_back_to_nobody(sim: Simulator, path: Path) -> None:
    async def main() -> tuple[str, str]:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            assert (await st.desk.submit(change)).state is ChangeState.DONE
            plan = await st.desk.plan_undo(change.id)
            assert plan.question == (
                f"Give {DEMO.free_tag} back to nobody (take it from {DEMO.student_name})?"
            )
            assert plan.change is not None and plan.change.kind is ChangeKind.UNDO
            outcome = await st.desk.undo(plan, wait_s=5.0)
            assert outcome.state is ChangeState.DONE, outcome.change.last_error
            assert not outcome.withdrawn
            undos = await st.journal.undo_of(change.id)
            assert [(u.id, u.state, u.undo_of) for u in undos] == [
                (outcome.change.id, ChangeState.DONE, change.id)
            ]
            original = await st.journal.get(change.id)
            assert original is not None and original.state is ChangeState.DONE
            return change.id, outcome.change.id

    change_id, undo_id = asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) is None
    assert sim.state.open_checkout(DEMO.free_asset_id) is None
    sent = writes(sim, DEMO.free_asset_id)
    assert [(r.path, r.status) for r in sent] == [(CHECKOUT_PATH, 200), (CHECKIN_PATH, 200)]
    with Journal.open(path) as journal:  # both rows stay, the undo says what it undid
        rows = {row["id"]: row for row in journal.export()}
    assert set(rows) == {change_id, undo_id}
    assert rows[change_id]["state"] == "done" and rows[change_id]["undo_of"] is None
    assert rows[undo_id]["kind"] == "undo" and rows[undo_id]["undo_of"] == change_id
    assert rows[undo_id]["state"] == "done"


def test_undo_of_a_transfer_gives_the_device_back_to_the_previous_owner(
    sim: Simulator, path: Path
) -> None:
    asset = DEMO.assigned_asset_id
    assert owner(sim, asset) == DEMO.assigned_owner_id

    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.assigned_tag, DEMO.student_id)
            assert change.from_owner_id == DEMO.assigned_owner_id
            assert (await st.desk.submit(change)).state is ChangeState.DONE
            assert owner(sim, asset) == DEMO.student_user_id
            plan = await st.desk.plan_undo(change.id)
            assert plan.question == f"Give {DEMO.assigned_tag} back to {DEMO.assigned_owner_name}?"
            outcome = await st.desk.undo(plan, wait_s=5.0)
            assert outcome.state is ChangeState.DONE, outcome.change.last_error
            assert [u.undo_of for u in await st.journal.undo_of(change.id)] == [change.id]
            assert (await st.journal.counts())["done"] == 2

    asyncio.run(main())
    assert owner(sim, asset) == DEMO.assigned_owner_id
    checkout = sim.state.open_checkout(asset)
    assert checkout is not None and checkout["OwnerId"] == DEMO.assigned_owner_id
    sent = writes(sim, asset)
    assert [(r.path, r.json.get("ToOwnerId")) for r in sent] == [
        (CHECKOUT_PATH, DEMO.student_user_id),
        (CHECKOUT_PATH, DEMO.assigned_owner_id),
    ]


def test_undo_of_a_checkin_restores_owner_status_and_location(sim: Simulator, path: Path) -> None:
    asset_id = DEMO.assigned_asset_id
    with sim.state.lock:  # a room, so that undo has one to put back
        record(sim, asset_id)["LocationRoomId"] = LIBRARY_ROOM
    fields = ("OwnerId", "StatusTypeId", "LocationId", "LocationRoomId")
    before = {k: record(sim, asset_id)[k] for k in fields}
    assert before["OwnerId"] == DEMO.assigned_owner_id
    assert before["StatusTypeId"] != DEMO.available_status_id
    assert before["LocationId"] != DEMO.storeroom_location_id
    policy = CheckinPolicy(location_id=DEMO.storeroom_location_id)

    async def main() -> None:
        async with station(sim, path, policy=policy) as st:
            asset = await st.client.asset(asset_id)
            change = await st.service.checkin_change(asset)
            outcome = await st.desk.submit(change, wait_s=5.0)
            assert outcome.state is ChangeState.DONE, outcome.change.last_error
            after = record(sim, asset_id)
            assert after["OwnerId"] is None
            assert after["StatusTypeId"] == DEMO.available_status_id
            assert after["LocationId"] == DEMO.storeroom_location_id
            assert after["LocationRoomId"] is None
            plan = await st.desk.plan_undo(change.id)
            assert plan.question == (
                f"Put it back where it was, set it Assigned again and give {DEMO.assigned_tag} "
                f"back to {DEMO.assigned_owner_name}?"
            )
            undone = await st.desk.undo(plan, wait_s=5.0)
            assert undone.state is ChangeState.DONE, undone.change.last_error
            assert [u.id for u in await st.journal.undo_of(change.id)] == [undone.change.id]

    asyncio.run(main())
    assert {k: record(sim, asset_id)[k] for k in fields} == before
    checkout = sim.state.open_checkout(asset_id)
    assert checkout is not None and checkout["OwnerId"] == DEMO.assigned_owner_id
    paths = [r.path for r in writes(sim, asset_id)]
    assert paths == [
        CHECKIN_PATH,
        f"/assets/{asset_id}/status/{DEMO.available_status_id}",
        f"/assets/{asset_id}",
        # the undo, in reverse order
        f"/assets/{asset_id}",
        f"/assets/{asset_id}/status/{before['StatusTypeId']}",
        CHECKOUT_PATH,
    ]


# --- undo of what is still waiting ------------------------------------------------------


@pytest.mark.parametrize("failure", ["offline", "reads_fail"])
def test_undo_of_a_pending_change_withdraws_it_and_nothing_is_ever_sent(
    own_sim: Simulator, path: Path, failure: str
) -> None:
    sim = own_sim
    taken_back, other = DEMO.free_asset_id, DEMO.no_checkout_asset_id
    other_owner = owner(sim, other)

    async def main() -> None:
        async with station(sim, path, offline_probe_s=0.1) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            later = await give(st, DEMO.no_checkout_tag, DEMO.staff_badge)
            sim.clear_requests()
            if failure == "offline":
                sim.stop()
            else:  # Incident IQ answers every read with 503: nothing can be sent
                sim.faults.add(Fault(kind="status", method="GET", status=503, times=None))
            first = await st.desk.submit(change, wait_s=5.0)
            assert first.state is ChangeState.PENDING
            assert not change.in_doubt and change.steps_done == []
            assert (await st.desk.submit(later, wait_s=5.0)).state is ChangeState.PENDING

            plan = await st.desk.plan_undo(change.id)
            assert plan.change is None
            assert plan.question == (
                f"Take back “Give {DEMO.free_tag} to {DEMO.student_name}” before it is sent?"
            )
            outcome = await st.desk.undo(plan)
            assert outcome.withdrawn
            assert outcome.state is ChangeState.DONE
            assert outcome.change.kind is ChangeKind.UNDO
            assert outcome.change.undo_of == change.id

            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.WITHDRAWN
            assert [u.id for u in await st.journal.undo_of(change.id)] == [outcome.change.id]
            assert [c.id for c in await st.journal.pending()] == [later.id]
            assert st.outbox.counts() == {"pending": 1, "attention": 0}
            with pytest.raises(UndoRefusedError, match="undone already"):
                await st.desk.plan_undo(change.id)

            if failure == "offline":
                sim.start()
            else:
                sim.faults.clear()
            sim.clear_requests()
            assert await st.outbox.drain(10.0) == {"pending": 0, "attention": 0}
            assert later.state is ChangeState.DONE, later.last_error
            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.WITHDRAWN

    asyncio.run(main())
    assert touching(sim, taken_back) == []  # the withdrawn change never went out
    assert owner(sim, taken_back) is None
    assert owner(sim, other) == DEMO.staff_user_id != other_owner  # the sender did run
    assert len(writes(sim, other)) == 1


def test_a_change_being_withdrawn_is_not_sent_while_that_is_written(
    sim: Simulator, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender runs while the journal (a slow disk) is still writing the withdrawal:
    it must not pick the change up in that moment."""

    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            sim.faults.add(Fault(kind="status", method="GET", status=503, times=None))
            assert (await st.desk.submit(change)).state is ChangeState.PENDING
            sim.faults.clear()
            sim.clear_requests()
            update = st.journal.update

            async def slow_update(written: Change) -> None:
                if written.state is ChangeState.WITHDRAWN:
                    await asyncio.sleep(0.3)
                await update(written)

            monkeypatch.setattr(st.journal, "update", slow_update)
            plan = await st.desk.plan_undo(change.id)
            undo = asyncio.create_task(st.desk.undo(plan))
            await asyncio.sleep(0.05)  # the withdrawal is being written now
            async with sender(st.outbox):
                st.outbox.nudge()  # "send now", or the network came back
                outcome = await undo
                await asyncio.sleep(0.1)
            assert outcome.withdrawn
            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.WITHDRAWN
            assert st.outbox.counts() == {"pending": 0, "attention": 0}

    asyncio.run(main())
    assert touching(sim, DEMO.free_asset_id) == []
    assert owner(sim, DEMO.free_asset_id) is None


def test_a_half_done_change_is_not_withdrawn(sim: Simulator, path: Path) -> None:
    """The owner was removed, then the status was refused for now (503): part of it is in
    Incident IQ, so it cannot be taken back as "never sent"; it finishes, then undo works."""
    asset_id = DEMO.assigned_asset_id
    sim.faults.add(Fault(kind="status", method="POST", path_contains="/status/", status=503))

    async def main() -> None:
        async with station(sim, path) as st:
            asset = await st.client.asset(asset_id)
            change = await st.service.checkin_change(asset)
            assert (await st.desk.submit(change)).state is ChangeState.PENDING
            assert change.steps_done == ["owner"]
            with pytest.raises(UndoRefusedError, match="being sent right now"):
                await st.desk.plan_undo(change.id)
            assert await st.outbox.withdraw(change.id) is None
            stored = await st.journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.PENDING
            assert await st.outbox.drain(5.0) == {"pending": 0, "attention": 0}
            assert change.state is ChangeState.DONE, change.last_error
            undone = await st.desk.undo(await st.desk.plan_undo(change.id), wait_s=5.0)
            assert undone.state is ChangeState.DONE, undone.change.last_error

    asyncio.run(main())
    assert owner(sim, asset_id) == DEMO.assigned_owner_id
    status = [r.status for r in writes(sim, asset_id) if "/status/" in r.path]
    assert status == [503, 200, 200]  # refused, sent, and put back by the undo


# --- undo refused --------------------------------------------------------------------


def test_undo_is_refused_once_the_change_is_older_than_undo_minutes(
    sim: Simulator, path: Path
) -> None:
    later = timedelta()

    def now() -> datetime:
        return datetime.now(UTC) + later

    async def main() -> None:
        nonlocal later
        async with station(sim, path, now=now) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            assert (await st.desk.submit(change)).state is ChangeState.DONE
            later = timedelta(minutes=4)
            await st.desk.plan_undo(change.id)  # still in time
            later = timedelta(minutes=6)
            with pytest.raises(UndoRefusedError) as refused:
                await st.desk.plan_undo(change.id)
            assert str(refused.value) == (
                f"“Give {DEMO.free_tag} to {DEMO.student_name}” is older than 5 minutes: "
                "change it in the usual way (or in Incident IQ)."
            )
            assert await st.journal.undo_of(change.id) == []

    asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) == DEMO.student_user_id
    assert [r.path for r in writes(sim, DEMO.free_asset_id)] == [CHECKOUT_PATH]


def test_undo_is_refused_when_it_was_undone_already(sim: Simulator, path: Path) -> None:
    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            assert (await st.desk.submit(change)).state is ChangeState.DONE
            plan = await st.desk.plan_undo(change.id)
            undone = await st.desk.undo(plan)
            assert undone.state is ChangeState.DONE
            with pytest.raises(UndoRefusedError, match="was undone already"):
                await st.desk.plan_undo(change.id)
            with pytest.raises(UndoRefusedError, match="was itself an undo"):
                await st.desk.plan_undo(undone.change.id)
            assert len(await st.journal.undo_of(change.id)) == 1

    asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) is None
    assert [r.path for r in writes(sim, DEMO.free_asset_id)] == [CHECKOUT_PATH, CHECKIN_PATH]


def test_undo_of_a_conflict_is_refused(sim: Simulator, path: Path) -> None:
    elsewhere = DEMO.staff_user_id

    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            with sim.state.lock:  # the web app, between the scan and the confirm
                sim.state.set_owner(DEMO.free_asset_id, elsewhere, open_checkout=True)
            assert (await st.desk.submit(change)).state is ChangeState.CONFLICT
            with pytest.raises(UndoRefusedError) as refused:
                await st.desk.plan_undo(change.id)
            assert "did not change Incident IQ (conflict): nothing to undo" in str(refused.value)
            assert await st.journal.undo_of(change.id) == []

    asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) == elsewhere
    assert writes(sim, DEMO.free_asset_id) == []


def test_an_undo_whose_device_changed_elsewhere_is_a_conflict_and_not_forced(
    sim: Simulator, path: Path
) -> None:
    elsewhere = DEMO.staff_user_id

    async def main() -> None:
        async with station(sim, path) as st:
            change = await give(st, DEMO.free_tag, DEMO.student_id)
            assert (await st.desk.submit(change)).state is ChangeState.DONE
            with sim.state.lock:  # someone gave it on, in Incident IQ itself
                sim.state.set_owner(DEMO.free_asset_id, elsewhere, open_checkout=True)
            plan = await st.desk.plan_undo(change.id)
            outcome = await st.desk.undo(plan, wait_s=5.0)
            assert outcome.state is ChangeState.CONFLICT
            assert outcome.change.conflict_owner_id == elsewhere
            assert outcome.change.conflict_owner_name == DEMO.staff_name
            assert DEMO.staff_name in (outcome.change.last_error or "")
            (undo,) = await st.journal.undo_of(change.id)
            assert undo.state is ChangeState.CONFLICT
            original = await st.journal.get(change.id)
            assert original is not None and original.state is ChangeState.DONE
            assert st.outbox.counts() == {"pending": 0, "attention": 1}

    asyncio.run(main())
    assert owner(sim, DEMO.free_asset_id) == elsewhere
    assert [r.path for r in writes(sim, DEMO.free_asset_id)] == [CHECKOUT_PATH]
