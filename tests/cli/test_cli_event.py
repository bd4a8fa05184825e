"""`event` and `audit` verbs, run as a person runs them (a subprocess against the
simulator): prepare with a kill half-way and a rerun, show, report after check-ins,
close, and an audit walk."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from clitools import Runner

from kiosk.simulator import DEMO

PREPARE = [
    "event", "prepare", "Grade 7", "--kind", "collect", "--location", "Roosevelt Middle School",
    "--grade", "07", "--role", "Student",
]  # fmt: skip


def _pages(cli: Runner) -> list[tuple[str, str, str]]:
    return [
        (r.path, r.query.get("$p", ""), json.dumps(r.json, sort_keys=True))
        for r in cli.sim.requests
        if r.method == "POST" and r.path in ("/users", "/assets") and r.status == 200
    ]


def test_prepare_show_report_and_close(cli: Runner) -> None:
    done = cli(*PREPARE)
    assert done.returncode == 0, done.stderr
    assert "prepared" in done.stdout and "102 people, 85 devices" in done.stdout
    again = cli(*PREPARE)
    assert again.returncode == 2 and "prepared already" in again.stderr
    listed = cli("event", "list")
    assert "Grade 7" in listed.stdout and "collect" in listed.stdout

    back = cli("checkin", DEMO.assigned_tag, "--yes")
    assert back.returncode == 0, back.stderr
    shown = cli("event", "show", "grade 7")
    assert shown.returncode == 0, shown.stderr
    assert "1 returned, 84 still out (of 85)" in shown.stdout  # this station's journal, at once

    out_csv = cli.data_dir / "out.csv"
    report = cli("event", "report", "Grade 7", "--csv", str(out_csv))
    assert report.returncode == 0, report.stderr
    with out_csv.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    still_out = {r["AssetTag"] for r in rows if r["Section"] == "still out"}
    truth = {
        a["AssetTag"]
        for a in cli.sim.state.assets.values()
        if a["OwnerId"] and a["AssetTag"] in still_out | {DEMO.assigned_tag}
    }
    assert DEMO.assigned_tag not in still_out and still_out == truth and len(still_out) == 84
    as_json = json.loads(cli("event", "report", "Grade 7", "--json").stdout)
    assert as_json["Stations"][0]["Checkins"] == 1
    assert as_json["Progress"]["Done"] == 1

    closed = cli("event", "close", "Grade 7")
    assert closed.returncode == 0 and "deleted" in closed.stdout
    assert list((cli.data_dir / "events").iterdir()) == []
    missing = cli("event", "show", "Grade 7")
    assert missing.returncode == 3 and "no event" in missing.stderr


def test_a_killed_prepare_goes_on_where_it_stopped(cli: Runner) -> None:
    cli.sim.asset_query_page_cap = 5
    cli.sim.latency_ms = 60
    process = cli.start(*PREPARE)
    deadline = time.monotonic() + 30
    while len(_pages(cli)) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()
    process.wait()
    time.sleep(0.3)  # the request in flight at the kill is answered into a closed socket
    first = _pages(cli)
    assert 6 <= len(first) < 20
    cli.sim.latency_ms = 0
    rerun = cli(*PREPARE)
    assert rerun.returncode == 0, rerun.stderr
    assert "(resumed)" in rerun.stdout and "85 devices" in rerun.stdout
    pages = _pages(cli)
    repeated = [p for p in set(pages) if pages.count(p) > 1]
    # At most the page in flight when it was killed (answered, never stored) is read again.
    assert len(repeated) <= 1 and all(p == first[-1] for p in repeated)


def test_an_unknown_location_is_refused_with_the_closest(cli: Runner) -> None:
    done = cli("event", "prepare", "X", "--kind", "collect", "--location", "Roosevelt Midle")
    assert done.returncode == 2
    assert "Roosevelt Middle School" in done.stderr and "Nothing was read" in done.stderr
    assert not (cli.data_dir / "events" / "x.sqlite3").exists()


def test_audit_walk_and_report(cli: Runner) -> None:
    prepared = cli("event", "prepare", "Store", "--kind", "audit", "--devices-at", "IT Storeroom")
    assert prepared.returncode == 0, prepared.stderr
    expected = [
        a["AssetTag"]
        for a in cli.sim.state.assets.values()
        if a["LocationId"] == DEMO.storeroom_location_id and not a["IsDeleted"]
    ]
    scan = cli("audit", "scan", "Store", expected[0], expected[0], DEMO.free_tag, DEMO.unknown_tag)
    assert scan.returncode == 4, scan.stderr
    lines = scan.stdout.splitlines()
    assert lines[0] == f"{expected[0]} belongs here."
    assert lines[1] == f"{expected[0]} belongs here (scanned before: counted once)."
    assert lines[2] == f"{DEMO.free_tag} is misplaced: it belongs at {DEMO.free_location_name}."
    assert lines[3] == f"{DEMO.unknown_tag} is not known to this audit or Incident IQ."
    assert f"1 of {len(expected)} seen, 1 misplaced, 1 unknown" in lines[4]
    report = cli("audit", "report", "Store", "--json")
    assert report.returncode == 4
    data = json.loads(report.stdout)
    assert data["Seen"] == 1 and len(data["NotSeen"]) == len(expected) - 1
    assert expected[0] not in {d["AssetTag"] for d in data["NotSeen"]}
    assert [m["AssetTag"] for m in data["Misplaced"]] == [DEMO.free_tag]
    assert not [
        r for r in cli.sim.requests if r.method == "POST" and r.path not in ("/users", "/assets")
    ]


def test_pack_files_are_user_only(cli: Runner, tmp_path: Path) -> None:
    import stat
    import sys

    if sys.platform == "win32":
        return
    assert cli(*PREPARE).returncode == 0
    for part in (cli.data_dir / "events").iterdir():
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
