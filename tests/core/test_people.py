"""Who is this? Identifying a person from a scan or typed text, against the simulator."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kiosk.core.people import PersonMatch, exact_matches, identify_person
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.iiq.models import Person
from kiosk.simulator import DEMO, Simulator


def identify(sim: Simulator, text: str) -> PersonMatch:
    async def main() -> PersonMatch:
        connection = Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token)
        async with IIQClient(connection, retry=RetryPolicy(base_delay=0.01)) as client:
            return await identify_person(client, text)

    return asyncio.run(main())


@pytest.mark.parametrize(
    "text",
    [
        DEMO.student_id,
        f"  {DEMO.student_id}\t",
        DEMO.student_email,
        DEMO.student_email.upper(),
        DEMO.student_username,
        DEMO.student_username.upper(),
    ],
)
def test_exact_identifier_picks_the_person(sim: Simulator, text: str) -> None:
    match = identify(sim, text)
    assert match.exact is not None
    assert match.exact.user_id == DEMO.student_user_id
    assert match.exact.display_name == DEMO.student_name
    assert not match.ambiguous_exact
    assert match.found


@pytest.mark.parametrize("text", [DEMO.student_user_id, DEMO.student_user_id.upper()])
def test_user_id_guid_reads_the_person_directly(sim: Simulator, text: str) -> None:
    match = identify(sim, text)
    assert match.exact is not None
    assert match.exact.user_id == DEMO.student_user_id
    paths = [r.path for r in sim.requests]
    assert paths == [f"/users/{text}"]  # no keyword search needed


def test_unknown_guid_falls_back_to_search_and_finds_nobody(sim: Simulator) -> None:
    text = "00000000-0000-4000-8000-000000000000"
    match = identify(sim, text)
    assert not match.found
    assert match.exact is None and match.candidates == []
    assert [r.path for r in sim.requests] == [f"/users/{text}", f"/users/search/{text}"]
    assert sim.requests[0].status == 404


def test_name_search_offers_both_people_who_share_a_name(sim: Simulator) -> None:
    match = identify(sim, DEMO.shared_name)
    assert match.exact is None
    assert not match.ambiguous_exact
    assert {p.user_id for p in match.candidates} == set(DEMO.shared_name_user_ids)
    assert len(match.candidates) == 2


def test_name_search_leaves_out_inactive_people(sim: Simulator) -> None:
    # The server does return the inactive person; the kiosk must not offer him.
    match = identify(sim, DEMO.inactive_name)
    assert match.exact is None
    assert all(p.user_id != DEMO.inactive_user_id for p in match.candidates)
    assert all(p.can_own_devices for p in match.candidates)
    search = sim.requests[-1]
    assert search.path.startswith("/users/search/") and search.status == 200
    reply = httpx.get(
        f"{sim.api_url}/users/search/{DEMO.inactive_name}", headers=sim.auth_headers(), timeout=5
    )
    assert DEMO.inactive_user_id in {u["UserId"] for u in reply.json()["Items"]}


def test_name_search_keeps_active_people_when_one_is_inactive(sim: Simulator) -> None:
    # Make one of the two Jordan Smiths inactive: only the other is offered.
    sim.state.user(DEMO.shared_name_user_ids[1])["IsActive"] = False  # type: ignore[index]
    match = identify(sim, DEMO.shared_name)
    assert [p.user_id for p in match.candidates] == [DEMO.shared_name_user_ids[0]]


def test_exact_school_id_of_an_inactive_person_is_still_identified(sim: Simulator) -> None:
    # Identified, so the confirm step can say in words why it is refused.
    match = identify(sim, DEMO.inactive_id)
    assert match.exact is not None
    assert match.exact.user_id == DEMO.inactive_user_id
    assert not match.exact.can_own_devices


def test_several_exact_matches_are_ambiguous(sim: Simulator) -> None:
    # Two people carry the same school ID number (a data-entry mistake in the district).
    shared = DEMO.shared_name_ids[0]
    sim.state.user(DEMO.shared_name_user_ids[1])["SchoolIdNumber"] = shared  # type: ignore[index]
    match = identify(sim, shared)
    assert match.exact is None
    assert match.ambiguous_exact
    assert {p.user_id for p in match.candidates} == set(DEMO.shared_name_user_ids)


def test_nobody_found(sim: Simulator) -> None:
    match = identify(sim, "Zzyzx Nobody")
    assert not match.found
    assert match.candidates == [] and match.exact is None


# --- exact_matches, no network ----------------------------------------------------------


def _p(user_id: str, **fields: str) -> Person:
    return Person.model_validate({"UserId": user_id, **fields})


def test_exact_matches_compares_every_identifier_case_insensitively() -> None:
    ana = _p("U-1", SchoolIdNumber="204518", Email="Ana@X.org", Username="aruiz", Name="Ana")
    other = _p("u-2", SchoolIdNumber="2045180", Email="ana@x.org.uk", Name="Ana Ruiz")
    people = [ana, other]
    assert exact_matches("204518", people) == [ana]
    assert exact_matches(" ana@x.ORG ", people) == [ana]
    assert exact_matches("ARUIZ", people) == [ana]
    assert exact_matches("u-1", people) == [ana]
    assert exact_matches("Ana", people) == []  # a name is never an exact identifier
    assert exact_matches("   ", people) == []
