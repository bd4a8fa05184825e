"""Crash trials: a kiosk process submitting changes is killed at a random moment, a second
process reopens its journal and sends what is left; then the simulator's recorded requests
tell whether anything was lost or applied twice.

Run as a script, this is the kiosk side (`submit` or `drain`); imported, it is the harness
used by tests/core/test_crash.py and bench/crash_trials.py. The simulator's address and
token come from the environment (IIQ_SIM_URL, IIQ_SIM_TOKEN, IIQ_SIM_SITE_ID), never argv.

The submitting process prints one line per event, flushed, so the harness knows where it
was killed: `ready`, `submit <id>`, `send <id>`, `sent <id> <state>`, `confirmed <id>
<state>` (the operator saw it), `finished`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.core.changes import ApplyResult, Change
    from kiosk.simulator import Simulator

WORKER = Path(__file__).resolve()
#: Outbox settings of the worker: quick retries so a trial takes about a second.
OUTBOX_SETTINGS = {
    "min_interval_s": 0.005,
    "backoff_base_s": 0.02,
    "backoff_max_s": 0.2,
    "verify_after_s": 0.2,
}

# --- the kiosk side (runs in the subprocess) --------------------------------------------


def _say(*words: object) -> None:
    print(*words, flush=True)


async def _worker(mode: str, journal_path: Path, plan: list[dict[str, Any]]) -> None:
    # Imported here: the harness imports this module without needing the client.
    from kiosk.core.changes import ApplyResult, Change, ChangeKind, ChangeService, ChangeState
    from kiosk.core.journal import AsyncJournal
    from kiosk.core.outbox import Outbox
    from kiosk.iiq.client import Connection, IIQClient, RetryPolicy

    connection = Connection(
        site_url=os.environ["IIQ_SIM_URL"],
        site_id=os.environ["IIQ_SIM_SITE_ID"],
        token=os.environ["IIQ_SIM_TOKEN"],
        read_timeout=5.0,
    )
    client = IIQClient(connection, retry=RetryPolicy(base_delay=0.01))
    service = ChangeService(client)

    pause_after_sent = float(os.environ.get("CRASH_WORKER_PAUSE_AFTER_SENT") or 0)

    async def apply(change: Change) -> ApplyResult:
        _say("send", change.id)
        result = await service.apply(change)
        _say("sent", change.id, result.change.state.value)
        if (
            pause_after_sent and mode == "submit"
        ):  # harness self-test: be killed before the journal update
            await asyncio.sleep(pause_after_sent)
        return result

    async def naive_apply(change: Change) -> ApplyResult:
        # Harness self-test only: what a kiosk WITHOUT the re-read rule would do.
        if change.kind is ChangeKind.CHECKOUT:
            assert change.to_owner_id is not None
            await client.transfer(change.asset_id, change.to_owner_id)
        else:
            await client.checkin(change.asset_id, owner_id=change.from_owner_id)
        change.state = ChangeState.DONE
        return ApplyResult(change)

    if mode == "drain" and os.environ.get("CRASH_WORKER_NAIVE"):
        apply = naive_apply

    journal = await AsyncJournal.open(journal_path)
    outbox = Outbox(journal, apply, **OUTBOX_SETTINGS)  # type: ignore[arg-type]
    try:
        if mode == "drain":
            counts = await outbox.drain(60.0)
            _say("drained", json.dumps(counts))
            return
        await outbox.load()
        runner = asyncio.create_task(outbox.run())
        _say("ready")
        for data in plan:
            change = Change.from_dict(data)
            _say("submit", change.id)
            result = await outbox.submit(change)
            _say("confirmed", change.id, result.change.state.value)
        await outbox.drain(60.0)
        runner.cancel()
        _say("finished")
    finally:
        await client.aclose()
        await journal.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["submit", "drain"])
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--plan", type=Path)
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text(encoding="utf-8")) if args.plan else []
    asyncio.run(_worker(args.mode, args.journal, plan))
    return 0


# --- the harness (runs next to the simulator) ------------------------------------------


@dataclass
class Trial:
    seed: int
    killed_at: str = "finished"  # the last event the process reported before it died
    planned: int = 0
    recorded: int = 0
    confirmed: int = 0
    unconfirmed_applied: int = 0  # sent and arrived, but not yet marked done when killed
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    wrong_state: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.wrong_state or self.not_done)


STAGES = {
    None: "before ready",
    "ready": "idle",
    "submit": "recording",
    "send": "sending (request under way)",
    "sent": "after reply (journal update)",
    "confirmed": "between changes",
    "finished": "finished (not killed)",
}


def make_plan(sim: Simulator, rng: random.Random, n_assets: int) -> list[dict[str, Any]]:
    """Changes on `n_assets` free devices: each is checked out, then checked in or
    transferred; devices interleaved, each device's changes in order."""
    from kiosk.core.changes import owner_change

    free = sorted(
        a["AssetId"]
        for a in sim.state.assets.values()
        if a["OwnerId"] is None and not a["IsDeleted"]
    )
    users = sorted(sim.state.users)
    chains: list[list[Change]] = []
    for asset_id in rng.sample(free, n_assets):
        tag = sim.state.assets[asset_id]["AssetTag"]
        first, second = rng.sample(users, 2)
        chain = [owner_change(asset_id, tag, None, first, station="CRASH")]
        if rng.random() < 0.5:
            chain.append(owner_change(asset_id, tag, first, None, station="CRASH"))
        else:
            chain.append(owner_change(asset_id, tag, first, second, station="CRASH"))
        chains.append(chain)
    plan: list[dict[str, Any]] = []
    while chains:
        chain = rng.choice(chains)
        plan.append(chain.pop(0).to_dict())
        if not chain:
            chains.remove(chain)
    return plan


def _environment(sim: Simulator) -> dict[str, str]:
    env = dict(os.environ)
    env.update(IIQ_SIM_URL=sim.url, IIQ_SIM_TOKEN=sim.token, IIQ_SIM_SITE_ID=sim.site_id)
    env.pop("IIQ_TOKEN", None)
    return env


def run_trial(
    sim: Simulator,
    workdir: Path,
    seed: int,
    *,
    n_assets: int = 6,
    fault_rate: float = 0.15,
    timeout_s: float = 90.0,
    kill_on: str | None = None,
    worker_env: dict[str, str] | None = None,
) -> Trial:
    """One trial on a freshly reset simulator: submit, kill at a random event, drain,
    check. The kill lands after a random number of reported events plus 0-15 ms, or at the
    first event `kill_on` (e.g. "sent") when given."""
    from kiosk.core.changes import ChangeState
    from kiosk.core.journal import Journal
    from kiosk.simulator import owner_changes

    rng = random.Random(seed)
    trial = Trial(seed)
    started = time.monotonic()
    sim.reset()
    third = fault_rate / 3
    sim.faults.set_rates(error_rate=third, drop_rate=third, apply_then_fail_rate=third, seed=seed)
    plan = make_plan(sim, rng, n_assets)
    trial.planned = len(plan)
    original = {d["asset_id"]: sim.state.assets[d["asset_id"]]["OwnerId"] for d in plan}
    workdir.mkdir(parents=True, exist_ok=True)
    journal_path = workdir / f"journal-{seed}.sqlite3"
    plan_path = workdir / f"plan-{seed}.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    env = _environment(sim) | (worker_env or {})

    # ready + (submit, send, sent, confirmed) per change, a few retries: aim anywhere.
    kill_after = rng.randint(1, 1 + 4 * len(plan) + 4)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            "submit",
            "--journal",
            str(journal_path),
            "--plan",
            str(plan_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(timeout_s, proc.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if (kill_on is None and len(lines) >= kill_after) or (
                kill_on is not None and line.startswith(kill_on + " ")
            ):
                time.sleep(rng.uniform(0, 0.015))
                proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
                break
        rest, _ = proc.communicate()
        lines.extend(x.strip() for x in rest.splitlines() if x.strip())
    finally:
        watchdog.cancel()
    last = lines[-1].split()[0] if lines else None
    trial.killed_at = STAGES.get(last, last or "before ready")

    # The journal as the killed process left it.
    with Journal.open(journal_path, lock=False) as journal:
        trial.recorded = len(journal.export())
        pending = journal.pending()
    confirmed = [x.split()[1] for x in lines if x.startswith("confirmed ")]
    trial.confirmed = len(confirmed)
    heads: dict[str, Any] = {}
    for change in pending:  # oldest first: the one that was being tried per device
        heads.setdefault(change.asset_id, change)
    with sim.state.lock:
        trial.unconfirmed_applied = sum(
            1
            for c in heads.values()
            if c.attempts > 0 and sim.state.assets[c.asset_id]["OwnerId"] == c.to_owner_id
        )

    drain = subprocess.run(
        [sys.executable, str(WORKER), "drain", "--journal", str(journal_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )
    if drain.returncode != 0:
        raise RuntimeError(f"drain failed (seed {seed}): {drain.stderr[-2000:]}")
    sim.faults.clear()

    with Journal.open(journal_path, lock=False) as journal:
        entries = [e.change for e in reversed(journal.recent(10_000))]  # oldest first
    by_id = {c.id: c for c in entries}
    # Lost: confirmed on screen (or recorded) but not in the journal, or never done.
    trial.lost = [cid for cid in confirmed if cid not in by_id]
    trial.not_done = [c.id for c in entries if c.state is not ChangeState.DONE]
    requests = owner_changes(sim.requests)
    final: dict[str, str | None] = dict(original)
    expected: Counter[str] = Counter()
    for change in entries:
        expected[change.asset_id] += 1
        final[change.asset_id] = change.to_owner_id
    for asset_id in original:
        count = sum(r.applied for r in requests.get(asset_id, []))
        if count > expected[asset_id]:
            trial.doubled.append(asset_id)
        elif count < expected[asset_id]:
            trial.not_done.append(asset_id)
        with sim.state.lock:
            if sim.state.assets[asset_id]["OwnerId"] != final[asset_id]:
                trial.wrong_state.append(asset_id)
    trial.seconds = time.monotonic() - started
    return trial


if __name__ == "__main__":
    sys.exit(main())
