"""What this kiosk has seen lately, for look-ups while Incident IQ cannot be reached.

In memory only: a station that was online a moment ago can keep showing cards and picking
people it has already looked up when the gym Wi-Fi drops, and says so on screen. Nothing of
it is written to disk (the journal holds what the audit needs), and it is bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Generic, TypeVar

from kiosk.iiq.models import Asset, Person

K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._limit = limit

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def clear(self) -> None:
        self._items.clear()


def _key(text: str) -> str:
    return text.strip().casefold()


class DirectoryCache:
    """Recent answers: devices by what was scanned, people by their identifiers, and what
    each person held. Each entry remembers when it was seen."""

    def __init__(self, limit: int = 5000, clock: Callable[[], datetime] = datetime.now) -> None:
        self._devices: _Lru[str, tuple[list[Asset], str | None, datetime]] = _Lru(limit)
        self._people: _Lru[str, tuple[Person, datetime]] = _Lru(limit)
        self._held: _Lru[str, tuple[list[Asset], datetime]] = _Lru(limit)
        self._clock = clock

    def remember_devices(self, query: str, assets: list[Asset], matched_by: str | None) -> None:
        if assets:
            seen = self._clock()
            self._devices.put(_key(query), (assets, matched_by, seen))
            for asset in assets:
                for text in (asset.asset_tag, asset.serial_number):
                    if text:
                        self._devices.put(_key(text), ([asset], matched_by, seen))

    def devices(self, query: str) -> tuple[list[Asset], str | None, datetime] | None:
        return self._devices.get(_key(query))

    def remember_people(self, people: Iterable[Person]) -> None:
        seen = self._clock()
        for person in people:
            for ident in (person.school_id_number, person.email, person.username, person.user_id):
                if ident:
                    self._people.put(_key(ident), (person, seen))

    def person(self, identifier: str) -> tuple[Person, datetime] | None:
        return self._people.get(_key(identifier))

    def remember_held(self, user_id: str, assets: list[Asset]) -> None:
        self._held.put(user_id, (assets, self._clock()))

    def held(self, user_id: str) -> tuple[list[Asset], datetime] | None:
        return self._held.get(user_id)

    def clear(self) -> None:
        self._devices.clear()
        self._people.clear()
        self._held.clear()
