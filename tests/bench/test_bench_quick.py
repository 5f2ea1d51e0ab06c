"""`./scripts/bench --quick` keeps working: CI runs it here and judges no speed.

It starts real servers on loopback and drives them with wrk for a few seconds; the
figures are not checked against the targets (machines running CI are noisy), only that
every scenario ran and produced them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from benchmarks.report import ORDER

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds: a quick run takes about 15

pytestmark = [
    pytest.mark.system,
    pytest.mark.bench,
    pytest.mark.skipif(
        shutil.which("wrk") is None,
        reason="wrk is not installed: ./scripts/bench needs it (apt-get install wrk)",
    ),
]

# Every scenario the report knows, but the second baseline, which a quick run skips, and
# PostgreSQL's where there is none (the harness takes PUNCHCLOCK_TEST_POSTGRES_URL).
ON_POSTGRES = {"me_token_postgres"} if os.environ.get("PUNCHCLOCK_TEST_POSTGRES_URL") else set()
SCENARIOS = set(ORDER) - {"baseline_end", "me_token_postgres"} | ON_POSTGRES
TARGETS = ON_POSTGRES | {
    "me_token",
    "me_cookie",
    "me_password",
    "me_wrong_token",
    "login_page",
    "me_token_access_log_on",
    "logins",
    "me_token_during_logins",
    "me_token_large_db",
    "rss",
    "verify_token",
    "verify_cookie",
    "nginx_forward_auth",
    "nginx_forward_auth_light",
}


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench") / "r.json"
    done = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return done, out


def test_quick_bench_exits_0_and_prints_the_table(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = quick_run
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "targets not judged" in done.stdout
    assert "/me by API token" in done.stdout
    assert "old baseline: raw ASGI with uvicorn's access log" in done.stdout
    assert "control: bare server probe, same flood" in done.stdout
    assert "control: bare granian probe, same flood" in done.stdout
    assert "control: argon2 alone, a process per core, no server" in done.stdout


def test_quick_bench_writes_every_scenario_with_its_figures(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = quick_run
    results = json.loads(out.read_text())
    assert results["ok"] is True
    assert results["mode"] == "quick"
    assert results["targets_judged"] is False
    assert set(results["scenarios"]) == SCENARIOS
    for name, scenario in results["scenarios"].items():
        for figure in ("rps", "p50_ms", "p99_ms", "vs_baseline"):
            assert isinstance(scenario[figure], int | float), (name, figure, scenario)
        assert scenario["rps"] > 0, (name, scenario)
    assert {t["key"] for t in results["targets"]} == TARGETS
    assert all(t["met"] is None for t in results["targets"])
    assert results["hash"]["logins_per_second_limit"] > 0
    # timed again right before the log-ins, beside the control of argon2 alone on every core
    assert results["hash_at_start"]["logins_per_second_limit"] > 0
    assert results["scenarios"]["hash_alone"]["vs_hash_limit"] > 0
    judged = {t["key"]: t["shown"] for t in results["targets"]}
    assert "argon2 alone: " in judged["logins"]
    assert "bare granian: " in judged["me_token_during_logins"]
    assert results["rss"]["large_db"]["max_mb"] > 0
