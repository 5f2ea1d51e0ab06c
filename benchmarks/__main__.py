"""`./scripts/bench`: punchclock against the bare server, as a table and a JSON file.

Exit status 0 when the harness worked, whatever the figures; 1 when something broke
(a server did not start or logged an error, wrk failed, an answer had the wrong
status); 2 when wrk is missing or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import BenchError, report, wrk
from benchmarks.scenarios import GROUPS, Bench, Options
from benchmarks.servers import ROOT


def parse(argv: Sequence[str] | None) -> tuple[Options, Path]:
    parser = argparse.ArgumentParser(
        prog="./scripts/bench",
        description="Benchmark `punchclock serve` against a bare uvicorn server.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds in all, small seeds, targets not judged (for CI)",
    )
    parser.add_argument(
        "--out", type=Path, help="JSON file to write (bench-results/bench-<UTC time>.json)"
    )
    parser.add_argument("--duration", type=int, help="seconds per measured run (8; quick: 1)")
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk connections for /me and the baseline (32)"
    )
    parser.add_argument(
        "--probe-connections",
        type=int,
        default=2,
        help="wrk connections of the /me probe, idle and during the flood (2)",
    )
    parser.add_argument("--flood-connections", type=int, default=16, help="log-ins in flight (16)")
    parser.add_argument(
        "--login-duration", type=int, help="seconds of the log-ins run (10; quick: 1)"
    )
    parser.add_argument(
        "--accounts", type=int, help="accounts in the large database (1000000; quick: 10000)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn workers per server (1; the targets are for 1)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=10,
        help="seconds before wrk counts a request as timed out (10)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(GROUPS),
        help=f"comma-separated groups among {', '.join(GROUPS)} (all)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PUNCHCLOCK_TEST_POSTGRES_URL"),
        help="PostgreSQL server for the postgres scenario, which runs in a schema of its "
        "own and drops it (default: $PUNCHCLOCK_TEST_POSTGRES_URL; none: skipped)",
    )
    args = parser.parse_args(argv)
    groups = frozenset(g.strip() for g in args.scenarios.split(",") if g.strip())
    if not groups <= set(GROUPS):
        parser.error(f"--scenarios: unknown {', '.join(sorted(groups - set(GROUPS)))}")
    quick = bool(args.quick)
    options = Options(
        quick=quick,
        duration=args.duration or (1 if quick else 8),
        connections=args.connections,
        probe_connections=args.probe_connections,
        flood_connections=args.flood_connections,
        login_duration=args.login_duration or (1 if quick else 10),
        warmup=0 if quick else 1,
        timeout=args.timeout,
        workers=args.workers,
        small_accounts=1000,
        large_accounts=args.accounts or (10_000 if quick else 1_000_000),
        verify_samples=5 if quick else 21,
        groups=groups,
        postgres_url=args.postgres_url or None,
    )
    if min(options.connections, options.probe_connections, options.flood_connections) < 1:
        parser.error("connections must be at least 1")
    if options.workers < 1 or options.large_accounts < 1 or options.duration <= 0:
        parser.error("--workers, --accounts and --duration must be positive")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return options, args.out or ROOT / "bench-results" / f"bench-{stamp}.json"


def main(argv: Sequence[str] | None = None) -> int:
    options, out = parse(argv)
    try:
        wrk_version = wrk.version()
    except BenchError as e:
        print(e, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that every server is stopped
    started_at = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    failure = None
    # the servers are stopped (the stack) before their data dirs are removed
    with (
        tempfile.TemporaryDirectory(prefix="punchclock-bench-") as workdir,
        contextlib.ExitStack() as stack,
    ):
        bench = Bench(options, Path(workdir), stack)
        try:
            bench.run()
        except BenchError as e:
            failure = str(e)
    results = collect(bench, options, failure)
    results["started_at"] = started_at.isoformat(timespec="seconds")
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["machine"] = machine(wrk_version)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")

    if bench.scenarios:
        print()
        if not results["targets_judged"]:
            why = "a --quick run" if options.quick else "only complete 1-worker runs are"
            print(f"targets not judged: {why}")
        print(report.table(results))
    for warning in results["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for error in results["errors"]:
        print(f"bench: {error}", file=sys.stderr)
    print(f"\n{results['duration_s']:.0f} s in all; figures in {out}")
    return 0 if results["ok"] else 1


def collect(bench: Bench, options: Options, failure: str | None) -> dict[str, Any]:
    """Return the run's figures, ratios and judged targets, ready for the JSON file."""
    errors = [*bench.errors, *([failure] if failure else [])]
    baseline = bench.baseline_rps()
    old = bench.scenarios.get("baseline_old", {}).get("rps")
    for scenario in bench.scenarios.values():
        scenario["vs_baseline"] = round(scenario["rps"] / baseline, 4) if baseline else None
        scenario["vs_old_baseline"] = round(scenario["rps"] / old, 4) if old else None
    results: dict[str, Any] = {
        "mode": "quick" if options.quick else "full",
        "ok": not errors,
        "targets_judged": not options.quick and options.workers == 1 and not errors,
        "settings": {
            "duration_s": options.duration,
            "login_duration_s": options.login_duration,
            "warmup_s": options.warmup,
            "wrk_threads": 1,
            "connections": options.connections,
            "probe_connections": options.probe_connections,
            "flood_connections": options.flood_connections,
            "timeout_s": options.timeout,
            "workers": options.workers,
            "small_accounts": options.small_accounts,
            "large_accounts": options.large_accounts,
            "groups": sorted(options.groups),
        },
        "hash": bench.hash_limit.as_json() if bench.hash_limit else {},
        # the first timing, when the log-ins timed it again right before they ran
        "hash_at_start": bench.hash_at_start.as_json() if bench.hash_at_start else None,
        "seeding": bench.seeding,
        "baseline_rps": round(baseline, 1) if baseline else None,
        "baseline_old_rps": bench.scenarios.get("baseline_old", {}).get("rps"),
        "scenarios": bench.scenarios,
        "rss": bench.rss,
        "warnings": bench.warnings,
        "errors": errors,
    }
    results["targets"] = [t.as_json() for t in report.targets(results)]
    return results


def machine(wrk_version: str) -> dict[str, Any]:
    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": wrk_version,
        "packages": {
            name: version(name)
            for name in (
                "punchclock",
                "uvicorn",
                "granian",
                "uvloop",
                "httptools",
                "starlette",
                "msgspec",
                "argon2-cffi",
                "PyJWT",
                "cryptography",
            )
        },
        "git": _git(),
    }


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return None


def _git() -> dict[str, Any] | None:
    """Return the commit measured, and whether src/ differs from it."""
    git = shutil.which("git")
    if git is None:
        return None

    def output(*args: str) -> str:
        return subprocess.run(  # noqa: S603 - our own arguments
            [git, *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = output("rev-parse", "HEAD")
        changed = output("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "src_changed": bool(changed)}


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    raise SystemExit(main())
