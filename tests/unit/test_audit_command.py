"""`punchclock audit` on a real data directory."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path

import pytest

from punchclock.cli import main
from punchclock.models import NewAccount
from punchclock.store.keyfiles import load_secret_key
from punchclock.store.sqlite import SQLiteStore
from punchclock.tokens import SecretBox

DAY = 24 * 3600 * 1_000_000  # microseconds
NOW = time.time_ns() // 1000


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PUNCHCLOCK_SECRET_KEY", "PUNCHCLOCK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    return tmp_path / "data"


def account(data_dir: Path, email: str, n: int) -> NewAccount:
    # sealed under the data directory's key, as the server seals it: commands refuse to
    # run on a database whose tokens the key cannot open
    secrets = SecretBox(load_secret_key(data_dir))
    return NewAccount(
        accounts_id=f"{n:022d}",
        email=email,
        fullname="Someone",
        password_hash="hash",
        api_token_lookup=f"lookup-{n}".encode(),
        api_token_sealed=secrets.seal_token(f"token-{n}", f"{n:022d}"),
        timezone="UTC",
        workspace_name="A workspace",
        organization_name="An organization",
        now=NOW,
    )


@pytest.fixture
def ann_and_bob(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, int]:
    """Two accounts with events ten days, one day and no time ago; return their ids."""

    async def record() -> tuple[int, int]:
        store = SQLiteStore(data_dir / "punchclock.sqlite3")
        try:
            ann = await store.create_account(account(data_dir, "ann@example.com", 1))
            bob = await store.create_account(account(data_dir, "bob@example.com", 2))
            await store.record_event(NOW - 10 * DAY, "sign_up", ann.id, "203.0.113.7", "ua/1")
            await store.record_event(NOW - DAY, "log_in_failed", None, "198.51.100.1", "", "log_in")
            await store.record_event(NOW - DAY + 1, "sign_up", bob.id, "198.51.100.2", "ua/2")
            await store.record_event(NOW, "log_in", ann.id, "203.0.113.7", "evil\n\x1b[2J")
            return ann.id, bob.id
        finally:
            await store.close()

    ids = asyncio.run(record())
    capsys.readouterr()
    return ids


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["audit", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_audit_prints_every_event_newest_first_one_a_line(
    ann_and_bob: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    ann, bob = ann_and_bob
    lines = audit(capsys)

    assert [line.split()[1] for line in lines] == ["log_in", "sign_up", "log_in_failed", "sign_up"]
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
    assert re.fullmatch(
        rf"{stamp}  log_in           account {ann}  203\.0\.113\.7  'evil\\n\\x1b\[2J'", lines[0]
    )
    assert re.fullmatch(
        rf"{stamp}  log_in_failed    account -  198\.51\.100\.1  ''  \(log_in\)", lines[2]
    )
    assert f"account {bob}  198.51.100.2  'ua/2'" in lines[1]


def test_audit_filters_by_account_since_and_limit(
    ann_and_bob: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    ann, _ = ann_and_bob
    anns = audit(capsys, "--account", "ann@example.com")
    assert [line.split()[1] for line in anns] == ["log_in", "sign_up"]
    assert all(f"account {ann} " in line for line in anns)

    assert len(audit(capsys, "--since", "2d")) == 3
    assert len(audit(capsys, "--since", "36h")) == 3
    assert len(audit(capsys, "--since", "60m")) == 1
    five_days_ago = dt.datetime.fromtimestamp((NOW - 5 * DAY) / 1e6, dt.UTC)
    assert len(audit(capsys, "--since", five_days_ago.strftime("%Y-%m-%dT%H:%M:%S"))) == 3
    assert len(audit(capsys, "--since", five_days_ago.isoformat())) == 3
    assert len(audit(capsys, "--account", "ann@example.com", "--since", "2d")) == 1
    assert len(audit(capsys, "--limit", "2")) == 2


def test_audit_of_an_unknown_account_prints_nothing(
    ann_and_bob: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit(capsys, "--account", "nobody@example.com") == []


def test_audit_refuses_a_since_it_cannot_read(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["audit", "--since", "last tuesday"])
    assert stopped.value.code == 2
    assert "ISO 8601" in capsys.readouterr().err
