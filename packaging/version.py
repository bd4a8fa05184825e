"""The project's version (from pyproject.toml) and the Windows version resource built from it.

Used by ``iiq-kiosk.spec`` and ``build.py``; standard library only.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"

COMPANY = "iiq-kiosk developers"
PRODUCT = "iiq-kiosk"
DESCRIPTION = "Incident IQ check-in/check-out kiosk"
EXE_NAME = "iiq-kiosk"


def project_metadata(pyproject: Path = PYPROJECT) -> dict[str, Any]:
    with pyproject.open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def project_version(pyproject: Path = PYPROJECT) -> str:
    return str(project_metadata(pyproject)["version"])


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """Four integers for the Windows FILEVERSION: "1.2.3rc1" -> (1, 2, 3, 0).

    Windows wants exactly four 16-bit numbers; a pre-release or local suffix is dropped
    (it still appears in the string fields).
    """
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    if not match:
        raise ValueError(f"not a version: {version!r}")
    numbers = [int(part) for part in match.group(1).split(".")][:4]
    numbers += [0] * (4 - len(numbers))
    if any(n > 0xFFFF for n in numbers):
        raise ValueError(f"version part above 65535 in {version!r}")
    return numbers[0], numbers[1], numbers[2], numbers[3]


def version_file_text(version: str | None = None) -> str:
    """The Windows version resource as PyInstaller's ``VSVersionInfo`` text serialization.

    ``EXE(version=path)`` loads a file with this text on Windows (PyInstaller's
    ``utils.win32.versioninfo`` imports pywin32 modules, so the objects themselves cannot be
    built on Linux; the text can, and is written into packaging/build/ on every build).
    """
    version = version or project_version()
    numbers = version_tuple(version)
    license_text = str(project_metadata().get("license", {}).get("text", ""))
    strings = {
        "CompanyName": COMPANY,
        "FileDescription": DESCRIPTION,
        "FileVersion": version,
        "InternalName": EXE_NAME,
        "LegalCopyright": f"{license_text} license".strip(),
        "OriginalFilename": f"{EXE_NAME}.exe",
        "ProductName": PRODUCT,
        "ProductVersion": version,
    }
    string_lines = ",\n".join(
        f"          StringStruct({key!r}, {value!r})" for key, value in strings.items()
    )
    return f"""# UTF-8
# Generated from pyproject.toml by packaging/version.py: do not edit.
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers!r},
    prodvers={numbers!r},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo(
      [
        StringTable(
          '040904B0',
          [
{string_lines}
          ])
      ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_version_file(path: Path, version: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(version_file_text(version), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(project_version())
