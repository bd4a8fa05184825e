"""`checkout` / `checkin` through the journal and outbox, and `outbox [--send] | resolve`:
a confirmed change is in the journal before anything is sent, a change Incident IQ did not
confirm stays there and is sent exactly once later, a conflict is listed with both owners
and resolved by hand, and listing needs no connection."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clitools import Runner, mutations

from kiosk import cli
from kiosk.core.changes import ApplyResult, Change, ChangeState, owner_change
from kiosk.core.journal import Journal, default_path
from kiosk.core.transactions import TransactionService
from kiosk.simulator import DEMO, Fault, Simulator

CHECKOUT_ROUTE = "/assets/checkouts/checkout-or-transfer"


def owner_of(sim: Simulator, asset_id: str) -> str | None:
    asset = sim.state.asset(asset_id)
    assert asset is not None
    owner: str | None = asset["OwnerId"]
    return owner


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """`main()` in this process against the simulator, with short retry delays."""
    monkeypatch.setenv("IIQ_URL", sim.url)
    monkeypatch.setenv("IIQ_TOKEN", sim.token)
    monkeypatch.setenv("IIQ_SITE_ID", sim.site_id)
    monkeypatch.setenv("IIQ_KIOSK_STATION", "Library desk")
    monkeypatch.setattr(cli, "RETRY_BASE_DELAY", 0.01)
    yield sim


def journal_path() -> Path:
    return default_path(Path(os.environ["IIQ_KIOSK_DATA"]))


def free_checkout(**fields: object) -> Change:
    """A pending check-out of the free demo device to the demo student, as confirmed."""
    change = owner_change(
        DEMO.free_asset_id,
        DEMO.free_tag,
        None,
        DEMO.student_user_id,
        to_owner_name=DEMO.student_name,
        station="Library desk",
    )
    for name, value in fields.items():
        setattr(change, name, value)
    return change


# --- in this process --------------------------------------------------------------------


def test_the_change_is_in_the_journal_before_it_is_sent(
    env: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, str | None, str | None]] = []
    original = TransactionService.apply

    async def spy(self: TransactionService, change: Change) -> ApplyResult:
        with Journal.open(journal_path(), lock=False) as journal:
            entry = journal.entry(change.id)
        assert entry is not None, "sent before it was written to the journal"
        seen.append((entry.change.state.value, entry.change.station, entry.change.operator))
        return await original(self, change)

    monkeypatch.setattr(TransactionService, "apply", spy)
    code = cli.main(
        ["checkout", DEMO.free_tag, "--to", DEMO.student_id, "--yes", "--operator", "Ms. Rivera"]
    )
    assert code == 0, capsys.readouterr().err
    assert seen == [("pending", "Library desk", "Ms. Rivera")]
    with Journal.open(journal_path(), lock=False) as journal:
        [row] = journal.export()
    assert (row["state"], row["attempts"], row["to_owner_id"]) == ("done", 1, DEMO.student_user_id)


def test_a_running_kiosk_owns_the_journal(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with Journal.open(journal_path(), lock=True) as journal:  # as the kiosk window holds it
        journal.record(free_checkout())
        code = cli.main(["checkout", DEMO.free_tag, "--to", DEMO.student_id, "--yes"])
        err = capsys.readouterr().err
        assert code == 2
        assert "The kiosk window is running on this computer and owns the journal" in err
        assert "Nothing was changed." in err
        assert cli.main(["outbox", "--send"]) == 2
        capsys.readouterr()
        # Reading needs no lock: the list still works while the window runs.
        assert cli.main(["outbox", "--json"]) == 0
        assert [c["AssetTag"] for c in json.loads(capsys.readouterr().out)["Pending"]] == [
            DEMO.free_tag
        ]
    assert mutations(env) == []


def test_opening_the_journal_for_a_change_purges_expired_names(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat(timespec="seconds")
    with Journal.open(journal_path()) as journal:
        journal.record(
            free_checkout(asset_tag="OLD-1", state=ChangeState.DONE, created_at=old, updated_at=old)
        )
    assert cli.main(["checkin", DEMO.assigned_tag, "--yes"]) == 0, capsys.readouterr().err
    with Journal.open(journal_path(), lock=False) as journal:
        rows = {row["asset_tag"]: row for row in journal.export()}
    assert rows["OLD-1"]["to_owner_name"] is None and rows["OLD-1"]["purged_at"]
    assert rows["OLD-1"]["to_owner_id"] == DEMO.student_user_id  # ids stay for the audit
    fresh = rows[DEMO.assigned_tag]
    assert (fresh["kind"], fresh["state"]) == ("checkin", "done")
    assert fresh["from_owner_name"] == DEMO.assigned_owner_name and not fresh["purged_at"]


@pytest.mark.parametrize(("kind", "code"), [("drop", 6), ("status", 5)])
def test_send_exits_6_or_5_while_the_change_cannot_be_sent(
    env: Simulator, capsys: pytest.CaptureFixture[str], kind: str, code: int
) -> None:
    with Journal.open(journal_path()) as journal:
        journal.record(free_checkout())
    env.faults.add(Fault(kind, method="POST", path_contains=CHECKOUT_ROUTE, times=None))
    assert cli.main(["outbox", "--send"]) == code
    assert "1 change still waiting" in capsys.readouterr().err
    assert owner_of(env, DEMO.free_asset_id) is None
    with Journal.open(journal_path(), lock=False) as journal:
        [waiting] = journal.pending()
    if kind == "status":
        assert waiting.attempts >= 2  # an error reply: tried again within the window
    else:
        # No reply at all: in doubt, so not re-checked or sent again sooner than
        # [outbox] verify_after_s after that try started.
        assert waiting.attempts == 1 and waiting.in_doubt


# --- the real command -------------------------------------------------------------------


def test_a_change_not_confirmed_waits_and_outbox_send_sends_it_once(
    cli: Runner, sim: Simulator
) -> None:
    sim.faults.add(Fault("status", method="POST", path_contains=CHECKOUT_ROUTE, times=None))
    result = cli("checkout", DEMO.free_tag, "--to", DEMO.student_id, "--yes")
    assert result.returncode == 5, result.stderr
    assert "Saved in the journal; it will be sent by `iiq-kiosk outbox --send`" in result.stderr
    assert owner_of(sim, DEMO.free_asset_id) is None

    listing = cli("outbox")
    assert listing.returncode == 0, listing.stderr
    assert "Waiting to be sent (1):" in listing.stdout
    assert f"Give {DEMO.free_tag} to {DEMO.student_name}" in listing.stdout
    assert "pending, " in listing.stdout and "503" in listing.stdout

    sim.faults.clear()
    before = len(mutations(sim))
    sent = cli("outbox", "--send")
    assert sent.returncode == 0, sent.stderr
    assert f"Sent: Give {DEMO.free_tag} to {DEMO.student_name}" in sent.stdout
    [request] = mutations(sim)[before:]
    assert (request.path, request.status) == (CHECKOUT_ROUTE, 200)
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id

    assert "Nothing is waiting" in cli("outbox").stdout
    again = cli("outbox", "--send")
    assert again.returncode == 0 and "Nothing to send." in again.stdout
    assert len(mutations(sim)) == before + 1  # exactly once


def test_a_conflict_is_listed_with_both_owners_and_resolved_by_hand(
    cli: Runner, sim: Simulator
) -> None:
    sim.faults.add(Fault("status", method="POST", path_contains=CHECKOUT_ROUTE, times=None))
    result = cli("checkout", DEMO.assigned_tag, "--to", DEMO.student_id, "--yes")
    assert result.returncode == 5, result.stderr
    # Meanwhile someone gives the device to a teacher in Incident IQ.
    sim.state.set_owner(DEMO.assigned_asset_id, DEMO.staff_user_id)
    sim.faults.clear()
    before = len(mutations(sim))

    sent = cli("outbox", "--send", "--json")
    assert sent.returncode == 0, sent.stderr  # nothing is left waiting
    report = json.loads(sent.stdout)
    assert report["Sent"] == [] and report["Pending"] == []
    [conflict] = report["Attention"]
    assert conflict["State"] == "conflict"
    assert conflict["ConflictOwnerId"] == DEMO.staff_user_id
    assert "1 change need attention" in sent.stderr
    assert len(mutations(sim)) == before  # never forced
    assert owner_of(sim, DEMO.assigned_asset_id) == DEMO.staff_user_id

    listing = cli("outbox")
    assert "Needs attention (1):" in listing.stdout
    assert (
        f"owner when scanned: {DEMO.assigned_owner_name}; in Incident IQ now: {DEMO.staff_name}"
        in listing.stdout
    )

    assert cli("outbox", "resolve", "zzzz").returncode == 3
    resolved = cli("outbox", "resolve", conflict["Id"][:8], "--note", "Kept by the teacher")
    assert resolved.returncode == 0, resolved.stderr
    assert f"Resolved: Transfer {DEMO.assigned_tag}" in resolved.stdout
    assert json.loads(cli("outbox", "--json").stdout) == {
        "Pending": [],
        "Attention": [],
        "Unreadable": [],
    }
    assert "Already resolved" in cli("outbox", "resolve", conflict["Id"]).stdout

    [row] = json.loads(cli("journal", "export", "--json").stdout)
    assert (row["state"], row["resolution_note"]) == ("conflict", "Kept by the teacher")
    assert row["resolved_at"] and row["conflict_owner_name"] == DEMO.staff_name


def test_the_list_needs_no_connection(cli: Runner) -> None:
    offline = {"IIQ_URL": None, "IIQ_TOKEN": None, "IIQ_SITE_ID": None}
    empty = cli("outbox", env=offline)
    assert empty.returncode == 0, empty.stderr
    assert "Nothing is waiting" in empty.stdout
    assert not default_path(cli.data_dir).exists()  # reading does not create the journal

    with Journal.open(default_path(cli.data_dir)) as journal:
        journal.record(free_checkout(attempts=3, last_error="Incident IQ did not answer."))
    listing = cli("outbox", env=offline)
    assert listing.returncode == 0, listing.stderr
    assert f"Give {DEMO.free_tag} to {DEMO.student_name}" in listing.stdout
    assert "pending, 3 tries: Incident IQ did not answer." in listing.stdout
    # Sending does need the connection, and says what is missing.
    no_site = cli("outbox", "--send", env=offline)
    assert no_site.returncode == 2 and "IIQ_URL" in no_site.stderr
