"""Race: two stations check out the same free device to two different people at once.

    python bench/race.py [--pairs 20] [--latencies 0,25,50,100] [--settle 20] [--seed 1]

Two stations, each its own stack as a kiosk has it (bench/soak.py builds them alike): an
`IIQClient`, a `TransactionService`, an `AsyncJournal` and an `Outbox` with its background
sender, against one in-process simulator. For each simulated latency, `--pairs` times: a
free device (a different one each pair) and two different active students; each station
looks the device up and prepares the check-out to its student as an operator would (device
read, person read, rules checked: both see the device free), then both confirm at the same
moment (`Outbox.submit` of both changes together). Waits until neither change is pending
(at most `--settle` seconds), then compares what the stations say with Incident IQ's record
of the device:
- false success: a station whose change ended DONE while the device's final owner is not
  the person it sent (the operator was told "now has it", and it is not so);
- conflicts reported: changes that ended CONFLICT (the right outcome for the loser);
- final owner right: the final owner is the person of every DONE change, and the device
  stayed free when no change is DONE;
- both writes applied: pairs in which the simulator carried out both owner changes (the
  second overwrote the first).
Target: 0 false successes at every latency.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _common import Targets

from kiosk.core.changes import Change, ChangeState
from kiosk.core.journal import AsyncJournal
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.simulator import DEMO, ROLE_STUDENT, Simulator, owner_changes

RETRY = RetryPolicy(base_delay=0.05, max_delay=2.0)


@dataclass
class Station:
    name: str
    client: IIQClient
    service: TransactionService
    journal: AsyncJournal
    outbox: Outbox
    sender: asyncio.Task[None] | None = None


async def open_station(sim: Simulator, name: str, path: Path) -> Station:
    client = IIQClient(
        Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token, read_timeout=5.0),
        retry=RETRY,
    )
    service = TransactionService(client, station=name)
    journal = await AsyncJournal.open(path)
    outbox = Outbox(journal, service.apply, confirm=service.changes.confirm)
    station = Station(name, client, service, journal, outbox)
    station.sender = asyncio.create_task(outbox.run(), name=f"outbox-{name}")
    return station


async def close_station(station: Station) -> None:
    if station.sender is not None:
        station.sender.cancel()
        await asyncio.gather(station.sender, return_exceptions=True)
    await station.client.aclose()
    await station.journal.aclose()


def free_devices(sim: Simulator) -> list[str]:
    """Tags of devices nobody has, marked Available, with one device per tag."""
    with sim.state.lock:
        available = {
            s["AssetStatusTypeId"]
            for s in sim.state.status_types.values()
            if s["Name"] == "Available" and not s["IsRetired"]
        }
        tags = Counter(a["AssetTag"] for a in sim.state.assets.values())
        return sorted(
            a["AssetTag"]
            for a in sim.state.assets.values()
            if a["OwnerId"] is None
            and not a["IsDeleted"]
            and a["StatusTypeId"] in available
            and a["AssetTag"]
            and tags[a["AssetTag"]] == 1
            and a["AssetId"] != DEMO.free_asset_id
        )


def students(sim: Simulator) -> list[str]:
    with sim.state.lock:
        return sorted(
            u["UserId"]
            for u in sim.state.users.values()
            if u["RoleId"] == ROLE_STUDENT and u["IsActive"] and not u["IsDeleted"]
        )


async def prepare(station: Station, tag: str, user_id: str) -> Change:
    """What an operator does before confirming: scan the device, identify the person, let
    the kiosk check the rules, then the change the confirm dialog would send."""
    found = await station.service.find_device(tag)
    if len(found.assets) != 1:
        raise RuntimeError(f"{tag}: {len(found.assets)} devices found, expected 1")
    person = await station.client.user(user_id)
    prepared = await station.service.prepare_checkout(found.assets[0], person)
    if prepared.check.refusal:
        raise RuntimeError(f"{tag} to {user_id} refused: {prepared.check.refusal}")
    return station.service.checkout_change(prepared)


async def settled(changes: list[Change], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while any(c.state is ChangeState.PENDING for c in changes):
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


@dataclass
class Pair:
    tag: str
    asset_id: str
    sent: list[str]  # the person each station sent, station order
    states: list[ChangeState]
    final_owner: str | None
    applied: int  # owner-changing requests the simulator carried out

    @property
    def false_successes(self) -> int:
        return sum(
            state is ChangeState.DONE and person != self.final_owner
            for person, state in zip(self.sent, self.states, strict=True)
        )

    @property
    def owner_right(self) -> bool:
        done = [p for p, s in zip(self.sent, self.states, strict=True) if s is ChangeState.DONE]
        if done:
            return all(p == self.final_owner for p in done)
        return self.final_owner is None


async def race(
    stations: list[Station], sim: Simulator, tag: str, people: list[str], settle_s: float
) -> Pair:
    changes = await asyncio.gather(
        *(prepare(s, tag, p) for s, p in zip(stations, people, strict=True))
    )
    sim.clear_requests()
    # Both operators press Enter on the confirm dialog at the same moment.
    await asyncio.gather(*(s.outbox.submit(c) for s, c in zip(stations, changes, strict=True)))
    await settled(list(changes), settle_s)
    # The kiosk reads each new owner again a moment after it was confirmed: wait for that.
    await asyncio.gather(*(s.outbox.confirmations(settle_s) for s in stations))
    asset_id = changes[0].asset_id
    with sim.state.lock:
        final = sim.state.assets[asset_id]["OwnerId"]
    applied = sum(r.applied for r in owner_changes(sim.requests).get(asset_id, []))
    return Pair(tag, asset_id, list(people), [c.state for c in changes], final, applied)


@dataclass
class LatencyFigures:
    latency_ms: int
    pairs: list[Pair] = field(default_factory=list)

    def row(self) -> str:
        p = self.pairs
        states = Counter(s for pair in p for s in pair.states)
        false = sum(pair.false_successes for pair in p)
        with_false = sum(pair.false_successes > 0 for pair in p)
        both_done = sum(all(s is ChangeState.DONE for s in pair.states) for pair in p)
        one_each = sum(
            sorted(pair.states) == sorted([ChangeState.DONE, ChangeState.CONFLICT]) for pair in p
        )
        right = sum(pair.owner_right for pair in p)
        both_applied = sum(pair.applied >= 2 for pair in p)
        return (
            f"  {self.latency_ms:>7} {len(p):>5} {false:>7} {with_false:>7} "
            f"{states[ChangeState.CONFLICT]:>9} {one_each:>8} {both_done:>6} "
            f"{right:>4}/{len(p):<3} {both_applied:>7} {states[ChangeState.PENDING]:>7} "
            f"{states[ChangeState.FAILED]:>6}"
        )


HEADER = (
    f"  {'latency':>7} {'pairs':>5} {'false':>7} {'(pairs)':>7} {'conflicts':>9} "
    f"{'1+1':>8} {'both':>6} {'owner':>8} {'2 writes':>7} {'pending':>7} {'failed':>6}"
)
LEGEND = (
    "  (latency in ms; false: stations told DONE while the device's final owner is another\n"
    "  person, (pairs): pairs with one; conflicts: changes that ended CONFLICT; 1+1: pairs with\n"
    "  one DONE and one CONFLICT (the right outcome); both: pairs where both ended DONE; owner:\n"
    "  pairs whose final owner is right; 2 writes: pairs where the simulator carried out both\n"
    "  owner changes; pending, failed: changes still pending after the wait, or failed)"
)


async def measure(args: argparse.Namespace, workdir: Path) -> Targets:
    rng = random.Random(args.seed)
    latencies = [int(x) for x in args.latencies.split(",") if x.strip()]
    figures: list[LatencyFigures] = []
    started = time.monotonic()
    with Simulator(seed=2026, latency_ms=0) as sim:
        devices = free_devices(sim)
        rng.shuffle(devices)
        people = students(sim)
        if len(devices) < args.pairs * len(latencies):
            raise RuntimeError(f"only {len(devices)} free devices in the simulated district")
        stations = [
            await open_station(sim, name, workdir / f"{name}.sqlite3")
            for name in ("GYM-1", "GYM-2")
        ]
        try:
            for latency in latencies:
                sim.latency_ms = latency
                result = LatencyFigures(latency)
                for _ in range(args.pairs):
                    tag = devices.pop()
                    pair_people = rng.sample(people, 2)
                    result.pairs.append(await race(stations, sim, tag, pair_people, args.settle))
                figures.append(result)
        finally:
            for station in stations:
                await close_station(station)
    elapsed = time.monotonic() - started

    print(
        f"race: {args.pairs} pairs of simultaneous check-outs of one free device to two "
        f"people, from 2 stations (client + TransactionService + journal + outbox each), "
        f"in-process simulator, seed {args.seed}, {elapsed:.0f} s"
    )
    print(HEADER)
    for result in figures:
        print(result.row())
    print(LEGEND)
    targets = Targets()
    for result in figures:
        false = sum(pair.false_successes for pair in result.pairs)
        targets.check(false == 0, f"{result.latency_ms} ms: {false} false successes (0)")
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--latencies", default="0,25,50,100", help="simulated latencies, ms")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds to wait for both changes to settle"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # conflicts are expected here; only report errors
    with tempfile.TemporaryDirectory() as tmp:
        targets = asyncio.run(measure(args, Path(tmp)))
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
