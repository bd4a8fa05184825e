"""A journal that is damaged, old or full: bad rows are set aside and never stop the rest.

Rows are spoiled with raw sqlite3, as a crash on a failing disk or a hand edit would leave
them. Whatever the journal holds, it still answers, still records, and the outbox still sends.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.changes import (
    Change,
    ChangeState,
    LocationStep,
    OwnerStep,
    StatusStep,
    TicketStep,
    owner_change,
)
from kiosk.core.journal import SCHEMA_VERSION, AsyncJournal, Journal, JournalFullError
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, Simulator

FAST = {"min_interval_s": 0.0, "backoff_base_s": 0.02, "backoff_max_s": 0.2, "verify_after_s": 0.2}
IN_REPAIR = "60f17a41-b0dd-5312-8337-55b46a158c0e"  # the simulator's "In Repair" status id


def fake(n: int, **fields: Any) -> Change:
    return owner_change(f"asset-{n}", f"CB-{n:06d}", None, f"user-{n}", station="T1", **fields)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def raw(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@dataclass
class Damaged:
    not_json: str
    unknown_kind: str
    missing_field: str
    unknown_state: str
    good: list[str]

    @property
    def bad(self) -> set[str]:
        return {self.not_json, self.unknown_kind, self.missing_field, self.unknown_state}


def damaged_journal(path: Path) -> Damaged:
    """Six good changes written by the kiosk, then four of them spoiled by hand."""
    changes = [fake(n) for n in range(1, 7)]
    with Journal.open(path) as journal:
        for change in changes:
            journal.record(change)
        done = changes[5]
        done.state = ChangeState.DONE
        journal.update(done)
    ids = [c.id for c in changes]
    data = {row[0]: json.loads(row[1]) for row in raw(path, "SELECT id, data FROM changes")}
    raw(path, "UPDATE changes SET data = ? WHERE id = ?", '{"kind": "checkout", "asse', ids[0])
    teleport = json.dumps({**data[ids[1]], "kind": "teleport"})
    raw(path, "UPDATE changes SET data = ? WHERE id = ?", teleport, ids[1])
    missing = {k: v for k, v in data[ids[2]].items() if k != "asset_id"}
    # A failed change: found by attention(), not by pending().
    raw(
        path,
        "UPDATE changes SET data = ?, state = 'failed' WHERE id = ?",
        json.dumps(missing),
        ids[2],
    )
    raw(path, "UPDATE changes SET state = 'exploded' WHERE id = ?", ids[3])
    return Damaged(ids[0], ids[1], ids[2], ids[3], [ids[4], ids[5]])


def test_damaged_rows_are_set_aside_and_reported(path: Path) -> None:
    rows = damaged_journal(path)
    with Journal.open(path) as journal:
        assert [c.id for c in journal.pending()] == [rows.good[0]]
        assert journal.attention() == []
        counts = journal.counts()
        unreadable = {row.id: row for row in journal.unreadable()}
        assert journal.get(rows.good[1]) is not None
        assert journal.get(rows.not_json) is None
    assert set(unreadable) == rows.bad
    assert "JSONDecodeError" in unreadable[rows.not_json].reason
    assert "teleport" in unreadable[rows.unknown_kind].reason
    assert "asset_id" in unreadable[rows.missing_field].reason
    assert "exploded" in unreadable[rows.unknown_state].reason
    assert all(row.created_at and row.asset_tag.startswith("CB-") for row in unreadable.values())
    assert counts["attention"] == 4
    assert counts["unreadable"] == 4
    assert counts["pending"] == 1 and counts["done"] == 1 and counts["failed"] == 0
    assert "exploded" not in counts
    # Set aside in the file (state), with the damaged data kept for IT to look at.
    stored = dict(raw(path, "SELECT id, state FROM changes"))
    assert {k for k, v in stored.items() if v == "unreadable"} == rows.bad
    ((data,),) = raw(path, "SELECT data FROM changes WHERE id = ?", rows.not_json)
    assert data == '{"kind": "checkout", "asse'


def test_damage_found_while_open_is_reported_and_counted(path: Path) -> None:
    """The same rows, spoiled while this kiosk holds the journal open."""
    with Journal.open(path) as journal:
        changes = [fake(n) for n in range(1, 4)]
        for change in changes:
            journal.record(change)
        raw(path, "UPDATE changes SET data = 'null' WHERE id = ?", changes[0].id)
        raw(path, "UPDATE changes SET state = 'exploded' WHERE id = ?", changes[1].id)
        assert [c.id for c in journal.pending()] == [changes[2].id]
        counts = journal.counts()
        assert counts["attention"] == 2 and counts["unreadable"] == 2
        assert counts["pending"] == 1
        reasons = {row.id: row.reason for row in journal.unreadable()}
    assert set(reasons) == {changes[0].id, changes[1].id}
    assert reasons[changes[1].id] == "unknown state “exploded”"
    assert "TypeError" in reasons[changes[0].id]


def test_a_reader_that_may_not_write_reports_damage_without_changing_the_file(
    path: Path,
) -> None:
    rows = damaged_journal(path)
    with Journal.open(path, lock=False) as journal:  # e.g. the command line beside a kiosk
        assert [c.id for c in journal.pending()] == [rows.good[0]]
        assert journal.attention() == []
        counts = journal.counts()
        assert {row.id for row in journal.unreadable()} == rows.bad
    assert counts["attention"] == 4
    stored = dict(raw(path, "SELECT id, state FROM changes"))
    assert stored[rows.not_json] == "pending"
    assert stored[rows.missing_field] == "failed"
    assert stored[rows.unknown_state] == "exploded"


def test_reopening_keeps_damaged_rows_set_aside(path: Path) -> None:
    rows = damaged_journal(path)
    with Journal.open(path) as journal:
        journal.pending()
        journal.attention()
    with Journal.open(path) as journal:
        # Known at once, before any read stumbles on them again.
        first = {row.id: row.reason for row in journal.unreadable()}
        assert journal.counts()["attention"] == 4
        assert [c.id for c in journal.pending()] == [rows.good[0]]
        assert journal.attention() == []
        assert journal.bad_rows == {}  # nothing had to be read to know
    assert set(first) == rows.bad
    assert "JSONDecodeError" in first[rows.not_json]


def test_a_new_change_is_recorded_and_sent_while_damaged_rows_exist(
    sim: Simulator, path: Path
) -> None:
    rows = damaged_journal(path)
    raw(path, "UPDATE changes SET state = 'done' WHERE id = ?", rows.good[0])  # a fake asset

    async def main() -> str:
        client = IIQClient(
            Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token),
            retry=RetryPolicy(base_delay=0.01),
        )
        journal = await AsyncJournal.open(path)
        try:
            outbox = Outbox(journal, TransactionService(client, station="T1").apply, **FAST)
            await outbox.load()
            assert outbox.counts() == {"pending": 0, "attention": 4}
            change = owner_change(
                DEMO.free_asset_id, DEMO.free_tag, None, DEMO.student_user_id, station="T1"
            )
            result = await outbox.submit(change)
            assert result.change.state is ChangeState.DONE, result.change.last_error
            assert await outbox.drain(1.0) == {"pending": 0, "attention": 4}
            stored = await journal.get(change.id)
            assert stored is not None and stored.state is ChangeState.DONE
            assert await journal.attention() == []  # as the window's list reads it
            assert {row.id for row in await journal.unreadable()} == rows.bad
            return change.id
        finally:
            await client.aclose()
            await journal.aclose()

    change_id = asyncio.run(main())
    owner = sim.state.asset(DEMO.free_asset_id)
    assert owner is not None and owner["OwnerId"] == DEMO.student_user_id
    posts = [r for r in sim.requests if r.method == "POST" and r.owner_change_of]
    assert [r.owner_change_of for r in posts] == [DEMO.free_asset_id]
    with Journal.open(path) as journal:
        assert journal.counts()["done"] == 3
        assert {row.id for row in journal.unreadable()} == rows.bad
        assert journal.get(change_id) is not None


# --- schema 1 --------------------------------------------------------------------------

#: The first journal schema, exactly as kiosks of that version created it.
SCHEMA_1 = """
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    station TEXT NOT NULL,
    operator TEXT,
    asset_id TEXT NOT NULL,
    asset_tag TEXT NOT NULL,
    from_owner_id TEXT,
    from_owner_name TEXT,
    to_owner_id TEXT,
    to_owner_name TEXT,
    condition TEXT,
    ticket_number TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    conflict_owner_id TEXT,
    conflict_owner_name TEXT,
    resolved_at TEXT,
    resolution_note TEXT,
    purged_at TEXT,
    data TEXT NOT NULL
);
CREATE INDEX changes_state ON changes (state, seq);
CREATE INDEX changes_created ON changes (created_at);
CREATE INDEX changes_updated ON changes (updated_at);
PRAGMA user_version=1;
"""


def schema_1_journal(path: Path) -> str:
    """A damaged check-in written by the first schema: the owner was removed before the
    kiosk stopped (`steps_done`); status, location and the repair ticket were not sent."""
    change_id = "0123456789abcdef0123456789abcdef"
    stamp = "2026-03-02T08:15:00+00:00"
    data = {
        "id": change_id,
        "kind": "checkin",
        "asset_id": DEMO.assigned_asset_id,
        "asset_tag": DEMO.assigned_tag,
        "from_owner_id": DEMO.assigned_owner_id,
        "from_owner_name": DEMO.assigned_owner_name,
        "to_owner_id": None,
        "to_owner_name": None,
        "station": "T1",
        "operator": "Pat Morgan",
        "created_at": stamp,
        "updated_at": stamp,
        "condition": "damaged",
        "charger_returned": True,
        "note": "cracked screen",
        "state": "pending",
        "attempts": 1,
        "last_error": "Incident IQ did not answer in time.",
        "status_type_id": IN_REPAIR,
        "location_id": DEMO.storeroom_location_id,
        "location_room_id": None,
        "steps_done": ["owner"],
        "open_tickets_seen": 0,
        "ticket_id": None,
        "ticket_number": None,
        "ticket": {
            "subject": f"{DEMO.assigned_tag} returned damaged",
            "description": "Returned damaged at check-in (T1).\nNote: cracked screen",
            "for_user_id": DEMO.assigned_owner_id,
            "asset_id": DEMO.assigned_asset_id,
            "issue_id": DEMO.ticket_issue_id,
        },
    }
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SCHEMA_1)
        with conn:
            conn.execute(
                "INSERT INTO changes (id, created_at, updated_at, state, kind, station, "
                "operator, asset_id, asset_tag, from_owner_id, from_owner_name, condition, "
                "attempts, last_error, data) VALUES (?, ?, ?, 'pending', 'checkin', 'T1', "
                "'Pat Morgan', ?, ?, ?, ?, 'damaged', 1, ?, ?)",
                (
                    change_id,
                    stamp,
                    stamp,
                    DEMO.assigned_asset_id,
                    DEMO.assigned_tag,
                    DEMO.assigned_owner_id,
                    DEMO.assigned_owner_name,
                    data["last_error"],
                    json.dumps(data),
                ),
            )
    finally:
        conn.close()
    return change_id


def test_a_schema_1_journal_is_migrated_and_its_pending_change_applied(
    sim: Simulator, path: Path
) -> None:
    change_id = schema_1_journal(path)
    sim.state.set_owner(DEMO.assigned_asset_id, None)  # what the first try had done

    with Journal.open(path) as journal:
        (change,) = journal.pending()
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    columns = {row[1] for row in raw(path, "PRAGMA table_info(changes)")}
    assert {"batch_id", "undo_of"} <= columns
    assert change.id == change_id
    assert [type(s) for s in change.steps] == [OwnerStep, StatusStep, LocationStep, TicketStep]
    assert change.steps_done == ["owner"]
    owner_step, status_step, location_step, ticket_step = change.steps
    assert isinstance(owner_step, OwnerStep)
    assert (owner_step.from_owner_id, owner_step.to_owner_id) == (DEMO.assigned_owner_id, None)
    assert isinstance(status_step, StatusStep) and status_step.status_type_id == IN_REPAIR
    assert isinstance(location_step, LocationStep)
    assert location_step.location_id == DEMO.storeroom_location_id
    assert isinstance(ticket_step, TicketStep)
    assert ticket_step.request.for_user_id == DEMO.assigned_owner_id
    assert change.attempts == 1 and change.note == "cracked screen"

    async def main() -> None:
        client = IIQClient(
            Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token),
            retry=RetryPolicy(base_delay=0.01),
        )
        journal = await AsyncJournal.open(path)
        try:
            outbox = Outbox(journal, TransactionService(client, station="T1").apply, **FAST)
            assert await outbox.drain(5.0) == {"pending": 0, "attention": 0}
        finally:
            await client.aclose()
            await journal.aclose()

    asyncio.run(main())
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None
    assert record["OwnerId"] is None
    assert record["StatusTypeId"] == IN_REPAIR
    assert record["LocationId"] == DEMO.storeroom_location_id
    tickets = [t for t in sim.state.tickets if {"AssetId": DEMO.assigned_asset_id} in t["Assets"]]
    assert len(tickets) == 1 and tickets[0]["ForId"] == DEMO.assigned_owner_id
    writes = [r.path for r in sim.requests if r.method == "POST" and r.path not in ("/assets",)]
    assert writes == [  # the owner step was done already: not sent again
        f"/assets/{DEMO.assigned_asset_id}/status/{IN_REPAIR}",
        f"/assets/{DEMO.assigned_asset_id}",
        "/tickets/new",
    ]
    with Journal.open(path) as journal:
        done = journal.get(change_id)
        assert done is not None and done.state is ChangeState.DONE
        assert done.steps_done == ["owner", "status", "location", "ticket"]
        assert done.ticket_number == str(tickets[0]["TicketNumber"])
    ((data,),) = raw(path, "SELECT data FROM changes WHERE id = ?", change_id)
    assert "steps" in json.loads(data)  # rewritten in the new shape


# --- a full disk ---------------------------------------------------------------------


def fill(journal: Journal) -> list[Change]:
    """Cap the file at its size now, then record until a real insert does not fit."""
    conn = journal._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")
    recorded = []
    for n in range(1, 200):
        change = fake(n, note="x" * 200)
        try:
            journal.record(change)
        except JournalFullError:
            return recorded
        recorded.append(change)
    raise AssertionError("the journal never filled up")


def test_a_full_disk_is_said_in_words_and_nothing_is_half_written(path: Path) -> None:
    with Journal.open(path) as journal:
        journal.record(fake(0))
        recorded = fill(journal)
        refused = fake(999, note="x" * 200)
        with pytest.raises(JournalFullError) as full:
            journal.record(refused)
        assert "disk is full" in str(full.value)
        assert "nothing was sent" in str(full.value)
        assert isinstance(full.value.__cause__, sqlite3.OperationalError)
        assert "full" in str(full.value.__cause__)
        assert journal.get(refused.id) is None
        assert journal.counts()["pending"] == len(recorded) + 1  # the rest is intact
    with Journal.open(path) as journal:
        assert journal.get(refused.id) is None
        assert len(journal.pending()) == len(recorded) + 1


def test_an_outbox_on_a_full_disk_sends_nothing(sim: Simulator, path: Path) -> None:
    async def main() -> None:
        client = IIQClient(
            Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token),
            retry=RetryPolicy(base_delay=0.01),
        )
        journal = await AsyncJournal.open(path)
        try:
            await journal._call(lambda: fill(journal._journal))
            outbox = Outbox(journal, TransactionService(client, station="T1").apply, **FAST)
            change = owner_change(
                DEMO.free_asset_id, DEMO.free_tag, None, DEMO.student_user_id, station="T1"
            )
            with pytest.raises(JournalFullError, match="disk is full"):
                await outbox.submit(change)
            assert change.id not in {c.id for c in outbox.pending_changes}
            assert await journal.get(change.id) is None
        finally:
            await client.aclose()
            await journal.aclose()

    asyncio.run(main())
    assert [r for r in sim.requests if r.method == "POST" and r.owner_change_of] == []
    record = sim.state.asset(DEMO.free_asset_id)
    assert record is not None and record["OwnerId"] is None
