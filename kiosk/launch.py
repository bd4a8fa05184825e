"""The program's entry point (`iiq-kiosk`, `python -m kiosk`, the frozen .exe).

With no command it opens the kiosk window, and that path must be short: the window shows
while the rest of the program is still loading (`kiosk.app`). The full command line
(`kiosk.cli`) imports every verb with the client, the journal and the terminal tables, which
a window does not wait for; it is loaded only for a command, for `--help` or `--version`,
or for anything the window's own options below do not account for (so every usage error
still gets the command line's message).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """The options of the window itself, beside the global ones (--config, --demo, -v):
    defined once, here, for the command line's parser and for the short path below."""
    parser.add_argument("--windowed", action="store_true", help="window instead of fullscreen")
    parser.add_argument(
        "--event",
        metavar="NAME",
        help="run the event prepared as NAME (iiq-kiosk event prepare): lookups and name "
        "search answer from its pack first, with no network, and a progress panel shows "
        "how far it is",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="with --demo: check this build. The demo kiosk starts (windowed, offscreen on "
        "Linux without a display), checks a device out and one in through the window with "
        "the keys a person presses, prints a line per step, and exits 0 when all passed, "
        "1 when not",
    )


def _window_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("--config")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    add_window_options(parser)
    return parser


def window_arguments(argv: Sequence[str]) -> argparse.Namespace | None:
    """The window's options when `argv` asks for the window and nothing else; None when it
    holds a command or anything the command line should answer."""
    try:
        args, rest = _window_parser().parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit):
        return None
    if rest or (args.smoke and not args.demo) or (args.smoke and args.event is not None):
        return None
    return args


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    window = window_arguments(arguments)
    if window is not None:
        from kiosk.app import run_gui

        return run_gui(
            demo=window.demo,
            windowed=window.windowed,
            config=window.config,
            smoke=window.smoke,
            event=window.event,
        )
    from kiosk.cli import main as command_line

    return command_line(arguments)
