"""Render resources/icons/app.svg into the app icon: a multi-size .ico and a 256 px .png.

    python packaging/make_icon.py OUT_DIR      (writes OUT_DIR/app.ico and OUT_DIR/app.png)

Qt renders each size (QSvgRenderer -> QImage, offscreen, no display needed); the .ico is a
plain ICO container of PNG images (supported since Windows Vista), so nothing beyond
PySide6 is needed and no binary is committed. The spec runs this in a subprocess so Qt
never loads inside PyInstaller's own process.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "app.svg"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
PNG_SIZE = 256


def render_png(renderer: object, size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)  # type: ignore[attr-defined]
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"could not encode the {size} px icon")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO file holding one PNG per size (ICONDIR, ICONDIRENTRYs, then the images)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries = b""
    images = b""
    for size, png in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        images += png
        offset += len(png)
    return header + entries + images


def make_icons(out_dir: Path, svg: Path = SVG) -> tuple[Path, Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise RuntimeError(f"not a usable SVG: {svg}")
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = {size: render_png(renderer, size) for size in ICO_SIZES}
    ico = out_dir / "app.ico"
    png = out_dir / "app.png"
    ico.write_bytes(ico_bytes(pngs))
    png.write_bytes(pngs[PNG_SIZE] if PNG_SIZE in pngs else render_png(renderer, PNG_SIZE))
    del app
    return ico, png


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make_icon.py OUT_DIR", file=sys.stderr)
        return 2
    for path in make_icons(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
