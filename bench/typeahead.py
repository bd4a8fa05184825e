"""Type-ahead: how many searches a slowly typed name sends, and whether an old answer shows.

    python bench/typeahead.py [--trials 8] [--seed 1]

The real window and controller (default 300 ms debounce) against an in-process simulator.
After a device card, the first 10 characters of a seeded person's name are typed into the
person field at 120 ms a key (a person typing, not a scanner burst). Before every key the
simulated latency of /users/search/ is redrawn between 20 and 300 ms (a latency fault), so
answers can overtake each other. Every 5 ms the list is read: each new content is matched to
the typed prefix whose search it is (answers known beforehand from the same simulator); a
content that belongs to an older prefix than one shown before is a stale answer, one that
fits no prefix is a wrong list. At the end the list must equal the answer for the final text.
With a debounce longer than the slowest answer no answer can be overtaken, so a second round
types with three hesitations just longer than the debounce (320-450 ms) and redraws the
latency between 20 and 1000 ms: several searches are in flight and answers come out of order,
which exercises the stale-answer guard (a kiosk without it shows stale lists here).
Target (120 ms a key): <= 2 requests per name, 0 stale answers, final list right.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass

from _common import verdict
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QListWidget

from kiosk.core.scan import ScanSettings
from kiosk.iiq.client import Connection, IIQClient
from kiosk.simulator import DEMO, ROLE_STUDENT, Fault, Simulator
from kiosk.tools.screens import Kiosk, activate, key_target, open_kiosk, run_qt, scan, wait_until

KEY_INTERVAL_S = 0.120
SEARCH_PATH = "/users/search/"


@dataclass
class Trial:
    name: str
    requests: int = 0
    stale: int = 0
    wrong: int = 0
    final_ok: bool = False


def people_to_type(sim: Simulator, count: int, rng: random.Random) -> list[str]:
    with sim.state.lock:
        names = sorted(
            {
                u["Name"][:10]
                for u in sim.state.users.values()
                if u["RoleId"] == ROLE_STUDENT
                and u["IsActive"]
                and len(u["Name"]) >= 10
                and u["Name"][:10].strip() == u["Name"][:10]
            }
        )
    return rng.sample(names, count)


async def answers(client: IIQClient, text: str) -> dict[str, frozenset[str]]:
    """What the kiosk would list for every prefix of `text` it could search for."""
    known: dict[str, frozenset[str]] = {}
    for end in range(2, len(text) + 1):
        prefix = text[:end].strip()
        if len(prefix) >= 2 and prefix not in known:
            people = await client.search_users(prefix, limit=25)
            known[prefix] = frozenset(p.user_id for p in people if p.can_own_devices)
    return known


@dataclass(frozen=True)
class Round:
    label: str
    pauses: frozenset[int] = frozenset()  # after which keys the typist hesitates
    latency_ms: tuple[int, int] = (20, 300)


ROUNDS = (
    Round("120 ms a key, search latency 20-300 ms"),
    Round(
        "120 ms a key, 3 hesitations, search latency 20-1000 ms",
        frozenset({3, 6, 8}),
        (20, 1000),
    ),
)


async def type_name(
    kiosk: Kiosk, sim: Simulator, text: str, rng: random.Random, how: Round
) -> Trial:
    window, device = kiosk.window, kiosk.window.device
    trial = Trial(text)
    known = await answers(kiosk.client, text)
    kiosk.controller.reset_to_ready()
    await activate(window)
    scan(window, DEMO.free_tag)
    await wait_until(lambda: device.card.tag.text() == DEMO.free_tag, what="the card")
    sim.clear_requests()

    shown: tuple[str, ...] = ()
    shown_rank = -1  # index in `text` of the prefix whose answer is on screen

    def look() -> None:
        nonlocal shown, shown_rank
        items = listed(device.results)
        if items == shown:
            return
        shown = items
        if not items:
            return  # cleared (a new search pending or nobody found): not an answer to judge
        typed = device.person_input.text()
        ranks = [
            len(prefix)
            for prefix, people in known.items()
            if people == frozenset(items) and typed.startswith(prefix)
        ]
        if not ranks:
            trial.wrong += 1
            return
        rank = max(ranks)
        if rank < shown_rank:
            trial.stale += 1
        shown_rank = max(shown_rank, rank)

    async def watch(seconds: float) -> None:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            await asyncio.sleep(0.005)
            look()

    for index, char in enumerate(text):
        sim.faults.clear()
        sim.faults.add(
            Fault(
                "latency",
                path_contains=SEARCH_PATH,
                times=None,
                latency_ms=rng.randint(*how.latency_ms),
            )
        )
        QTest.keyClicks(key_target(window), char)
        await watch(rng.uniform(0.32, 0.45) if index in how.pauses else KEY_INTERVAL_S)
    await watch(0.4 + how.latency_ms[1] / 1000)  # debounce + the slowest answer + margin
    sim.faults.clear()
    trial.requests = sum(1 for r in sim.requests if r.path.startswith(SEARCH_PATH))
    final = frozenset(listed(device.results))
    trial.final_ok = device.person_input.text() == text and final == known.get(text.strip())
    return trial


def listed(results: QListWidget) -> tuple[str, ...]:
    """The people the list shows, by UserId (the rows' wording is the window's business)."""
    rows = (results.item(i).data(Qt.ItemDataRole.UserRole) for i in range(results.count()))
    return tuple(person.user_id for person in rows)


async def measure(sim: Simulator, trials: int, seed: int) -> bool:
    rng = random.Random(seed)
    kiosk = await open_kiosk(
        sim, size=(1280, 800), scan_settings=ScanSettings(double_scan_seconds=0)
    )
    kiosk.extra_clients.append(
        IIQClient(Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token))
    )
    ok = True
    try:
        names = people_to_type(sim, trials, rng)
        for how in ROUNDS:
            results = [await type_name(kiosk, sim, name, rng, how) for name in names]
            total = sum(r.requests for r in results)
            stale = sum(r.stale for r in results)
            wrong = sum(r.wrong for r in results)
            right = sum(r.final_ok for r in results)
            print(f"{how.label}: {len(results)} names of 10 characters (seed {seed})")
            print(
                f"  /users/search/ requests per name: max {max(r.requests for r in results)}, "
                f"mean {total / len(results):.2f}"
            )
            print(f"  stale answers shown: {stale}   lists that fit no prefix: {wrong}")
            print(f"  final list matches the final text: {right}/{len(results)}")
            if not how.pauses:
                met = max(r.requests for r in results) <= 2 and stale == 0 and wrong == 0
                met = met and right == len(results)
                print(f"target <= 2 requests, 0 stale, final list right: {verdict(met)}")
                ok = ok and met
            else:
                ok = ok and stale == 0 and right == len(results)
    finally:
        await kiosk.aclose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with Simulator() as sim:
        run_qt(lambda: measure(sim, args.trials, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
