"""SoundPlayer, and the other shipped resources: sounds, style sheet, icons, resource_path."""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
import wave
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QIcon
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from kiosk.resources import resource_path, resources_root
from kiosk.ui.sound import SOUND_KINDS, SoundPlayer


def test_played_records_every_request_in_order() -> None:
    player = SoundPlayer()
    player.play("success")
    player.play("error")
    player.play("queued")
    assert player.played == ["success", "error", "queued"]


def test_muted_still_records_but_plays_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    player = SoundPlayer(muted=True)
    calls: list[Path] = []
    monkeypatch.setattr(player, "_play_file", calls.append)
    player.play("warning")
    assert player.played == ["warning"]
    assert calls == []


def test_missing_file_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    player = SoundPlayer(sound_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.sound"):
        player.play("error")
    assert player.played == ["error"]
    assert "could not play the error sound" in caplog.text
    assert "error.wav" in caplog.text


def test_unknown_kind_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    player = SoundPlayer()
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.sound"):
        player.play("fanfare")  # type: ignore[arg-type]
    assert "could not play the fanfare sound" in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="plays for real on Windows")
def test_unavailable_playback_is_said_once_at_info(caplog: pytest.LogCaptureFixture) -> None:
    player = SoundPlayer()
    with caplog.at_level(logging.DEBUG, logger="kiosk.ui.sound"):
        player.play("success")
        player.play("success")
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1
    assert "sound playback unavailable on this platform; would play success.wav" in infos[0].message
    assert any(r.levelno == logging.DEBUG for r in caplog.records)


def test_windows_path_uses_winsound_async(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, int]] = []
    fake = types.SimpleNamespace(
        SND_FILENAME=0x20000,
        SND_ASYNC=0x1,
        SND_NODEFAULT=0x2,
        PlaySound=lambda name, flags: calls.append((name, flags)),
    )
    monkeypatch.setitem(sys.modules, "winsound", fake)
    monkeypatch.setattr(sys, "platform", "win32")
    SoundPlayer().play("queued")
    assert calls == [(str(resource_path("sounds", "queued.wav")), 0x20003)]

    def broken(name: str, flags: int) -> None:
        raise RuntimeError("no audio device")

    fake.PlaySound = broken
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.sound"):
        SoundPlayer().play("error")  # logged, not raised
    assert "could not play the error sound" in caplog.text


@pytest.mark.parametrize("kind", SOUND_KINDS)
def test_shipped_sounds_are_short_16_bit_mono(kind: str) -> None:
    path = resource_path("sounds", f"{kind}.wav")
    assert path.stat().st_size < 40_000
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert 0.2 <= wav.getnframes() / wav.getframerate() <= 0.8


def test_shipped_sounds_differ() -> None:
    data = {resource_path("sounds", f"{k}.wav").read_bytes() for k in SOUND_KINDS}
    assert len(data) == len(SOUND_KINDS)


def test_shipped_sounds_match_their_generator(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_sounds", resource_path("make_sounds.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for kind, (make, level) in module.SOUNDS.items():
        out = tmp_path / f"{kind}.wav"
        module.write_wav(out, make(), level)
        assert out.read_bytes() == resource_path("sounds", f"{kind}.wav").read_bytes(), kind


# --- kiosk.resources (the sounds are its first user) -------------------------------------


def test_resource_path_from_source() -> None:
    path = resource_path("style.qss")
    assert path.is_file()
    assert path.parent.name == "resources"
    assert resources_root() == path.parent


def test_resource_path_inside_a_pyinstaller_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resources" / "sounds").mkdir(parents=True)
    (tmp_path / "resources" / "sounds" / "error.wav").write_bytes(b"RIFF")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert resources_root() == tmp_path / "resources"
    assert resource_path("sounds", "error.wav") == tmp_path / "resources" / "sounds" / "error.wav"
    with pytest.raises(FileNotFoundError) as missing:
        resource_path("style.qss")
    assert str(tmp_path / "resources" / "style.qss") in str(missing.value)


def test_meipass_alone_is_not_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert resource_path("style.qss").is_file()


def test_missing_resource_names_the_path() -> None:
    with pytest.raises(FileNotFoundError, match=r"resources.+no-such\.wav"):
        resource_path("sounds", "no-such.wav")


@pytest.mark.parametrize("parts", [(), ("..", "pyproject.toml"), ("sounds", "..", "..", "x")])
def test_names_outside_the_resources_folder_are_refused(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="not a resource name"):
        resource_path(*parts)


def test_absolute_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a resource name"):
        resource_path(str(tmp_path))


# --- the style sheet and icons -----------------------------------------------------------


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _colour_at(widget: QWidget, x: int) -> str:
    """The colour at ``x`` px from the left (from the right when negative), half-way down."""
    image = widget.grab().toImage()
    return image.pixelColor(x % image.width(), image.height() // 2).name()


def test_style_sheet_parses_and_follows_dynamic_properties(qtbot: QtBot, qtlog: Any) -> None:
    window = QWidget()
    window.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    banner = QLabel("CHECK OUT", window)
    banner.setObjectName("modeBanner")
    demo = QLabel("DEMO", window)
    demo.setObjectName("demoBanner")
    panel = QFrame(window)
    panel.setObjectName("resultPanel")
    panel_text = QLabel("Ana Ruiz now has CB-004512", panel)
    QVBoxLayout(panel).addWidget(panel_text)
    heading = QLabel("Check out", window)
    heading.setObjectName("heading")
    prompt = QLabel("Scan a device", window)
    prompt.setObjectName("prompt")
    button = QPushButton("Confirm", window)
    layout = QVBoxLayout(window)
    for widget in (banner, demo, panel, heading, prompt, button):
        layout.addWidget(widget)
    qtbot.addWidget(window)
    window.resize(900, 900)
    window.show()
    qtbot.waitExposed(window)

    for mode, colour in [("checkout", "#0b3d91"), ("checkin", "#00594f"), ("lookup", "#4b2e83")]:
        banner.setProperty("mode", mode)
        _repolish(banner)
        assert _colour_at(banner, -3) == colour, mode
    assert _colour_at(demo, -3) == "#ff9f1c"
    for kind, bar, background in [
        ("success", "#1e7b34", "#e3f4e7"),
        ("warning", "#b58100", "#fff3c4"),
        ("error", "#b00020", "#fde2e5"),
        ("queued", "#1a56c4", "#e3ecfa"),
    ]:
        panel.setProperty("kind", kind)
        _repolish(panel)  # only the panel, as the controller does
        assert _colour_at(panel, 8) == bar, kind
        assert _colour_at(panel, -12) == background, kind
        assert panel_text.palette().color(panel_text.foregroundRole()).name() == "#111111"
    assert heading.font().pointSize() >= 32
    assert prompt.font().pointSize() >= 36
    assert button.font().pointSize() >= 18
    assert button.height() >= 48
    assert not [r for r in qtlog.records if "style" in r.message.lower()]


@pytest.mark.parametrize("name", ["success", "warning", "error", "queued", "app"])
def test_icons_load(qtbot: QtBot, name: str) -> None:
    path = resource_path("icons", f"{name}.svg")
    assert QSvgRenderer(str(path)).isValid()
    assert not QIcon(str(path)).pixmap(64, 64).isNull()
