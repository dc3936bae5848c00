"""Serve an ASGI app the way `siyu serve --workers N` does (siyu.kit.serving: each new connection to the worker with
the fewest open; one worker: plain uvicorn), for the floors of the benchmarks, so that the app and its floor are
spread over their workers alike.

    python benchmarks/balanced.py MODULE:APP --port PORT --workers N
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the floors live next to this file

from siyu.kit import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    options = {"log_level": "warning", "access_log": False}
    if args.workers <= 1:  # as `siyu serve` with one process: uvicorn alone
        import uvicorn

        uvicorn.run(args.app, host=args.host, port=args.port, **options)
        return
    balancer = serving.Balancer(args.app, host=args.host, port=args.port, workers=args.workers, options=options)
    raise SystemExit(balancer.run())


if __name__ == "__main__":
    main()
