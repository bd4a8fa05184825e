"""An event run with the network cut at random: 300 check-ins through the change desk
while every request is dropped for about 30% of the time, then the drain.

    python bench/event_offline.py [--checkins 300] [--cut 0.3] [--seed 3]

A collect pack (grades 09-10 at Central High School) is prepared; each device is checked
in from the pack's card (no lookup needed), submitted to the desk with a 0.3 s wait, as at
the window. A cutter drops every request (the simulator's "drop" fault) in random spells
covering `--cut` of the time. After the last check-in the network stays up until the
outbox is empty. Checked from the simulator's records: lost 0 (every device has no owner),
sent twice 0 (no owner change applied twice), and the progress (this station's journal
over the pack, refreshed) equal to the simulator's state after the drain, and equal to the
check-ins submitted at every step while offline."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import Targets

from kiosk.config import load_settings
from kiosk.core.events import EventKind, EventScope, pack_path, prepare
from kiosk.simulator import DEMO, Simulator, owner_changes
from kiosk.simulator.faults import Fault
from kiosk.wiring import build_services


async def run(args: argparse.Namespace, sim: Simulator, data: Path) -> Targets:
    targets = Targets()
    settings = load_settings(
        overrides={
            "iiq": {"url": sim.url, "site_id": sim.site_id},
            "checkin": {"status_name": "Available", "location_id": DEMO.storeroom_location_id},
            "journal": {"min_interval_s": 0.02},
            "outbox": {"verify_after_s": 1.0},
        }
    ).model_copy(update={"data_dir": data})
    services = await build_services(
        settings,
        sim.token,
        confirm_pause_s=0.05,
        outbox_options={"backoff_base_s": 0.2, "backoff_max_s": 2.0},
    )
    scope = EventScope(locations=("CHS",), grades=("09", "10"), roles=("Student",))
    pack = await prepare(services.client, pack_path(data, "June"), "June", EventKind.COLLECT, scope)
    devices = [d for d in pack.devices() if d.owner_id][: args.checkins]
    print(f"pack: {len(devices)} devices to check in")
    await services.transactions.status_id("Available")  # read once, as at start-up
    services.start()
    rng = random.Random(args.seed)
    cut = {"on": False, "time": 0.0}
    stop = asyncio.Event()

    async def cutter() -> None:
        # Cycles of random length, each down for `--cut` of it at a random moment.
        while not stop.is_set():
            cycle = rng.uniform(0.8, 3.0)
            before = rng.uniform(0.0, cycle * (1 - args.cut))
            await asyncio.sleep(before)
            if stop.is_set():
                break
            sim.faults.add(Fault("drop", times=None))
            cut["on"] = True
            await asyncio.sleep(cycle * args.cut)
            sim.faults.clear()
            cut["on"] = False
            cut["time"] += cycle * args.cut
            await asyncio.sleep(cycle * (1 - args.cut) - before)
        sim.faults.clear()

    cutting = asyncio.ensure_future(cutter())
    started = time.perf_counter()
    wrong_progress = 0
    for n, device in enumerate(devices, 1):
        asset = device.to_asset(pack.person(device.owner_id or ""))
        change = await services.transactions.checkin_change(asset)
        await services.desk.submit(change, wait_s=0.3)
        rows = await services.journal.export()
        if pack.progress(rows).done != n:
            wrong_progress += 1
    stop.set()
    await cutting
    worked = time.perf_counter() - started
    await services.outbox.drain(300)
    drained = time.perf_counter() - started
    print(
        f"{len(devices)} check-ins in {worked:.1f} s with the network cut "
        f"{cut['time'] / worked:.0%} of the time; outbox empty after {drained:.1f} s"
    )
    await pack.refresh(services.client)
    rows = await services.journal.export()
    progress = pack.progress(rows)
    state = sim.state
    lost = sum(1 for d in devices if (state.asset(d.asset_id) or {}).get("OwnerId"))
    twice = sum(
        1 for reqs in owner_changes(sim.requests).values() if sum(r.applied for r in reqs) > 1
    )
    truth = sum(1 for d in pack.devices() if not (state.asset(d.asset_id) or {}).get("OwnerId"))
    print(
        f"lost {lost}, sent twice {twice}; progress {progress.done} returned = simulator "
        f"{truth}; progress wrong during the run {wrong_progress} times"
    )
    share = cut["time"] / worked
    targets.check(share >= args.cut * 0.8, f"network cut {share:.0%} of the time")
    targets.check(lost == 0, f"lost {lost}")
    targets.check(twice == 0, f"sent twice {twice}")
    targets.check(
        progress.done == truth == len(devices), f"progress {progress.done} = state {truth}"
    )
    targets.check(wrong_progress == 0, f"progress wrong {wrong_progress} times during the run")
    pack.release()
    await services.aclose()
    return targets


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkins", type=int, default=300)
    parser.add_argument("--cut", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with Simulator(latency_ms=5) as sim, tempfile.TemporaryDirectory() as folder:
        targets = asyncio.run(run(args, sim, Path(folder)))
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
