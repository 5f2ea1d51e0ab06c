"""The benchmark harness behind ./scripts/bench: punchclock against a raw ASGI baseline.

One run starts every server it needs on loopback (ports 19100-19999), drives each with
wrk, stops them and prints a table; the figures, with the machine and settings, go to a
JSON file (bench-results/ by default). The baseline is `raw_asgi.app` served by
`punchclock.cli.serve_http`, exactly as punchclock is served: its req/s is the limit,
and every figure is also given as a ratio to it.

    ./scripts/bench            # about 3 minutes; judges the targets
    ./scripts/bench --quick    # about 15 s, small seeds, judges nothing (CI)
    ./scripts/bench --scenarios me --duration 3   # a subset, shorter runs

Modules: `scenarios` (what runs, in order), `servers` (start, check, stop, RSS), `wrk`
(load and figures), `seeding` (accounts straight into SQLite), `hashing` (the argon2
hash limit), `report` (targets, table), `raw_asgi` and `serve` (the baseline).
"""

from __future__ import annotations


class BenchError(Exception):
    """The harness itself broke (a server did not start, wrk failed, wrong statuses)."""
