"""The admin PIN: the hash, the policy, and wrong tries that slow down across restarts."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from kiosk.core.pin import (
    MAX_DELAY_S,
    PinCheck,
    PinGate,
    PinPolicyError,
    delay_after,
    hash_pin,
    is_pin_hash,
    pin_problem,
    verify_pin,
)

# Twelve digits: a shorter PIN could turn up by chance inside base64 or a timestamp, and a
# test that looks for it in the files would then fail for nothing.
PIN = "739164820573"
T0 = 1_700_000_000.0  # the fake clock's start; its digits share no run with PIN


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


def gate(path: Path, pin_hash: str, clock: Clock) -> PinGate:
    return PinGate(pin_hash, path, clock=clock)


# --- hash and policy ---------------------------------------------------------------------


def test_hash_has_the_agreed_format_and_verifies(pin_hash: str) -> None:
    parts = pin_hash.split("$")
    assert parts[:4] == ["scrypt", "16384", "8", "1"]
    assert len(parts) == 6 and all(parts[4:])
    assert pin_hash.startswith("scrypt$")
    assert is_pin_hash(pin_hash)
    assert verify_pin(PIN, pin_hash)
    assert not verify_pin("739164820574", pin_hash)
    assert not verify_pin("", pin_hash)
    assert PIN not in pin_hash


def test_same_pin_twice_gives_two_different_hashes(pin_hash: str) -> None:
    other = hash_pin(PIN)
    assert other != pin_hash  # salted
    assert verify_pin(PIN, other)


@pytest.mark.parametrize(
    "broken",
    [
        "",
        "1234",
        "scrypt$16384$8$1$c2FsdA==",
        "scrypt$1000$8$1$c2FsdHNhbHQ=$" + "A" * 44,  # n not a power of two
        "scrypt$1073741824$8$1$c2FsdHNhbHQ=$" + "A" * 44,  # n far too large to compute
        "scrypt$16384$8$1$not base64!$" + "A" * 44,
        "bcrypt$16384$8$1$c2FsdHNhbHQ=$" + "A" * 44,
    ],
)
def test_a_malformed_hash_never_verifies(broken: str) -> None:
    assert not is_pin_hash(broken)
    assert not verify_pin("1234", broken)


@pytest.mark.parametrize(
    ("pin", "words"),
    [
        ("", "Enter a PIN of 4 to 12 digits."),
        ("123", "This PIN is too short: use 4 to 12 digits."),
        ("1234567890123", "This PIN is too long: use 4 to 12 digits."),
        ("12a4", "A PIN is digits only (0-9): 4 to 12 of them."),
        ("12 34", "A PIN is digits only (0-9): 4 to 12 of them."),
        ("١٢٣٤", "A PIN is digits only (0-9): 4 to 12 of them."),  # Arabic-Indic digits
    ],
)
def test_policy_refuses_in_words_without_the_pin(pin: str, words: str) -> None:
    assert pin_problem(pin) == words
    with pytest.raises(PinPolicyError) as caught:
        hash_pin(pin)
    assert str(caught.value) == words
    if pin:
        assert pin not in str(caught.value) and pin not in repr(caught.value)


def test_policy_accepts_4_to_12_digits() -> None:
    assert pin_problem("0000") is None
    assert pin_problem("123456789012") is None


# --- slowing down ----------------------------------------------------------------------------


def test_delays_grow_from_the_fourth_try_and_are_capped() -> None:
    assert [delay_after(n) for n in range(0, 9)] == [0, 0, 0, 5, 10, 20, 40, 80, 160]
    assert delay_after(9) == MAX_DELAY_S == 300
    assert delay_after(50) == 300


def test_right_pin_ok_wrong_pin_wrong(tmp_path: Path, pin_hash: str) -> None:
    clock = Clock()
    g = gate(tmp_path / "pin-tries.json", pin_hash, clock)
    assert g.check(PIN) == PinCheck("ok", 0.0, 0)
    wrong = g.check("0000")
    assert wrong == PinCheck("wrong", 0.0, 1)
    assert wrong.message == "Wrong PIN. Try again."
    assert g.check(PIN).ok
    assert g.failures == 0


def test_after_three_wrong_tries_each_try_waits_longer(tmp_path: Path, pin_hash: str) -> None:
    clock = Clock()
    g = gate(tmp_path / "pin-tries.json", pin_hash, clock)
    assert [g.check("1111").result for _ in range(2)] == ["wrong", "wrong"]
    third = g.check("1111")
    assert third == PinCheck("wrong", 5.0, 3)
    assert third.message == "Wrong PIN. Wait 5 seconds before the next try."

    # Too soon: not even the right PIN is looked at, and the try is not counted.
    clock.now += 2
    soon = g.check(PIN)
    assert soon.result == "wait" and soon.wait_s == pytest.approx(3.0)
    assert soon.message == "Too many wrong PINs. Wait 3 seconds before the next try."
    assert g.failures == 3

    clock.now += 3
    fourth = g.check("1111")
    assert fourth == PinCheck("wrong", 10.0, 4)
    clock.now += 9.5
    assert g.check(PIN).result == "wait"
    clock.now += 0.5
    assert g.check("1111") == PinCheck("wrong", 20.0, 5)

    # `now` can be given instead of the clock.
    assert g.check(PIN, now=clock.now + 19).result == "wait"
    assert g.check(PIN, now=clock.now + 20).ok
    assert g.failures == 0
    assert g.wait_s() == 0


def test_the_wait_is_capped_at_five_minutes(tmp_path: Path, pin_hash: str) -> None:
    clock = Clock()
    g = gate(tmp_path / "pin-tries.json", pin_hash, clock)
    for _ in range(12):
        clock.now += 1000
        g.check("2222")
    assert g.wait_s() == 300
    assert g.check(PIN).message == "Too many wrong PINs. Wait 5 minutes before the next try."
    clock.now += 300
    assert g.check(PIN).ok


def test_the_count_survives_a_restart(tmp_path: Path, pin_hash: str) -> None:
    path = tmp_path / "data" / "pin-tries.json"
    clock = Clock()
    first = gate(path, pin_hash, clock)
    for _ in range(4):
        clock.now += 60
        first.check("3333")
    assert first.failures == 4

    clock.now += 4
    restarted = gate(path, pin_hash, clock)  # a new process, the same file
    assert restarted.failures == 4
    waiting = restarted.check(PIN)
    assert waiting.result == "wait" and waiting.wait_s == pytest.approx(6.0)

    clock.now += 6
    assert restarted.check(PIN).ok
    assert gate(path, pin_hash, clock).failures == 0  # the reset is on disk too


def test_a_clock_set_back_does_not_lengthen_or_skip_the_wait(tmp_path: Path, pin_hash: str) -> None:
    clock = Clock()
    g = gate(tmp_path / "pin-tries.json", pin_hash, clock)
    for _ in range(3):
        g.check("4444")
    clock.now -= 3600
    assert g.wait_s() == 5.0


def test_reset_forgets_the_wrong_tries(tmp_path: Path, pin_hash: str) -> None:
    clock = Clock()
    g = gate(tmp_path / "pin-tries.json", pin_hash, clock)
    for _ in range(5):
        clock.now += 100
        g.check("5555")
    g.reset()
    assert g.failures == 0 and g.wait_s() == 0
    assert g.check(PIN).ok


def test_a_damaged_tries_file_slows_down_once(tmp_path: Path, pin_hash: str) -> None:
    path = tmp_path / "pin-tries.json"
    path.write_text("{not json", encoding="utf-8")
    clock = Clock()
    g = gate(path, pin_hash, clock)
    assert g.failures == 3
    clock.now += 1
    assert g.check(PIN).result == "wait"
    clock.now += 4
    assert g.check(PIN).ok
    assert json.loads(path.read_text(encoding="utf-8"))["failures"] == 0


# --- nothing in clear -------------------------------------------------------------------------


def test_the_pin_is_in_no_file_and_no_log_line(
    tmp_path: Path, pin_hash: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "data"
    clock = Clock()
    with caplog.at_level(logging.DEBUG):
        g = gate(folder / "pin-tries.json", pin_hash, clock)
        for attempt in range(4):
            clock.now += 1000
            g.check(PIN[:-1] + str(attempt))  # near misses
        clock.now += 1000
        assert g.check(PIN).ok
        clock.now += 1000
        g.check("1234")
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert [p.name for p in written] == ["pin-tries.json"]  # no temporary file left
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert PIN not in text and PIN[:-1] not in text
        assert json.loads(text) == {"version": 1, "failures": 1, "last_failure": clock.now}
    assert "wrong admin PIN (1 in a row)" in caplog.text
    assert PIN[:-1] not in caplog.text and "1234" not in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_the_tries_file_is_the_users_alone(tmp_path: Path, pin_hash: str) -> None:
    old = os.umask(0o022)
    try:
        folder = tmp_path / "new-data"
        g = gate(folder / "pin-tries.json", pin_hash, Clock())
        g.check("0000")
    finally:
        os.umask(old)
    assert stat.S_IMODE((folder / "pin-tries.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
