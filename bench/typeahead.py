"""Type-ahead: how many searches a typed name sends, and whether an old answer ever shows.

    python bench/typeahead.py [--trials 8] [--per-speed 4] [--seed 1]

The real window and controller (default 300 ms debounce) against an in-process simulator.
After a device card, the first 10 characters of a seeded person's name are typed into the
person field (a person typing, not a scanner burst). Before every key the simulated latency
of /users/search/ is redrawn (a latency fault), so answers can overtake each other. Every
5 ms the list is read: each new content is matched to the typed prefix whose search it is
(answers known beforehand from the same simulator). A content is a stale answer when it
belongs to an older prefix than one shown before, or when a search for a newer prefix had
already reached the simulator before the list changed (the kiosk had sent a newer search,
so this answer was out of date when it was shown); a content that fits no prefix is a wrong
list. At the end the list must equal the answer for the final text.

Rounds:
1. 120 ms a key, latency 20-300 ms (the headline): the debounce outlasts every gap between
   keys, so one search per name; it cannot show a stale answer and checks the request count.
2. 120 ms a key with three hesitations just longer than the debounce (320-450 ms), latency
   20-1000 ms: a few searches per name, some still in flight when the next one starts.
3. Speeds around the debounce, 200, 300, 350 and 450 ms a key (`--per-speed` names each),
   latency 50-900 ms: from one search per name (200 ms, the debounce never fires before the
   end) to one per key (350 and 450 ms), with answers of older searches due after newer
   ones. Prints how many searches were still in flight when a newer one started and how
   many answers the simulator would have delivered after a newer one (its latency schedule):
   what the stale-answer guard has to stop.
Rounds 2 and 3 type `--per-speed` names each, round 1 `--trials`. (With the kiosk's stale-answer
guard taken out, round 3 at 350 ms a key showed 9 stale answers for 4 names.)
Targets: round 1 <= 2 requests a name; every round 0 stale answers, 0 wrong lists and every
final list right; rounds 2-3 had at least one answer due after a newer one's (else they
tested nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

from _common import Targets
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QListWidget

from kiosk.core.scan import ScanSettings
from kiosk.iiq.client import Connection, IIQClient
from kiosk.simulator import DEMO, ROLE_STUDENT, Fault, RecordedRequest, Simulator
from kiosk.tools.screens import Kiosk, activate, key_target, open_kiosk, run_qt, scan, wait_until

SEARCH_PATH = "/users/search/"
DEBOUNCE_S = 0.300  # the controller's default
NAME_LENGTH = 10


@dataclass(frozen=True)
class Round:
    label: str
    key_interval_s: float
    latency_ms: tuple[int, int]
    pauses: frozenset[int] = frozenset()  # after which keys the typist hesitates (320-450 ms)
    headline: bool = False  # judged on the request count too


@dataclass
class Trial:
    name: str
    requests: int = 0
    stale: int = 0
    wrong: int = 0
    final_ok: bool = False
    in_flight: int = 0  # searches that reached Incident IQ while an older one was unanswered
    overtaken: int = 0  # answers Incident IQ finished after the answer to a newer search


@dataclass
class Figures:
    how: Round
    trials: list[Trial] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(t, name) for t in self.trials)

    @property
    def right(self) -> int:
        return sum(t.final_ok for t in self.trials)


def people_to_type(sim: Simulator, count: int, rng: random.Random) -> list[str]:
    with sim.state.lock:
        names = sorted(
            {
                u["Name"][:NAME_LENGTH]
                for u in sim.state.users.values()
                if u["RoleId"] == ROLE_STUDENT
                and u["IsActive"]
                and len(u["Name"]) >= NAME_LENGTH
                and u["Name"][:NAME_LENGTH].strip() == u["Name"][:NAME_LENGTH]
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


def searched(request: RecordedRequest) -> str:
    """The text a recorded /users/search/ request searched for."""
    return unquote(request.path[len(SEARCH_PATH) :]).strip()


def order_figures(
    requests: list[RecordedRequest], schedule: list[tuple[float, int]]
) -> tuple[int, int]:
    """(searches that arrived while an older one was still unanswered, answers finished after
    the answer to a newer search), from arrival times and the latency in force at each."""
    finished: list[tuple[float, float]] = []  # arrival, when the simulator answered
    for request in requests:
        latency = 0
        for since, ms in schedule:
            if since <= request.time:
                latency = ms
        finished.append((request.time, request.time + latency / 1000))
    in_flight = sum(
        any(a < arrived < done for a, done in finished[:index])
        for index, (arrived, _) in enumerate(finished)
    )
    overtaken = sum(
        any(done < own_done for _, done in finished[index + 1 :])
        for index, (_, own_done) in enumerate(finished)
    )
    return in_flight, overtaken


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
    shown_rank = -1  # length of the prefix whose answer was shown last
    requested_rank = -1  # longest prefix searched for before the previous look
    schedule: list[tuple[float, int]] = []

    def look() -> None:
        nonlocal shown, shown_rank, requested_rank
        before = requested_rank
        searches = [r for r in sim.requests if r.path.startswith(SEARCH_PATH)]
        requested_rank = max([len(searched(r)) for r in searches], default=-1)
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
        rank = max(ranks)  # the benefit of the doubt when prefixes list the same people
        if rank < max(shown_rank, before):
            trial.stale += 1
        shown_rank = max(shown_rank, rank)

    async def watch(seconds: float) -> None:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            await asyncio.sleep(0.005)
            look()

    for index, char in enumerate(text):
        latency = rng.randint(*how.latency_ms)
        sim.faults.clear()
        sim.faults.add(Fault("latency", path_contains=SEARCH_PATH, times=None, latency_ms=latency))
        schedule.append((time.time(), latency))
        QTest.keyClicks(key_target(window), char)
        pause = rng.uniform(0.32, 0.45) if index in how.pauses else how.key_interval_s
        await watch(pause)
    await watch(DEBOUNCE_S + how.latency_ms[1] / 1000 + 0.3)  # the slowest answer + margin
    sim.faults.clear()
    searches = [r for r in sim.requests if r.path.startswith(SEARCH_PATH)]
    trial.requests = len(searches)
    trial.in_flight, trial.overtaken = order_figures(searches, schedule)
    final = frozenset(listed(device.results))
    trial.final_ok = device.person_input.text() == text and final == known.get(text.strip())
    return trial


def listed(results: QListWidget) -> tuple[str, ...]:
    """The people the list shows, by UserId (the rows' wording is the window's business)."""
    rows = (results.item(i).data(Qt.ItemDataRole.UserRole) for i in range(results.count()))
    return tuple(person.user_id for person in rows)


def rounds(per_speed: int, trials: int) -> list[tuple[Round, int]]:
    plan = [
        (Round("120 ms a key, latency 20-300 ms", 0.120, (20, 300), headline=True), trials),
        (
            Round(
                "120 ms a key, 3 hesitations, latency 20-1000 ms",
                0.120,
                (20, 1000),
                frozenset({3, 6, 8}),
            ),
            per_speed,
        ),
    ]
    for ms in (200, 300, 350, 450):
        plan.append((Round(f"{ms} ms a key, latency 50-900 ms", ms / 1000, (50, 900)), per_speed))
    return plan


def report(figures: Figures, seed: int, targets: Targets) -> None:
    how, trials = figures.how, figures.trials
    count = len(trials)
    stale, wrong, right = figures.total("stale"), figures.total("wrong"), figures.right
    most = max(t.requests for t in trials)
    print(f"{how.label}: {count} names of {NAME_LENGTH} characters (seed {seed})")
    print(
        f"  /users/search/ requests per name: max {most}, "
        f"mean {figures.total('requests') / count:.2f}; searches started while an older one "
        f"was in flight {figures.total('in_flight')}, answers due after a newer one's "
        f"{figures.total('overtaken')}"
    )
    print(f"  stale answers shown: {stale}   lists that fit no prefix: {wrong}")
    print(f"  final list matches the final text: {right}/{count}")
    what = f"{how.label}: "
    if how.headline:
        targets.check(most <= 2, f"{what}max {most} requests a name (<= 2)")
    targets.check(
        stale == 0 and wrong == 0 and right == count,
        f"{what}{stale} stale, {wrong} wrong lists, {right}/{count} final lists right",
    )


async def measure(sim: Simulator, trials: int, per_speed: int, seed: int) -> Targets:
    rng = random.Random(seed)
    kiosk = await open_kiosk(
        sim, size=(1280, 800), scan_settings=ScanSettings(double_scan_seconds=0)
    )
    kiosk.extra_clients.append(
        IIQClient(Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token))
    )
    targets = Targets()
    try:
        names = people_to_type(sim, max(trials, per_speed), rng)
        overtaken = 0
        for how, count in rounds(per_speed, trials):
            figures = Figures(how)
            for name in names[:count]:
                figures.trials.append(await type_name(kiosk, sim, name, rng, how))
            report(figures, seed, targets)
            if not how.headline:
                overtaken += figures.total("overtaken")
        # Without an answer due after a newer one's, rounds 2 and 3 would prove nothing.
        targets.check(
            overtaken > 0, f"rounds 2-3 had {overtaken} answers due after a newer one's (> 0)"
        )
    finally:
        await kiosk.aclose()
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8, help="names in round 1")
    parser.add_argument("--per-speed", type=int, default=4, help="names in round 2, per speed in 3")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with Simulator() as sim:
        targets = run_qt(lambda: measure(sim, args.trials, args.per_speed, args.seed))
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
