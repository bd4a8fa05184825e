"""50,000-asset query to CSV: `iiq-kiosk assets --csv` against the raw paged httpx loop in
the same run (same simulator, same page size). Targets: <= 1.2x the raw time; peak memory
flat (traced peak within 2x the raw loop's, which holds one page at a time)."""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from _common import Targets

from kiosk.simulator import Simulator

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
PAGE = 1000
COLUMNS = ["AssetId", "AssetTag", "SerialNumber", "Model", "Status", "Location", "Owner"]


def grow(sim: Simulator, rows: int) -> None:
    base = list(sim.state.assets.values())
    with sim.state.lock:
        n = 0
        while len(sim.state.assets) < rows:
            copy = dict(base[n % len(base)])
            copy["AssetId"] = f"00000000-0000-4000-8000-{n:012d}"
            copy["AssetTag"] = f"BX-{n:06d}"
            sim.state.assets[copy["AssetId"]] = copy
            n += 1


def raw(sim: Simulator, target: Path) -> int:
    body = {"Filters": [], "OnlyShowDeleted": False, "FilterByViewPermission": True}
    count = 0
    with (
        httpx.Client(base_url=sim.api_url, headers=sim.auth_headers(), timeout=60) as client,
        target.open("w", newline="", encoding="utf-8-sig") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        page = 0
        while True:
            reply = client.post(f"/assets?$s={PAGE}&$p={page}", json=body).json()
            for a in reply["Items"]:
                writer.writerow([
                    a.get("AssetId"), a.get("AssetTag"), a.get("SerialNumber"),
                    (a.get("Model") or {}).get("Name"), (a.get("Status") or {}).get("Name"),
                    (a.get("Location") or {}).get("Name"), (a.get("Owner") or {}).get("Name"),
                ])  # fmt: skip
                count += 1
            paging = reply["Paging"]
            if paging["PageIndex"] + 1 >= paging["PageCount"]:
                return count
            page += 1


def ours(target: Path) -> int:
    from kiosk import cli

    code = cli.main(["assets", "--page-size", str(PAGE), "--csv", str(target)])
    if code != 0:
        raise SystemExit(f"iiq-kiosk assets exited {code}")
    with target.open(encoding="utf-8-sig") as handle:
        return sum(1 for _ in handle) - 1


def measure(run: object, *args: object) -> tuple[float, int, float]:
    tracemalloc.start()
    started = time.perf_counter()
    count = run(*args)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return elapsed, count, peak


def main() -> int:
    targets = Targets()
    with Simulator() as sim, tempfile.TemporaryDirectory() as folder:
        grow(sim, ROWS)
        os.environ.update(IIQ_URL=sim.url, IIQ_TOKEN=sim.token, IIQ_SITE_ID=sim.site_id,
                          IIQ_KIOSK_DATA=folder)  # fmt: skip
        os.environ.pop("IIQ_KIOSK_CONFIG", None)
        raw_s, raw_n, raw_mb = measure(raw, sim, Path(folder) / "raw.csv")
        our_s, our_n, our_mb = measure(ours, Path(folder) / "ours.csv")
    print(f"rows: raw {raw_n}, iiq-kiosk assets {our_n} (page size {PAGE})")
    print(f"raw httpx loop:   {raw_s:6.2f} s, {raw_n / raw_s:8.0f} rows/s, peak {raw_mb:6.1f} MB")
    print(f"iiq-kiosk assets: {our_s:6.2f} s, {our_n / our_s:8.0f} rows/s, peak {our_mb:6.1f} MB")
    ratio = our_s / raw_s
    print(f"time ratio {ratio:.2f}x the raw loop; memory ratio {our_mb / raw_mb:.2f}x")
    targets.check(our_n == raw_n == ROWS, f"every row written ({our_n} of {ROWS})")
    targets.check(ratio <= 1.2, f"time {ratio:.2f}x raw (<= 1.2x)")
    targets.check(our_mb <= 2 * raw_mb, f"peak {our_mb:.1f} MB vs raw {raw_mb:.1f} MB (<= 2x)")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
