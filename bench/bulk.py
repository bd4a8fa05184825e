"""`iiq-kiosk bulk` of 2,000 check-out rows at 50 ms latency against the same file applied
one row at a time (concurrency 1, a 60-row sample) in the same run. Figures: rows per second,
concurrency used, API calls per row, highest rate of change starts and of requests seen.
Targets: >= 5x one-at-a-time; <= 3 calls per row; change starts never above the configured
rate (1 / [journal] min_interval_s)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import Targets

from kiosk.config import load_settings
from kiosk.core.bulk import BulkRun, read_rows, run_id
from kiosk.simulator import DEMO, Simulator
from kiosk.wiring import build_services

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
SAMPLE = 60
LATENCY_MS = 50
INTERVAL_S = 0.01  # the configured rate: 100 change starts a second
CONCURRENCY = 8


def lines(sim: Simulator, n: int, skip: int = 0) -> str:
    devices = sorted(
        (a for a in sim.state.assets.values()
         if not a["OwnerId"] and a["StatusTypeId"] == DEMO.available_status_id
         and a["AssetTag"] and len(sim.state.asset_by_tag(a["AssetTag"])) == 1),
        key=lambda a: a["AssetTag"],
    )  # fmt: skip
    people = sorted(
        (u for u in sim.state.users.values()
         if u["IsActive"] and not u["IsDeleted"] and u["SchoolIdNumber"]),
        key=lambda u: u["SchoolIdNumber"],
    )  # fmt: skip
    pairs = list(zip(devices, people * 10, strict=False))[skip : skip + n]
    return "".join(f"{a['AssetTag']},{u['SchoolIdNumber']}\n" for a, u in pairs)


def highest_rate(times: list[float]) -> int:
    best, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


async def run(sim: Simulator, text: str, folder: str, concurrency: int) -> tuple[float, int, float]:
    settings = load_settings(config=None).model_copy(update={"data_dir": Path(folder)})
    services = await build_services(settings, sim.token, outbox_options={"min_interval_s": 0})
    try:
        rows = read_rows(text)
        bulk = BulkRun(services.transactions, services.journal, services.desk, rows,
                       run_id(text), INTERVAL_S, concurrency)  # fmt: skip
        sim.clear_requests()
        started = time.perf_counter()
        await bulk.apply(await bulk.validate())
        await services.outbox.confirmations(10)
        elapsed = time.perf_counter() - started
        applied = sum(1 for r in rows if r.outcome is not None and r.outcome.value == "applied")
        return elapsed, applied, bulk.pacer.highest_rate()
    finally:
        await services.aclose()


def main() -> int:
    import os

    targets = Targets()
    with Simulator(latency_ms=LATENCY_MS) as sim, tempfile.TemporaryDirectory() as folder:
        os.environ.update(IIQ_URL=sim.url, IIQ_SITE_ID=sim.site_id, IIQ_KIOSK_DATA=folder)
        one_s, one_n, _ = asyncio.run(run(sim, lines(sim, SAMPLE), folder + "/one", 1))
        many_text = lines(sim, ROWS, skip=SAMPLE)
        many_s, many_n, start_rate = asyncio.run(run(sim, many_text, folder + "/many",
                                                     CONCURRENCY))  # fmt: skip
        requests = sim.requests
    calls = len(requests) / max(1, many_n)
    req_rate = highest_rate(sorted(r.time for r in requests))
    one_rate, many_rate = one_n / one_s, many_n / many_s
    print(f"one row at a time ({SAMPLE} rows, {LATENCY_MS} ms): {one_rate:6.2f} rows/s")
    print(f"bulk ({many_n} of {ROWS} rows applied, concurrency {CONCURRENCY}): "
          f"{many_rate:6.2f} rows/s, {many_s:.1f} s")  # fmt: skip
    print(f"speed-up {many_rate / one_rate:.2f}x; API calls per row {calls:.2f}")
    print(f"highest rate seen: {start_rate:.0f} lookups/changes started a second "
          f"(limit {1 / INTERVAL_S:.0f}), {req_rate} requests a second")  # fmt: skip
    targets.check(many_n == ROWS, f"{many_n} of {ROWS} rows applied")
    targets.check(many_rate / one_rate >= 5, f"{many_rate / one_rate:.2f}x one-at-a-time (>= 5x)")
    targets.check(calls <= 3, f"{calls:.2f} calls per row (<= 3)")
    targets.check(start_rate <= 1 / INTERVAL_S, f"start rate {start_rate:.0f}/s (<= limit)")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
