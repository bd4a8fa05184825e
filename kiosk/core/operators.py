"""Who may sign in at the kiosk as its operator, and how an operator is named.

With `[station] require_operator = true` staff sign in at the start of a shift: a badge scan
(a scan that matches `[operators] badge_pattern`, looked up like an ID card) or their name.
This module is the one place for the rule and the naming; the sign-in screen
(`kiosk.ui.flows.signin`) only asks and shows. Pure functions, no Qt, no network.

- An operator is a person who is active, not deleted, and staff or an agent in Incident
  IQ: role Faculty, Staff or Agent (by the documented role ids, else by the role's name).
  Students and parents are refused, each with its own plain sentence.
- An operator is named "J. Smith" (first initial and last name) on screen and in text, and
  recorded with their Incident IQ user id ("J. Smith (user id)") in the journal and the
  ticket text, so that two J. Smiths stay apart in the audit. Logs carry the id only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from kiosk.core.text import clean_text, name_words
from kiosk.iiq.models import Person

__all__ = [
    "NAME_LIMIT",
    "OPERATOR_ROLES",
    "REFUSALS",
    "ROLE_IDS",
    "Operator",
    "OperatorCheck",
    "Refusal",
    "check_operator",
    "is_badge",
    "operator_name",
    "role_of",
]

#: Incident IQ's documented role ids (iiq-api.md), by the role they mean.
ROLE_IDS: dict[str, str] = {
    "6d5fee76-e05e-43c0-b8e9-b8447746e501": "student",
    "6d5fee76-e05e-43c0-b8e9-b8447746e502": "faculty",
    "6d5fee76-e05e-43c0-b8e9-b8447746e503": "staff",
    "6d5fee76-e05e-43c0-b8e9-b8447746e504": "agent",
    "6d5fee76-e05e-43c0-b8e9-b8447746e507": "parent",
}
#: The roles whose people may run the kiosk.
OPERATOR_ROLES = frozenset({"faculty", "staff", "agent"})
#: The longest operator name the strip, the journal and a ticket carry.
NAME_LIMIT = 60


class Refusal(Enum):
    """Why a person cannot sign in; the value is what the log says (no names)."""

    STUDENT = "student"
    PARENT = "parent"
    OTHER_ROLE = "other role"
    INACTIVE = "inactive"
    DELETED = "deleted"


#: Each refusal's title and sentence: plain words and no name (the person at the kiosk may
#: not be the one the card belongs to).
REFUSALS: dict[Refusal, tuple[str, str]] = {
    Refusal.STUDENT: (
        "Students cannot sign in",
        "This is a student's card. Only staff can sign in at this kiosk: scan a staff badge.",
    ),
    Refusal.PARENT: (
        "Parents cannot sign in",
        "This person is a parent or guardian in Incident IQ. Only staff can sign in here.",
    ),
    Refusal.OTHER_ROLE: (
        "Not a staff member",
        "This person is not listed as staff in Incident IQ. Only faculty, staff and agents "
        "can sign in at this kiosk.",
    ),
    Refusal.INACTIVE: (
        "Staff account not active",
        "This staff account is not active in Incident IQ. Ask IT to turn it back on, or "
        "sign in with another badge.",
    ),
    Refusal.DELETED: (
        "Account deleted",
        "This account was deleted in Incident IQ. Ask IT, or sign in with another badge.",
    ),
}


@dataclass(frozen=True)
class Operator:
    """The staff member signed in at the kiosk."""

    user_id: str
    #: "J. Smith": what the status strip, a toast and the ticket text show.
    name: str

    @property
    def recorded(self) -> str:
        """What the journal's `operator` column and a ticket's text carry: the name and
        the user id, "J. Smith (0b7c…)"."""
        return f"{self.name} ({self.user_id})" if self.user_id else self.name


@dataclass(frozen=True)
class OperatorCheck:
    """The answer to "may this person sign in?": `operator` when yes, else `refusal`."""

    operator: Operator | None = None
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.operator is not None

    @property
    def title(self) -> str:
        """The refusal's title ("" when allowed)."""
        return REFUSALS[self.refusal][0] if self.refusal is not None else ""

    @property
    def message(self) -> str:
        """The refusal's sentence ("" when allowed)."""
        return REFUSALS[self.refusal][1] if self.refusal is not None else ""


def role_of(person: Person) -> str | None:
    """ "student", "faculty", "staff", "agent", "parent", another role's name in lower
    case, or None when Incident IQ gave none. The documented role id wins over the name
    (a district may rename its roles)."""
    role = ROLE_IDS.get((person.role_id or "").strip().casefold())
    if role is not None:
        return role
    name = (person.role_label or "").strip().casefold()
    return name or None


def check_operator(person: Person) -> OperatorCheck:
    """May `person` sign in as the kiosk's operator? (See the module for the rule.)"""
    role = role_of(person)
    if role == "student":
        return OperatorCheck(refusal=Refusal.STUDENT)
    if role == "parent":
        return OperatorCheck(refusal=Refusal.PARENT)
    if role not in OPERATOR_ROLES:
        return OperatorCheck(refusal=Refusal.OTHER_ROLE)
    if person.is_deleted:
        return OperatorCheck(refusal=Refusal.DELETED)
    if not person.is_active:
        return OperatorCheck(refusal=Refusal.INACTIVE)
    return OperatorCheck(operator=Operator(person.user_id, operator_name(person)))


def operator_name(person: Person) -> str:
    """ "J. Smith": the first name's initial and the last name. From `FirstName` and
    `LastName`, else from `Name` ("Jane Smith", "Smith, Jane"); a lone name is kept as it
    is; with no name at all, the username (or "Staff member")."""
    first = clean_text(person.first_name or "").strip()
    last = clean_text(person.last_name or "").strip()
    if not (first and last):
        words = name_words(clean_text(person.name or ""))
        if len(words) >= 2:
            first, last = first or words[0], last or words[-1]
        elif words and not (first or last):
            first = words[0]
    if first and last:
        text = f"{first[0].upper()}. {last}"
    else:
        text = first or last or clean_text(person.username or "").strip() or "Staff member"
    return clean_text(text, NAME_LIMIT)


def signed(text: str, *, station: str, operator: str | None) -> str:
    """A line the kiosk writes into Incident IQ (an asset's notes), saying where and by whom:
    "cracked hinge (Help desk 2, J. Smith)"."""
    who = f"{station}, {operator}" if operator else station
    return f"{text} ({who})"


def is_badge(text: str, pattern: str) -> bool:
    """Does a cleaned scan look like a staff badge? Never with no pattern set."""
    return bool(pattern) and re.fullmatch(pattern, text) is not None
