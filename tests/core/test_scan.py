"""Scan cleaning, tag checks, burst detection and double scans, with synthetic timestamps."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kiosk.core.scan import (
    DoubleScanGuard,
    Scan,
    ScanDetector,
    ScanEvent,
    ScanSettings,
    Typed,
    check_tag,
    clean_scan,
)

DEFAULT = ScanSettings()
DROPPED = {"Cc", "Cf", "Cs", "Zl", "Zp"}

settings_strategy = st.builds(
    ScanSettings,
    prefix=st.sampled_from(["", "]C1", "\x02", " ]c1 ", "A", "%2e"]),
    suffix=st.sampled_from(["", "\r", "\x03", "#", "X"]),
    case=st.sampled_from(["upper", "lower", "keep"]),
)
nasty_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=600),
    st.text(alphabet="AB01-._ /\\%2e?#\x00\t\r\n\u200b\u2028\ufeff\u00df\u0130ſ", max_size=60),
)


# --- clean_scan ------------------------------------------------------------------------


@given(raw=nasty_text, cfg=settings_strategy)
@example(raw="../../etc/passwd", cfg=DEFAULT)
@example(raw="%2e%2e%2f", cfg=DEFAULT)
@example(raw="CB-0045?x=1#frag", cfg=DEFAULT)
@example(raw="A" * 500 + "\r\n", cfg=DEFAULT)
@example(raw="]C1]C1 cb-1 \x03", cfg=ScanSettings(prefix="]C1", suffix="\x03"))
@example(raw="ab123", cfg=ScanSettings(prefix="AB"))
@example(raw="\ud800CB-1\udfff", cfg=DEFAULT)
@settings(max_examples=400)
def test_clean_scan_is_total_idempotent_and_leaves_no_invisible_characters(
    raw: str, cfg: ScanSettings
) -> None:
    cleaned = clean_scan(raw, cfg)
    assert clean_scan(cleaned, cfg) == cleaned
    assert not any(unicodedata.category(ch) in DROPPED for ch in cleaned)
    assert cleaned == cleaned.strip()
    assert len(cleaned) <= len(raw) * 3  # case rules may lengthen (ß -> SS), never explode
    if cfg.case == "upper":
        assert cleaned == cleaned.upper()
    message = check_tag(cleaned, cfg)
    assert message is None or (message and "\n" not in message)


@pytest.mark.parametrize(
    ("raw", "cfg", "expected"),
    [
        ("  cb-004512\r\n", DEFAULT, "CB-004512"),
        ("\x02CB-004512\x03", DEFAULT, "CB-004512"),
        ("CB-\u200b004512\ufeff", DEFAULT, "CB-004512"),
        ("]C1CB-004512", ScanSettings(prefix="]C1"), "CB-004512"),
        ("]c1cb-004512", ScanSettings(prefix="]C1"), "CB-004512"),
        ("CB-004512/END", ScanSettings(suffix="/END"), "CB-004512"),
        ("CB-004512", ScanSettings(prefix="X", suffix="Y"), "CB-004512"),  # absent: untouched
        ("cb-004512", ScanSettings(case="lower"), "cb-004512"),
        ("Cb-004512", ScanSettings(case="keep"), "Cb-004512"),
        ("CB 004512", DEFAULT, "CB 004512"),  # inside blanks kept; the tag check rejects them
        ("", DEFAULT, ""),
        ("\r\n\t ", DEFAULT, ""),
    ],
)
def test_clean_scan_examples(raw: str, cfg: ScanSettings, expected: str) -> None:
    assert clean_scan(raw, cfg) == expected


# --- check_tag -------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["CB-004512", "5CG1234XYZ", "AB", "A.B_C-1", "A" * 40])
def test_check_tag_accepts_tags_and_serials(tag: str) -> None:
    assert check_tag(tag, DEFAULT) is None


def test_check_tag_says_nothing_was_scanned() -> None:
    assert check_tag("", DEFAULT) == "Nothing was scanned."


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "%2E%2E%2F",
        "CB-0045?X=1",
        "CB#1",
        "CB 004512",
        "ÄÖÜ-1",
        "-CB1",
        "A",
        "A" * 41,
        "A" * 500,
        "ＣＢ１２３",  # fullwidth
    ],
)
def test_check_tag_rejects_what_is_not_a_tag(bad: str) -> None:
    message = check_tag(bad, DEFAULT)
    assert message is not None
    assert "is not a device tag or serial number" in message
    assert "Scan the barcode on the device label." in message
    shown = message.split("”")[0].removeprefix("“")
    assert len(shown) <= 40
    if len(bad) > 40:
        assert shown.endswith("…")
    else:
        assert shown == bad


def test_check_tag_does_not_match_lower_case_unless_the_pattern_says_so() -> None:
    assert check_tag("cb-1", ScanSettings(case="keep")) is not None
    assert check_tag("cb-1", ScanSettings(case="keep", tag_pattern=r"[a-z]+-\d+")) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tag_pattern": "(["},
        {"case": "title"},
        {"burst_max_gap_ms": 0},
        {"burst_min_length": 0},
        {"end_pause_ms": 10.0},
        {"double_scan_seconds": -1},
    ],
)
def test_bad_settings_fail_when_loaded(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ScanSettings(**kwargs)  # type: ignore[arg-type]


# --- ScanDetector ----------------------------------------------------------------------


def type_chars(
    det: ScanDetector, text: str, start_ms: float, gaps: float | Iterable[float]
) -> tuple[list[ScanEvent], float]:
    """Feed ``text`` with the given gap(s) between characters; return events and last time."""
    gap_list = [gaps] * len(text) if isinstance(gaps, int | float) else list(gaps)
    events: list[ScanEvent] = []
    t = start_ms
    for i, ch in enumerate(text):
        if i:
            t += gap_list[i - 1]
        event = det.feed_char(ch, t)
        if event is not None:
            events.append(event)
    return events, t


def run_until_idle(det: ScanDetector, from_ms: float) -> tuple[list[ScanEvent], float]:
    """Poll at every deadline, as the adapter's timer does, until nothing is held."""
    events: list[ScanEvent] = []
    t = from_ms
    while (deadline := det.next_deadline()) is not None:
        t = max(t, deadline)
        event = det.poll(t)
        if event is not None:
            events.append(event)
    return events, t


def test_fast_burst_with_enter_is_a_scan() -> None:
    det = ScanDetector()
    events, t = type_chars(det, "CB-004512", 1000.0, 0.1)
    assert events == []
    assert det.pending == "CB-004512"
    assert det.feed_terminator("enter", t + 0.2) == Scan("CB-004512", "enter")
    assert det.pending == ""
    assert det.next_deadline() is None


def test_fast_burst_with_tab_is_a_scan() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "5CG1234XYZ", 0.0, 2.0)
    assert det.feed_terminator("tab", t + 3.0) == Scan("5CG1234XYZ", "tab")


def test_burst_without_suffix_ends_after_the_pause() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "CB-004512", 0.0, 1.0)
    assert det.next_deadline() == t + DEFAULT.end_pause_ms
    assert det.poll(t + 50.0) is None  # still waiting: an Enter may follow
    assert det.poll(t + DEFAULT.end_pause_ms) == Scan("CB-004512", "pause")
    assert det.poll(t + 500.0) is None


def test_enter_late_within_the_pause_is_still_the_scanners() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "CB-004512", 0.0, 1.0)
    assert det.feed_terminator("enter", t + 100.0) == Scan("CB-004512", "enter")


def test_enter_after_a_late_poll_is_not_swallowed() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "CB-004512", 0.0, 1.0)
    assert det.feed_terminator("enter", t + 400.0) == Scan("CB-004512", "pause")


def test_slow_typing_is_not_a_scan_and_nothing_is_lost() -> None:
    det = ScanDetector()
    typed = ""
    t = 0.0
    for ch in "ana ruiz":
        event = det.feed_char(ch, t)
        assert not isinstance(event, Scan)
        # The adapter's timer polls at the deadline: each key is released on its own.
        deadline = det.next_deadline()
        assert deadline is not None and deadline - t < 40.0  # typing shows up promptly
        released = det.poll(deadline)
        assert isinstance(released, Typed)
        typed += released.text
        t += 120.0
    assert typed == "ana ruiz"
    assert det.feed_terminator("enter", t) == Typed("")


def test_slow_typing_without_polls_is_released_by_the_next_key() -> None:
    det = ScanDetector()
    events, t = type_chars(det, "ana", 0.0, 120.0)
    assert events == [Typed("a"), Typed("n")]
    assert det.feed_terminator("enter", t + 120.0) == Typed("a")


def test_jittery_burst_up_to_30_ms_is_still_a_scan() -> None:
    det = ScanDetector()
    gaps = [6.5, 31.0, 2.0, 30.0, 12.0, 29.9, 0.5, 35.0]
    events, t = type_chars(det, "CB-004512", 0.0, gaps)
    assert events == []
    assert det.feed_terminator("enter", t + 31.0) == Scan("CB-004512", "enter")


def test_two_fast_characters_then_slow_typing() -> None:
    det = ScanDetector()
    events, t = type_chars(det, "ab", 0.0, 10.0)
    assert events == []
    events, t = type_chars(det, "cd", t + 150.0, 150.0)
    assert events == [Typed("ab"), Typed("c")]
    assert run_until_idle(det, t)[0] == [Typed("d")]


def test_short_fast_run_with_enter_is_typing() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "A12", 0.0, 1.0)  # below burst_min_length
    assert det.feed_terminator("enter", t + 1.0) == Typed("A12")


def test_a_gap_splits_bursts_and_the_first_one_counts() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "CB-004512", 0.0, 1.0)
    events, t = type_chars(det, "CB-004513", t + 60.0, 1.0)
    assert events == [Scan("CB-004512", "pause")]
    assert det.feed_terminator("enter", t + 1.0) == Scan("CB-004513", "enter")


def test_a_gap_just_over_the_limit_breaks_a_burst() -> None:
    det = ScanDetector()
    events, _ = type_chars(det, "CB-0", 0.0, [1.0, 1.0, 36.0])
    assert events == [Typed("CB-")]
    assert det.pending == "0"


def test_interrupt_settles_what_is_held() -> None:
    det = ScanDetector()
    assert det.interrupt(0.0) is None
    type_chars(det, "ab", 0.0, 1.0)
    assert det.interrupt(5.0) == Typed("ab")
    type_chars(det, "CB-004512", 10.0, 1.0)
    assert det.interrupt(25.0) == Scan("CB-004512", "interrupted")
    assert det.pending == ""


def test_reset_forgets_everything() -> None:
    det = ScanDetector()
    type_chars(det, "CB-0", 0.0, 1.0)
    det.reset()
    assert det.pending == ""
    assert det.next_deadline() is None
    assert det.poll(1000.0) is None


def test_long_burst_is_one_scan() -> None:
    det = ScanDetector()
    _, t = type_chars(det, "Z" * 600, 0.0, 0.05)
    assert det.feed_terminator("enter", t) == Scan("Z" * 600, "enter")


@given(
    text=st.text(alphabet="ABC123-", min_size=1, max_size=30),
    gaps=st.lists(st.floats(min_value=0.0, max_value=400.0), min_size=30, max_size=30),
    end=st.sampled_from(["enter", "tab", "poll"]),
)
def test_every_character_comes_out_exactly_once_in_order(
    text: str, gaps: list[float], end: str
) -> None:
    det = ScanDetector()
    events, t = type_chars(det, text, 0.0, gaps)
    if end == "poll":
        events += run_until_idle(det, t)[0]
    else:
        events.append(det.feed_terminator("enter" if end == "enter" else "tab", t + 1.0))
    assert "".join(e.text for e in events) == text
    assert det.pending == ""
    for event in events:
        if isinstance(event, Scan):
            assert len(event.text) >= DEFAULT.burst_min_length


# --- DoubleScanGuard -------------------------------------------------------------------


def test_double_scan_within_the_window() -> None:
    guard = DoubleScanGuard()
    assert not guard.is_double("CB-004512", 100.0)
    assert guard.is_double("CB-004512", 101.0)
    assert guard.is_double("CB-004512", 102.9)  # a double does not restart the window
    assert not guard.is_double("CB-004512", 103.0)


def test_other_code_in_between_is_not_a_double() -> None:
    guard = DoubleScanGuard()
    assert not guard.is_double("A1", 0.0)
    assert not guard.is_double("B2", 0.5)
    assert not guard.is_double("A1", 1.0)


def test_guard_reset_and_configured_window() -> None:
    guard = DoubleScanGuard(ScanSettings(double_scan_seconds=10.0))
    assert not guard.is_double("A1", 0.0)
    assert guard.is_double("A1", 9.0)
    guard.reset()
    assert not guard.is_double("A1", 9.5)
