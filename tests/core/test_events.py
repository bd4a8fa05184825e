"""Event packs against the simulator over loopback: prepare (paging, scope, resume), the
pack's lookups, progress with the real change desk, two stations, refresh, privacy,
expiry, close, and audit scans."""

from __future__ import annotations

import asyncio
import itertools
import json
import stat
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.core.changes import Condition
from kiosk.core.events import (
    AuditVerdict,
    EventExistsError,
    EventKind,
    EventPack,
    EventScope,
    RateGate,
    expire_packs,
    pack_files,
    pack_path,
    prepare,
    read_journal,
)
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.iiq.errors import NetworkError
from kiosk.simulator import DEMO, Simulator
from kiosk.simulator.demo import ROLE_STUDENT
from kiosk.simulator.faults import Fault
from kiosk.wiring import build_services
from tests.conftest import run

GRADE7 = EventScope(locations=("Roosevelt Middle School",), grades=("07",), roles=("Student",))


def client_for(sim: Simulator, attempts: int = 4) -> IIQClient:
    return IIQClient(
        Connection(sim.url, sim.site_id, sim.token),
        retry=RetryPolicy(attempts=attempts, base_delay=0.01),
        offline_probe_s=None,
    )


def query_pages(sim: Simulator) -> list[tuple[str, str, str]]:
    """(route, $p, body) of each query page the simulator answered."""
    return [
        (r.path, r.query.get("$p", ""), json.dumps(r.json, sort_keys=True))
        for r in sim.requests
        if r.method == "POST" and r.path in ("/users", "/assets") and r.status == 200
    ]


def grade7_truth(sim: Simulator) -> tuple[set[str], set[str]]:
    """(user ids, asset ids) of grade 7 students at RMS and their devices, from the
    simulator's own records."""
    state = sim.state
    rms = next(k for k, v in state.locations.items() if v["Name"] == "Roosevelt Middle School")
    people = {
        u["UserId"]
        for u in state.users.values()
        if u["Grade"] == "07"
        and u["LocationId"] == rms
        and u["RoleId"] == ROLE_STUDENT
        and not u["IsDeleted"]
    }
    devices = {
        a["AssetId"] for a in state.assets.values() if a["OwnerId"] in people and not a["IsDeleted"]
    }
    return people, devices


async def _prepare(sim: Simulator, path: Path, **kw: object) -> EventPack:
    async with client_for(sim) as client:
        return await prepare(client, path, "Grade 7", EventKind.COLLECT, GRADE7, **kw)  # type: ignore[arg-type]


def test_collect_prepare_pages_through_a_capped_page_size_with_the_scope_as_sent(
    sim: Simulator, tmp_path: Path
) -> None:
    sim.asset_query_page_cap = 20
    seen: list[tuple[int, int, int | None]] = []
    pack = run(
        _prepare(sim, tmp_path / "g7.sqlite3", page_size=50,
                 progress=lambda p: seen.append((p.rows, p.pages, p.total)))
    )  # fmt: skip
    people, devices = grade7_truth(sim)
    with pack:
        assert {p.user_id for p in pack.people()} == people
        assert {d.asset_id for d in pack.devices()} == devices
        assert pack.ready
    users = [r for r in sim.requests if r.path == "/users"]
    body = users[0].json
    facets = {(f["Facet"], f.get("Id") or f.get("Value"), f["GroupIndex"]) for f in body["Filters"]}
    assert ("grade", "07", 2) in facets and (
        "role",
        "6d5fee76-e05e-43c0-b8e9-b8447746e501",
        0,
    ) in facets
    assert any(f[0] == "location" and f[2] == 1 for f in facets)
    assets = [r for r in sim.requests if r.path == "/assets"]
    # The cap made pages of 20, not the 50 asked for: Paging was followed to the end.
    assert len(assets) > len(devices) // 50 + 1
    assert all(f["Facet"] == "user" for r in assets for f in r.json["Filters"])
    pages = query_pages(sim)
    assert len(pages) == len(set(pages))  # no page read twice
    assert seen[-1][0] == len(people) + len(devices) and seen[-1][1] == len(pages)


def test_a_dropped_connection_mid_prepare_resumes_without_reading_a_page_twice(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "g7.sqlite3"
    sim.asset_query_page_cap = 10
    pages_done = 0

    def interrupt(_: object) -> None:
        nonlocal pages_done
        pages_done += 1
        if pages_done == 4:  # the connection drops for good from here on
            sim.faults.add(Fault("drop", path_contains="/assets", times=None))

    async def first() -> None:
        async with client_for(sim, attempts=2) as client:
            await prepare(client, path, "Grade 7", EventKind.COLLECT, GRADE7, page_size=50,
                          progress=interrupt)  # fmt: skip

    with pytest.raises(NetworkError):
        run(first())
    before = query_pages(sim)
    assert len(before) == 4
    sim.faults.clear()
    pack = run(_prepare(sim, path, page_size=50))
    after = query_pages(sim)
    assert len(after) == len(set(after))  # nothing read twice, across both runs
    people, devices = grade7_truth(sim)
    with pack:
        assert {d.asset_id for d in pack.devices()} == devices
        assert len(pack.people()) == len(people)
    # Prepared is prepared: a third run refuses instead of reading again.
    with pytest.raises(EventExistsError):
        run(_prepare(sim, path))


def test_lookups_and_type_ahead_answer_from_the_pack(sim: Simulator, tmp_path: Path) -> None:
    pack = run(_prepare(sim, tmp_path / "g7.sqlite3"))
    with pack:
        assert [p.name for p in pack.search_people("ana ru")] == [DEMO.student_name]
        assert [p.name for p in pack.search_people("RUIZ")][:1] == [DEMO.student_name]
        assert pack.search_people("rúiz a")[0].name == DEMO.student_name  # accents, order
        assert pack.search_people("zzzq") == []
        hits = pack.search_people("a", limit=5)
        assert len(hits) == 5 and len({h.user_id for h in hits}) == 5
        for code in (DEMO.student_id, DEMO.student_email.upper(), DEMO.student_username):
            person = pack.person_by_code(code)
            assert person is not None and person.name == DEMO.student_name
        assert pack.person_by_code("000000") is None
        devices = pack.device_by_code("cb-004513")
        assert [d.tag for d in devices] == [DEMO.assigned_tag]
        assert [d.tag for d in pack.device_by_code(DEMO.assigned_serial)] == [DEMO.assigned_tag]
        started = time.perf_counter()
        for _ in range(200):
            pack.search_people("mar")
        assert (time.perf_counter() - started) / 200 < 0.005


def _settings(sim: Simulator, data: Path, station: str):  # type: ignore[no-untyped-def]
    return load_settings(
        overrides={
            "iiq": {"url": sim.url, "site_id": sim.site_id},
            "station": {"name": station},
            "checkin": {"status_name": "Available", "location_id": DEMO.storeroom_location_id},
            "tickets": {
                "issue_id": DEMO.ticket_issue_id,
                "issue_category_id": DEMO.ticket_issue_category_id,
                "issue_type_id": DEMO.ticket_issue_type_id,
                "wizard_category_id": DEMO.ticket_wizard_category_id,
            },
            "journal": {"min_interval_s": 0.0},
        }
    ).model_copy(update={"data_dir": data})


async def _checkin(sim: Simulator, data: Path, station: str, tags: list[str],
                   condition: Condition = Condition.GOOD) -> None:  # fmt: skip
    settings = _settings(sim, data, station)
    services = await build_services(settings, sim.token, confirm_pause_s=0.0)
    try:
        for tag in tags:
            asset = (await services.transactions.find_device(tag)).assets[0]
            change = await services.transactions.checkin_change(asset, condition=condition)
            outcome = await services.desk.submit(change)
            assert outcome.state.value == "done", outcome.change.last_error
    finally:
        await services.aclose()


def test_two_stations_progress_counts_own_journal_at_once_and_the_other_after_refresh(
    sim: Simulator, tmp_path: Path
) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    pack_a = run(_prepare(sim, pack_path(a_dir, "Grade 7")))
    pack_b = run(_prepare(sim, pack_path(b_dir, "Grade 7")))
    tags = sorted(d.tag or "" for d in pack_a.devices())
    run(_checkin(sim, a_dir, "Gym 1", tags[:3]))
    run(_checkin(sim, b_dir, "Gym 2", tags[3:5], Condition.DAMAGED))
    rows_a = read_journal(_settings(sim, a_dir, "Gym 1").journal_path, pack_a.prepared_at)
    progress = pack_a.progress(rows_a)
    assert (progress.done, progress.local_changes) == (3, 3)  # its own, before any refresh
    result = run(_refresh(sim, pack_a))
    assert result.changed == 5
    progress = pack_a.progress(rows_a)
    truth = sum(
        1 for d in pack_a.devices() if not (sim.state.asset(d.asset_id) or {}).get("OwnerId")
    )
    assert progress.done == truth == 5 and progress.local_changes == 0
    assert progress.left == len(tags) - 5
    assert sum(g.done for g in progress.groups) == 5
    rows_b = read_journal(_settings(sim, b_dir, "Gym 2").journal_path, pack_b.prepared_at)
    report = pack_a.report(rows_a + rows_b)
    assert {d.tag for d in report.outstanding} == set(tags[5:])
    holders = {d.holder_id for d in report.outstanding}
    assert all(
        (sim.state.asset(d.asset_id) or {}).get("OwnerId") in holders for d in report.outstanding
    )
    assert {d.tag for d in report.damaged} == set(tags[3:5])
    tickets = {str(t["TicketNumber"]) for t in sim.state.tickets}
    assert all(d.ticket_number in tickets for d in report.damaged)
    assert {(c.station, c.checkins, c.damaged) for c in report.stations} == {
        ("Gym 1", 3, 0),
        ("Gym 2", 2, 2),
    }
    pack_a.release()
    pack_b.release()


async def _refresh(sim: Simulator, pack: EventPack):  # type: ignore[no-untyped-def]
    async with client_for(sim) as client:
        return await pack.refresh(client, batch_size=30, min_interval_s=0.02)


def test_refresh_stays_under_the_rate_and_reads_by_tag(sim: Simulator, tmp_path: Path) -> None:
    pack = run(_prepare(sim, tmp_path / "g7.sqlite3"))
    sim.clear_requests()
    run(_refresh(sim, pack))
    reads = [r for r in sim.requests if r.path == "/assets"]
    assert len(reads) >= 3  # 85 devices, 30 tags a query
    assert all(f["Facet"] == "assettag" for r in reads for f in r.json["Filters"])
    gaps = [b.time - a.time for a, b in itertools.pairwise(reads)]
    assert min(gaps) >= 0.018
    assert pack.refreshed_at is not None
    pack.release()


def test_rate_gate_spaces_request_starts() -> None:
    async def go() -> list[float]:
        gate = RateGate(0.03)
        starts = []
        for _ in range(5):
            await gate.wait()
            starts.append(time.monotonic())
        return starts

    starts = asyncio.run(go())
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.029


def test_distribute_holds_the_waiting_devices_and_the_people_without_one(
    sim: Simulator, tmp_path: Path
) -> None:
    scope = EventScope(locations=("RMS",), roles=("Student",), devices_at="IT Storeroom")

    async def go() -> EventPack:
        async with client_for(sim) as client:
            return await prepare(client, tmp_path / "d.sqlite3", "Hand-out", EventKind.DISTRIBUTE,
                                 scope)  # fmt: skip

    pack = run(go())
    state = sim.state
    waiting = {
        a["AssetId"]
        for a in state.assets.values()
        if a["LocationId"] == DEMO.storeroom_location_id and not a["OwnerId"] and not a["IsDeleted"]
    }
    owners = {a["OwnerId"] for a in state.assets.values() if a["OwnerId"] and not a["IsDeleted"]}
    rms = DEMO.free_location_id
    without = {
        u["UserId"]
        for u in state.users.values()
        if u["LocationId"] == rms
        and u["RoleId"].endswith("e501")
        and u["IsActive"]
        and not u["IsDeleted"]
        and u["UserId"] not in owners
    }
    with pack:
        assert {d.asset_id for d in pack.devices()} == waiting
        assert {p.user_id for p in pack.people()} == without
        progress = pack.progress()
        assert (progress.total, progress.done, progress.devices_done) == (len(without), 0, 0)
        assert "still without a device" in progress.headline()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_pack_is_private_and_close_leaves_no_file(sim: Simulator, tmp_path: Path) -> None:
    path = pack_path(tmp_path, "Grade 7")
    pack = run(_prepare(sim, path))
    pack.search_people("ana")
    for part in pack_files(path):
        if part.exists():
            assert stat.S_IMODE(part.stat().st_mode) == 0o600, part
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert pack.close()
    assert not any(p.exists() for p in pack_files(path))
    assert list(path.parent.iterdir()) == []


def test_packs_expire_after_keep_days(sim: Simulator, tmp_path: Path) -> None:
    old = run(_prepare(sim, pack_path(tmp_path, "Old")))
    old.release()
    new = run(_prepare(sim, pack_path(tmp_path, "New")))
    new.release()
    later = datetime.now(UTC) + timedelta(days=3)
    assert expire_packs(tmp_path, 7, later) == []
    removed = expire_packs(tmp_path, 2, later)
    assert sorted(p.name for p in removed) == ["new.sqlite3", "old.sqlite3"]
    assert list((tmp_path / "events").iterdir()) == []


def test_audit_scans_say_here_misplaced_unknown_and_count_once(
    sim: Simulator, tmp_path: Path
) -> None:
    scope = EventScope(devices_at="IT Storeroom")

    async def go() -> EventPack:
        async with client_for(sim) as client:
            return await prepare(
                client, tmp_path / "a.sqlite3", "Storeroom", EventKind.AUDIT, scope
            )

    pack = run(go())
    with pack:
        expected = pack.devices()
        here = expected[0]
        first = pack.audit_scan(here.tag or "", station="Walk 1")
        again = pack.audit_scan((here.tag or "").lower(), station="Walk 1")
        assert first.verdict is AuditVerdict.HERE and first.first_scan
        assert again.verdict is AuditVerdict.HERE and not again.first_scan
        assert first.sentence() == f"{here.tag} belongs here."
        # A device Incident IQ has elsewhere: misplaced, and where it belongs.
        elsewhere = run(_find(sim, DEMO.free_tag))
        misplaced = pack.audit_scan(DEMO.free_tag, station="Walk 1", asset=elsewhere)
        assert misplaced.verdict is AuditVerdict.MISPLACED
        assert (
            misplaced.sentence()
            == f"{DEMO.free_tag} is misplaced: it belongs at {DEMO.free_location_name}."
        )
        unknown = pack.audit_scan(DEMO.unknown_tag, station="Walk 1")
        assert unknown.verdict is AuditVerdict.UNKNOWN
        missing = pack.audit_missing()
        assert len(missing) == len(expected) - 1 and here.asset_id not in {
            d.asset_id for d in missing
        }
        progress = pack.progress()
        assert (progress.done, progress.misplaced, progress.unknown) == (1, 1, 1)
        assert len(pack.audit_seen()) == 3


async def _find(sim: Simulator, tag: str):  # type: ignore[no-untyped-def]
    async with client_for(sim) as client:
        return (await client.assets_by_tag(tag))[0]
