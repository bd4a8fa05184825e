"""Start-up: first window and ready-to-scan, against a bare PySide6 window, and peak memory.

    python bench/startup.py [--runs 11] [--frozen PATH/TO/iiq-kiosk]

Runs, alternately and `--runs` times each after one warm-up run of each:
- `python -m kiosk --windowed` as a district runs it (IIQ_URL/IIQ_TOKEN/IIQ_SITE_ID pointing
  at a simulator in a process of its own),
- `python -m kiosk --demo --windowed` (the demo also builds its seeded district and starts
  its simulator in-process: shown for information, no target),
- a bare script: import QtWidgets, QApplication, show a QWidget, process events (painted),
- with `--frozen`, the built one-folder program in the district set-up.
All with IIQ_KIOSK_EXIT_WHEN_READY=1 (the kiosk exits once ready), QT_QPA_PLATFORM=offscreen
and a fresh IIQ_KIOSK_DATA. Measured from spawning the process: "first window" to the
kiosk's "window shown" log line (shown, painted, holding keys), "ready" to its "ready to
scan" line (connection checked, flows in place), and for the bare window to the moment it
has painted (it prints the time); peak RSS of each process from os.wait4 (POSIX only).

Targets (medians): first window <= 1.6x the bare window, ready <= 3.0x, a district kiosk's
peak RSS <= 120 MB (the demo's, with its simulator in-process, is shown, not held to it);
with `--frozen`, the frozen first window and ready within 1.5x of the source run's.
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
FIRST_WINDOW_RATIO = 1.6
READY_RATIO = 3.0
FROZEN_RATIO = 1.5
TARGET_RSS_MB = 120.0

BARE = (
    "import sys, time\n"
    "from PySide6.QtWidgets import QApplication, QWidget\n"
    "app = QApplication(sys.argv[:1])\n"
    "w = QWidget()\n"
    "w.resize(1280, 800)\n"
    "w.show()\n"
    "app.processEvents()\n"
    "print(f'painted {time.time():.6f}')\n"
)


def log_times(data_dir: Path, spawned: float) -> dict[str, float]:
    """Seconds from `spawned` (epoch) to the kiosk's "window shown" and "ready" log lines."""
    marks = {"window shown": "first", "ready to scan": "ready"}
    found: dict[str, float] = {}
    for log in data_dir.rglob("iiq-kiosk.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            for text, name in marks.items():
                if text in line and name not in found:
                    stamp = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                    found[name] = stamp.timestamp() - spawned
    return found


def run_once(command: list[str], env: dict[str, str]) -> tuple[str, float | None]:
    """The process's output, and its peak RSS in MB (None where not measurable)."""
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(process.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        process.returncode = code  # os.wait4 reaped it: tell Popen
        # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024
        rss: float | None = usage.ru_maxrss / scale
    else:  # Windows: no wait4 and no psutil here; time only
        process.wait()
        code, rss = process.returncode, None
    out = process.stdout.read().decode(errors="replace") if process.stdout else ""
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()
    if code != 0:
        raise RuntimeError(f"{command[1:]} exited with {code}: {errors[-2000:]}")
    return out, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--frozen", type=Path, help="a built iiq-kiosk program to time as well")
    args = parser.parse_args()

    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["IIQ_KIOSK_EXIT_WHEN_READY"] = "1"
    for name in ("IIQ_URL", "IIQ_TOKEN", "IIQ_SITE_ID", "IIQ_KIOSK_CONFIG"):
        env.pop(name, None)
    variants = {
        "district": [sys.executable, "-m", "kiosk", "--windowed"],
        "demo": [sys.executable, "-m", "kiosk", "--demo", "--windowed"],
        "bare": [sys.executable, "-c", BARE],
    }
    if args.frozen:
        variants["frozen"] = [str(args.frozen.resolve()), "--windowed"]
    labels = {
        "district": "iiq-kiosk (district)",
        "demo": "iiq-kiosk --demo",
        "bare": "bare PySide6 window",
        "frozen": "frozen iiq-kiosk (district)",
    }
    first: dict[str, list[float]] = {name: [] for name in variants}
    ready: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp, ExternalSimulator() as sim:
        district_env = {"IIQ_URL": sim.url, "IIQ_TOKEN": sim.token, "IIQ_SITE_ID": sim.site_id}
        for run in range(args.runs + 1):
            for name, command in variants.items():
                data = Path(tmp) / f"data-{name}-{run}"
                run_env = env | {"IIQ_KIOSK_DATA": str(data)}
                if name in ("district", "frozen"):
                    run_env |= district_env
                spawned = time.time()
                out, rss = run_once(command, run_env)
                if run == 0:
                    continue  # warm-up: file cache
                if name == "bare":
                    painted = float(out.split("painted ", 1)[1].split()[0])
                    first[name].append(painted - spawned)
                else:
                    marks = log_times(data, spawned)
                    first[name].append(marks["first"])
                    ready[name].append(marks["ready"])
                if rss is not None:
                    peaks[name].append(rss)

    bare = median(first["bare"])
    print(f"start-up, {args.runs} runs each (plus 1 warm-up), offscreen; medians from spawning")
    for name in variants:
        rss = f"{max(peaks[name]):.0f} MB" if peaks[name] else "n/a"
        line = f"  {labels[name]:28s} first window {median(first[name]):.3f} s"
        if ready[name]:
            line += f"  ready {median(ready[name]):.3f} s"
        print(f"{line}  peak RSS {rss}")
    targets = Targets()
    first_ratio = median(first["district"]) / bare
    ready_ratio = median(ready["district"]) / bare
    for what, ratio, target in (
        ("first window", first_ratio, FIRST_WINDOW_RATIO),
        ("ready to scan", ready_ratio, READY_RATIO),
    ):
        ok = ratio <= target
        print(f"  district {what} / bare window {ratio:.2f}   target <= {target}x: {verdict(ok)}")
        targets.check(ok, f"district {what} {ratio:.2f}x the bare window (<= {target}x)")
    if "frozen" in variants:
        for what, values in (("first window", first), ("ready to scan", ready)):
            ratio = median(values["frozen"]) / median(values["district"])
            ok = ratio <= FROZEN_RATIO
            print(
                f"  frozen / source {what} {ratio:.2f}   target <= {FROZEN_RATIO}x: {verdict(ok)}"
            )
            targets.check(ok, f"frozen {what} {ratio:.2f}x the source run (<= {FROZEN_RATIO}x)")
    # The target is a district's kiosk (source and frozen); the demo also holds its seeded
    # simulator in the same process, shown for information.
    kiosk_peaks = [p for name in ("district", "frozen") for p in peaks.get(name, [])]
    if kiosk_peaks:
        top = max(kiosk_peaks)
        rss_ok = top <= TARGET_RSS_MB
        demo = f" (demo with its simulator: {max(peaks['demo']):.0f} MB)" if peaks["demo"] else ""
        print(
            f"  district kiosk peak RSS {top:.0f} MB{demo}, target <= {TARGET_RSS_MB:.0f} MB: "
            f"{verdict(rss_ok)}"
        )
        targets.check(rss_ok, f"kiosk peak RSS {top:.0f} MB (<= {TARGET_RSS_MB:.0f} MB)")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
