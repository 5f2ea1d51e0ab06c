"""`python -m benchmarks.inprocess` keeps working: every case answers as expected, timed.

The harness asserts each case's status before it times it (a log-in must be 200), so a
case that broke fails here; the figures themselves are not judged (CPU time on a shared
machine is steadier than wrk's, but not a test's business).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ("token", "cookie", "password", "wrong_token", "log_in")

pytestmark = pytest.mark.bench


def test_inprocess_times_every_case_it_is_asked_for() -> None:
    command = [sys.executable, "-m", "benchmarks.inprocess", "--only", ",".join(CASES)]
    done = subprocess.run(
        [*command, "--requests", "40", "--rounds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = dict(re.findall(r"^(\w+) +([\d.]+) us a request", done.stdout, re.MULTILINE))
    assert set(figures) == set(CASES), done.stdout
    assert all(float(us) > 0 for us in figures.values()), figures
    # a log-in does far more than a /me by token (a hash, a signature, two writes)
    assert float(figures["log_in"]) > float(figures["token"]), figures
