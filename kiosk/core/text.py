"""Hostile text: names, notes, tags and server messages made safe to show and to log.

Everything that reaches a terminal, a log line or a label from outside the program (a
person's name in Incident IQ, a note, a scanned tag, an error body) can carry terminal
escape sequences (that recolour the screen, set the window title or hide text), control
characters (that forge log lines) and bidi overrides (that make ``gpj.exe`` read as
``exe.jpg``). `clean_text` removes them; `isolate` keeps cleaned right-to-left text from
reordering the sentence it sits in. Pure functions, no Qt.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["BIDI_CONTROLS", "ELLIPSIS", "FSI", "PDI", "clean_text", "isolate"]

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE
ELLIPSIS = "…"

#: Embeddings and overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI FSI PDI), the marks
#: LRM RLM and the Arabic letter mark.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)

# Whole escape sequences, 7-bit (ESC ...) and 8-bit (C1) forms, after ECMA-48:
# - strings (OSC, DCS, SOS, PM, APC) run to BEL or ST (ESC \ or U+009C); an unterminated
#   7-bit one runs to the end of the text (a terminal would swallow the rest too), while an
#   unterminated 8-bit introducer, more likely mis-decoded text than an attack, goes alone
#   (and the 8-bit body stops at the next control, so hostile text cannot make it slow);
# - CSI: parameters, intermediates, a final byte (an unfinished one ends where it breaks);
# - any other ESC: intermediates and a final byte (ESC c, ESC 7, ESC ( B ...).
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|\Z)"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x80-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]",
    re.DOTALL,
)

# Characters that end or break a line: shown as one space each.
_SPACES = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def clean_text(s: str, limit: int | None = None) -> str:
    """`s` with escape sequences, control characters and bidi controls removed, line
    breaks and tabs turned into spaces, and lone surrogates (undecodable bytes) shown as
    U+FFFD. With `limit`, at most that many characters, the last one an ellipsis when
    the text was cut. Printable text comes back unchanged, and cleaning twice changes
    nothing more than cleaning once."""
    text = _ESCAPE_SEQUENCE.sub("", s)
    text = "".join(_clean_char(ch) for ch in text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS if limit > 0 else ""
    return text


def isolate(s: str) -> str:
    """Already-cleaned `s` between FSI and PDI, so that a name written right to left
    does not reorder the text around it (for display only; never for storage)."""
    return f"{FSI}{s}{PDI}"


def _clean_char(ch: str) -> str:
    if ch in _SPACES:
        return " "
    if ch in BIDI_CONTROLS:
        return ""
    category = unicodedata.category(ch)
    if category == "Cc":  # C0, DEL, C1
        return ""
    if category == "Cs":  # a lone surrogate: bytes that were not valid UTF-8
        return "\ufffd"
    return ch


def name_words(name: str) -> list[str]:
    """The words of a person's name, first name first: "Ruiz, Ana" (last name first, as
    some districts' records have it) gives ["Ana", "Ruiz"], as "Ana Ruiz" does."""
    if "," in name:
        last, _, first = name.partition(",")
        if first.split() and last.split():
            return [*first.split(), *last.split()]
    return name.split()
