"""Closing an account leaves nothing that names it (issue 11, point 5): no outbox row to
any address it ever had or asked for, and no .eml file of the file mailer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.asgi import App
from tests.conftest import User, sign_up
from tests.http.test_audit_trail import open_store
from tests.http.test_email_change import NEW, changed_to_new
from tests.support import PASSWORD, token_auth


@pytest.fixture
def env(backend_env: dict[str, str]) -> dict[str, str]:
    return backend_env


async def listed_recipients(settings: Settings) -> list[str]:
    """What `punchclock mail list` would show: the outbox's recipients."""
    store = open_store(settings)
    try:
        return [m.recipient for m in await store.list_mail()]
    finally:
        await store.close()


async def test_closing_erases_all_mail_to_every_address_the_account_had(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, settings: Settings
) -> None:
    bob = await sign_up(client, email="bob@example.com")
    await client.post("/api/me/password_reset/request", json={"email": bob.email})
    await changed_to_new(client, app, user, data_dir)  # mail to NEW, then a notice to the old
    await client.put(  # asked for, never confirmed
        "/api/v9/me",
        json={"email": "later@example.com", "current_password": PASSWORD},
        headers=token_auth(user.token),
    )
    await client.post("/api/me/password_reset/request", json={"email": NEW})
    await app.drain()
    names = (user.email, NEW, "later@example.com")
    assert set(names) <= set(await listed_recipients(settings))
    files = list((data_dir / "outbox").glob("*.eml"))
    assert any(name.encode() in f.read_bytes() for f in files for name in names)

    closed = await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    assert closed.status_code == 200
    await app.drain()

    assert await listed_recipients(settings) == [bob.email]
    for path in (data_dir / "outbox").glob("*.eml"):
        data = path.read_bytes().lower()
        for name in names:
            assert name.encode() not in data, path
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1  # bob's reset code
