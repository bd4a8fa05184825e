"""How a person is named on screen: in full, or privately (`[station] privacy = true`).

The private form is one rule, here and nowhere else: a name becomes the first name and the
last name's initial ("Ana Ruiz" -> "Ana R."), an ID number its last four characters behind
a mask ("204518" -> "••••4518"; four characters or fewer are masked whole). A kiosk PC
stands in a public room: people walking past, or the next student in the line, should not
read who has which device and under which ID.

The window names people through a `NameStyle` (`FULL` or `PRIVATE`, from the station's
setting); the journal, the outbox and the command line keep full names (they are the audit
record and the help desk's tool) and never use the private one. Text that `core` has worded
already with full names in it (an undo question, a conflict message) is shown through
`NameStyle.about_change` / `about_people`, which put every name and ID of those people into
the style. Pure functions, no Qt.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

from kiosk.core.text import name_words

if TYPE_CHECKING:  # the window's first screens import this: it stays this light
    from kiosk.core.changes import Change
    from kiosk.iiq.models import Person

__all__ = [
    "FULL",
    "ID_DIGITS",
    "MASK",
    "PRIVATE",
    "NameStyle",
    "name_style",
    "private_id",
    "private_name",
]

#: What stands in for each hidden character of an ID number.
MASK = "•"
#: How many of an ID number's last characters the private form keeps.
ID_DIGITS = 4
#: Name suffixes that are not the last name ("Ana Ruiz Jr." is "Ana R.").
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
#: What the kiosk writes where Incident IQ gave no name (`kiosk.core.rules`, the conflict
#: wording): these name nobody and stay as they are.
_NOT_NAMES = frozenset({"another person", "someone", "someone else", "nobody"})


def private_name(name: str | None) -> str:
    """ "Ana Ruiz" -> "Ana R.": the first word and the initial of the last word.

    "Ruiz, Ana" (last name first) is "Ana R." too; a one-word name is shown as it is (there
    is no last name to shorten); an email or an ID number standing in for a name (Incident
    IQ's record had no name) is not shown whole either. None or blank: ""."""
    text = unicodedata.normalize("NFC", name or "").strip()
    if text.casefold() in _NOT_NAMES:
        return text
    words = name_words(text)
    while len(words) > 2 and words[-1].casefold() in _SUFFIXES:
        words.pop()
    if not words:
        return ""
    if len(words) == 1:
        return _lone_word(words[0])
    return f"{words[0]} {_initial(words[-1])}."


def private_id(number: str | None) -> str | None:
    """ "204518" -> "••••4518"; four characters or fewer -> "••••". None or blank: None."""
    text = (number or "").strip()
    if not text:
        return None
    if len(text) <= ID_DIGITS:
        return MASK * ID_DIGITS
    return MASK * ID_DIGITS + text[-ID_DIGITS:]


@dataclass(frozen=True)
class NameStyle:
    """How the window names people: `private` or in full. Returns plain text: the views
    still clean and bound it (`kiosk.ui.views.shown`) like any text from outside."""

    private: bool = False

    @overload
    def name(self, name: str) -> str: ...
    @overload
    def name(self, name: None) -> None: ...
    def name(self, name: str | None) -> str | None:
        """A person's name (as Incident IQ has it, or as a change recorded it)."""
        if name is None or not self.private:
            return name
        return private_name(name)

    def school_id(self, number: str | None) -> str | None:
        """An ID number, or None when there is none."""
        if not self.private:
            return number or None
        return private_id(number)

    def person_name(self, person: Person) -> str:
        return self.name(person.display_name)

    def describe(self, change: Change) -> str:
        """The session list's line for `change` ("Give CB-004512 to Ana R.")."""
        from kiosk.core.changes import describe  # a change exists: so does its module

        if change.summary:  # worded at planning time (an undo): its names are put in style
            return self.about_change(change, change.summary)
        return describe(change, self.name)

    def about_change(self, change: Change, text: str) -> str:
        """`text` worded elsewhere with the full names `change` recorded (its question, its
        conflict message), with those names in this style."""
        return self.reword(
            text, names=(change.from_owner_name, change.to_owner_name, change.conflict_owner_name)
        )

    def about_people(self, text: str, *people: Person | None) -> str:
        """`text` worded elsewhere with these people's names and ID numbers in full (a
        refusal, a warning), with them in this style."""
        present = [p for p in people if p is not None]
        return self.reword(
            text,
            names=[p.display_name for p in present],
            ids=[p.school_id_number for p in present],
        )

    def reword(
        self, text: str, *, names: Iterable[str | None] = (), ids: Iterable[str | None] = ()
    ) -> str:
        """`text` with each of `names` and `ids`, where it stands as a whole word, in this
        style (longest first, in one pass: a replacement is never replaced again)."""
        if not self.private or not text:
            return text
        replacements: dict[str, str] = {}
        for name in names:
            if name and name.strip():
                replacements[name.strip()] = private_name(name)
        for number in ids:
            hidden = private_id(number)
            if number and hidden is not None:
                replacements[number.strip()] = hidden
        replacements = {old: new for old, new in replacements.items() if old != new}
        if not replacements:
            return text
        pattern = "|".join(re.escape(old) for old in sorted(replacements, key=len, reverse=True))

        def new(match: re.Match[str]) -> str:
            shown = replacements[match["old"]]
            stop = match["stop"] or ""
            # "…with Ben Li." is "…with Ben L.", not "Ben L..".
            return shown if stop and shown.endswith(stop) else shown + stop

        return re.sub(rf"(?<!\w)(?P<old>{pattern})(?!\w)(?P<stop>\.)?", new, text)


#: Names and IDs in full (privacy off; the journal and the command line always).
FULL = NameStyle(private=False)
#: First name + last initial, the last four characters of an ID.
PRIVATE = NameStyle(private=True)


def name_style(privacy: bool) -> NameStyle:
    return PRIVATE if privacy else FULL


def _initial(word: str) -> str:
    """The first letter of `word` (with its accents), skipping an apostrophe or a bracket."""
    start = next((i for i, ch in enumerate(word) if ch.isalnum()), 0)
    end = start + 1
    while end < len(word) and unicodedata.combining(word[end]):
        end += 1
    return word[start:end]


def _lone_word(word: str) -> str:
    """A one-word name. An email (Incident IQ's name fell back to it) would name the person
    in full: only its first letter is shown. A word with digits is an ID number or a
    username standing in for the name: masked like an ID."""
    if "@" in word:
        return f"{_initial(word)}…"
    if any(ch.isdigit() for ch in word):
        return private_id(word) or ""
    return word
