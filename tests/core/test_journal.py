"""The journal: durable, private, in WAL mode, exportable for audits, purged after retention."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import stat
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.core.changes import Change, ChangeKind, ChangeState, Condition, OwnerStep, TicketStep
from kiosk.core.journal import (
    EXPORT_COLUMNS,
    SCHEMA_VERSION,
    AsyncJournal,
    Journal,
    JournalError,
    JournalLockedError,
)
from kiosk.iiq.models import TicketRequest


def make_change(n: int = 1, **kw: object) -> Change:
    values: dict[str, object] = {
        "kind": ChangeKind.CHECKOUT,
        "asset_id": f"asset-{n}",
        "asset_tag": f"CB-{n:06d}",
        "from_owner_id": None,
        "to_owner_id": f"user-{n}",
        "to_owner_name": f"Student Number{n}",
        "station": "GYM-1",
        "operator": "staff-7",
    }
    ticket = kw.pop("ticket", None)
    values.update(kw)
    change = Change(**values)  # type: ignore[arg-type]
    change.steps = [
        OwnerStep(change.asset_id, change.asset_tag, change.from_owner_id, change.to_owner_id)
    ]
    if isinstance(ticket, dict):
        request = TicketRequest(for_user_id="user-0", asset_id=change.asset_id, **ticket)
        change.steps.append(TicketStep(change.asset_id, change.asset_tag, request))
    return change


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


def test_record_is_durable_and_survives_reopen(path: Path) -> None:
    change = make_change(1)
    with Journal.open(path) as journal:
        journal.record(change)
        change.state = ChangeState.DONE
        change.attempts = 2
        change.steps[0].done = True
        journal.update(change)
        journal.record(make_change(2))
    # A separate connection (another process after a crash would do the same) sees both.
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0] == 2
    conn.close()
    with Journal.open(path) as journal:
        again = journal.get(change.id)
        assert again is not None
        assert again.state is ChangeState.DONE
        assert again.attempts == 2
        assert again.steps_done == ["owner"]
        assert again.to_dict() == change.to_dict()
        assert [c.asset_tag for c in journal.pending()] == ["CB-000002"]
        assert journal.counts()[ChangeState.DONE.value] == 1
        assert journal.counts()[ChangeState.PENDING.value] == 1


def test_wal_mode_schema_version_and_full_sync(path: Path) -> None:
    with Journal.open(path) as journal:
        assert journal.journal_mode == "wal"
        journal.record(make_change())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_journal_from_a_newer_kiosk_is_refused(path: Path) -> None:
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer kiosk"):
        Journal.open(path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_file_is_private_to_the_user(path: Path) -> None:
    with Journal.open(path) as journal:
        journal.record(make_change())
        for name in (path, path.with_name(path.name + "-wal")):
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_token_and_only_audit_data_in_the_file(path: Path) -> None:
    token = "secret-token-0123456789"  # the kind of thing that must never be written
    with Journal.open(path) as journal:
        journal.record(make_change(last_error="Incident IQ did not answer in time."))
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert token.encode() not in raw
    assert b"Bearer" not in raw
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(changes)")]
    conn.close()
    assert not any("token" in c or "email" in c for c in columns)


def test_second_process_cannot_take_the_journal_for_sending(path: Path) -> None:
    with Journal.open(path):
        with pytest.raises(JournalLockedError):
            Journal.open(path)
        with Journal.open(path, lock=False) as reader:  # export while the kiosk runs
            assert reader.export() == []
    Journal.open(path).close()  # released on close


def test_pending_attention_and_resolve(path: Path) -> None:
    with Journal.open(path) as journal:
        changes = [make_change(n) for n in range(1, 6)]
        for change in changes:
            journal.record(change)
        changes[0].state = ChangeState.DONE
        changes[1].state = ChangeState.CONFLICT
        changes[1].conflict_owner_id = "someone"
        changes[1].conflict_owner_name = "Some One"
        changes[2].state = ChangeState.FAILED
        for change in changes[:3]:
            journal.update(change)
        assert [c.id for c in journal.pending()] == [changes[3].id, changes[4].id]
        assert [c.id for c in journal.attention()] == [changes[1].id, changes[2].id]
        assert journal.counts()["attention"] == 2

        entry = journal.resolve(changes[1].id, "gave it back to Some One")
        assert entry.resolved and entry.change.state is ChangeState.CONFLICT
        assert [c.id for c in journal.attention()] == [changes[2].id]
        stored = journal.entry(changes[1].id)
        assert stored is not None and stored.resolution_note == "gave it back to Some One"
        assert stored.change.state is ChangeState.CONFLICT  # the state itself is kept
        with pytest.raises(JournalError):
            journal.resolve(changes[3].id)  # pending: nothing to resolve by hand
        assert journal.counts() == {
            "pending": 2,
            "done": 1,
            "conflict": 1,
            "failed": 1,
            "withdrawn": 0,
            "unreadable": 0,
            "attention": 1,
        }

        recent = journal.recent(3)
        assert [e.change.id for e in recent] == [c.id for c in reversed(changes[2:])]
        assert len(journal.session(datetime.now(UTC) - timedelta(minutes=5))) == 5
        assert journal.session(datetime.now(UTC) + timedelta(minutes=5)) == []


def _at(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds")


def test_export_and_csv_with_since(path: Path, tmp_path: Path) -> None:
    with Journal.open(path) as journal:
        old = make_change(1, created_at=_at(10), updated_at=_at(10), state=ChangeState.DONE)
        new = make_change(
            2,
            kind=ChangeKind.CHECKIN,
            created_at=_at(1),
            from_owner_id="user-9",
            from_owner_name="=HYPERLINK(1)",  # a name that would run as a formula
            to_owner_id=None,
            to_owner_name=None,
            condition=Condition.DAMAGED,
            ticket={"subject": "CB-000002 returned damaged", "description": ""},
        )
        assert new.ticket is not None
        new.ticket.ticket_id, new.ticket.ticket_number = "t-1", "1234"
        journal.record(old)
        journal.record(new)
        everything = journal.export()
        assert [row["id"] for row in everything] == [old.id, new.id]
        assert set(everything[0]) == set(EXPORT_COLUMNS)
        recent = journal.export(since=datetime.now(UTC) - timedelta(days=2))
        assert [row["id"] for row in recent] == [new.id]
        assert recent[0]["condition"] == "damaged" and recent[0]["kind"] == "checkin"
        assert recent[0]["station"] == "GYM-1" and recent[0]["operator"] == "staff-7"

        out = tmp_path / "audit.csv"
        assert journal.export_csv(out, since=datetime.now(UTC) - timedelta(days=2)) == 1
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[0]["asset_tag"] == "CB-000002"
    assert rows[0]["ticket_number"] == "1234"
    assert rows[0]["from_owner_name"] == "'=HYPERLINK(1)"


def test_purge_blanks_names_of_settled_rows_only(path: Path) -> None:
    with Journal.open(path) as journal:
        done_old = make_change(
            1,
            created_at=_at(400),
            updated_at=_at(400),
            state=ChangeState.DONE,
            from_owner_id="user-0",
            from_owner_name="Previous Owner",
        )
        checkin_old = make_change(
            2,
            kind=ChangeKind.CHECKIN,
            created_at=_at(400),
            updated_at=_at(400),
            state=ChangeState.DONE,
            note="cracked screen, told Ana",
            ticket={"subject": "CB-000002 returned damaged", "description": "Note: Ana"},
        )
        conflict_old = make_change(
            3,
            created_at=_at(400),
            updated_at=_at(400),
            state=ChangeState.CONFLICT,
            conflict_owner_name="Other Person",
        )
        resolved_old = make_change(
            4,
            created_at=_at(400),
            updated_at=_at(400),
            state=ChangeState.CONFLICT,
            conflict_owner_name="Other Person",
            last_error="CB-000004 now belongs to Other Person",
        )
        pending_old = make_change(5, created_at=_at(400), updated_at=_at(400))
        done_new = make_change(6, state=ChangeState.DONE)
        for change in (done_old, checkin_old, conflict_old, resolved_old, pending_old, done_new):
            journal.record(change)
        journal.resolve(resolved_old.id, "fixed by hand with Other Person")

        assert journal.purge_personal_data(timedelta(days=365)) == 2
        assert journal.purge_personal_data(timedelta(days=365)) == 0  # idempotent
        rows = {row["id"]: row for row in journal.export()}
        # Resolved by hand just now: the retention counts from the resolution.
        assert rows[resolved_old.id]["conflict_owner_name"] == "Other Person"
        later = datetime.now(UTC) + timedelta(days=366)
        assert journal.purge_personal_data(timedelta(days=365), now=later) == 2

        rows = {row["id"]: row for row in journal.export()}
        for change in (done_old, checkin_old, resolved_old, done_new):
            row = rows[change.id]
            assert row["from_owner_name"] is None and row["to_owner_name"] is None
            assert row["conflict_owner_name"] is None and row["resolution_note"] is None
            assert row["last_error"] is None
            assert row["purged_at"] is not None
            # what the audit needs stays
            assert row["asset_tag"] == change.asset_tag and row["state"] == change.state.value
            assert row["to_owner_id"] == change.to_owner_id
            assert row["station"] == "GYM-1"
            assert (row["resolved_at"] is not None) == (change is resolved_old)
        assert rows[done_old.id]["from_owner_id"] == "user-0"
        purged = journal.get(checkin_old.id)
        assert purged is not None and purged.note is None
        assert purged.ticket is not None
        assert purged.ticket.request.subject == "CB-000002 returned damaged"
        assert purged.ticket.request.description == ""
        # Needs attention or still pending: names stay, however old.
        assert rows[conflict_old.id]["conflict_owner_name"] == "Other Person"
        assert rows[pending_old.id]["to_owner_name"] == "Student Number5"
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert b"Previous Owner" not in raw  # not left behind in free pages or the WAL
    assert b"cracked screen" not in raw


def test_async_journal_runs_on_its_own_thread(path: Path) -> None:
    async def main() -> None:
        journal = await AsyncJournal.open(path)
        change = make_change()
        await journal.record(change)
        change.attempts = 3  # the caller's object may change while the copy is written
        await journal.update(change)
        assert (await journal.get(change.id)) is not None
        assert [c.id for c in await journal.pending()] == [change.id]
        assert (await journal.counts())["pending"] == 1
        rows = await journal.export()
        assert rows[0]["attempts"] == 3
        threads = {t.name for t in threading.enumerate()}
        assert any(name.startswith("journal") for name in threads)
        await journal.aclose()

    asyncio.run(main())
    with Journal.open(path) as journal:
        data = journal.export()
    assert json.dumps(data)  # plain values only
