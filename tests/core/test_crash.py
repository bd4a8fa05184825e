"""Crash safety: the kiosk process is killed (SIGKILL / TerminateProcess) at random moments
while it records and sends changes; a new process reopens the journal and sends the rest.
Nothing confirmed is lost, nothing is applied twice, the final state is the intended one.

bench/crash_trials.py runs the same trial a few hundred times; here a handful keep the
suite quick.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crash_worker import run_trial

from kiosk.simulator import Simulator


@pytest.mark.parametrize("seed", [11, 23, 37, 41])
def test_killed_at_a_random_moment_loses_nothing_and_sends_nothing_twice(
    sim: Simulator, tmp_path: Path, seed: int
) -> None:
    trial = run_trial(sim, tmp_path, seed, n_assets=5)
    assert trial.lost == [], trial
    assert trial.doubled == [], trial
    assert trial.wrong_state == [], trial
    assert trial.not_done == [], trial
    assert trial.recorded >= trial.confirmed


def test_killed_after_the_change_arrived_before_it_was_marked_done(
    sim: Simulator, tmp_path: Path
) -> None:
    """The one moment that matters most, made certain: the change reached Incident IQ, the
    process dies before the journal says so. The next process re-reads and does not send."""
    env = {"CRASH_WORKER_PAUSE_AFTER_SENT": "5"}
    trial = run_trial(sim, tmp_path, 5, n_assets=3, fault_rate=0, kill_on="sent", worker_env=env)
    assert trial.unconfirmed_applied == 1
    assert trial.ok, trial


def test_the_check_finds_a_change_sent_twice(sim: Simulator, tmp_path: Path) -> None:
    """The same kill, with a second process that sends without re-reading first: the
    harness must report the double (so the trials above can fail)."""
    env = {"CRASH_WORKER_PAUSE_AFTER_SENT": "5", "CRASH_WORKER_NAIVE": "1"}
    trial = run_trial(sim, tmp_path, 5, n_assets=3, fault_rate=0, kill_on="sent", worker_env=env)
    assert trial.unconfirmed_applied == 1
    assert len(trial.doubled) == 1
