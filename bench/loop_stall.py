"""Loop stalls: does the window stay responsive while the kiosk talks to Incident IQ?

    python bench/loop_stall.py [--scans 200] [--idle 15] [--blocks 10] [--blocking 12]
                               [--attribute 40] [--seed 1] [--synchronous-input]

A 5 ms heartbeat QTimer (precise) runs on the Qt/asyncio loop and records the gap between
its ticks, and at each tick the loop thread's CPU time and its involuntary context switches
(getrusage, Linux): a long gap in which the thread used little CPU and was preempted is this
machine being busy with another process, one in which it used the CPU is the kiosk's own
work. The kiosk runs as `kiosk.app` runs it: the real window and controller, INFO logging to
a rotating file, start-up objects frozen out of the garbage collector (`gc.freeze()`),
against a simulator in a process of its own (like a real Incident IQ, so that only the
kiosk's own work is on the loop and in its garbage collections). Rounds, in one run:

1. idle kiosk: started, warmed up, on "Scan a device", no scans, `--idle` seconds in all
   (the noise floor: timer slack, other processes on the CPUs). Idle and busy stretches
   alternate (`--blocks` times), so that both see the same background load;
2. real controller, simulator at 50 ms: 200 device scans (distinct seeded tags), each
   followed by a type-ahead search (3 letters of a seeded surname typed into the person
   field; the controller's debounce set to 100 ms instead of 300 ms to keep the run short,
   the search goes through the same code). Input arrives as it does at a kiosk: the scanner's
   characters one key event at a time 3 ms apart (a wedge scanner types, it does not hand
   over a string), the operator's letters 20 ms apart, and the next device is scanned 50 ms
   after the screen went back to Ready (`--synchronous-input`: each burst, and Ready then the
   next scan, in one go, as this bench did before, for comparison);
3. contrast: the same kind of lookup with a BLOCKING `httpx.Client` on the loop thread (a
   few only: each stalls the loop for the whole round trip).

Prints ticks, p50, p99, max and the gaps over 10 and 16 ms of each round, how many of the
long ones were preempted, and the garbage collections meanwhile. Then (`--attribute N`, 0
to skip) a second process repeats round 2 with N scans, instrumented: every top-level Qt
event dispatch and every asyncio callback is timed (QApplication.notify, asyncio
Handle._run), and inside them garbage collections, logging handlers, the
application-wide event filters, page switches and result-list fills. For each gap over
10 ms it adds up what ran inside it and prints the totals by cause (nested pieces can overlap
each other: a filter runs inside a page switch). The instrumentation slows the loop, so its
gaps are longer than round 2's: read it for the shares, not for the figures.
Target: max gap <= 16 ms (one frame at 60 Hz) with the real controller (round 2).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import importlib
import itertools
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import ExternalSimulator, Targets, percentile
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication, QStackedWidget, QWidget

import kiosk
from kiosk import __version__
from kiosk.logs import setup_logging
from kiosk.simulator import DEMO, ROLE_STUDENT, SimState
from kiosk.tools.screens import Kiosk, activate, key_target, open_kiosk, run_qt, wait_until

try:
    import resource
except ImportError:  # Windows: no getrusage; preemptions are not counted there
    resource = None  # type: ignore[assignment]

BENCH_DIR = str(Path(__file__).resolve().parent)
KIOSK_DIR = str(Path(kiosk.__file__).resolve().parent)
TARGET_MAX_GAP_S = 0.016
LONG_GAP_S = 0.010
LATENCY_MS = 50
SCANNER_KEY_GAP_S = 0.003  # a wedge scanner: a few ms a character (burst_max_gap_ms is 35)
TYPING_KEY_GAP_S = 0.020  # a quick typist, still well inside the 100 ms debounce
NEXT_SCAN_PAUSE_S = 0.050  # Ready is on screen (painted) before the next device is scanned


def thread_preemptions() -> int:
    """Involuntary context switches of the calling thread so far (-1 where not known): the
    scheduler took the CPU away because something else was runnable (another process)."""
    if resource is None or not hasattr(resource, "RUSAGE_THREAD"):
        return -1
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw


@dataclass(frozen=True)
class Gap:
    """The time between two heartbeat ticks, and what the loop thread did meanwhile."""

    end: float  # perf_counter() of the tick that ended it
    wall: float
    cpu: float  # CPU time of the loop thread inside it (its own work)
    preempted: int  # involuntary context switches of the loop thread inside it


class Heartbeat(QObject):
    """A precise 5 ms QTimer. Each tick notes the time, the loop thread's CPU time and its
    involuntary context switches, so that a long gap can be told apart: the kiosk working
    (CPU time close to the gap) or the thread waiting for a CPU (another process ran)."""

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[tuple[float, float, int]] = []

    def start(self) -> None:
        self.ticks = []
        self._tick()
        self.timer.start()

    def stop(self) -> list[Gap]:
        self.timer.stop()
        return gaps_of(self.ticks)

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), time.thread_time(), thread_preemptions()))


def gaps_of(ticks: Sequence[tuple[float, float, int]]) -> list[Gap]:
    return [
        Gap(b[0], b[0] - a[0], b[1] - a[1], b[2] - a[2] if a[2] >= 0 else -1)
        for a, b in itertools.pairwise(ticks)
    ]


class GcWatch:
    """Garbage collections per generation (when, how long), while `on`."""

    def __init__(self) -> None:
        self.on = False
        self.runs: list[tuple[int, float, float]] = []  # generation, start, end
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.runs.append((info["generation"], self._started, time.perf_counter()))

    def take(self) -> list[tuple[int, float, float]]:
        runs, self.runs = self.runs, []
        return runs


def gc_summary(runs: Sequence[tuple[int, float, float]]) -> str:
    parts = []
    for generation in (0, 1, 2):
        took = [end - start for g, start, end in runs if g == generation]
        if took:
            parts.append(f"gen{generation} x{len(took)} max {max(took) * 1000:.1f} ms")
    return ", ".join(parts) or "none"


@dataclass
class RoundFigures:
    label: str
    gaps: list[Gap]
    collections: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [g.wall for g in self.gaps]

    def long(self, limit: float) -> list[Gap]:
        return [g for g in self.gaps if g.wall > limit]

    def row(self) -> str:
        w = self.walls
        over16 = self.long(TARGET_MAX_GAP_S)
        preempted = sum(g.preempted > 0 for g in over16)
        own = max(g.cpu for g in self.gaps)
        return (
            f"  {self.label:<30} {len(w):>6} {percentile(w, 50) * 1000:>5.1f} "
            f"{percentile(w, 99) * 1000:>5.1f} {max(w) * 1000:>5.1f} "
            f"{len(self.long(LONG_GAP_S)):>5} {len(over16):>5} {preempted:>5} {own * 1000:>5.1f}"
            f"   {gc_summary(self.collections)}"
        )


HEADER = (
    f"  {'round':<30} {'ticks':>6} {'p50':>5} {'p99':>5} {'max':>5} {'>10':>5} {'>16':>5} "
    f"{'preem':>5} {'cpu':>5}   garbage collections meanwhile"
)
LEGEND = (
    "  (gaps in ms; >10, >16: gaps longer than that; preem: of the gaps > 16 ms, those in which\n"
    "  the loop thread was preempted (an involuntary context switch: another process had the\n"
    "  CPU); cpu: the most CPU time the loop thread used inside one gap, i.e. its own work)"
)


def workload(seed: int, scans: int) -> list[tuple[str, str]]:
    """Distinct tags (a repeat would be a double scan) and surname beginnings, from the same
    seeded data the simulator serves."""
    rng = random.Random(seed)
    state = SimState(DEMO.seed)
    with state.lock:
        tags = [a["AssetTag"] for a in state.assets.values() if a["AssetTag"]]
        surnames = sorted(
            {
                u["LastName"]
                for u in state.users.values()
                if u["RoleId"] == ROLE_STUDENT and u["LastName"] and len(u["LastName"]) >= 3
            }
        )
    once = sorted(t for t in set(tags) if tags.count(t) == 1 and t.upper() == t)
    return [(tag, rng.choice(surnames)[:3]) for tag in rng.sample(once, scans)]


async def keys(window: QWidget, text: str, gap_s: float, synchronous: bool) -> None:
    """Characters into whatever has the focus, one key event at a time `gap_s` apart (or all
    in one go)."""
    if synchronous:
        QTest.keyClicks(key_target(window), text)
        return
    for char in text:
        QTest.keyClicks(key_target(window), char)
        await asyncio.sleep(gap_s)


async def scan_and_search(kiosk: Kiosk, tag: str, letters: str, synchronous: bool) -> None:
    window, device = kiosk.window, kiosk.window.device
    kiosk.controller.reset_to_ready()
    await asyncio.sleep(0 if synchronous else NEXT_SCAN_PAUSE_S)
    if not window.isActiveWindow():
        await activate(window)
    await keys(window, tag, SCANNER_KEY_GAP_S, synchronous)
    QTest.keyClick(key_target(window), Qt.Key.Key_Return)
    await wait_until(
        lambda: window.stack.currentWidget() is device and device.card.tag.text() == tag,
        what=f"the card of {tag}",
    )
    # Fewer letters than a scan needs: the scanner filter hands them on as typing.
    await keys(window, letters, TYPING_KEY_GAP_S, synchronous)
    await wait_until(
        lambda: device.person_input.text() == letters and bool(device.results_note.text()),
        what=f"type-ahead results for {letters!r}",
    )


async def start_kiosk(
    sim: ExternalSimulator, jobs: list[tuple[str, str]], synchronous: bool
) -> Kiosk:
    """The kiosk, warmed up (5 scans at 0 ms), with start-up objects frozen as kiosk.app
    freezes them."""
    kiosk = await open_kiosk(sim, size=(1280, 800), debounce_ms=100)
    sim.set_latency(0)
    for tag, letters in jobs:
        await scan_and_search(kiosk, tag, letters, synchronous)
    kiosk.controller.reset_to_ready()
    await asyncio.sleep(0.2)
    gc.collect()
    gc.freeze()
    return kiosk


async def measure(sim: ExternalSimulator, args: argparse.Namespace) -> Targets:
    jobs = workload(args.seed, args.scans + 5)
    collections = GcWatch()
    gc.callbacks.append(collections)
    beat = Heartbeat()
    kiosk = await start_kiosk(sim, jobs[:5], args.synchronous_input)
    blocks = max(1, min(args.blocks, args.scans))
    idle_gaps: list[Gap] = []
    busy_gaps: list[Gap] = []
    idle_gc: list[tuple[int, float, float]] = []
    busy_gc: list[tuple[int, float, float]] = []
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        sim.set_latency(LATENCY_MS)
        sim.clear_requests()
        collections.on = True
        busy_s = 0.0
        todo = jobs[5:]
        for block in range(blocks):
            # Idle and busy alternate, so both see the same background load of the machine.
            beat.start()
            await asyncio.sleep(args.idle / blocks)
            idle_gaps += beat.stop()
            idle_gc += collections.take()
            beat.start()
            started = time.perf_counter()
            for tag, letters in todo[block::blocks]:
                await scan_and_search(kiosk, tag, letters, args.synchronous_input)
            busy_s += time.perf_counter() - started
            busy_gaps += beat.stop()
            busy_gc += collections.take()
            kiosk.controller.reset_to_ready()
        collections.on = False
        sent = len(sim.requests())
        full_started = time.perf_counter()
        gc.collect()
        frozen_gc = time.perf_counter() - full_started
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        full_started = time.perf_counter()
        gc.collect()  # what a full collection would cost with nothing frozen
        full_gc = time.perf_counter() - full_started
        gc.freeze()

        headers = sim.auth_headers() | {"User-Agent": f"iiq-kiosk/{__version__}"}
        with httpx.Client(base_url=kiosk.client.base_url, headers=headers) as blocking_client:
            blocking_client.get(f"/assets/assettag/{jobs[0][0]}")  # noqa: ASYNC212
            collections.on = True
            beat.start()
            for tag, _ in jobs[5 : 5 + args.blocking]:
                blocking_client.get(f"/assets/assettag/{tag}")  # noqa: ASYNC212 - the point
                await asyncio.sleep(0.02)
            blocking = RoundFigures(
                f"contrast: blocking, {args.blocking} GETs", beat.stop(), collections.take()
            )
            collections.on = False
    finally:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(collections)
        await kiosk.aclose()
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None

    idle = RoundFigures(f"idle kiosk, {args.idle:g} s", idle_gaps, idle_gc)
    busy = RoundFigures(f"{args.scans} scans + {args.scans} searches", busy_gaps, busy_gc)
    how = "synchronous input (old style)" if args.synchronous_input else "input key by key"
    print(
        f"loop stalls: 5 ms heartbeat; simulator {LATENCY_MS} ms in its own process; "
        f"{args.scans} scans + {args.scans} type-ahead searches, {sent} API requests in "
        f"{busy_s:.1f} s; {how}; idle and busy alternate in {blocks} blocks; seed {args.seed}"
    )
    if load_before and load_after:
        print(
            f"  machine load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} "
            f"after, on {os.cpu_count()} CPUs"
        )
    print(HEADER)
    for figures in (idle, busy, blocking):
        print(figures.row())
    print(LEGEND)
    print(
        f"  a full collection now takes {frozen_gc * 1000:.1f} ms with the {frozen} start-up "
        f"objects frozen (as kiosk.app does), {full_gc * 1000:.1f} ms without"
    )
    worst = max(busy.walls)
    over = busy.long(TARGET_MAX_GAP_S)
    preempted = sum(g.preempted > 0 for g in over)
    own = max(g.cpu for g in busy.gaps)
    targets = Targets()
    targets.check(
        worst <= TARGET_MAX_GAP_S,
        f"max gap {worst * 1000:.1f} ms {'<=' if worst <= TARGET_MAX_GAP_S else '>'} 16 ms "
        f"(p99 {percentile(busy.walls, 99) * 1000:.1f} ms; idle kiosk max "
        f"{max(idle.walls) * 1000:.1f} ms; {len(over)} gaps > 16 ms, {preempted} of them "
        f"preempted; the loop thread's own work in one gap at most {own * 1000:.1f} ms)",
    )
    return targets


# --- attribution: what runs inside the long gaps ---------------------------------------

MIN_RECORDED_S = 0.0002


class Timeline:
    """What ran on the loop thread while `on`: top-level Qt event dispatches (each labelled
    by what it ran) and, nested in them, the measured pieces (gc, logging, filters...)."""

    def __init__(self) -> None:
        self.on = False
        self.top: list[tuple[float, float, str]] = []
        self.nested: list[tuple[float, float, str]] = []
        self.depth = 0
        self.handle_label: str | None = None

    def timed(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                if self.on:
                    self.nested.append((started, time.perf_counter(), label))

        return wrapper


TIMELINE = Timeline()


class TimedApplication(QApplication):
    """Times every top-level event dispatch (the kiosk's own code is untouched)."""

    def notify(self, receiver: QObject, event: QEvent) -> bool:  # type: ignore[override]
        line = TIMELINE
        if line.depth or not line.on:
            return super().notify(receiver, event)
        kind = event.type()
        receiver_type = type(receiver)
        view = ""
        if issubclass(receiver_type, QAbstractItemView):
            view = f"Qt item layout of list {receiver.objectName()!r} ({kind.name})"
        elif receiver_type is QTimer:
            view = f"Qt timer of a QTimer of {type(receiver.parent()).__name__}"
        line.depth, line.handle_label = 1, None
        started = time.perf_counter()
        try:
            return super().notify(receiver, event)
        finally:
            ended = time.perf_counter()
            line.depth = 0
            if ended - started >= MIN_RECORDED_S:
                line.top.append((started, ended, qt_label(kind, receiver_type, view, line)))


def qt_label(kind: QEvent.Type, receiver: type, view: str, line: Timeline) -> str:
    if line.handle_label is not None:
        return line.handle_label
    if kind in (QEvent.Type.UpdateRequest, QEvent.Type.Paint):
        return "Qt paint (UpdateRequest)"
    if kind == QEvent.Type.LayoutRequest:
        return "Qt layout (LayoutRequest)"
    if view:
        return view
    if kind == QEvent.Type.SockAct:
        return "socket ready (asyncio reader/writer)"
    if kind == QEvent.Type.Timer:
        return f"Qt timer of {receiver.__name__}"
    return f"Qt {kind.name} to {receiver.__name__}"


def handle_label(handle: asyncio.Handle) -> str:
    callback = handle._callback  # type: ignore[attr-defined]
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        code = getattr(coro, "cr_code", None)
        where = str(getattr(code, "co_filename", ""))
        if where.startswith(BENCH_DIR):
            return "bench step (the simulated operator: Ready, keys, waits)"
        origin = "kiosk" if where.startswith(KIOSK_DIR) else "library"
        return f"{origin} step: {name}"
    return f"asyncio callback: {getattr(callback, '__qualname__', repr(callback))[:60]}"


NESTED_LABELS = (
    "page switch (QStackedWidget.setCurrentWidget)",
    "result list fill",
    "app-wide event filter: InputWatcher",
    "app-wide event filter: ScannerFilter",
    "logging handlers",
    "gc gen0",
    "gc gen1",
    "gc gen2",
)


FILTER_CLASSES = (  # (module, class): the application-wide event filters
    ("kiosk.ui.shell", "InputWatcher"),
    ("kiosk.ui.scanner", "ScannerFilter"),
)


def instrument_classes() -> None:
    """Before the kiosk exists (PySide keeps the Python override it found first)."""
    line = TIMELINE
    done: set[str] = set()
    for module_name, name in FILTER_CLASSES:
        if name in done:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, name, None)
        if cls is not None:
            cls.eventFilter = line.timed(f"app-wide event filter: {name}", cls.eventFilter)
            done.add(name)
    logging.Handler.handle = line.timed("logging handlers", logging.Handler.handle)  # type: ignore[method-assign]
    for _, name in FILTER_CLASSES:
        if name not in done:
            print(f"  ({name} not found: its event filter is not timed)")
            done.add(name)


def instrument(kiosk: Kiosk) -> None:
    line = TIMELINE
    original_run = asyncio.Handle._run  # type: ignore[attr-defined]

    def run(handle: asyncio.Handle) -> None:
        try:
            original_run(handle)
        finally:
            if line.on and line.handle_label is None:
                line.handle_label = handle_label(handle)

    asyncio.Handle._run = run  # type: ignore[attr-defined]

    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif line.on:
            line.nested.append((gc_started[0], time.perf_counter(), f"gc gen{info['generation']}"))

    gc.callbacks.append(on_gc)
    controller = kiosk.controller
    stack: QStackedWidget = kiosk.window.stack
    stack.setCurrentWidget = line.timed(  # type: ignore[method-assign]
        "page switch (QStackedWidget.setCurrentWidget)", stack.setCurrentWidget
    )
    # The result list is filled by the device page (or, before, by the controller).
    for owner, name in ((kiosk.window.device, "show_people"), (controller, "_fill_results")):
        if hasattr(owner, name):
            setattr(owner, name, line.timed("result list fill", getattr(owner, name)))
            break


def overlap(
    spans: list[tuple[float, float, str]], starts: list[float], a: float, b: float
) -> Iterator[tuple[str, float]]:
    """(label, seconds inside [a, b]) of the spans that overlap it (sorted by start)."""
    first = max(0, bisect.bisect_left(starts, a - 1.0))
    for start, end, label in spans[first : bisect.bisect_right(starts, b)]:
        inside = min(end, b) - max(start, a)
        if inside > 0:
            yield label, inside


def attribute(ticks: list[tuple[float, float, int]]) -> None:
    line = TIMELINE
    top = sorted(line.top)
    nested = sorted(line.nested)
    top_starts = [s for s, _, _ in top]
    nested_starts = [s for s, _, _ in nested]
    every = gaps_of(ticks)
    long_gaps = [g for g in every if g.wall > LONG_GAP_S]
    gaps = [(g.end - g.wall, g.end) for g in long_gaps]
    walls = [g.wall for g in every]
    print(
        f"  instrumented run: {len(walls)} ticks, max {max(walls) * 1000:.1f} ms, "
        f"p99 {percentile(walls, 99) * 1000:.1f} ms, {len(gaps)} gaps > 10 ms "
        f"({sum(g.wall for g in long_gaps) * 1000:.0f} ms in all; the loop thread on a CPU "
        f"{sum(g.cpu for g in long_gaps) * 1000:.0f} ms of it, preempted in "
        f"{sum(g.preempted > 0 for g in long_gaps)} of them)"
    )
    if not gaps:
        return
    top_total: defaultdict[str, float] = defaultdict(float)
    top_in: Counter[str] = Counter()
    top_biggest: Counter[str] = Counter()
    nested_total: defaultdict[str, float] = defaultdict(float)
    nested_in: Counter[str] = Counter()
    unaccounted = 0.0
    worst: list[tuple[float, str]] = []
    for a, b in gaps:
        parts: defaultdict[str, float] = defaultdict(float)
        for label, inside in overlap(top, top_starts, a, b):
            parts[label] += inside
        for label, inside in parts.items():
            top_total[label] += inside
            top_in[label] += 1
        if parts:
            top_biggest[max(parts, key=lambda k: parts[k])] += 1
        unaccounted += (b - a) - sum(parts.values())
        inner: defaultdict[str, float] = defaultdict(float)
        for label, inside in overlap(nested, nested_starts, a, b):
            inner[label] += inside
        for label, inside in inner.items():
            nested_total[label] += inside
            nested_in[label] += 1
        pieces = sorted(parts.items(), key=lambda kv: -kv[1])[:4]
        text = " + ".join(f"{label} {sec * 1000:.1f}" for label, sec in pieces)
        worst.append((b - a, text))
    total = sum(b - a for a, b in gaps)
    print(f"  inside the {len(gaps)} gaps > 10 ms, by top-level loop work (ms, share of gap time):")
    print(f"    {'what ran':<58} {'in gaps':>7} {'biggest':>7} {'ms':>7} {'share':>6}")
    for label, sec in sorted(top_total.items(), key=lambda kv: -kv[1])[:12]:
        print(
            f"    {label[:58]:<58} {top_in[label]:>7} {top_biggest[label]:>7} "
            f"{sec * 1000:>7.0f} {sec / total:>6.0%}"
        )
    print(
        f"    {'(no loop work recorded: waiting for the tick, OS scheduling)':<58} "
        f"{'':>7} {'':>7} {unaccounted * 1000:>7.0f} {unaccounted / total:>6.0%}"
    )
    print("  nested inside that work (ms inside the gaps):")
    for label in NESTED_LABELS:
        nested_total.setdefault(label, 0.0)
    for label, sec in sorted(nested_total.items(), key=lambda kv: -kv[1]):
        share = sec / total
        print(f"    {label:<58} {nested_in[label]:>7} {'':>7} {sec * 1000:>7.0f} {share:>6.0%}")
    print("  the 5 longest gaps (ms):")
    for gap, text in sorted(worst, reverse=True)[:5]:
        print(f"    {gap * 1000:5.1f}: {text}")


async def measure_attributed(sim: ExternalSimulator, args: argparse.Namespace) -> None:
    jobs = workload(args.seed, args.scans + 5)
    instrument_classes()
    kiosk = await start_kiosk(sim, jobs[:5], args.synchronous_input)
    instrument(kiosk)
    beat = Heartbeat()
    try:
        sim.set_latency(LATENCY_MS)
        TIMELINE.on = True
        beat.start()
        for tag, letters in jobs[5:]:
            await scan_and_search(kiosk, tag, letters, args.synchronous_input)
        beat.timer.stop()
        TIMELINE.on = False
    finally:
        await kiosk.aclose()
    attribute(beat.ticks)


def run_attribution(args: argparse.Namespace) -> None:
    command = [sys.executable, __file__, "--attribute-only", "--scans", str(args.attribute)]
    command += ["--seed", str(args.seed)]
    if args.synchronous_input:
        command.append("--synchronous-input")
    print(f"where the long gaps come from: round 2 again, {args.attribute} scans, instrumented")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        print(f"  the instrumented run failed ({done.returncode}): {done.stderr[-1500:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of the idle round")
    parser.add_argument("--blocks", type=int, default=10, help="idle/busy alternations")
    parser.add_argument("--blocking", type=int, default=12)
    parser.add_argument("--attribute", type=int, default=40, help="scans of the instrumented run")
    parser.add_argument("--attribute-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--synchronous-input",
        action="store_true",
        help="each scanner burst and each Ready-then-scan in one go (the old bench input)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_logging(Path(tmp), console=False)  # as kiosk.app: INFO to a rotating file
        if args.attribute_only:
            TimedApplication(sys.argv[:1])
            with ExternalSimulator() as sim:
                run_qt(lambda: measure_attributed(sim, args))
            return 0
        with ExternalSimulator() as sim:
            targets = run_qt(lambda: measure(sim, args))
        logging.shutdown()
    if args.attribute:
        run_attribution(args)
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
