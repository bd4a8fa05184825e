"""`bulk FILE.csv` against the simulator: every bad row by line number, the results file,
reruns that send nothing twice, faults mid-file and a kill -9 mid-file."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

from clitools import Runner, config_text, mutations

from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.simulator.api import owner_changes


def fast(cli: Runner) -> None:
    cli.config.write_text(
        config_text() + "[journal]\nmin_interval_s = 0.01\n[outbox]\nverify_after_s = 1\n",
        encoding="utf-8",
    )


def free_pairs(sim: Simulator, n: int) -> list[tuple[str, str, str]]:
    """(tag, asset id, school ID) of unassigned available devices and active students."""
    devices = [
        a
        for a in sim.state.assets.values()
        if not a["OwnerId"]
        and a["StatusTypeId"] == DEMO.available_status_id
        and a["AssetTag"]
        and not a["IsDeleted"]
        and len(sim.state.asset_by_tag(a["AssetTag"])) == 1
    ]
    people = [
        u
        for u in sim.state.users.values()
        if u["IsActive"] and not u["IsDeleted"] and u["SchoolIdNumber"] and u["Grade"]
    ]
    devices.sort(key=lambda a: a["AssetTag"])
    people.sort(key=lambda u: u["SchoolIdNumber"])
    return [
        (a["AssetTag"], a["AssetId"], u["SchoolIdNumber"])
        for a, u in zip(devices[:n], people[:n], strict=True)
    ]


def results(path: Path) -> dict[int, str]:
    target = path.with_name(path.stem + ".results.csv")
    with target.open(encoding="utf-8-sig", newline="") as handle:
        return {int(r["line"]): r["outcome"] for r in csv.DictReader(handle)}


def test_every_bad_row_is_reported_by_line_and_the_rest_applied(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    (tag, asset_id, person), (tag2, _, person2) = free_pairs(sim, 2)
    source = tmp_path / "rows.csv"
    source.write_text(
        "asset_tag,person,action\n"  # line 1
        f"{tag},{person}\n"  # 2 applied
        f"{DEMO.unknown_tag},{person2}\n"  # 3 unknown tag
        f"{tag2},nobody-by-that-id\n"  # 4 unknown person
        f"{DEMO.free_tag},{DEMO.inactive_id}\n"  # 5 inactive
        f"{DEMO.free_tag},{DEMO.shared_name}\n"  # 6 device twice (and not one person)
        f"{tag},{person}\n"  # 7 repeated row
        f"{DEMO.duplicate_tag},{person2}\n"  # 8 two devices
        f"{DEMO.retired_tag},{person2}\n"  # 9 retired
        f",{person2}\n"  # 10 missing column
        f"{DEMO.assigned_tag},,checkin\n"  # 11 applied
        f"{DEMO.broken_tag},,explode\n",  # 12 unknown action
        encoding="utf-8",
    )
    result = cli("bulk", str(source), "--yes")
    assert result.returncode == 2, result.stderr
    outcomes = results(source)
    assert outcomes[2] == outcomes[11] == "applied"
    assert "no device has the tag" in outcomes[3]
    assert "no one has" in outcomes[4]
    assert "inactive" in outcomes[5]
    assert "also in line 5" in outcomes[6]
    assert "repeated row (the same as line 2)" in outcomes[7]
    assert "2 devices have the tag" in outcomes[8]
    assert "retired" in outcomes[9]
    assert "missing column" in outcomes[10]
    assert "unknown action" in outcomes[12]
    for line in (3, 4, 5, 7, 8, 9, 10, 12):
        assert f"Line {line}: refused" in result.stderr
    asset = sim.state.asset(asset_id)
    assert asset is not None and sim.state.user(asset["OwnerId"])["SchoolIdNumber"] == person  # type: ignore[index]
    assert len(owner_changes(sim.requests)) == 2

    dry = cli("bulk", str(source), "--dry-run")
    assert results(source)[2].startswith("skipped")
    assert dry.returncode == 2
    sent = len(mutations(sim))
    again = cli("bulk", str(source), "--yes")
    assert len(mutations(sim)) == sent  # the rerun sends nothing
    assert results(source)[2] == "skipped: already done (an earlier run of this file)"
    assert "2 skipped" in again.stdout


def test_faults_mid_file_are_retried_and_nothing_is_sent_twice(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    fast(cli)
    pairs = free_pairs(sim, 12)
    source = tmp_path / "faults.csv"
    source.write_text("".join(f"{t},{p}\n" for t, _, p in pairs), encoding="utf-8")
    sim.faults.add(Fault("status", method="POST", path_contains="checkout", times=2, status=503))
    sim.faults.add(Fault("rate_limit", method="POST", path_contains="checkout", times=2,
                         retry_after=0.2))  # fmt: skip
    result = cli("bulk", str(source), "--yes")
    assert result.returncode == 0, result.stderr
    assert set(results(source).values()) == {"applied"}
    for tag, asset_id, _person in pairs:
        asset = sim.state.asset(asset_id)
        assert asset is not None and asset["OwnerId"], tag
    applied = {k: [r for r in v if r.applied] for k, v in owner_changes(sim.requests).items()}
    assert all(len(v) == 1 for v in applied.values())
    assert len(applied) == len(pairs)


def test_a_kill_mid_file_then_a_rerun_loses_nothing_and_sends_nothing_twice(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    fast(cli)
    pairs = free_pairs(sim, 30)
    source = tmp_path / "kill.csv"
    source.write_text("".join(f"{t},{p}\n" for t, _, p in pairs), encoding="utf-8")
    sim.latency_ms = 40
    process = cli.start("bulk", str(source), "--yes")
    deadline = time.monotonic() + 60
    while len(owner_changes(sim.requests)) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_before = len(owner_changes(sim.requests))
    assert 0 < done_before < len(pairs)
    sim.latency_ms = 0
    result = cli("bulk", str(source), "--yes")
    assert result.returncode == 0, result.stderr
    outcomes = results(source)
    assert all(o == "applied" or o.startswith("skipped") for o in outcomes.values()), outcomes
    for _, asset_id, person in pairs:
        asset = sim.state.asset(asset_id)
        assert asset is not None
        assert sim.state.user(asset["OwnerId"])["SchoolIdNumber"] == person  # type: ignore[index]
    applied = {k: [r for r in v if r.applied] for k, v in owner_changes(sim.requests).items()}
    assert len(applied) == len(pairs)
    assert all(len(v) == 1 for v in applied.values()), applied
