"""Who may sign in as the kiosk's operator, and how an operator is named (no Qt, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.core.operators import (
    REFUSALS,
    Operator,
    Refusal,
    check_operator,
    is_badge,
    operator_name,
    role_of,
)
from kiosk.iiq.models import Person

STUDENT = "6d5fee76-e05e-43c0-b8e9-b8447746e501"
FACULTY = "6d5fee76-e05e-43c0-b8e9-b8447746e502"
STAFF = "6d5fee76-e05e-43c0-b8e9-b8447746e503"
AGENT = "6d5fee76-e05e-43c0-b8e9-b8447746e504"
PARENT = "6d5fee76-e05e-43c0-b8e9-b8447746e507"
USER_ID = "0b7c2f3e-1111-4222-8333-944455556666"


def person(**fields: Any) -> Person:
    values: dict[str, Any] = {
        "UserId": USER_ID,
        "FirstName": "Jane",
        "LastName": "Smith",
        "Name": "Jane Smith",
        "RoleId": STAFF,
        "IsActive": True,
    }
    values.update(fields)
    return Person.model_validate(values)


@pytest.mark.parametrize("role_id", [FACULTY, STAFF, AGENT, FACULTY.upper()])
def test_faculty_staff_and_agents_may_sign_in(role_id: str) -> None:
    check = check_operator(person(RoleId=role_id))
    assert check.allowed
    assert check.operator == Operator(USER_ID, "J. Smith")
    assert check.refusal is None
    assert check.title == check.message == ""


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"RoleId": STUDENT}, Refusal.STUDENT),
        ({"RoleId": PARENT}, Refusal.PARENT),
        ({"RoleId": None, "Role": {"Name": "Community Volunteer"}}, Refusal.OTHER_ROLE),
        ({"RoleId": None}, Refusal.OTHER_ROLE),  # no role at all: not staff
        ({"IsActive": False}, Refusal.INACTIVE),
        ({"IsDeleted": True}, Refusal.DELETED),
        ({"RoleId": STUDENT, "IsActive": False}, Refusal.STUDENT),  # the role says it first
    ],
)
def test_everyone_else_is_refused_with_their_own_sentence(
    fields: dict[str, Any], refusal: Refusal
) -> None:
    check = check_operator(person(**fields))
    assert not check.allowed
    assert check.operator is None
    assert check.refusal is refusal
    assert (check.title, check.message) == REFUSALS[refusal]
    assert "Jane" not in check.message and "Smith" not in check.message


def test_every_refusal_has_a_sentence_of_its_own() -> None:
    assert set(REFUSALS) == set(Refusal)
    titles = [title for title, _ in REFUSALS.values()]
    sentences = [sentence for _, sentence in REFUSALS.values()]
    assert len(set(titles)) == len(titles)
    assert len(set(sentences)) == len(sentences)
    assert all(sentence.endswith(".") for sentence in sentences)


def test_the_role_id_wins_over_the_role_name_and_the_name_is_the_fallback() -> None:
    assert role_of(person(RoleId=STUDENT, Role={"Name": "Staff"})) == "student"
    assert role_of(person(RoleId="7f000000-0000-0000-0000-000000000000", RoleName="Staff")) == (
        "staff"
    )
    assert check_operator(person(RoleId=None, Role={"Name": "Agent"})).allowed
    assert not check_operator(person(RoleId=None, RoleName="Student")).allowed
    assert role_of(person(RoleId=None)) is None


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({}, "J. Smith"),
        ({"FirstName": "jane"}, "J. Smith"),
        ({"FirstName": None, "LastName": None, "Name": "Pat Morgan"}, "P. Morgan"),
        ({"FirstName": None, "LastName": None, "Name": "Morgan, Pat"}, "P. Morgan"),
        ({"FirstName": None, "LastName": None, "Name": "Ana Maria de la Cruz"}, "A. Cruz"),
        ({"FirstName": None, "LastName": "Smith", "Name": None}, "Smith"),
        ({"FirstName": None, "LastName": None, "Name": "Cher"}, "Cher"),
        ({"FirstName": None, "LastName": None, "Name": None, "Username": "jsmith"}, "jsmith"),
        ({"FirstName": None, "LastName": None, "Name": None}, "Staff member"),
        ({"FirstName": "Ja\u202ene", "LastName": "Sm\x07ith"}, "J. Smith"),
    ],
)
def test_an_operator_is_named_by_first_initial_and_last_name(
    fields: dict[str, Any], name: str
) -> None:
    assert operator_name(person(**fields)) == name


def test_a_very_long_name_is_cut() -> None:
    name = operator_name(person(LastName="X" * 500))
    assert len(name) == 60
    assert name.startswith("J. XXX") and name.endswith("…")


def test_the_recorded_form_carries_the_user_id() -> None:
    operator = Operator(USER_ID, "J. Smith")
    assert operator.recorded == f"J. Smith ({USER_ID})"
    assert Operator("", "J. Smith").recorded == "J. Smith"


def test_a_badge_is_a_full_match_of_the_pattern_and_never_without_one() -> None:
    assert is_badge("900101", r"\d{6}")
    assert not is_badge("9001012", r"\d{6}")
    assert not is_badge("CB-004512", r"\d{6}")
    assert is_badge("STAFF-0042", r"STAFF-\d+")
    assert not is_badge("900101", "")
