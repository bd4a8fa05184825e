"""Start-up: process start to ready-to-scan, against a bare PySide6 window, and peak memory.

    python bench/startup.py [--runs 5]

Runs `python -m kiosk --windowed` as a district runs it (IIQ_URL/IIQ_TOKEN/IIQ_SITE_ID pointing at
a simulator in a process of its own), `python -m kiosk --demo --windowed` (the demo starts its
simulator in-process, so it also pays for building the seeded district), each with
IIQ_KIOSK_EXIT_WHEN_READY=1 (it exits as soon as it is ready to scan: simulator up,
connection checked, window shown), QT_QPA_PLATFORM=offscreen and a fresh IIQ_KIOSK_DATA,
and a bare script (import QtWidgets, QApplication, show a QWidget, process events, exit),
alternately, `--runs` times each after one warm-up run of each. Wall time from spawning the
process to its exit; peak RSS of each process from os.wait4 (POSIX; on Windows RSS is not
measured). For the kiosk, also the time to its "ready to scan" log line (the log file's
timestamp, millisecond resolution), which leaves out the shutdown. Prints the medians and
the ratios.
Target: kiosk median <= 2x the bare window, kiosk peak RSS <= 120 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ExternalSimulator, Targets, median, verdict

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0
TARGET_RSS_MB = 120.0

BARE = (
    "import sys\n"
    "from PySide6.QtWidgets import QApplication, QWidget\n"
    "app = QApplication(sys.argv[:1])\n"
    "w = QWidget()\n"
    "w.resize(1280, 800)\n"
    "w.show()\n"
    "app.processEvents()\n"
)


def ready_after(data_dir: Path, spawned: float) -> float | None:
    """Seconds from `spawned` (epoch) to the kiosk's "ready to scan" log line."""
    for log in data_dir.rglob("iiq-kiosk.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            if "ready to scan" in line:
                stamp = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                return stamp.timestamp() - spawned
    return None


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float | None]:
    """Seconds from spawn to exit, and peak RSS in MB (None where not measurable)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        process.returncode = code  # os.wait4 reaped it: tell Popen
        # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024
        rss: float | None = usage.ru_maxrss / scale
    else:  # Windows: no wait4 and no psutil here; time only
        process.wait()
        elapsed = time.perf_counter() - started
        code, rss = process.returncode, None
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if code != 0:
        raise RuntimeError(f"{command[1:]} exited with {code}: {errors[-2000:]}")
    return elapsed, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["IIQ_KIOSK_EXIT_WHEN_READY"] = "1"
    for name in ("IIQ_URL", "IIQ_TOKEN", "IIQ_SITE_ID", "IIQ_KIOSK_CONFIG"):
        env.pop(name, None)
    variants = {
        "district": ([sys.executable, "-m", "kiosk", "--windowed"], "iiq-kiosk --windowed"),
        "demo": ([sys.executable, "-m", "kiosk", "--demo", "--windowed"], "iiq-kiosk --demo"),
        "bare": ([sys.executable, "-c", BARE], "bare PySide6 window"),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    ready: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp, ExternalSimulator() as sim:
        district_env = {"IIQ_URL": sim.url, "IIQ_TOKEN": sim.token, "IIQ_SITE_ID": sim.site_id}
        for run in range(args.runs + 1):
            for name, (command, _label) in variants.items():
                data = Path(tmp) / f"data-{name}-{run}"
                run_env = env | {"IIQ_KIOSK_DATA": str(data)}
                if name == "district":
                    run_env |= district_env
                spawned = time.time()
                elapsed, rss = run_once(command, run_env)
                if run == 0:
                    continue  # warm-up: file cache
                times[name].append(elapsed)
                if (to_ready := ready_after(data, spawned)) is not None:
                    ready[name].append(to_ready)
                if rss is not None:
                    peaks[name].append(rss)

    bare = median(times["bare"])
    print(f"start to exit, {args.runs} runs each (plus 1 warm-up), offscreen")
    for name, (_command, label) in variants.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        rss = f"{max(peaks[name]):.0f} MB" if peaks[name] else "n/a (Windows)"
        print(f"  {label:24s} median {median(times[name]):.3f} s  [{runs}]  peak RSS {rss}")
    for name in ("district", "demo"):
        if ready[name]:
            to_ready = median(ready[name])
            print(
                f"  {name:8s} start to ready-to-scan (log) median {to_ready:.3f} s,"
                f" ratio to the bare window {to_ready / bare:.2f}"
            )
    ratio = median(times["district"]) / bare
    ok = ratio <= TARGET_RATIO
    print(f"  ratio district kiosk/bare {ratio:.2f}   target <= {TARGET_RATIO:.0f}x: {verdict(ok)}")
    targets = Targets()
    targets.check(ok, f"district kiosk/bare window {ratio:.2f}x (<= {TARGET_RATIO:.0f}x)")
    if peaks["district"]:
        top = max(peaks["district"] + peaks["demo"])
        rss_ok = top <= TARGET_RSS_MB
        print(f"  kiosk peak RSS {top:.0f} MB, target <= {TARGET_RSS_MB:.0f} MB: {verdict(rss_ok)}")
        targets.check(rss_ok, f"kiosk peak RSS {top:.0f} MB (<= {TARGET_RSS_MB:.0f} MB)")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
