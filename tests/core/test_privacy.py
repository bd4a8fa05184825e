"""The privacy rule: how a person is named on screen with `[station] privacy = true`."""

from __future__ import annotations

import pytest

from kiosk.core.changes import Change, ChangeKind, describe, owner_change
from kiosk.core.privacy import FULL, PRIVATE, name_style, private_id, private_name
from kiosk.iiq.models import Person


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Ana Ruiz", "Ana R."),
        ("  Ana   Ruiz  ", "Ana R."),
        ("Ana María Ruiz López", "Ana L."),  # first word, last word's initial
        ("Mary-Jane Watson-Parker", "Mary-Jane W."),  # hyphens stay inside a word
        ("Ruiz, Ana", "Ana R."),  # last name first
        ("Ruiz López, Ana María", "Ana L."),
        ("Liam O'Neil", "Liam O."),
        ("Sean 'Neil", "Sean N."),  # the initial is a letter, not the apostrophe
        ("Marcus Lee Jr.", "Marcus L."),  # a suffix is not the last name
        ("Cher", "Cher"),  # one word: nothing to shorten
        ("Иван Петров", "Иван П."),
        ("Γιώργος Παπαδόπουλος", "Γιώργος Π."),
        ("محمد علي", "محمد ع."),
        ("Zoë E\u0301lise Émond", "Zoë É."),  # decomposed accents kept with their letter
        ("204518", "••••4518"),  # an ID number standing in for a name
        ("ana.ruiz@students.example.org", "a…"),  # an email standing in for a name
        ("another person", "another person"),  # the kiosk's words for an unknown name
        ("nobody", "nobody"),
        ("", ""),
        ("   ", ""),
        (None, ""),
    ],
)
def test_private_name(name: str | None, shown: str) -> None:
    assert private_name(name) == shown


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("204518", "••••4518"),
        ("12345", "••••2345"),
        ("1234", "••••"),  # four or fewer: masked whole, the length not told
        ("7", "••••"),
        (" 204518 ", "••••4518"),
        ("S-00204518", "••••4518"),
        ("", None),
        (None, None),
    ],
)
def test_private_id(number: str | None, shown: str | None) -> None:
    assert private_id(number) == shown


def test_full_style_changes_nothing() -> None:
    assert name_style(False) is FULL and name_style(True) is PRIVATE
    assert FULL.name("Ana Ruiz") == "Ana Ruiz"
    assert FULL.name(None) is None
    assert FULL.school_id("204518") == "204518"
    assert FULL.school_id("") is None
    text = "Ana Ruiz already has CB-004512, ID 204518."
    assert FULL.reword(text, names=["Ana Ruiz"], ids=["204518"]) == text


def test_private_style_of_a_person() -> None:
    ana = Person(user_id="u1", name="Ana Ruiz", school_id_number="204518", grade="07")
    assert PRIVATE.person_name(ana) == "Ana R."
    assert PRIVATE.school_id(ana.school_id_number) == "••••4518"
    # No `name`: Incident IQ's first and last name make the display name.
    split = Person(user_id="u2", first_name="Ana", last_name="Ruiz")
    assert PRIVATE.person_name(split) == "Ana R."
    no_last = Person(user_id="u3", first_name="Ana")
    assert PRIVATE.person_name(no_last) == "Ana"
    only_email = Person(user_id="u4", email="ana.ruiz@students.example.org")
    assert PRIVATE.person_name(only_email) == "a…"
    assert PRIVATE.school_id(None) is None


def test_reword_puts_the_given_names_and_ids_in_style() -> None:
    text = "Ana Ruiz already has 1 other device: CB-004513 (ID 204518, not 2045180)."
    assert PRIVATE.reword(text, names=["Ana Ruiz"], ids=["204518"]) == (
        "Ana R. already has 1 other device: CB-004513 (ID ••••4518, not 2045180)."
    )
    # Longest first, in one pass; whole words only.
    assert (
        PRIVATE.reword(
            "Ana Ruiz López, not Ana Ruiz, nor Ana Ruizes", names=["Ana Ruiz", "Ana Ruiz López"]
        )
        == "Ana L., not Ana R., nor Ana Ruizes"
    )
    assert PRIVATE.reword("", names=["Ana Ruiz"]) == ""
    assert PRIVATE.reword("Give it to Ana", names=[None, "", "Ana"]) == "Give it to Ana"


def test_about_people_covers_names_and_ids() -> None:
    ana = Person(user_id="u1", name="Ana Ruiz", school_id_number="204518")
    ben = Person(user_id="u2", name="Ben Li")
    text = "Ana Ruiz (204518) is inactive; CB-004512 is with Ben Li."
    assert PRIVATE.about_people(text, ana, ben, None) == (
        "Ana R. (••••4518) is inactive; CB-004512 is with Ben L."
    )
    assert FULL.about_people(text, ana, ben) == text


def test_describe_takes_the_names_it_prints() -> None:
    give = owner_change("a1", "CB-004512", None, "u1", to_owner_name="Ana Ruiz")
    transfer = owner_change(
        "a1", "CB-004512", "u2", "u1", from_owner_name="Ben Li", to_owner_name="Ana Ruiz"
    )
    back = owner_change("a1", "CB-004512", "u1", None, from_owner_name="Ana Ruiz")
    unnamed = owner_change("a1", "CB-004512", "u2", "u1")
    # The journal and the command line: as recorded.
    assert describe(give) == "Give CB-004512 to Ana Ruiz"
    assert describe(transfer) == "Transfer CB-004512 from Ben Li to Ana Ruiz"
    assert describe(back) == "Check in CB-004512 from Ana Ruiz"
    # The window with privacy on.
    assert PRIVATE.describe(give) == "Give CB-004512 to Ana R."
    assert PRIVATE.describe(transfer) == "Transfer CB-004512 from Ben L. to Ana R."
    assert PRIVATE.describe(back) == "Check in CB-004512 from Ana R."
    assert PRIVATE.describe(unnamed) == "Transfer CB-004512 from someone else to someone"
    assert FULL.describe(transfer) == describe(transfer)
    # The change itself still holds the full names (the audit record).
    assert transfer.description == "Transfer CB-004512 from Ben Li to Ana Ruiz"
    assert transfer.to_dict()["to_owner_name"] == "Ana Ruiz"


def test_text_worded_at_planning_time_is_put_in_style() -> None:
    undo = Change(
        ChangeKind.UNDO,
        "a1",
        "CB-004512",
        from_owner_id="u1",
        from_owner_name="Ana Ruiz",
        to_owner_id="u2",
        to_owner_name="Ben Li",
        summary="Undo: Give CB-004512 back to Ben Li (take it from Ana Ruiz)",
    )
    assert PRIVATE.describe(undo) == "Undo: Give CB-004512 back to Ben L. (take it from Ana R.)"
    assert FULL.describe(undo) == undo.summary
    conflict = owner_change("a1", "CB-004512", None, "u1", to_owner_name="Ana Ruiz")
    conflict.conflict_owner_name = "Marcus Lee"
    message = "CB-004512 is now with Marcus Lee: another station changed it."
    assert PRIVATE.about_change(conflict, message) == (
        "CB-004512 is now with Marcus L.: another station changed it."
    )
