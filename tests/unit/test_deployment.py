"""examples/punchclock.service: a unit systemd accepts without a warning, and hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "examples" / "punchclock.service"
INSTALLED = "/opt/punchclock/bin/punchclock"  # where the unit expects the command
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 (locked down) to 10 (unprotected)


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if not sys.platform.startswith("linux"):
            pytest.skip("systemd exists on Linux only")
        # .ci/run and ./scripts/test install it (apt-get install systemd) when missing
        pytest.fail("systemd-analyze is not installed: apt-get install systemd")
    return found


def unit_here(tmp_path: Path, text: str | None = None) -> Path:
    """Copy the unit, its ExecStart pointed at this checkout's command (verify checks it)."""
    here = str(Path(sys.executable).with_name("punchclock"))
    copy = tmp_path / "punchclock.service"
    copy.write_text((text or UNIT.read_text()).replace(INSTALLED, here))
    return copy


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "verify", str(unit)], capture_output=True, text=True, check=False
    )


def test_systemd_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    checked = verify(unit_here(tmp_path))
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


def test_the_check_fails_on_a_bad_value_or_a_missing_command(tmp_path: Path) -> None:
    bad = verify(unit_here(tmp_path, UNIT.read_text().replace("=strict", "=bogus")))
    assert "protect system" in bad.stderr.lower()
    missing = tmp_path / "missing"
    missing.mkdir()
    gone = UNIT.read_text().replace(INSTALLED, "/nonexistent/punchclock")
    (missing / "punchclock.service").write_text(gone)
    assert verify(missing / "punchclock.service").returncode != 0


def test_the_unit_is_hardened(tmp_path: Path) -> None:
    text = UNIT.read_text()
    for setting in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=punchclock",
        "StateDirectoryMode=0700",
        "PUNCHCLOCK_DATA_DIR=%S/punchclock",
        "--host 127.0.0.1",  # TLS and the public address are the reverse proxy's
    ):
        assert setting in text
    rated = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", str(unit_here(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", rated.stdout)
    assert found, rated.stdout + rated.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, rated.stdout
