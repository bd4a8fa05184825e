"""Helpers for the command-line tests: run `python -m kiosk` against a simulator and read
what it received."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.simulator import DEMO, RecordedRequest, Simulator

#: POST routes that only read (queries); every other POST changes something.
QUERY_ROUTES = ("/assets", "/users")


def mutations(sim: Simulator) -> list[RecordedRequest]:
    """The requests the simulator received that change something."""
    return [
        r
        for r in sim.requests
        if r.method.upper() == "POST" and r.path.rstrip("/") not in QUERY_ROUTES
    ]


def config_text() -> str:
    """Check-in location and repair-ticket ids for the demo district (as demo mode sets)."""
    return (
        "version = 1\n"
        "[checkin]\n"
        f'status_name = "{DEMO.available_status_name}"\n'
        f'location_id = "{DEMO.storeroom_location_id}"\n'
        "[tickets]\n"
        f'issue_id = "{DEMO.ticket_issue_id}"\n'
        f'issue_category_id = "{DEMO.ticket_issue_category_id}"\n'
        f'issue_type_id = "{DEMO.ticket_issue_type_id}"\n'
        f'wizard_category_id = "{DEMO.ticket_wizard_category_id}"\n'
    )


@dataclass
class Runner:
    sim: Simulator
    data_dir: Path
    config: Path

    def env(self, **changes: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            IIQ_URL=self.sim.url,
            IIQ_TOKEN=self.sim.token,
            IIQ_SITE_ID=self.sim.site_id,
            IIQ_KIOSK_DATA=str(self.data_dir),
            IIQ_KIOSK_CONFIG=str(self.config),
            IIQ_KIOSK_CLI_RETRY_DELAY="0.01",
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
            PYTHONIOENCODING="utf-8",
        )
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The command running in the background (stdin closed), for tests that act meanwhile."""
        return subprocess.Popen(
            [sys.executable, "-m", "kiosk", *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kiosk", *args],
            env=self.env(**dict(env or {})),
            stdin=subprocess.DEVNULL if input is None else None,
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )
