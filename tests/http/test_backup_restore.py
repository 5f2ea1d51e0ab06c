"""`punchclock backup` while the server writes, `punchclock restore` into a fresh directory:
every account works again with its password, its API token and its session cookie."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from punchclock.cli import main
from punchclock.config import Settings
from punchclock.web.app import create_app
from tests import postgres
from tests.conftest import SECRET_KEY, User, sign_up
from tests.support import basic, cookie_header, token_auth


@pytest.fixture
def env(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("PUNCHCLOCK_SECRET_KEY", "PUNCHCLOCK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    return base_env


async def run(*args: str) -> tuple[int, str]:
    """Run `punchclock ARGS` in a thread, as another process would; return (status, stderr)."""
    err = io.StringIO()
    saved = sys.stderr
    sys.stderr = err
    try:
        status = await asyncio.to_thread(main, list(args))
    finally:
        sys.stderr = saved
    return status, err.getvalue()


@contextlib.asynccontextmanager
async def served(env: dict[str, str], data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(Settings.from_env({**env, "PUNCHCLOCK_DATA_DIR": str(data_dir)}))
    async with application.running():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def works(client: httpx.AsyncClient, user: User, *, cookie: bool = True) -> bool:
    for headers in (
        basic(user.email, user.password),
        token_auth(user.token),
        *([cookie_header(user.session)] if cookie else []),
    ):
        answer = await client.get("/api/v9/me", headers=headers)
        if answer.status_code != 200 or answer.json()["email"] != user.email:
            return False
    return True


async def test_a_backup_taken_under_writes_restores_every_account_with_every_credential(
    client: httpx.AsyncClient,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = [await sign_up(client, f"before{n}@example.com") for n in range(5)]
    during: list[User] = []
    stop = asyncio.Event()

    async def write_load() -> None:
        n = 0
        while not stop.is_set():
            during.append(await sign_up(client, f"during{n}@example.com"))
            await client.put(
                "/api/v9/me", headers=token_auth(before[n % 5].token), json={"fullname": f"B{n}"}
            )
            n += 1

    load = asyncio.create_task(write_load())
    await asyncio.sleep(0.2)  # the load is under way
    backup = tmp_path / "punchclock.backup"
    status, err = await run("backup", str(backup))
    stop.set()
    await load
    assert status == 0, err
    assert len(during) >= 2, "the backup did not overlap the writes"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert "the server key" in err

    target = tmp_path / "restored"
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(target))
    status, err = await run("restore", str(backup))
    assert status == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for private in (target / "secret.key", target / "punchclock.sqlite3"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    db = sqlite3.connect(target / "punchclock.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # one snapshot: every account there has its workspace, whatever the writes were doing
    orphans = db.execute(
        "SELECT count(*) FROM accounts a LEFT JOIN workspaces w ON w.id = a.default_workspace_id "
        "WHERE w.id IS NULL"
    ).fetchone()[0]
    restored_emails = {row[0] for row in db.execute("SELECT email FROM accounts")}
    db.close()
    assert orphans == 0

    async with served(env, target) as server:
        for user in before:
            assert await works(server, user), user.email
        for user in during:  # made while the backup ran: there whole, or not at all
            if user.email in restored_emails:
                # a sign-up stores the account, then its session, in two transactions:
                # the snapshot may fall between them, so only the cookie may be missing
                assert await works(server, user, cookie=False), user.email


async def test_a_backup_never_overwrites_a_file(client: httpx.AsyncClient, tmp_path: Path) -> None:
    existing = tmp_path / "precious"
    existing.write_bytes(b"keep me")
    status, err = await run("backup", str(existing))
    assert status == 2
    assert "exists" in err
    assert existing.read_bytes() == b"keep me"


async def _backup(client: httpx.AsyncClient, tmp_path: Path) -> tuple[Path, User]:
    user = await sign_up(client)
    backup = tmp_path / "punchclock.backup"
    assert (await run("backup", str(backup)))[0] == 0
    return backup, user


def _rewritten(
    backup: Path, target: Path, leave_out: str = "", add: tarfile.TarInfo | None = None
) -> Path:
    """Copy the backup without the entries whose names start with `leave_out`, adding `add`."""
    with tarfile.open(backup) as source, tarfile.open(target, "w:gz") as out:
        for info in source.getmembers():
            if leave_out and info.name.startswith(leave_out):
                continue
            out.addfile(info, source.extractfile(info))
        if add is not None:
            out.addfile(add, io.BytesIO(b"x" * add.size))
    return target


@pytest.mark.parametrize(
    ("left_out", "said"),
    [("secret.key", "holds no server key"), ("keys/", "holds no signing keys")],
)
async def test_a_backup_without_its_key_material_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    left_out: str,
    said: str,
) -> None:
    backup, _ = await _backup(client, tmp_path)
    stripped = _rewritten(backup, tmp_path / "stripped.backup", leave_out=left_out)
    target = tmp_path / "restored"
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(target))
    status, err = await run("restore", str(stripped))
    assert status == 2
    assert said in err
    assert not target.exists() or not any(target.iterdir())


async def test_restore_takes_no_path_the_archive_chooses(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup, _ = await _backup(client, tmp_path)
    evil = tarfile.TarInfo("../escaped")
    evil.size = 4
    crafted = _rewritten(backup, tmp_path / "crafted.backup", add=evil)
    target = tmp_path / "deep" / "restored"
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(target))
    status, err = await run("restore", str(crafted))
    assert status == 2
    assert "'../escaped'" in err
    assert not (tmp_path / "deep" / "escaped").exists()
    assert not target.exists()


async def test_restore_refuses_a_data_directory_in_use(
    client: httpx.AsyncClient, tmp_path: Path, data_dir: Path
) -> None:
    backup, user = await _backup(client, tmp_path)
    status, err = await run("restore", str(backup))  # into the server's own directory
    assert status == 2
    assert "is not empty" in err
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200


async def test_restore_refuses_a_server_key_that_is_not_the_backups(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup, _ = await _backup(client, tmp_path)
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(tmp_path / "restored"))
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", SECRET_KEY)
    status, err = await run("restore", str(backup))
    assert status == 2
    assert "PUNCHCLOCK_SECRET_KEY is not the server key" in err


async def test_restore_refuses_what_is_not_a_backup(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a tar file at all")
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(tmp_path / "restored"))
    status, err = await run("restore", str(junk))
    assert status == 2
    assert "is not a punchclock backup" in err


async def test_backup_on_postgresql_points_to_pg_dump(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_DATABASE_URL", postgres_url)
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", SECRET_KEY)
    status, err = await run("backup", str(tmp_path / "pg.backup"))
    assert status == 2
    assert "pg_dump" in err
    assert not (tmp_path / "pg.backup").exists()


# -- PostgreSQL: pg_dump and psql, with the server key kept apart ------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:  # CI installs postgresql-client (.ci/run); a PostgreSQL test never skips
        pytest.fail(f"{name} is not installed: apt-get install postgresql-client")
    return found


async def test_postgresql_dumped_with_pg_dump_and_restored_with_psql_serves_every_account(
    base_env: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    server = os.environ[postgres.VARIABLE]
    schema = parse_qs(urlsplit(postgres_url).query)["search_path"][0]
    env = {**base_env, "PUNCHCLOCK_DATABASE_URL": postgres_url, "PUNCHCLOCK_SECRET_KEY": SECRET_KEY}
    async with served(env, tmp_path / "host") as client:
        users = [await sign_up(client, f"pg{n}@example.com") for n in range(3)]

    # the README's steps, on this test's schema: dump, lose it all, restore
    dump = tmp_path / "punchclock.sql"
    pg_dump = [_tool("pg_dump"), "--no-owner", "--no-privileges", f"--schema={schema}"]
    await asyncio.to_thread(subprocess.run, [*pg_dump, f"--file={dump}", server], check=True)
    await postgres.execute(server, f"DROP SCHEMA {schema} CASCADE")
    psql = [_tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    await asyncio.to_thread(subprocess.run, [*psql, "-f", str(dump), server], check=True)

    # a new host: nothing but the database and the server key
    async with served(env, tmp_path / "new-host") as client:
        for user in users:
            assert await works(client, user), user.email
