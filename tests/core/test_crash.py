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
