"""Feedback sounds: success, warning, error and "saved, will be sent".

Windows (where the kiosk runs) plays WAV files asynchronously with the standard library's
``winsound``: no multimedia module, nothing to install. Elsewhere (development machines, CI)
playback is skipped and logged; QtMultimedia is not part of PySide6-Essentials.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Literal, get_args

from kiosk.resources import resource_path

__all__ = ["SoundKind", "SoundPlayer"]

log = logging.getLogger(__name__)

SoundKind = Literal["success", "warning", "error", "queued"]
SOUND_KINDS: tuple[str, ...] = get_args(SoundKind)


class SoundPlayer:
    """Plays one feedback sound per call without waiting for it to finish.

    ``played`` lists every sound asked for, in order, muted or not (tests assert on it).
    Never raises: a sound that cannot be played is logged and the kiosk carries on.
    """

    def __init__(self, *, muted: bool = False, sound_dir: Path | None = None) -> None:
        self.muted = muted
        self.played: list[str] = []
        self._sound_dir = sound_dir
        self._told_unavailable = False

    def play(self, kind: SoundKind) -> None:
        self.played.append(kind)
        if self.muted:
            return
        try:
            if kind not in SOUND_KINDS:
                raise ValueError(f"unknown sound {kind!r}")
            self._play_file(self._path(kind))
        except Exception:  # sound is a courtesy: never let it break a transaction
            log.warning("could not play the %s sound", kind, exc_info=True)

    def _path(self, kind: str) -> Path:
        name = f"{kind}.wav"
        if self._sound_dir is None:
            return resource_path("sounds", name)
        path = self._sound_dir / name
        if not path.exists():
            raise FileNotFoundError(f"sound missing: {path}")
        return path

    def _play_file(self, path: Path) -> None:
        if sys.platform == "win32":
            import winsound  # the module exists only on Windows

            flags = winsound.SND_FILENAME | winsound.SND_ASYNC | winsound.SND_NODEFAULT
            winsound.PlaySound(str(path), flags)
            return
        if not self._told_unavailable:
            self._told_unavailable = True
            log.info("sound playback unavailable on this platform; would play %s", path.name)
        else:
            log.debug("would play %s", path.name)
