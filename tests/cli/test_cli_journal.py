"""`journal export` (table, CSV, JSON, --since) and `journal purge`: the audit report of
what was changed at this computer, readable while the kiosk runs, and the retention."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clitools import Runner

from kiosk import cli
from kiosk.core.changes import Change, ChangeKind, ChangeState
from kiosk.core.journal import EXPORT_COLUMNS, Journal, default_path
from kiosk.simulator import DEMO, Simulator


def journal_path() -> Path:
    return default_path(Path(os.environ["IIQ_KIOSK_DATA"]))


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def change(tag: str, when: datetime, state: ChangeState = ChangeState.DONE) -> Change:
    return Change(
        kind=ChangeKind.CHECKOUT,
        asset_id=f"asset-{tag}",
        asset_tag=tag,
        from_owner_id=None,
        to_owner_id="user-1",
        to_owner_name="Pat Doe",
        station="Front office",
        operator="Ms. Rivera",
        created_at=iso(when),
        updated_at=iso(when),
        state=state,
    )


@pytest.fixture
def journal_rows() -> dict[str, Change]:
    """A journal with changes at noon on 10 January 2025 (one still waiting), one in March
    2025 and one an hour ago."""
    local = datetime(2025, 1, 10, 12, 0).astimezone()
    rows = {
        "JAN": change("JAN", local),
        "MAR": change("MAR", datetime(2025, 3, 1, 9, 30).astimezone()),
        "NOW": change("NOW", datetime.now(UTC) - timedelta(hours=1)),
        "WAIT": change("WAIT", local, ChangeState.PENDING),
    }
    with Journal.open(journal_path()) as journal:
        for row in rows.values():
            journal.record(row)
    return rows


def exported() -> dict[str, dict[str, object]]:
    with Journal.open(journal_path(), lock=False) as journal:
        return {str(row["asset_tag"]): row for row in journal.export()}


# --- in this process --------------------------------------------------------------------


def test_since_keeps_changes_from_that_day_on(
    journal_rows: dict[str, Change], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["journal", "export", "--since", "2025-01-11", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["asset_tag"] for r in rows] == ["MAR", "NOW"]
    assert list(rows[0]) == list(EXPORT_COLUMNS)

    target = tmp_path / "audit.csv"
    assert cli.main(["journal", "export", "--since", "2025-01-10", "--csv", str(target)]) == 0
    assert "4 changes written to" in capsys.readouterr().err
    with target.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == list(EXPORT_COLUMNS)
        tags = [r["asset_tag"] for r in reader]
    assert tags == ["JAN", "MAR", "NOW", "WAIT"]  # the whole day, local time
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, for Excel


def test_the_table_and_an_empty_journal(
    journal_rows: dict[str, Change], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["journal", "export", "--since", "2025-02-01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "Time",
        "Station",
        "Operator",
        "Change",
        "Device",
        "From",
        "To",
        "State",
    ]
    first = lines[1].split()
    assert first[:8] == [
        "2025-03-01",
        "09:30",
        "Front",
        "office",
        "Ms.",
        "Rivera",
        "check-out",
        "MAR",
    ]
    assert first[-4:] == ["-", "Pat", "Doe", "done"]
    assert cli.main(["journal", "export", "--since", "2099-01-01"]) == 0
    assert capsys.readouterr().out.strip() == "No changes in the journal since 2099-01-01."


def test_no_journal_yet_is_an_empty_report_and_is_not_created(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["journal", "export", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["journal", "purge"]) == 0
    assert "from 0 changes" in capsys.readouterr().out
    assert not journal_path().exists()


@pytest.mark.parametrize("text", ["yesterday", "2025-02-30", "01/02/2025", "2025-1-2"])
def test_a_bad_date_exits_2_and_says_the_format(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["journal", "export", "--since", text]) == 2
    err = capsys.readouterr().err
    assert f"“{text}” is not a date" in err and "YYYY-MM-DD" in err


def test_purge_blanks_names_of_settled_changes_past_retention(
    journal_rows: dict[str, Change], capsys: pytest.CaptureFixture[str]
) -> None:
    # Default: [journal] retention_days (365): January and March 2025 are past it.
    assert cli.main(["journal", "purge"]) == 0
    assert "Personal data purged from 2 changes settled more than 365 days ago." in (
        capsys.readouterr().out
    )
    rows = exported()
    for tag in ("JAN", "MAR"):
        assert rows[tag]["to_owner_name"] is None and rows[tag]["purged_at"]
        assert rows[tag]["to_owner_id"] == "user-1" and rows[tag]["operator"] == "Ms. Rivera"
    assert rows["NOW"]["to_owner_name"] == "Pat Doe"
    assert rows["WAIT"]["to_owner_name"] == "Pat Doe"  # still to be sent: never purged

    assert cli.main(["journal", "purge", "--older-than-days", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"Purged": 1, "OlderThanDays": 0}
    assert exported()["NOW"]["to_owner_name"] is None
    assert cli.main(["journal", "purge", "--older-than-days", "-3"]) == 2


def test_export_and_purge_work_while_the_kiosk_holds_the_journal(
    journal_rows: dict[str, Change], capsys: pytest.CaptureFixture[str]
) -> None:
    with Journal.open(journal_path(), lock=True):
        assert cli.main(["journal", "export", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 4
        assert cli.main(["journal", "purge"]) == 0
        # Resolving changes what the window counts: that one needs the journal.
        assert cli.main(["outbox", "resolve", journal_rows["JAN"].id]) == 2
        assert "owns the journal" in capsys.readouterr().err


def test_only_conflicts_and_failures_are_resolved(
    journal_rows: dict[str, Change], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["outbox", "resolve", journal_rows["JAN"].id]) == 2
    assert "only conflicts and failures are resolved by hand" in capsys.readouterr().err


# --- the real command -------------------------------------------------------------------


def test_csv_report_of_changes_made_from_the_command_line(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    station = {"IIQ_KIOSK_STATION": "Library desk"}
    out = cli(
        "checkout",
        DEMO.free_tag,
        "--to",
        DEMO.student_id,
        "--yes",
        "--operator",
        "Ms. Rivera",
        env=station,
    )
    assert out.returncode == 0, out.stderr
    back = cli("checkin", DEMO.assigned_tag, "--condition", "damaged", "--yes", env=station)
    assert back.returncode == 0, back.stderr

    target = tmp_path / "report.csv"
    result = cli("journal", "export", "--csv", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    with target.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == list(EXPORT_COLUMNS)
        given, returned = list(reader)
    assert {k: given[k] for k in ("kind", "station", "operator", "asset_tag", "state")} == {
        "kind": "checkout",
        "station": "Library desk",
        "operator": "Ms. Rivera",
        "asset_tag": DEMO.free_tag,
        "state": "done",
    }
    assert (given["from_owner_id"], given["to_owner_id"]) == ("", DEMO.student_user_id)
    assert given["to_owner_name"] == DEMO.student_name and given["attempts"] == "1"
    assert (returned["kind"], returned["operator"], returned["condition"]) == (
        "checkin",
        "",
        "damaged",
    )
    assert returned["from_owner_name"] == DEMO.assigned_owner_name
    assert returned["ticket_number"]  # the repair ticket is in the report
    assert given["created_at"] <= returned["created_at"]
