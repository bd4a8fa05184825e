"""An Incident IQ stand-in server for demo mode and tests (loopback only).

from kiosk.simulator import DEMO, Fault, Simulator

with Simulator() as sim:        # seed 2026, token "demo-token", free loopback port
    ...                          # sim.url, sim.token, sim.site_id, sim.state, sim.requests
"""

from kiosk.simulator.api import API_PREFIX, RecordedRequest, owner_changes
from kiosk.simulator.demo import (
    DEMO,
    ROLE_AGENT,
    ROLE_FACULTY,
    ROLE_PARENT,
    ROLE_STAFF,
    ROLE_STUDENT,
    DemoData,
)
from kiosk.simulator.faults import FAULT_KINDS, Fault, FaultInjector
from kiosk.simulator.server import Simulator, describe, ensure_loopback, serve_forever
from kiosk.simulator.state import SimState

__all__ = [
    "API_PREFIX",
    "DEMO",
    "FAULT_KINDS",
    "ROLE_AGENT",
    "ROLE_FACULTY",
    "ROLE_PARENT",
    "ROLE_STAFF",
    "ROLE_STUDENT",
    "DemoData",
    "Fault",
    "FaultInjector",
    "RecordedRequest",
    "SimState",
    "Simulator",
    "describe",
    "ensure_loopback",
    "owner_changes",
    "serve_forever",
]
