"""Barcode scans: telling a scanner from a person, cleaning what it sent, checking it fits.

A USB barcode scanner is a keyboard ("keyboard wedge"): it types the code as a burst of key
presses a few milliseconds apart, usually followed by Enter or Tab, sometimes by nothing at
all. A person types far slower. Everything here is pure logic driven by timestamps the
caller passes in, so it is tested without Qt, without a clock and without a scanner;
``kiosk.ui.scanner`` feeds it real key events.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Case",
    "DoubleScanGuard",
    "EndedBy",
    "Scan",
    "ScanDetector",
    "ScanEvent",
    "ScanSettings",
    "Terminator",
    "Typed",
    "check_tag",
    "clean_scan",
]

Case = Literal["upper", "lower", "keep"]
Terminator = Literal["enter", "tab"]
EndedBy = Literal["enter", "tab", "pause", "interrupted"]

# Line/paragraph separators are invisible in a label and never part of a tag; Cs (lone
# surrogates) cannot even be encoded for a log line or an HTTP request.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHOWN_MAX = 40


@dataclass(frozen=True)
class ScanSettings:
    """How scans are recognised and cleaned; comes from the station's configuration."""

    prefix: str = ""
    """Removed from the start of a scan when present (e.g. a symbology identifier)."""
    suffix: str = ""
    """Removed from the end of a scan when present."""
    case: Case = "upper"
    """Case rule applied to the cleaned text: device tags are compared in upper case."""
    tag_pattern: str = r"^[A-Z0-9][A-Z0-9._\-]{1,39}$"
    """What a device tag or serial number looks like, after the case rule (re.fullmatch)."""
    burst_max_gap_ms: float = 35.0
    """Characters closer together than this belong to one burst (X typing jitter reaches
    ~30 ms, a person's keystrokes are 80 ms or more apart)."""
    burst_min_length: int = 4
    """A burst needs at least this many characters to count as a scan."""
    end_pause_ms: float = 120.0
    """A burst with no Enter/Tab ends after this pause; an Enter/Tab arriving within it after
    the burst is the scanner's own terminator and is swallowed with the scan."""
    double_scan_seconds: float = 3.0
    """The same code again within this many seconds is a double scan."""

    def __post_init__(self) -> None:
        # Fail when the configuration is loaded, not at the first scan in a full gym.
        if self.case not in ("upper", "lower", "keep"):
            raise ValueError(f"case must be 'upper', 'lower' or 'keep', not {self.case!r}")
        try:
            re.compile(self.tag_pattern)
        except re.error as exc:
            msg = f"tag_pattern {self.tag_pattern!r} is not a valid pattern: {exc}"
            raise ValueError(msg) from exc
        if self.burst_max_gap_ms <= 0:
            raise ValueError("burst_max_gap_ms must be positive")
        if self.burst_min_length < 1:
            raise ValueError("burst_min_length must be at least 1")
        if self.end_pause_ms < self.burst_max_gap_ms:
            raise ValueError("end_pause_ms must not be shorter than burst_max_gap_ms")
        if self.double_scan_seconds < 0:
            raise ValueError("double_scan_seconds must not be negative")


# --- cleaning and checking -------------------------------------------------------------


def clean_scan(raw: str, settings: ScanSettings) -> str:
    """Return the code a scan stands for: no control characters, no surrounding blanks,
    prefix and suffix removed, case rule applied.

    Never raises, and ``clean_scan(clean_scan(x)) == clean_scan(x)``: repeated prefixes and
    suffixes are all removed, and they are compared after the same cleaning and case rule as
    the text, so a configured ``"]c1"`` also removes ``"]C1"`` under the upper-case rule.
    Blanks inside the code are kept (the tag check rejects them).
    """
    text = _apply_case(_drop_invisible(raw), settings.case)
    prefix = _apply_case(_drop_invisible(settings.prefix), settings.case).strip()
    suffix = _apply_case(_drop_invisible(settings.suffix), settings.case).strip()
    while True:
        before = text
        text = text.strip()
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :]
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)]
        if text == before:
            return text


def check_tag(cleaned: str, settings: ScanSettings) -> str | None:
    """None when ``cleaned`` looks like a device tag or serial number, else what to tell
    the operator (plain words, no API call needed to know it is wrong)."""
    if not cleaned:
        return "Nothing was scanned."
    if _compiled(settings.tag_pattern).fullmatch(cleaned) is not None:
        return None
    return (
        f"“{_shorten(cleaned)}” is not a device tag or serial number. "
        "Scan the barcode on the device label."
    )


def _drop_invisible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)


def _apply_case(text: str, case: Case) -> str:
    if case == "upper":
        return text.upper()
    if case == "lower":
        return text.lower()
    return text


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# --- burst detection ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """A burst that was a scan. ``text`` is raw: pass it through :func:`clean_scan`."""

    text: str
    ended_by: EndedBy


@dataclass(frozen=True)
class Typed:
    """Held characters that turned out to be a person typing: hand them, in order, to the
    focused widget. ``text`` may be empty (nothing was held)."""

    text: str


ScanEvent = Scan | Typed


@dataclass
class _Held:
    chars: list[str] = field(default_factory=list)
    last_ms: float = 0.0


class ScanDetector:
    """Decides, key by key, whether characters are a scanner's burst or a person typing.

    The caller feeds every printable character and every Enter/Tab with a timestamp in
    milliseconds, and calls :meth:`poll` when :meth:`next_deadline` comes. The contract that
    lets a keyboard adapter swallow scans without losing anything a person types:

    * Every character passed to :meth:`feed_char` is *held*: the adapter swallows its key
      event and remembers it, because at that moment nobody can tell whether a burst starts.
    * Each returned event accounts for **all** characters held before the call, in order:
      :class:`Scan` means "they were a scan, drop the key events and use the text";
      :class:`Typed` means "replay those key events to the focused widget". The character
      passed to the ``feed_char`` call itself is never part of the returned event; it stays
      held. After :meth:`feed_terminator`, :meth:`poll` or :meth:`interrupt` returned an
      event, nothing is held.
    * :meth:`feed_terminator` always returns an event: ``Scan(ended_by="enter"/"tab")``
      means the Enter/Tab was the scanner's and is swallowed too; with anything else the
      adapter handles the event (e.g. replays the held characters) and then lets the key
      through. ``Typed("")`` means nothing was held.
    * Any other key (arrows, Backspace, F-keys, Ctrl combinations, auto-repeat) goes through
      :meth:`interrupt` first, then through to the UI.

    A burst is at least ``burst_min_length`` characters, every gap at most
    ``burst_max_gap_ms``. It ends with Enter/Tab arriving within ``end_pause_ms`` of its last
    character, with ``end_pause_ms`` of silence (scanners without a suffix), or with the next
    character arriving more than ``burst_max_gap_ms`` later. Held characters that cannot
    become a burst any more (too few, and the gap is already too long) are released as
    :class:`Typed` after ``burst_max_gap_ms``, so a person's typing shows up with no
    noticeable delay.
    """

    def __init__(self, settings: ScanSettings | None = None) -> None:
        self.settings = settings or ScanSettings()
        self._held = _Held()

    @property
    def pending(self) -> str:
        """The characters held right now."""
        return "".join(self._held.chars)

    def feed_char(self, ch: str, t_ms: float) -> ScanEvent | None:
        """A printable character arrived at ``t_ms``; it is held (see the class notes)."""
        event: ScanEvent | None = None
        # A gap over the limit ends whatever was held, so the buffer only ever holds a run
        # of characters that are all close together.
        if self._held.chars and t_ms - self._held.last_ms > self.settings.burst_max_gap_ms:
            event = self._finish("pause")
        self._held.chars.append(ch)
        self._held.last_ms = t_ms
        return event

    def feed_terminator(self, key: Terminator, t_ms: float) -> ScanEvent:
        """Enter or Tab arrived at ``t_ms``.

        Swallow the key when the result is ``Scan(ended_by=key)``: it was the scanner's
        terminator. Otherwise (:class:`Typed`, or a burst whose pause had already run out
        because :meth:`poll` came late) handle the event first, then let the key through.
        """
        if not self._is_burst():
            return self._release()
        if t_ms - self._held.last_ms <= self.settings.end_pause_ms:
            return self._finish(key)
        return self._finish("pause")

    def poll(self, t_ms: float) -> ScanEvent | None:
        """Finish what a pause has decided by ``t_ms``; None while undecided or idle."""
        deadline = self.next_deadline()
        if deadline is None or t_ms < deadline:
            return None
        return self._finish("pause")

    def interrupt(self, t_ms: float) -> ScanEvent | None:
        """Another key, a focus change or switching off: settle what is held now.

        A complete burst is still a scan (ended by ``"interrupted"``); anything else is typing.
        """
        del t_ms  # settled by what is held, not by the time; kept for a uniform API
        if not self._held.chars:
            return None
        return self._finish("interrupted")

    def next_deadline(self) -> float | None:
        """When :meth:`poll` can decide something, in the caller's milliseconds, or None."""
        held = self._held
        if not held.chars:
            return None
        if self._is_burst():
            return held.last_ms + self.settings.end_pause_ms
        # Fewer than burst_min_length: one more gap over the limit and it is typing. The
        # tiny margin makes "more than burst_max_gap_ms" true when polled at the deadline.
        return held.last_ms + self.settings.burst_max_gap_ms + 0.001

    def reset(self) -> None:
        """Forget everything held (the adapter drops the matching key events)."""
        self._held = _Held()

    def _is_burst(self) -> bool:
        return len(self._held.chars) >= self.settings.burst_min_length

    def _finish(self, ended_by: EndedBy) -> ScanEvent:
        if self._is_burst():
            text = "".join(self._held.chars)
            self._held = _Held()
            return Scan(text, ended_by)
        return self._release()

    def _release(self) -> Typed:
        text = "".join(self._held.chars)
        self._held = _Held()
        return Typed(text)


# --- double scans ------------------------------------------------------------------------


class DoubleScanGuard:
    """Spots the same code scanned twice in a row within ``double_scan_seconds``.

    Only the last *accepted* code counts: a double does not restart the window, and a
    different code in between means the next one is not a double (A, B, A is three scans).
    """

    def __init__(self, settings: ScanSettings | None = None) -> None:
        self.settings = settings or ScanSettings()
        self._last: tuple[str, float] | None = None

    def is_double(self, text: str, now_s: float) -> bool:
        """True for a double scan; otherwise ``text`` becomes the last accepted code."""
        last = self._last
        if last is not None and last[0] == text:
            elapsed = now_s - last[1]
            if 0 <= elapsed < self.settings.double_scan_seconds:
                return True
        self._last = (text, now_s)
        return False

    def reset(self) -> None:
        """Forget the last code (e.g. when the screen returns to Ready after idling)."""
        self._last = None
