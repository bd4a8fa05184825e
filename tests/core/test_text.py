"""Hostile text: escape sequences, control characters and bidi controls never survive."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kiosk.core.text import BIDI_CONTROLS, ELLIPSIS, FSI, PDI, clean_text, isolate, name_words

ESC = "\x1b"

#: Text a person would type or Incident IQ would hold for a clean name: letters, marks,
#: digits, punctuation, symbols, spaces, in any script.
printable = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]))

#: Anything, with the dangerous characters made much more likely than at random.
hostile = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(
            [
                *(ESC, "[", "]", "\\", "\x07", "\x9b", "\x9c", "\x9d", "\x90", "\n", "\t", "\r"),
                *sorted(BIDI_CONTROLS),
                *("\udcff", "0", ";", "m", "P"),
            ]
        ),
    )
)


def no_dangerous_characters(text: str) -> bool:
    return not any(
        unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI_CONTROLS for ch in text
    )


@given(hostile)
@example(f"{ESC}]0;title{ESC}")
@example(f"{ESC}{ESC}[2J")
@example("\x9b31m\udcff")
def test_no_control_or_bidi_character_survives(text: str) -> None:
    assert no_dangerous_characters(clean_text(text))


@given(hostile, st.none() | st.integers(min_value=0, max_value=40))
def test_cleaning_twice_changes_nothing(text: str, limit: int | None) -> None:
    once = clean_text(text, limit)
    assert clean_text(once, limit) == once
    assert clean_text(once) == once


@given(printable)
def test_printable_text_is_unchanged(text: str) -> None:
    assert clean_text(text) == text


@given(hostile, st.integers(min_value=0, max_value=40))
def test_the_limit_bounds_the_length(text: str, limit: int) -> None:
    cleaned = clean_text(text, limit)
    assert len(cleaned) <= limit
    full = clean_text(text)
    if len(full) > limit:
        assert cleaned == (full[: limit - 1] + ELLIPSIS if limit else "")
    else:
        assert cleaned == full


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (f"Ava {ESC}[31mRed{ESC}[0m Lee", "Ava Red Lee"),  # CSI: colours
        (f"Ava{ESC}[2J{ESC}[H", "Ava"),  # clear screen, cursor home
        (f"x{ESC}]0;owned{ESC}\\y", "xy"),  # OSC window title, ST-terminated
        (f"x{ESC}]0;owned\x07y", "xy"),  # OSC, BEL-terminated
        (f"{ESC}]8;;https://evil.example{ESC}\\click{ESC}]8;;{ESC}\\", "click"),  # hyperlink
        (f"x{ESC}]0;never ends", "x"),  # unterminated: a terminal eats the rest too
        (f"x{ESC}Pq#0;2;0;0;0{ESC}\\y", "xy"),  # DCS (sixel)
        (f"x{ESC}(By{ESC}7z", "xyz"),  # charset designation, save cursor
        ("x\x9b31my", "xy"),  # 8-bit CSI
        ("x\x9d0;title\x9cy", "xy"),  # 8-bit OSC
        ("O\u2019Brien\x9d", "O\u2019Brien"),  # a lone 8-bit introducer goes alone
        ("a\tb\nc\r\nd\u2028e", "a b c  d e"),  # line breaks and tabs: spaces
        ("Bob\x00\x08\x7f", "Bob"),  # NUL, backspace, DEL
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # RLO
        ("\u2066a\u2067b\u2068c\u2069\u200e\u200f\u061c", "abc"),
        ("bad\udcffbytes", "bad\ufffdbytes"),  # undecodable bytes, surrogate-escaped
        ("Zoë Ødegård 李 مريم", "Zoë Ødegård 李 مريم"),
    ],
)
def test_clean_text_examples(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(None, "abcdef"), (6, "abcdef"), (5, "abcd…"), (1, "…"), (0, "")],
)
def test_limit_ends_with_an_ellipsis(limit: int | None, expected: str) -> None:
    assert clean_text("abcdef", limit) == expected


def test_the_limit_counts_cleaned_text() -> None:
    assert clean_text(f"{ESC}[31mabc{ESC}[0m", 3) == "abc"


def test_isolate_wraps_in_first_strong_isolate() -> None:
    assert isolate("مريم") == f"{FSI}مريم{PDI}"
    assert clean_text(isolate("x")) == "x"  # isolates are for display, never stored


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Ana Ruiz", ["Ana", "Ruiz"]),
        ("Ruiz, Ana", ["Ana", "Ruiz"]),
        ("de la Cruz, Ana María", ["Ana", "María", "de", "la", "Cruz"]),
        ("Cher", ["Cher"]),
        (", Ana", [",", "Ana"]),  # not a "Last, First": left as written
        ("", []),
    ],
)
def test_name_words_put_the_first_name_first(name: str, words: list[str]) -> None:
    assert name_words(name) == words
