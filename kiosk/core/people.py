"""Identifying a person from a scan or typed text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from kiosk.iiq.client import IIQClient
from kiosk.iiq.errors import NotFoundError
from kiosk.iiq.models import Person

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class PersonMatch:
    """The answer to "who is this?".

    `exact` is set when the text equals one person's school ID number, email, username or
    UserId (case-insensitive): that person is picked with no list. Otherwise `candidates`
    holds the people to choose from (only those who may be given a device), and
    `ambiguous_exact` is True when several people share the exact identifier.
    """

    query: str
    exact: Person | None = None
    candidates: list[Person] = field(default_factory=list)
    ambiguous_exact: bool = False
    #: Set when Incident IQ could not be reached and this comes from the kiosk's cache.
    seen_at: datetime | None = None

    @property
    def found(self) -> bool:
        return self.exact is not None or bool(self.candidates)


def _identifiers(person: Person) -> set[str]:
    values = {person.school_id_number, person.email, person.username, person.user_id}
    return {v.strip().casefold() for v in values if v and v.strip()}


def exact_matches(query: str, people: list[Person]) -> list[Person]:
    """People whose school ID number, email, username or UserId equals `query`."""
    key = query.strip().casefold()
    if not key:
        return []
    return [p for p in people if key in _identifiers(p)]


async def identify_person(client: IIQClient, text: str, *, limit: int = 50) -> PersonMatch:
    """Find the person a scan or typed text means (see `PersonMatch`)."""
    query = text.strip()
    if _GUID.match(query):
        try:
            return PersonMatch(query, exact=await client.user(query))
        except NotFoundError:
            pass
    people = await client.search_users(query, limit=limit)
    exact = exact_matches(query, people)
    if len(exact) == 1:
        return PersonMatch(query, exact=exact[0], candidates=exact)
    if len(exact) > 1:
        return PersonMatch(query, candidates=exact, ambiguous_exact=True)
    return PersonMatch(query, candidates=[p for p in people if p.can_own_devices])
