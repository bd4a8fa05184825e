"""Soak: 3 stations, 1,000 changes, 20% injected faults of every kind; then the drain of a
1,000-change outbox built up while Incident IQ was unreachable.

    python bench/soak.py [--changes 1000] [--stations 3] [--fault-rate 0.2] [--conflicts 30]
                         [--drain-changes 1000] [--min-interval 0.2] [--seed 7]

Part 1: each station (its own client, ChangeService, journal and outbox) works through its
own devices like a busy operator: check out, transfer, check in, 1-3 changes per device in
order. The simulator fails 20% of ALL requests (503 before applying, dropped connections,
429 with Retry-After, applied-then-503, applied-then-dropped) and answers with 5 ms latency.
Some devices get a new owner "in the web app" after they were scanned here: those changes
must become conflicts and must not be forced. Checked from the simulator's own records:
every change done or reported as a conflict (lost 0), owner-changing requests that the server
applied = changes done (applied twice 0), final owners = the intended ones.

Part 2: a station queues `--drain-changes` changes while the simulator is stopped, then the
simulator starts again; the sender finds out by itself (no nudge: its next try after the
backoff, at most `--offline-backoff-max`) and drains at its configured rate
(`--min-interval`). Prints when the first change got through and when the outbox was empty.
Both parts run side by side (part 2 mostly waits) to stay under 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import Targets

from kiosk.core.changes import Change, ChangeKind, ChangeService, ChangeState
from kiosk.core.journal import AsyncJournal, Journal
from kiosk.core.outbox import Outbox
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, RecordedRequest, Simulator, owner_changes

try:
    from kiosk.core.changes import owner_change as planned_owner_change
except ImportError:  # a kiosk whose changes carry no plan of steps
    planned_owner_change = None

RETRY = RetryPolicy(base_delay=0.05, max_delay=2.0)


@dataclass
class Station:
    name: str
    client: IIQClient
    journal: AsyncJournal
    outbox: Outbox
    plan: list[Change] = field(default_factory=list)
    conflicts_made: set[str] = field(default_factory=set)  # change ids
    behind_back: dict[str, str] = field(default_factory=dict)  # asset id -> new owner


async def open_station(
    sim: Simulator, name: str, path: Path, outbox_kw: dict[str, float]
) -> Station:
    client = IIQClient(
        Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token, read_timeout=5.0),
        retry=RETRY,
    )
    journal = await AsyncJournal.open(path)
    outbox = Outbox(journal, ChangeService(client).apply, **outbox_kw)
    return Station(name, client, journal, outbox)


async def close_station(station: Station) -> None:
    await station.client.aclose()
    await station.journal.aclose()


def owner_change(
    asset_id: str, tag: str, from_owner: str | None, to_owner: str | None, *, station: str
) -> Change:
    """A check-out/transfer (`to_owner` set) or a plain check-in. A newer `Change` carries
    its plan of steps (`kiosk.core.changes.owner_change` builds it); an older one is the
    bare record."""
    if planned_owner_change is not None:
        return planned_owner_change(asset_id, tag, from_owner, to_owner, station=station)
    kind = ChangeKind.CHECKOUT if to_owner else ChangeKind.CHECKIN
    return Change(kind, asset_id, tag, from_owner, to_owner, station=station)


def outbox_options(**options: float) -> dict[str, float]:
    """Outbox options under the names this version of `Outbox` takes: the wait after an
    ambiguous failure is `settle_s` (older) or `verify_after_s` (newer, counted from the
    start of the try)."""
    accepted = inspect.signature(Outbox).parameters
    wait = options.pop("settle_s", None)
    if wait is not None:
        options["verify_after_s" if "verify_after_s" in accepted else "settle_s"] = wait
    return options


def free_devices(sim: Simulator) -> list[str]:
    demo = {DEMO.free_asset_id}
    return sorted(
        a["AssetId"]
        for a in sim.state.assets.values()
        if a["OwnerId"] is None and not a["IsDeleted"] and a["AssetId"] not in demo
    )


def plan_station(
    station: Station,
    sim: Simulator,
    devices: list[str],
    users: list[str],
    n_changes: int,
    n_conflicts: int,
    rng: random.Random,
) -> None:
    """Chains of 1-3 changes per device, interleaved; conflicts on one-change chains."""
    chains: list[list[Change]] = []
    total = 0
    singles: list[Change] = []
    for asset_id in devices:
        if total >= n_changes:
            break
        length = min(rng.choice((1, 2, 3)), n_changes - total)
        tag = sim.state.assets[asset_id]["AssetTag"]
        a, b = rng.sample(users, 2)
        chain = [owner_change(asset_id, tag, None, a, station=station.name)]
        if length == 3:
            chain.append(owner_change(asset_id, tag, a, b, station=station.name))
        if length >= 2:
            last = chain[-1].to_owner_id
            chain.append(owner_change(asset_id, tag, last, None, station=station.name))
        else:
            singles.append(chain[0])
        chains.append(chain)
        total += len(chain)
    for change in rng.sample(singles, min(n_conflicts, len(singles))):
        station.conflicts_made.add(change.id)
        station.behind_back[change.asset_id] = rng.choice(
            [u for u in users if u != change.to_owner_id]
        )
    while chains:
        chain = rng.choice(chains)
        station.plan.append(chain.pop(0))
        if not chain:
            chains.remove(chain)


async def work(station: Station, sim: Simulator) -> None:
    """The operator: confirm one change after the other, as fast as the kiosk allows."""
    for change in station.plan:
        if change.id in station.conflicts_made:
            # Scanned here; meanwhile someone gives the device away in the web app.
            sim.state.set_owner(
                change.asset_id, station.behind_back[change.asset_id], open_checkout=True
            )
        await station.outbox.submit(change)


@dataclass
class Check:
    changes: int = 0
    done: int = 0
    conflicts: int = 0
    failed: int = 0
    lost: int = 0
    applied_twice: int = 0
    applied_missing: int = 0
    wrong_final: int = 0
    conflicts_made: int = 0
    conflicts_matched: bool = True


def check(sim: Simulator, journals: list[Path], stations: list[Station] | None) -> Check:
    """Compare the journals (what the kiosk says) with the simulator (what happened)."""
    result = Check()
    planned: dict[str, Change] = {}
    made: set[str] = set()
    behind: dict[str, str] = {}
    for station in stations or []:
        planned.update({c.id: c for c in station.plan})
        made |= station.conflicts_made
        behind |= station.behind_back
    entries: list[Change] = []
    for path in journals:
        with Journal.open(path, lock=False) as journal:
            entries += [e.change for e in reversed(journal.recent(1_000_000))]
    by_id = {c.id: c for c in entries}
    result.changes = len(planned) or len(entries)
    states = Counter(c.state for c in entries)
    result.done = states[ChangeState.DONE]
    result.conflicts = states[ChangeState.CONFLICT]
    result.failed = states[ChangeState.FAILED]
    ids = planned or by_id
    result.lost = sum(
        1
        for cid in ids
        if cid not in by_id or by_id[cid].state not in (ChangeState.DONE, ChangeState.CONFLICT)
    )
    reported = {c.id for c in entries if c.state is ChangeState.CONFLICT}
    result.conflicts_made = len(made)
    result.conflicts_matched = reported == made
    requests = owner_changes(sim.requests)
    expected: Counter[str] = Counter()
    final: dict[str, str | None] = {}
    for change in entries:  # per journal oldest first; devices never shared by stations
        final.setdefault(change.asset_id, change.from_owner_id)
        if change.state is ChangeState.DONE:
            expected[change.asset_id] += 1
            final[change.asset_id] = change.to_owner_id
        elif change.state is ChangeState.CONFLICT:
            final[change.asset_id] = behind.get(change.asset_id, change.conflict_owner_id)
    with sim.state.lock:
        for asset_id, owner in final.items():
            count = sum(r.applied for r in requests.get(asset_id, []))
            result.applied_twice += max(0, count - expected[asset_id])
            result.applied_missing += max(0, expected[asset_id] - count)
            if sim.state.assets[asset_id]["OwnerId"] != owner:
                result.wrong_final += 1
    return result


async def all_sent(outboxes: list[Outbox]) -> None:
    """Until no outbox has anything pending (woken by the outboxes' listeners)."""
    changed = asyncio.Event()
    for outbox in outboxes:
        outbox.add_listener(lambda _change: changed.set())
    while any(o.counts()["pending"] for o in outboxes):
        await changed.wait()
        changed.clear()


def fault_mix(requests: list[RecordedRequest]) -> Counter[str]:
    return Counter(r.fault or "none" for r in requests)


async def part_one(args: argparse.Namespace, workdir: Path) -> tuple[Check, dict[str, Any]]:
    rng = random.Random(args.seed)
    each = args.fault_rate / 4
    outbox_kw = outbox_options(
        min_interval_s=args.min_interval,
        backoff_base_s=0.25,
        backoff_max_s=5.0,
        settle_s=2.0,
    )
    with Simulator(seed=2026, latency_ms=5) as sim:
        devices = free_devices(sim)
        users = sorted(sim.state.users)
        rng.shuffle(devices)
        stations = [
            await open_station(sim, f"GYM-{n + 1}", workdir / f"station{n + 1}.sqlite3", outbox_kw)
            for n in range(args.stations)
        ]
        per_station = [args.changes // args.stations] * args.stations
        per_station[0] += args.changes - sum(per_station)
        conflicts = [args.conflicts // args.stations] * args.stations
        conflicts[0] += args.conflicts - sum(conflicts)
        for n, station in enumerate(stations):
            plan_station(
                station,
                sim,
                devices[n :: args.stations],
                users,
                per_station[n],
                conflicts[n],
                rng,
            )
        sim.faults.set_rates(
            error_rate=each,
            drop_rate=each,
            rate_limit_rate=each,
            apply_then_fail_rate=each,
            seed=args.seed,
            retry_after=args.retry_after,
        )
        started = time.monotonic()
        senders = [asyncio.create_task(s.outbox.run()) for s in stations]
        await asyncio.gather(*(work(s, sim) for s in stations))
        confirmed = time.monotonic() - started
        await all_sent([s.outbox for s in stations])
        elapsed = time.monotonic() - started
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        sim.faults.clear()
        for station in stations:
            await close_station(station)
        requests = sim.requests
        result = check(
            sim, [workdir / f"station{n + 1}.sqlite3" for n in range(args.stations)], stations
        )
        mix = fault_mix(requests)
    info = {
        "seconds": elapsed,
        "confirmed_seconds": confirmed,
        "requests": len(requests),
        "faulted": sum(v for k, v in mix.items() if k not in ("none", "latency")),
        "mix": mix,
    }
    return result, info


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def part_two(args: argparse.Namespace, workdir: Path) -> tuple[Check, dict[str, float]]:
    sim = Simulator(seed=2026, port=free_port(), latency_ms=5)
    sim.start()
    path = workdir / "offline.sqlite3"
    station = await open_station(
        sim,
        "LIBRARY",
        path,
        {"min_interval_s": args.min_interval, "backoff_max_s": args.offline_backoff_max},
    )
    try:
        devices = free_devices(sim)[: args.drain_changes]
        users = sorted(sim.state.users)
        rng = random.Random(args.seed + 1)
        station.plan = [
            owner_change(
                d, sim.state.assets[d]["AssetTag"], None, rng.choice(users), station="LIBRARY"
            )
            for d in devices
        ]
        sim.stop()  # the Wi-Fi is gone
        sender = asyncio.create_task(station.outbox.run())
        batch = 100
        for start in range(0, len(station.plan), batch):
            results = await asyncio.gather(
                *(station.outbox.submit(c) for c in station.plan[start : start + batch])
            )
            assert all(r.change.state is ChangeState.PENDING for r in results)
        queued = station.outbox.counts()["pending"]
        await asyncio.sleep(1.0)
        sim.start()  # it is back
        back = time.monotonic()
        first: list[float] = []

        def note_first(change: Change) -> None:
            if change.state is ChangeState.DONE and not first:
                first.append(time.monotonic() - back)

        station.outbox.add_listener(note_first)
        await all_sent([station.outbox])
        drained = time.monotonic() - back
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    finally:
        await close_station(station)
        sim.stop()
    result = check(sim, [path], [station])
    return result, {
        "queued": float(queued),
        "first": first[0] if first else 0.0,
        "drained": drained,
        "rate": queued / max(drained - (first[0] if first else 0.0), 1e-9),
    }


async def both(
    args: argparse.Namespace, workdir: Path
) -> tuple[Check, dict[str, Any], Check, dict[str, float]]:
    """Both parts side by side: part 2 mostly waits (offline, then its rate limit)."""
    if not args.drain_changes:
        one, info = await part_one(args, workdir)
        return one, info, Check(), {"queued": 0.0, "first": 0.0, "drained": 0.0, "rate": 0.0}
    (one, info), (two, drain) = await asyncio.gather(
        part_one(args, workdir), part_two(args, workdir)
    )
    return one, info, two, drain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--stations", type=int, default=3)
    parser.add_argument("--fault-rate", type=float, default=0.20)
    parser.add_argument("--retry-after", type=float, default=0.5, help="on injected 429s")
    parser.add_argument("--conflicts", type=int, default=30)
    parser.add_argument("--drain-changes", type=int, default=1000)
    parser.add_argument("--min-interval", type=float, default=0.2, help="Outbox min_interval_s")
    parser.add_argument(
        "--offline-backoff-max",
        type=float,
        default=15.0,
        help="part 2: longest wait between tries while offline (Outbox default 60)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # retries are expected here; only report errors

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        one, info, two, drain = asyncio.run(both(args, Path(tmp)))
    total = time.monotonic() - started

    mix = ", ".join(f"{k} {v}" for k, v in sorted(info["mix"].items()) if k != "none")
    print(
        f"soak: {args.stations} stations, {one.changes} changes, faults "
        f"{args.fault_rate:.0%} of all requests (Retry-After {args.retry_after:g} s), "
        f"5 ms latency, min interval {args.min_interval:g} s"
    )
    print(f"  requests {info['requests']}, faulted {info['faulted']} ({mix})")
    rows = [
        ("changes", one.changes, two.changes),
        ("done", one.done, two.done),
        ("conflicts made", one.conflicts_made, 0),
        ("conflicts reported", one.conflicts, two.conflicts),
        ("conflicts = the ones made", one.conflicts_matched, two.conflicts_matched),
        ("failed", one.failed, two.failed),
        ("lost", one.lost, two.lost),
        ("applied twice", one.applied_twice, two.applied_twice),
        ("done but never applied", one.applied_missing, two.applied_missing),
        ("final state == intended", one.wrong_final == 0, two.wrong_final == 0),
        ("seconds (all confirmed)", f"{info['confirmed_seconds']:.1f}", "-"),
        ("seconds (outbox empty)", f"{info['seconds']:.1f}", f"{drain['drained']:.1f}"),
    ]
    print(f"  {'':<28} {'soak':>8} {'offline':>8}")
    for name, a, b in rows:
        print(f"  {name:<28} {a!s:>8} {b!s:>8}")
    print(
        f"drain: {int(drain['queued'])} changes queued offline; after the simulator came back "
        f"the first went through in {drain['first']:.1f} s (sender backoff), all in "
        f"{drain['drained']:.1f} s ({drain['rate']:.1f} changes/s at min interval "
        f"{args.min_interval:g} s, backoff max {args.offline_backoff_max:g} s)"
    )
    print(f"total {total:.0f} s (both parts run side by side)")
    targets = Targets()
    for part, r in (("soak", one), ("offline", two)):
        targets.check(r.lost == 0, f"{part}: lost {r.lost} (0)")
        targets.check(r.applied_twice == 0, f"{part}: applied twice {r.applied_twice} (0)")
        targets.check(
            r.applied_missing == 0, f"{part}: done but never applied {r.applied_missing} (0)"
        )
        targets.check(r.wrong_final == 0, f"{part}: final state wrong for {r.wrong_final} (0)")
        targets.check(r.failed == 0, f"{part}: failed {r.failed} (0)")
        targets.check(
            r.conflicts_matched,
            f"{part}: conflicts reported {r.conflicts} "
            f"{'=' if r.conflicts_matched else '!='} the {r.conflicts_made} made",
        )
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
