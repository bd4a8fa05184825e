"""The admin PIN: needed to leave fullscreen, quit, open the settings, or change mode on a
station locked to one.

A PIN is kept only as a salted scrypt hash, `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`
(the configuration recognises a `pin_hash` setting by its `scrypt$` prefix). It is never
stored in clear, never logged and never part of an exception's text.

Wrong tries slow down: after `FREE_TRIES` wrong PINs each further try must wait a delay
that doubles (5 s, 10 s, 20 s, ... at most 5 minutes) from the last wrong one. The count
lives in a small JSON file in the data folder, so restarting the kiosk does not reset it;
the right PIN does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kiosk.core.files import write_atomically

log = logging.getLogger(__name__)

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12
HASH_PREFIX = "scrypt$"

# scrypt's cost: n=2**14, r=8 takes ~16 MB and some 50 ms, once per try (OWASP's minimum).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# A hash from a config file is data: costs above these are refused rather than computed
# (a crafted n would otherwise take all memory).
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16

FREE_TRIES = 3
FIRST_DELAY_S = 5.0
MAX_DELAY_S = 300.0

_PIN = re.compile(r"[0-9]+")


class PinPolicyError(ValueError):
    """A PIN that is not allowed; the message says why in words (never the PIN)."""


def pin_problem(pin: str) -> str | None:
    """Why `pin` cannot be a PIN, in words, or None when it can."""
    if not pin:
        return f"Enter a PIN of {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits."
    if not _PIN.fullmatch(pin):
        return f"A PIN is digits only (0-9): {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} of them."
    if len(pin) < PIN_MIN_DIGITS:
        return f"This PIN is too short: use {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits."
    if len(pin) > PIN_MAX_DIGITS:
        return f"This PIN is too long: use {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits."
    return None


def hash_pin(pin: str) -> str:
    """The salted scrypt hash of `pin`. Raises PinPolicyError for a PIN the policy refuses."""
    problem = pin_problem(pin)
    if problem is not None:
        raise PinPolicyError(problem)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(
        ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def is_pin_hash(encoded: str) -> bool:
    """Whether `encoded` is a well-formed hash from `hash_pin` (costs within bounds)."""
    return _parse(encoded) is not None


def verify_pin(pin: str, encoded: str) -> bool:
    """Whether `pin` matches the hash (compared in constant time). False for a hash that
    is not well formed."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    candidate = _scrypt(pin, salt, n, r, p, len(expected))
    return hmac.compare_digest(candidate, expected)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * n * r + 2**20
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.strip().split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    powers_of_two = n > 1 and n & (n - 1) == 0
    if not (powers_of_two and n <= _MAX_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        return None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        return None
    return n, r, p, salt, digest


# --- slowing down wrong tries -------------------------------------------------------------


@dataclass(frozen=True)
class PinCheck:
    """The answer to one try. `result`: "ok" (the right PIN), "wrong", or "wait" (too
    soon after wrong tries: the PIN was not even looked at). `wait_s`: how long until the
    next try is looked at (0 when it may come at once)."""

    result: Literal["ok", "wrong", "wait"]
    wait_s: float = 0.0
    failures: int = 0

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    @property
    def message(self) -> str:
        """What to tell the person at the kiosk."""
        if self.result == "ok":
            return "PIN accepted."
        if self.result == "wrong" and self.wait_s <= 0:
            return "Wrong PIN. Try again."
        seconds = max(1, math.ceil(self.wait_s))
        prefix = "Wrong PIN. " if self.result == "wrong" else "Too many wrong PINs. "
        return f"{prefix}Wait {_say_seconds(seconds)} before the next try."


def delay_after(failures: int) -> float:
    """The wait before the next try after `failures` wrong tries in a row."""
    if failures < FREE_TRIES:
        return 0.0
    return float(min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (failures - FREE_TRIES)))


class PinGate:
    """Checks PINs against `pin_hash`, counting wrong tries in the JSON file `state_path`
    (the data folder's; written whole or not at all, readable by the user only on POSIX).

    The clock is wall time (`time.time`, injectable for tests): the count and the time of
    the last wrong try must mean the same after a restart. A clock set back is no way
    around the wait: a wait never lasts longer than its delay, and never less either.
    """

    def __init__(
        self,
        pin_hash: str,
        state_path: Path,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pin_hash = pin_hash
        self.state_path = Path(state_path)
        self._clock = clock
        self._failures, self._last_failure = self._load() or (0, 0.0)

    @property
    def failures(self) -> int:
        """Wrong tries in a row so far."""
        return self._failures

    def wait_s(self, now: float | None = None) -> float:
        """Seconds until a try is looked at (0: now)."""
        delay = delay_after(self._failures)
        if delay <= 0:
            return 0.0
        now = self._clock() if now is None else now
        elapsed = max(0.0, now - self._last_failure)
        return max(0.0, delay - elapsed)

    def check(self, pin: str, now: float | None = None) -> PinCheck:
        """Try `pin`. Too soon after wrong tries, the answer is "wait" and the PIN is not
        looked at (and not counted). A wrong PIN is counted; the right one resets the
        count."""
        now = self._clock() if now is None else now
        # Read again: another window of this kiosk may have counted a try since.
        loaded = self._load()
        if loaded is not None:
            self._failures, self._last_failure = loaded
        waiting = self.wait_s(now)
        if waiting > 0:
            return PinCheck("wait", waiting, self._failures)
        if verify_pin(pin, self.pin_hash):
            if self._failures:
                log.info("admin PIN accepted after %d wrong tries", self._failures)
                self.reset()
            return PinCheck("ok", 0.0, 0)
        self._failures += 1
        self._last_failure = now
        self._save()
        log.warning("wrong admin PIN (%d in a row)", self._failures)
        return PinCheck("wrong", delay_after(self._failures), self._failures)

    def reset(self) -> None:
        """Forget the wrong tries (the right PIN does this)."""
        self._failures, self._last_failure = 0, 0.0
        self._save()

    # ---- the file

    def _load(self) -> tuple[int, float] | None:
        """(failures, time of the last one) from the file; None when it cannot be read
        (the count so far in this process then stands)."""
        try:
            raw = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0, 0.0
        except OSError as exc:
            log.warning("the PIN tries file cannot be read (%s)", exc)
            return None
        try:
            data: Any = json.loads(raw)
            failures = int(data["failures"])
            last = float(data["last_failure"])
            if failures < 0:
                raise ValueError("negative count")
        except (ValueError, TypeError, KeyError):
            # Written whole or not at all, so this is tampering or a damaged disk: slow
            # down rather than forget the count, and write that down so it holds once.
            log.warning("the PIN tries file is damaged; counting as slowed down")
            failures, last = FREE_TRIES, self._clock()
            self._write(failures, last)
        return failures, last

    def _save(self) -> None:
        self._write(self._failures, self._last_failure)

    def _write(self, failures: int, last_failure: float) -> None:
        data = {"version": 1, "failures": failures, "last_failure": last_failure}
        try:
            write_atomically(self.state_path, json.dumps(data) + "\n", private=True)
        except OSError as exc:  # the count in this process still holds
            log.warning("the PIN tries file cannot be written (%s)", exc)


def _say_seconds(seconds: int) -> str:
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes, rest = divmod(seconds, 60)
    text = "1 minute" if minutes == 1 else f"{minutes} minutes"
    return text + (f" {rest} s" if rest else "")
