"""The old yardstick: `python -m benchmarks.serve --app X` serves an ASGI app as punchclock
was served before issue 15, with uvicorn's own access log (and its reset-code filter).

punchclock now writes its access log itself (punchclock/web/logs.py) and serves with
uvicorn's off; this keeps the earlier baseline measurable, so that a run can show both
the old yardstick and the new one (the bare server: uvicorn's command line, no log).
"""

from __future__ import annotations

import argparse
import copy
import logging
from collections.abc import Sequence
from typing import Any

from punchclock.web.logs import redact


class RedactResetCodes(logging.Filter):
    """The filter punchclock's access log went through: reset codes as ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "benchmarks.serve.RedactResetCodes"}}
    config["handlers"]["access"]["filters"] = ["redact"]
    return config


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve")
    parser.add_argument("--app", required=True, help="ASGI app as module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(  # the settings punchclock.cli.serve_http had before issue 15
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        server_header=False,
        date_header=True,
        log_level="info",
        log_config=log_config(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
