"""One kiosk per user: a second start is refused and brings the first to the front; a
name left behind by a crash is taken over; other names and other users are independent."""

from __future__ import annotations

import socket
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QApplication

from kiosk.ui.single_instance import InstanceLock, claim, current_user, server_name


@pytest.fixture
def name() -> str:
    """A name no real kiosk uses, so the tests never talk to one that runs."""
    return f"iiq-kiosk-test-{uuid.uuid4().hex}"


@pytest.fixture
def locks() -> Iterator[list[InstanceLock]]:
    held: list[InstanceLock] = []
    yield held
    for lock in held:
        lock.release()


def test_second_claim_is_refused_and_the_first_is_asked_to_show(
    qtbot: Any, qapp: QApplication, name: str, locks: list[InstanceLock]
) -> None:
    first = claim(name)
    assert first is not None and first.listening
    locks.append(first)

    with qtbot.waitSignal(first.show_requested, timeout=3000):
        assert claim(name) is None
    # and again: every later start is refused the same way
    with qtbot.waitSignal(first.show_requested, timeout=3000):
        assert claim(name) is None


def test_after_release_the_next_start_is_the_first_again(
    qtbot: Any, qapp: QApplication, name: str, locks: list[InstanceLock]
) -> None:
    first = claim(name)
    assert first is not None
    first.release()
    assert not first.listening
    second = claim(name)
    assert second is not None and second.listening
    locks.append(second)


@pytest.mark.skipif(sys.platform == "win32", reason="a Windows pipe ends with its process")
def test_a_name_left_behind_by_a_crash_is_taken_over(
    qtbot: Any, qapp: QApplication, name: str, locks: list[InstanceLock]
) -> None:
    # What a killed kiosk leaves: the socket file, with nobody listening on it.
    path = Path(QDir.tempPath()) / server_name(name)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    assert path.exists()

    lock = claim(name, timeout_ms=200)
    assert lock is not None and lock.listening
    locks.append(lock)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700  # a new socket: this user's only
    with qtbot.waitSignal(lock.show_requested, timeout=3000):
        assert claim(name) is None


def test_different_names_and_different_users_are_independent(
    qtbot: Any, qapp: QApplication, name: str, locks: list[InstanceLock]
) -> None:
    one = claim(name + "-a")
    other = claim(name + "-b")
    alice = claim(name, user="alice")
    bob = claim(name, user="bob")
    held = [lock for lock in (one, other, alice, bob) if lock is not None]
    locks.extend(held)
    assert len(held) == 4
    assert len({lock.name for lock in held}) == 4

    # Asking one to show does not disturb the others.
    assert alice is not None and bob is not None
    shown: list[str] = []
    bob.show_requested.connect(lambda: shown.append("bob"))
    with qtbot.waitSignal(alice.show_requested, timeout=3000):
        assert claim(name, user="alice") is None
    qapp.processEvents()
    assert shown == []


def test_the_server_name_is_per_user_and_does_not_spell_the_user() -> None:
    assert server_name(user="alice") == server_name(user="alice")
    assert server_name(user="alice") != server_name(user="bob")
    assert "alice" not in server_name(user="alice")
    assert server_name() == server_name(user=current_user())
    assert server_name().startswith("iiq-kiosk-")
