"""Small helpers shared by the benchmark scripts (percentiles, printing, the verdict)."""

from __future__ import annotations

import math
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence

import httpx


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank: a value that was actually measured."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


class Targets:
    """The targets of one script: `check` each, then `finish` prints the verdict line that
    ends the output ("target met" or "MISSED: ...") and gives the exit status (1 if any
    target was missed)."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.missed: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        """Note one target; `what` says it with its figure ("max gap 18.7 ms > 16 ms")."""
        self.checked.append(what)
        if not ok:
            self.missed.append(what)
        return ok

    def finish(self) -> int:
        if not self.checked:
            print("MISSED: no target was checked (the run did not get that far)")
            return 1
        if self.missed:
            print("MISSED: " + "; ".join(self.missed))
            return 1
        print("target met: " + "; ".join(self.checked))
        return 0


class ExternalSimulator:
    """The simulator in a process of its own (`python -m kiosk.simulator --port 0`), so that
    its work does not compete with the kiosk for the GIL or add to the kiosk's garbage
    collections, as with a real Incident IQ. Steered through its /_sim/ admin routes."""

    def __init__(self, seed: int | None = None) -> None:
        from kiosk.simulator import DEMO

        self.seed = DEMO.seed if seed is None else seed
        self.token = DEMO.token
        self.site_id = DEMO.site_id
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ExternalSimulator:
        command = [sys.executable, "-u", "-m", "kiosk.simulator", "--port", "0"]
        command += ["--seed", str(self.seed)]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        first = self._process.stdout.readline()
        match = re.search(r"running at (http://\S+)", first)
        if match is None:
            self._process.kill()
            raise RuntimeError(f"the simulator did not start: {first!r}")
        self.url = match.group(1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "SiteId": self.site_id,
            "Client": "ApiClient",
            "Accept": "application/json",
        }

    def admin(self, method: str, path: str, body: object = None) -> object:
        response = httpx.request(method, f"{self.url}/_sim{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def set_latency(self, latency_ms: int) -> None:
        self.admin("POST", "/config", {"latency_ms": latency_ms})

    def requests(self) -> list[dict[str, object]]:
        found = self.admin("GET", "/requests")
        assert isinstance(found, list)
        return found

    def clear_requests(self) -> None:
        self.admin("DELETE", "/requests")

    def add_fault(self, **fault: object) -> None:
        self.admin("POST", "/faults", fault)

    def clear_faults(self) -> None:
        self.admin("DELETE", "/faults")
