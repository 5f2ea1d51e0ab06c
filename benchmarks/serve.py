"""Serve an ASGI app exactly as `punchclock serve` does: `python -m benchmarks.serve --app X`.

The baseline runs through here, so that it gets punchclock's uvicorn settings (loop, HTTP
parser, access log) from the one place that defines them, `punchclock.cli.serve_http`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from punchclock.cli import APP_FACTORY, serve_http


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve")
    parser.add_argument("--app", default=APP_FACTORY, help="ASGI app as module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # as punchclock.cli.main does before it serves
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    return serve_http(args.host, args.port, args.workers, app=args.app)


if __name__ == "__main__":
    raise SystemExit(main())
