"""The benchmark harness behind ./scripts/bench: punchclock against the bare server.

One run starts every server it needs on loopback (ports 19100-19999), drives each with
wrk, stops them and prints a table; the figures, with the machine and settings, go to a
JSON file (bench-results/ by default). The yardstick is the bare server: `raw_asgi.app`
on uvicorn's command line with httptools and uvloop and no access log. punchclock runs
as `punchclock serve` runs by default (access log on). Every figure is given as a ratio
to the bare server, and to the old yardstick (the same app through uvicorn's access log,
as punchclock was served before issue 15), which each run measures too.

    ./scripts/bench            # about 3 minutes; judges the targets
    ./scripts/bench --quick    # about 15 s, small seeds, judges nothing (CI)
    ./scripts/bench --scenarios me --duration 3   # a subset, shorter runs

Modules: `scenarios` (what runs, in order), `servers` (start, check, stop, RSS), `wrk`
(load and figures), `seeding` (accounts straight into SQLite), `hashing` (the argon2
hash limit), `report` (targets, table), `raw_asgi` (the app of both baselines), `serve`
(the old one). `inprocess` times the ASGI app alone, without a server (µs a request).
"""

from __future__ import annotations


class BenchError(Exception):
    """The harness itself broke (a server did not start, wrk failed, wrong statuses)."""
