"""Event prepare: a 5,000-person, 5,000-device collect scope at 50 ms latency, against the
paged-query floor measured in the same run (the same requests replayed one after the other
by a bare httpx loop: pages x latency plus the simulator's own work).

    python bench/event_prepare.py [--people 5000] [--latency-ms 50]

The seeded district is grown in process: `--people` students of grade "EV" at Roosevelt
Middle School, each holding one new device. Targets: wall time <= 1.3x the floor; no two
requests started closer than `[events] min_interval_s`; every person and device stored.
Prints requests, pages, pack size on disk."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import Targets

from kiosk.config import EventSettings
from kiosk.core.events import EventKind, EventScope, prepare
from kiosk.iiq.client import Connection, IIQClient
from kiosk.simulator import Simulator
from kiosk.simulator.dataset import new_asset, new_user
from kiosk.simulator.demo import ROLE_STUDENT


def grow(sim: Simulator, people: int) -> None:
    with sim.state.lock:
        for n in range(people):
            user_id = f"00000000-0000-4000-9000-{n:012d}"
            sim.state.users[user_id] = new_user(
                user_id,
                f"First{n % 97}",
                f"Last{n:05d}",
                role_id=ROLE_STUDENT,
                location="RMS",
                email=f"ev{n}@students.example.org",
                username=f"ev{n}",
                school_id=f"8{n:06d}",
                grade="EV",
                homeroom=f"Room {100 + n % 30}",
            )
            asset = new_asset(
                f"00000000-0000-4000-a000-{n:012d}",
                f"EV-{n:06d}",
                "dell-3110",
                f"EVS{n:08d}",
                "RMS",
                status="Assigned",
                owner_id=user_id,
            )
            sim.state.assets[asset["AssetId"]] = asset


async def ours(sim: Simulator, path: Path, interval: float) -> float:
    scope = EventScope(locations=("Roosevelt Middle School",), grades=("EV",), roles=("Student",))
    async with IIQClient(Connection(sim.url, sim.site_id, sim.token)) as client:
        started = time.perf_counter()
        pack = await prepare(
            client, path, "Bench", EventKind.COLLECT, scope, min_interval_s=interval
        )
        elapsed = time.perf_counter() - started
    with pack:
        people, devices = pack.counts()
        print(f"pack: {people} people, {devices} devices, {pack.size_bytes() / 1e6:.2f} MB on disk")
    return elapsed


async def floor(sim: Simulator, calls: list[tuple[str, str, dict[str, str], object]]) -> float:
    async with httpx.AsyncClient(base_url=sim.api_url, headers=sim.auth_headers(), timeout=60) as c:
        started = time.perf_counter()
        for method, path, query, body in calls:
            reply = await c.request(method, path, params=query, json=body)
            reply.json()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    targets = Targets()
    interval = EventSettings().min_interval_s
    with Simulator() as sim, tempfile.TemporaryDirectory() as folder:
        grow(sim, args.people)
        sim.latency_ms = args.latency_ms
        sim.clear_requests()
        our_s = asyncio.run(ours(sim, Path(folder) / "bench.sqlite3", interval))
        sent = sim.requests
        pages = [r for r in sent if r.path in ("/users", "/assets")]
        calls = [(r.method, r.path, r.query, r.json) for r in sent]
        sim.clear_requests()
        floor_s = asyncio.run(floor(sim, calls))
    gaps = [b.time - a.time for a, b in itertools.pairwise(sent)]
    theory = len(sent) * args.latency_ms / 1000
    print(f"requests {len(sent)} ({len(pages)} query pages, {len(sent) - len(pages)} name lookups)")
    print(
        f"prepare {our_s:.2f} s; floor (same requests, bare httpx loop) {floor_s:.2f} s; "
        f"requests x latency {theory:.2f} s"
    )
    print(
        f"closest two request starts {min(gaps) * 1000:.1f} ms "
        f"(configured {interval * 1000:.0f} ms)"
    )
    ratio = our_s / floor_s
    targets.check(ratio <= 1.3, f"wall {ratio:.2f}x the floor (<= 1.3x)")
    targets.check(min(gaps) >= interval - 0.002, f"min gap {min(gaps) * 1000:.1f} ms >= rate")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
