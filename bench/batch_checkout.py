"""Batch check-out versus single check-outs: operator actions and wall time per device.

    python bench/batch_checkout.py [--n 30] [--latency-ms 50] [--seed 1] [--limit-s 100]
                                   [--no-burst]

The real window and shell (offscreen when there is no display) against an in-process
simulator whose every request is delayed by a latency fault (`Fault("latency",
latency_ms=50, times=None)`). One person (the demo's student, by ID card) gets, in one run:

1. `--n` single check-outs (the baseline): F1 once, then for each device: scan the device,
   scan the person's ID card, Enter on the confirm dialog; the next device is scanned on the
   result screen. Two warm-up check-outs of other devices go first and are not counted;
2. one batch check-out of `--n` other devices: F4, the person's ID card, Enter (the batch's
   question), then each device's scan, the next one once the device's line is in the list
   (the operator hears its beep), Esc, one summary;
3. (unless `--no-burst`) one more batch of `--n` devices started from that summary with the
   next ID card scan, its devices scanned back to back without waiting for the kiosk (a
   quick operator with a fast scanner), Esc right after the last one: the summary must
   still count every device. Reported, not a target.

Scans are QTest bursts (the characters, then Enter) and keys are QTest key clicks, into
whatever has the keyboard (the focused widget of the active window: a dialog when one is
open); every scan and key is counted. The dialogs' half-second key guard is set to 0
(`guard_ms=0`), so the bench acts the moment a dialog has the keyboard: the times are the
kiosk's own (its work plus its round trips), with no operator time in them.

The devices are free (no owner), their status "Available" (nothing asks for a second
look), with no open tickets, a tag that names one device only, and not chargers. Afterwards the
simulator's records must show every device given to the person exactly once: one
owner-changing request per device (`owner_changes(sim.requests)`), applied, the device's
owner the person, and no owner change for any other device.

Targets: batch actions per device == 1 (its scan); batch wall time per device (F4 to the
summary, over the devices) < single check-out's (first scan to last result, over the
devices); every device given once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from _common import Targets, median, ms, percentile
from checkin_rate import Operator, PageClock, is_charger, until, wall_offset
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QDialog

from kiosk.simulator import DEMO, Fault, RecordedRequest, Simulator, owner_changes
from kiosk.tools.screens import Kiosk, open_kiosk, run_qt
from kiosk.ui.dialogs import ConfirmTransferDialog, QuestionDialog
from kiosk.ui.flows.checkout import PERSON_PROMPT
from kiosk.ui.main_window import MainWindow

WARM_UP = 2


@dataclass
class Device:
    tag: str
    asset_id: str


@dataclass
class Phase:
    """One way of handing out devices: its times, its actions and its requests."""

    name: str
    devices: list[Device]
    started: float = 0.0  # its first action (the mode key, or the batch's ID card)
    finished: float = 0.0  # the last result or the summary shown
    first_scan: float = 0.0
    last_done: float = 0.0  # the last device's result or line shown
    setup_actions: int = 0
    device_actions: int = 0
    scans: list[float] = field(default_factory=list)  # each device's scan (its Enter)
    per_device: list[float] = field(default_factory=list)  # scan -> its result / line
    requests: list[RecordedRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.devices)

    def wall_per_device(self) -> float:
        return (self.finished - self.started) / self.count


class PanelLines:
    """The moment each line arrives in the batch panel's list (rowsInserted)."""

    def __init__(self, window: MainWindow) -> None:
        self.list = window.panel.list
        self.lines: list[tuple[float, str]] = []
        self.list.model().rowsInserted.connect(self._inserted)

    def _inserted(self, _parent: QModelIndex, first: int, _last: int) -> None:
        item = self.list.item(first)
        self.lines.append((time.perf_counter(), item.text() if item is not None else ""))

    def line_for(self, tag: str) -> tuple[float, str] | None:
        return next(((t, text) for t, text in self.lines if text.split()[-1:] == [tag]), None)


def dialog_ready(kiosk: Kiosk, kind: type[QDialog]) -> bool:
    dialog = kiosk.controller.dialog
    return (
        isinstance(dialog, kind)
        and dialog.isVisible()
        and getattr(dialog, "armed", True)
        and QApplication.activeWindow() is dialog
    )


def no_error(kiosk: Kiosk, what: str) -> None:
    """Raise when the window shows anything but success (a refusal, an error)."""
    window = kiosk.window
    if window.stack.currentWidget() is window.result and window.result.kind != "success":
        raise RuntimeError(f"{what}: {window.result.kind} screen “{window.result.title.text()}”")


def asking(kiosk: Kiosk, kind: type[QDialog], what: str) -> bool:
    """The dialog `kind` has the keyboard; raises when an error screen came instead."""
    no_error(kiosk, what)
    return dialog_ready(kiosk, kind)


# --- the three ways -----------------------------------------------------------------------


async def single_checkouts(
    kiosk: Kiosk, op: Operator, clock: PageClock, phase: Phase, person_id: str, *, warm: int
) -> None:
    """F1, then each device: scan it, scan the ID card, Enter; the first `warm` devices
    of `phase.devices` are warm-up (not counted, not in `phase.devices` afterwards)."""
    window, shell = kiosk.window, kiosk.controller
    device_page = window.device
    await op.ready()
    before = op.actions
    op.key(Qt.Key.Key_F1)
    await until(lambda: shell.mode == "checkout", "check-out mode (F1)")
    phase.setup_actions = op.actions - before
    devices, phase.devices = phase.devices, phase.devices[warm:]
    for i, device in enumerate(devices):
        counted = i >= warm
        await op.ready()
        before = op.actions
        clock.forget()
        scanned = op.scan(device.tag)

        def person_step(tag: str = device.tag) -> bool:
            no_error(kiosk, tag)
            return (
                window.stack.currentWidget() is device_page
                and device_page.card.tag.text() == tag
                and device_page.prompt.text() == PERSON_PROMPT
                and device_page.person_input.hasFocus()
            )

        await until(person_step, f"the person step for {device.tag}")
        op.scan(person_id)
        await until(
            lambda tag=device.tag: asking(kiosk, ConfirmTransferDialog, tag),
            f"the confirm dialog for {device.tag}",
        )
        op.key(Qt.Key.Key_Return)
        await until(lambda: window.result in clock.shown_at, f"the result for {device.tag}")
        shown = clock.shown_at[window.result]
        title = window.result.title.text()
        if window.result.kind != "success" or not title.endswith(f"now has {device.tag}"):
            raise RuntimeError(f"{device.tag}: {window.result.kind} screen “{title}”")
        if not counted:
            continue
        if not phase.scans:
            phase.started = phase.first_scan = scanned
        phase.scans.append(scanned)
        phase.per_device.append(shown - scanned)
        phase.device_actions += op.actions - before
        phase.finished = phase.last_done = shown


async def batch_checkout(
    kiosk: Kiosk,
    op: Operator,
    clock: PageClock,
    lines: PanelLines,
    phase: Phase,
    person_id: str,
    *,
    mode_key: bool,
    paced: bool,
) -> None:
    """[F4,] the ID card, Enter, each device's scan (`paced`: the next once the line of the
    one before is in the list), Esc, the summary."""
    window, shell = kiosk.window, kiosk.controller
    await op.ready()
    before = op.actions
    if mode_key:
        phase.started = op.key(Qt.Key.Key_F4)
        await until(
            lambda: shell.mode == "batch" and window.stack.currentWidget() is window.ready,
            "batch mode (F4)",
        )
        op.scan(person_id)
    else:
        phase.started = op.scan(person_id)  # on the summary of the batch before
    await until(lambda: asking(kiosk, QuestionDialog, "the batch's person"), "the batch's question")
    op.key(Qt.Key.Key_Return)
    await until(
        lambda: (
            window.stack.currentWidget() is window.panel and window.panel.count.text() == "0 given"
        ),
        "the batch panel",
    )
    phase.setup_actions = op.actions - before
    lines.lines.clear()
    for i, device in enumerate(phase.devices):
        await op.ready()
        before = op.actions
        scanned = op.scan(device.tag)
        phase.device_actions += op.actions - before
        phase.scans.append(scanned)
        if i == 0:
            phase.first_scan = scanned
        if paced:
            await until(
                lambda tag=device.tag: lines.line_for(tag) is not None,
                f"the line of {device.tag}",
            )
        else:
            await asyncio.sleep(0)  # the loop takes the scan in; no waiting for the kiosk
    clock.forget()
    before = op.actions
    op.key(Qt.Key.Key_Escape)
    phase.setup_actions += op.actions - before
    await until(
        lambda: window.result in clock.shown_at, "the batch's summary", limit_s=10 + phase.count
    )
    phase.finished = clock.shown_at[window.result]
    title = window.result.title.text()
    given = f"got {phase.count} device{'s' if phase.count != 1 else ''}"
    if window.result.kind != "success" or not title.endswith(given):
        phase.notes.append(f"summary: {window.result.kind} “{title}”")
    for scanned, device in zip(phase.scans, phase.devices, strict=True):
        found = lines.line_for(device.tag)
        if found is None:
            phase.notes.append(f"{device.tag}: no line in the batch list")
            continue
        at, text = found
        if not text.startswith("✓"):
            phase.notes.append(f"{device.tag}: “{text}”")
        phase.per_device.append(at - scanned)
        phase.last_done = max(phase.last_done, at)


# --- checking and reporting ---------------------------------------------------------------


def free_devices(sim: Simulator, count: int, seed: int) -> list[Device]:
    """Devices nobody holds, status "Available", no open tickets, a tag that names one
    device only; the demo's named records left out."""
    named = {DEMO.free_tag, DEMO.assigned_tag, DEMO.duplicate_tag}
    with sim.state.lock:
        available = {
            sid for sid, status in sim.state.status_types.items() if status["Name"] == "Available"
        }
        assets = list(sim.state.assets.values())
        seen = Counter((a["AssetTag"] or "").casefold() for a in assets if not a["IsDeleted"])
        free = sorted(
            (
                Device(a["AssetTag"], a["AssetId"])
                for a in assets
                if a["OwnerId"] is None
                and not a["IsDeleted"]
                and a["StatusTypeId"] in available
                and not a["OpenTickets"]
                and a["AssetTag"]
                and a["AssetTag"] == a["AssetTag"].upper()
                and seen[a["AssetTag"].casefold()] == 1
                and a["AssetTag"] not in named
                and not is_charger(sim, a)
            ),
            key=lambda d: d.tag,
        )
    if len(free) < count:
        raise RuntimeError(f"the simulated district has {len(free)} free devices, not {count}")
    return random.Random(seed).sample(free, count)


def give_requests(phases: list[Phase], requests: list[RecordedRequest]) -> None:
    """Each phase's requests: from its first action to the next phase's."""
    offset = wall_offset()
    starts = [p.started for p in phases] + [float("inf")]
    for phase, end in zip(phases, starts[1:], strict=True):
        phase.requests = [r for r in requests if phase.started - 0.002 <= r.time - offset < end]


def server_problems(
    sim: Simulator, devices: list[Device], person_id: str, requests: list[RecordedRequest]
) -> list[str]:
    changes = owner_changes(requests)
    ours = {d.asset_id for d in devices}
    problems: list[str] = []
    for device in devices:
        asked = changes.get(device.asset_id, [])
        applied = [r for r in asked if r.applied]
        asset = sim.state.asset(device.asset_id)
        owner = asset["OwnerId"] if asset is not None else None
        if len(asked) != 1 or len(applied) != 1:
            problems.append(
                f"{device.tag}: {len(asked)} owner changes asked, {len(applied)} applied (1, 1)"
            )
        if owner != person_id:
            problems.append(f"{device.tag}: its owner is {owner!r}, not the person")
    for asset_id, asked in changes.items():
        if asset_id not in ours:
            problems.append(f"an owner change for another device ({asset_id}): {len(asked)}")
    return problems


def report_phase(phase: Phase, latency_ms: int) -> None:
    n = phase.count
    per = phase.per_device
    print(f"  {phase.name}: {n} devices")
    setup = phase.setup_actions
    total = phase.device_actions + setup
    print(
        f"    operator actions per device: {phase.device_actions / n:.2f}"
        f" (+ {setup} for the whole run: {total / n:.2f} a device with them)"
    )
    print(
        f"    wall time per device: {ms(phase.wall_per_device())} (first action to the last"
        f" screen: {phase.finished - phase.started:.2f} s)"
    )
    if per:
        print(
            f"    scan -> its result/line:  p50 {ms(median(per))}  p95 {ms(percentile(per, 95))}"
            f"  max {ms(max(per))}"
        )
    print(
        f"    requests: {len(phase.requests)} ({len(phase.requests) / n:.1f} a device,"
        f" {len(phase.requests) * latency_ms / 1000 / n * 1000:.0f} ms of round trips a device"
        " if one after another)"
    )
    for note in phase.notes[:10]:
        print(f"    ✗ {note}")


# --- the run --------------------------------------------------------------------------------


async def measure(
    sim: Simulator, n: int, latency_ms: int, seed: int, limit_s: float, burst: bool
) -> Targets:
    targets = Targets()
    load = os.getloadavg()
    person = sim.state.user_by_school_id(DEMO.student_id)
    assert person is not None
    person_id = person["UserId"]
    devices = free_devices(sim, WARM_UP + (3 if burst else 2) * n, seed)
    single = Phase("single check-outs (F1: device, ID card, Enter)", devices[: WARM_UP + n])
    paced = Phase(
        "batch check-out (F4, ID card, Enter, then the devices, Esc)",
        devices[WARM_UP + n : WARM_UP + 2 * n],
    )
    quick = Phase("batch, devices scanned back to back (not a target)", devices[WARM_UP + 2 * n :])
    phases = [single, paced] + ([quick] if burst else [])
    warm = single.devices[:WARM_UP]
    kiosk = await open_kiosk(sim, size=(1280, 800), guard_ms=0)
    op = Operator(kiosk.window)
    clock = PageClock(kiosk.window)
    lines = PanelLines(kiosk.window)
    failure: str | None = None
    run_started = time.perf_counter()
    try:
        sim.faults.add(Fault("latency", latency_ms=latency_ms, times=None))
        await asyncio.wait_for(
            run_phases(kiosk, op, clock, lines, phases, person_id, burst), limit_s
        )
    except TimeoutError as exc:
        failure = str(exc) or f"out of time (--limit-s {limit_s:g})"
    except RuntimeError as exc:
        failure = str(exc)
    finally:
        await asyncio.sleep(0.3)  # anything still on its way lands in the record
        requests = sim.requests
        await kiosk.aclose()
    elapsed = time.perf_counter() - run_started
    give_requests(phases, requests)

    print(
        f"batch check-out vs single check-outs, simulated latency {latency_ms} ms (fault), "
        f"seed {seed}, one person ({DEMO.student_id})"
    )
    print(
        f"  machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} at the start"
        f" (other processes share them); run {elapsed:.1f} s; {WARM_UP} warm-up check-outs"
        " not counted"
    )
    if failure is not None:
        print(f"  ✗ {failure}")
        targets.check(False, f"the run did not finish: {failure}")
        return targets
    for phase in phases:
        report_phase(phase, latency_ms)
    ratio = single.wall_per_device() / paced.wall_per_device()
    print(
        f"  wall time per device: batch {ms(paced.wall_per_device())} vs single"
        f" {ms(single.wall_per_device())}: single / batch = {ratio:.2f}"
    )
    if op.reactivations:
        print(f"  the window was given the keyboard back {op.reactivations} times (platform)")
    given = warm + single.devices + paced.devices + quick.devices
    problems = server_problems(sim, given, person_id, requests)
    print(
        f"  Incident IQ afterwards: {len(given)} devices handed out ({WARM_UP} warm-up),"
        f" {len(problems)} problems"
    )
    for problem in problems[:10]:
        print(f"    ✗ {problem}")

    batch_actions = paced.device_actions / paced.count
    targets.check(batch_actions == 1, f"batch: {batch_actions:.2f} actions per device (== 1)")
    targets.check(
        paced.wall_per_device() < single.wall_per_device(),
        f"batch {paced.wall_per_device() * 1000:.0f} ms per device"
        f" < single {single.wall_per_device() * 1000:.0f} ms",
    )
    targets.check(not paced.notes, f"batch: {len(paced.notes)} devices not given cleanly (0)")
    targets.check(not problems, f"{len(problems)} wrong records in Incident IQ (0)")
    return targets


async def run_phases(
    kiosk: Kiosk,
    op: Operator,
    clock: PageClock,
    lines: PanelLines,
    phases: list[Phase],
    person_id: str,
    burst: bool,
) -> None:
    single, paced = phases[0], phases[1]
    await single_checkouts(kiosk, op, clock, single, person_id, warm=WARM_UP)
    await batch_checkout(kiosk, op, clock, lines, paced, person_id, mode_key=True, paced=True)
    if burst:
        quick = phases[2]
        await batch_checkout(kiosk, op, clock, lines, quick, person_id, mode_key=False, paced=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="devices of each way")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit-s", type=float, default=100.0, help="give up after that")
    parser.add_argument("--no-burst", action="store_true", help="leave out the third round")
    args = parser.parse_args()
    with Simulator(seed=DEMO.seed) as sim:
        targets = run_qt(
            lambda: measure(
                sim, args.n, args.latency_ms, args.seed, args.limit_s, not args.no_burst
            )
        )
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
