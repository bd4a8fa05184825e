"""Where the kiosk's own files (sounds, icons, style sheet) are, from source or frozen.

From a source checkout they live in ``resources/`` at the repository root; inside a
PyInstaller bundle they are unpacked to ``sys._MEIPASS/resources`` (the spec file adds the
folder with ``datas=[("resources", "resources")]``). Everything goes through
:func:`resource_path`, so no other module needs to know which case it is in.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["resource_path", "resources_root"]

_SOURCE_ROOT = Path(__file__).resolve().parent.parent / "resources"


def resources_root() -> Path:
    """The folder that holds the resources in this run (it may not exist)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return _SOURCE_ROOT


def resource_path(*parts: str) -> Path:
    """The path of a resource file, e.g. ``resource_path("sounds", "error.wav")``.

    Raises FileNotFoundError (naming the full path) when it is missing, and ValueError for
    a name that would leave the resources folder.
    """
    root = resources_root()
    path = root.joinpath(*parts)
    if not parts or not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"not a resource name: {'/'.join(parts)!r}")
    if not path.exists():
        raise FileNotFoundError(f"resource missing: {path}")
    return path
