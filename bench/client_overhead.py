"""What the Incident IQ client costs per lookup, against a bare HTTP GET of the same route.

    python bench/client_overhead.py [--n 500] [--seed 1]

Measures `IIQClient.assets_by_tag(DEMO.free_tag)` (request, error mapping, JSON, pydantic
models) and a raw `httpx.AsyncClient` GET of `/assets/assettag/CB-004512` with the same
headers (body read, not parsed), against one in-process simulator with no added latency, in
the same run, interleaved in a seeded random order, after a warm-up. Prints the median and
p95 of each and the ratio of the medians. A raw GET that also parses the JSON is printed for
context. Target: client / raw median ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
from _common import Targets, median, ms, percentile, verdict

from kiosk import __version__
from kiosk.iiq.client import Connection, IIQClient
from kiosk.simulator import DEMO, Simulator

TARGET_RATIO = 1.10


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def run(n: int, seed: int) -> Targets:
    rng = random.Random(seed)
    with Simulator(latency_ms=0) as sim:
        client = IIQClient(Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token))
        headers = sim.auth_headers() | {"User-Agent": f"iiq-kiosk/{__version__}"}
        raw = httpx.AsyncClient(base_url=client.base_url, headers=headers)
        path = f"/assets/assettag/{DEMO.free_tag}"

        async def via_client() -> object:
            found = await client.assets_by_tag(DEMO.free_tag)
            assert found and found[0].asset_tag == DEMO.free_tag
            return found

        async def via_raw() -> object:
            response = await raw.get(path)
            assert response.status_code == 200 and response.content
            return response

        async def via_raw_json() -> object:
            response = await raw.get(path)
            return response.json()

        calls = {"client": via_client, "raw": via_raw, "raw+json": via_raw_json}
        times: dict[str, list[float]] = {name: [] for name in calls}
        try:
            for _ in range(50):  # warm-up: connections, pydantic adapters, code paths
                for call in calls.values():
                    await call()
            gc.collect()
            for _ in range(n):
                order = list(calls)
                rng.shuffle(order)
                for name in order:
                    times[name].append(await timed(calls[name]))
        finally:
            await raw.aclose()
            await client.aclose()

    print(f"lookups of {DEMO.free_tag}, {n} each, interleaved (seed {seed}), simulator 0 ms")
    for name, values in times.items():
        print(f"  {name:9s} median {ms(median(values))}   p95 {ms(percentile(values, 95))}")
    ratio = median(times["client"]) / median(times["raw"])
    ratio95 = percentile(times["client"], 95) / percentile(times["raw"], 95)
    extra = median(times["client"]) - median(times["raw"])
    print(f"  ratio client/raw: median {ratio:.3f} (+{extra * 1000:.2f} ms)   p95 {ratio95:.3f}")
    print(
        f"  ratio client/raw+json (median): "
        f"{median(times['client']) / median(times['raw+json']):.3f}"
    )
    ok = ratio <= TARGET_RATIO
    print(f"target median ratio <= {TARGET_RATIO:.2f}: {verdict(ok)}")
    targets = Targets()
    targets.check(ok, f"client/raw median ratio {ratio:.3f} (<= {TARGET_RATIO:.2f})")
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return asyncio.run(run(args.n, args.seed)).finish()


if __name__ == "__main__":
    sys.exit(main())
