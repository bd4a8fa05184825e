"""`sim`: run the Incident IQ simulator in the foreground until Ctrl+C."""

from __future__ import annotations

import argparse
import errno

from kiosk.cli.args import add_verb, latency_arg, port_arg
from kiosk.cli.output import Output
from kiosk.cli.session import EXIT_OK, CommandError, LocalVerb, OnlineVerb
from kiosk.logs import setup_logging


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    sim = add_verb(verbs, common, "sim", "run the Incident IQ simulator until Ctrl+C")
    sim.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    sim.add_argument("--port", type=port_arg, default=8765, help="0 to 65535 (0: any free port)")
    sim.add_argument("--seed", type=int, default=2026)
    sim.add_argument("--latency-ms", type=latency_arg, default=0, help="delay added to every reply")


#: "Address in use" on POSIX and as Windows sockets say it.
_ADDRESS_IN_USE = frozenset(
    code for code in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None)) if code is not None
)


def cmd_sim(args: argparse.Namespace, out: Output) -> int:
    from kiosk.simulator import serve_forever

    setup_logging(None, verbose=args.verbose)
    try:
        serve_forever(host=args.host, port=args.port, seed=args.seed, latency_ms=args.latency_ms)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except BrokenPipeError:
        raise  # its output went into a closed pipe: main() ends quietly
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        if exc.errno in _ADDRESS_IN_USE:
            raise CommandError(
                f"Port {args.port} is in use on {args.host} (another simulator, or another "
                "program): choose another with --port, or --port 0 for any free one."
            ) from None
        raise CommandError(
            f"The simulator cannot listen on {where}: {exc.strerror or exc}."
        ) from None
    except KeyboardInterrupt:  # serve_forever handles it; this is a Ctrl+C during start-up
        pass
    return EXIT_OK


ONLINE_VERBS: dict[str, OnlineVerb] = {}
LOCAL_VERBS: dict[str, LocalVerb] = {"sim": cmd_sim}
