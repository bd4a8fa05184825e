"""Demo mode: the built-in simulator and the settings that point at it.

`iiq-kiosk --demo` needs no configuration at all: the simulator starts in-process on a free
loopback port with the seeded district, and these settings connect to it. Demo data lives
in its own data folder so it never mixes with a district's journal.
"""

from __future__ import annotations

from typing import Any

from kiosk.config import ConfigError, Settings, load_settings
from kiosk.simulator import DEMO, Simulator

#: A cart label the demo knows (F2, scan it, then devices: a cart batch).
DEMO_CART = "CART-DEMO-1"


def demo_overrides(sim: Simulator) -> dict[str, dict[str, Any]]:
    """Settings that point the kiosk at a running simulator."""
    return {
        "iiq": {"url": sim.url, "site_id": sim.site_id},
        "checkin": {
            "status_name": DEMO.available_status_name,
            "location_id": DEMO.storeroom_location_id,
            "carts": {DEMO_CART: {"location_id": DEMO.storeroom_location_id}},
        },
        "tickets": {
            "issue_id": DEMO.ticket_issue_id,
            "issue_category_id": DEMO.ticket_issue_category_id,
            "issue_type_id": DEMO.ticket_issue_type_id,
            "wizard_category_id": DEMO.ticket_wizard_category_id,
        },
    }


def start_demo(
    *,
    config: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    latency_ms: int = 0,
) -> tuple[Simulator, Settings, str]:
    """Start the simulator and return it with the settings and token to use."""
    sim = Simulator(latency_ms=latency_ms, resettable=False)
    sim.start()
    merged = demo_overrides(sim)
    for section, values in (overrides or {}).items():
        merged.setdefault(section, {}).update(values)
    try:
        settings = load_settings(config=config, overrides=merged)
    except ConfigError:
        sim.stop()
        raise
    settings = settings.model_copy(
        update={"data_dir": settings.data_dir / "demo", "source": f"demo ({settings.source})"}
    )
    return sim, settings, sim.token
