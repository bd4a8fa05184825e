"""Crash trials: kill the kiosk process at random moments while it sends, restart, count.

    python bench/crash_trials.py [--trials 120] [--assets 6] [--fault-rate 0.15] [--seed 1]

Each trial: a fresh simulator state with random faults (503, dropped connections, applied
then failed), a kiosk process submitting 2 changes per device through the outbox is killed
(SIGKILL; TerminateProcess on Windows) after a random number of its events, a second process
reopens the journal and drains it. Prints where the kills landed and the totals: changes
lost (confirmed on screen but missing or never applied), applied twice, wrong final state.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from _common import Targets
from crash_worker import STAGES, Trial, run_trial

from kiosk.simulator import Simulator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--assets", type=int, default=6, help="devices per trial (2 changes each)")
    parser.add_argument("--fault-rate", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    trials: list[Trial] = []
    started = time.monotonic()
    with Simulator(seed=2026, latency_ms=2) as sim, tempfile.TemporaryDirectory() as tmp:
        for n in range(args.trials):
            trial = run_trial(
                sim,
                Path(tmp) / f"t{n}",
                args.seed * 100_000 + n,
                n_assets=args.assets,
                fault_rate=args.fault_rate,
            )
            trials.append(trial)
            if not trial.ok:
                print(f"  trial {n} (seed {trial.seed}) FAILED: {trial}", file=sys.stderr)
    elapsed = time.monotonic() - started

    where = Counter(t.killed_at for t in trials)
    rows = [
        ("trials", len(trials)),
        ("killed", sum(t.killed_at != STAGES["finished"] for t in trials)),
        ("changes planned", sum(t.planned for t in trials)),
        ("changes recorded before the kill", sum(t.recorded for t in trials)),
        ("changes confirmed on screen", sum(t.confirmed for t in trials)),
        ("arrived but unconfirmed at the kill", sum(t.unconfirmed_applied for t in trials)),
        ("lost", sum(len(t.lost) for t in trials)),
        ("applied twice", sum(len(t.doubled) for t in trials)),
        ("not done after restart", sum(len(t.not_done) for t in trials)),
        ("wrong final owner", sum(len(t.wrong_state) for t in trials)),
        ("seconds", f"{elapsed:.1f}"),
    ]
    print(f"crash trials: {args.assets} devices x 2 changes, fault rate {args.fault_rate:.0%}")
    print("killed at (last event the process reported):")
    for stage in STAGES.values():
        if where.get(stage):
            print(f"  {stage:<34} {where[stage]:>5}")
    print("figures:")
    for name, value in rows:
        print(f"  {name:<34} {value:>5}")
    targets = Targets()
    lost = sum(len(t.lost) for t in trials)
    doubled = sum(len(t.doubled) for t in trials)
    not_done = sum(len(t.not_done) for t in trials)
    wrong = sum(len(t.wrong_state) for t in trials)
    targets.check(lost == 0, f"lost {lost} (0)")
    targets.check(doubled == 0, f"applied twice {doubled} (0)")
    targets.check(not_done == 0, f"not done after restart {not_done} (0)")
    targets.check(wrong == 0, f"wrong final owner {wrong} (0)")
    failed = sum(not t.ok for t in trials)
    targets.check(failed == 0, f"{failed} of {len(trials)} trials failed (0)")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
