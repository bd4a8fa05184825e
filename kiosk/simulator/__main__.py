"""`python -m kiosk.simulator`: run the Incident IQ simulator in the foreground."""

from __future__ import annotations

import argparse

from kiosk.simulator.demo import DEMO
from kiosk.simulator.server import serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=DEMO.seed)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        serve_forever(host=args.host, port=args.port, seed=args.seed, latency_ms=args.latency_ms)
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
