"""Files written whole or not at all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kiosk.core.files import write_atomically


def test_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "settings.toml"
    write_atomically(target, "a = 1\n")
    write_atomically(target, "a = 2\n")
    assert target.read_text(encoding="utf-8") == "a = 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["settings.toml"]  # no leftovers


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    write_atomically(target, "old")

    def no_space(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", no_space)
    with pytest.raises(OSError):
        write_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_private_files_are_the_users_only(tmp_path: Path) -> None:
    target = tmp_path / "data" / "tries.json"
    write_atomically(target, "{}", private=True)
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared.csv"
    write_atomically(shared, "x")
    assert shared.stat().st_mode & 0o044  # others may read a report they are sent
