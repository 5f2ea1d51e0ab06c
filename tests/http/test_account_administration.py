"""`punchclock accounts ...` against running apps: two workers on one SQLite file, or two hosts
on one PostgreSQL. What the operator changes, every worker sees on its very next request."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from punchclock.cli import main
from punchclock.config import Settings
from punchclock.services import Services
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, log_in, sign_up
from tests.http.test_two_factor import enrol
from tests.support import (
    FORBIDDEN,
    PASSWORD,
    basic,
    cookie_header,
    outbox,
    reset_code_in,
    token_auth,
)


@pytest.fixture
def env(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("PUNCHCLOCK_SECRET_KEY", "PUNCHCLOCK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # the apps' access log writes to stdout, where the commands' output is read
    environment = {**backend_env, "PUNCHCLOCK_ACCESS_LOG": "off"}
    for name, value in environment.items():  # what the command reads
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
async def other_app(env: dict[str, str], tmp_path: Path) -> AsyncIterator[App]:
    if "PUNCHCLOCK_DATABASE_URL" in env:  # another host: nothing shared but the database
        env = {**env, "PUNCHCLOCK_DATA_DIR": str(tmp_path / "other-host")}
    application = create_app(Settings.from_env(env))
    async with application.running():
        yield application


@pytest.fixture
async def other(other_app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=other_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def accounts(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run `punchclock accounts ARGS` as the operator would; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        status = await asyncio.to_thread(main, ["accounts", *args])
    except SystemExit as e:  # argparse: a usage error
        status = int(e.code or 0)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return status, out.getvalue(), err.getvalue()


def credentials(user: User) -> list[dict[str, str]]:
    return [basic(user.email, user.password), token_auth(user.token), cookie_header(user.session)]


async def _warm(worker: httpx.AsyncClient, user: User) -> None:
    """Use every credential twice, so that each is in the worker's caches."""
    for headers in credentials(user):
        for _ in range(2):
            assert (await worker.get("/api/v9/me", headers=headers)).status_code == 200


# -- disable and enable ------------------------------------------------------------------------


async def test_a_disabled_account_is_refused_by_every_worker_on_the_next_request(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    await _warm(client, user)
    await _warm(other, user)
    status, _, err = await accounts("disable", user.email)
    assert status == 0, err
    assert "disabled" in err
    for worker in (client, other):
        for headers in credentials(user):
            refused = await worker.get("/api/v9/me", headers=headers)
            assert refused.status_code == 403
            assert refused.json() == FORBIDDEN  # the usual answer: nothing tells it is disabled
        logged_in = await worker.post(
            "/api/sessions", json={"email": user.email, "password": user.password}
        )
        assert logged_in.status_code == 403
        assert logged_in.json() == FORBIDDEN


async def test_a_disabled_accounts_email_cannot_be_signed_up_again(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    assert (await accounts("disable", user.email))[0] == 0
    for worker in (client, other):
        again = await worker.post(
            "/api/signup", json={"email": user.email.upper(), "password": "another password 1"}
        )
        assert again.status_code == 400
        assert again.json() == "user with this email already exists"


async def test_disabling_ends_the_sessions_for_good_and_enabling_restores_password_and_token(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    assert (await accounts("disable", user.email))[0] == 0
    status, _, err = await accounts("enable", user.email)
    assert status == 0, err
    for worker in (client, other):
        assert (await worker.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200
        password = await worker.get("/api/v9/me", headers=basic(user.email, user.password))
        assert password.status_code == 200
        ended = await worker.get("/api/v9/me", headers=cookie_header(user.session))
        assert ended.status_code == 403


async def test_a_reset_code_sent_before_disabling_no_longer_works(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    [message] = outbox(data_dir)
    assert (await accounts("disable", user.email))[0] == 0
    confirm = await client.post(
        f"/api/me/password_reset/confirm/{reset_code_in(message)}",
        json={"password": "taken over, I hope"},
    )
    assert confirm.status_code == 400
    assert (await accounts("enable", user.email))[0] == 0
    still = await client.get("/api/v9/me", headers=basic(user.email, user.password))
    assert still.status_code == 200  # the attacker's password was never set


async def test_a_reset_request_for_a_disabled_account_mails_nothing(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    assert (await accounts("disable", user.email))[0] == 0
    answer = await client.post("/api/me/password_reset/request", json={"email": user.email})
    assert answer.json() == "OK"
    await app.drain()
    assert outbox(data_dir) == []
    assert (await accounts("send-reset", user.email))[0] == 1  # enable it first


async def test_disable_and_enable_are_in_the_audit_trail(
    client: httpx.AsyncClient, app: App, user: User, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await accounts("disable", user.email))[0] == 0
    assert (await accounts("enable", user.email))[0] == 0
    await app.drain()
    assert await asyncio.to_thread(main, ["audit", "--account", user.email]) == 0
    trail = capsys.readouterr().out
    assert "account_disabled" in trail
    assert "account_enabled" in trail
    assert trail.count("(operator)") == 2


async def test_show_says_whether_disabled_and_lists_sessions(
    client: httpx.AsyncClient, user: User
) -> None:
    await log_in(client, user, agent="second-agent")
    status, out, _ = await accounts("show", user.email, "--json")
    assert status == 0
    shown = json.loads(out)
    assert shown["email"] == user.email
    assert shown["disabled"] is False
    assert shown["last_log_in_at"] is not None
    assert len(shown["sessions"]) == 2
    assert {s["user_agent"] for s in shown["sessions"]} >= {"second-agent"}
    for secret in (user.token, user.password, user.session):
        assert secret not in out
    assert (await accounts("disable", user.email))[0] == 0
    shown = json.loads((await accounts("show", user.email, "--json"))[1])
    assert shown["disabled"] is True
    assert shown["sessions"] == []
    text = (await accounts("show", user.email))[1]
    assert "disabled since" in text


# -- create ------------------------------------------------------------------------------------


async def test_create_with_a_password_from_stdin_can_log_in_at_once(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    status, _, err = await accounts(
        "create", "cy@example.com", "--name", "Cy Young", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert status == 0, err
    me = await other.get("/api/v9/me", headers=basic("cy@example.com", PASSWORD))
    assert me.status_code == 200
    assert me.json()["fullname"] == "Cy Young"
    assert me.json()["default_workspace_id"]


async def test_create_applies_the_password_policy(client: httpx.AsyncClient) -> None:
    status, _, err = await accounts(
        "create", "cy@example.com", "--password-stdin", stdin="password\n"
    )
    assert status == 2
    assert "Password" in err
    assert (await accounts("show", "cy@example.com"))[0] == 1  # nothing was made


async def test_create_without_a_password_mails_a_reset_code_that_sets_one(
    client: httpx.AsyncClient, app: App, data_dir: Path, clock: FixedClock
) -> None:
    status, _, err = await accounts("create", "dee@example.com")
    assert status == 0, err
    assert "reset code" in err
    clock.advance(5)  # the command queued it at the real time; the app's clock is fixed
    await app.drain()
    [message] = outbox(data_dir)
    assert message["To"].addresses[0].addr_spec == "dee@example.com"
    confirm = await client.post(
        f"/api/me/password_reset/confirm/{reset_code_in(message)}",
        json={"password": "dee's own password"},
    )
    assert confirm.status_code == 200
    me = await client.get("/api/v9/me", headers=basic("dee@example.com", "dee's own password"))
    assert me.status_code == 200


async def test_create_refuses_a_taken_email_and_a_bad_one(
    client: httpx.AsyncClient, user: User
) -> None:
    status, _, err = await accounts("create", user.email.upper())
    assert status == 1
    assert "already has" in err
    assert (await accounts("create", "not an email"))[0] == 2


# -- list, show, usage ---------------------------------------------------------------------------


async def test_list_finds_by_email_or_name_and_takes_no_pattern_from_the_search(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "ann@example.com", display_name="Ann Smith")
    await sign_up(client, "bob@example.org", display_name="Bob 100% Jones")
    everyone = json.loads((await accounts("list", "--json"))[1])
    assert [a["email"] for a in everyone] == ["ann@example.com", "bob@example.org"]
    assert [
        a["email"] for a in json.loads((await accounts("list", "--search", "SMITH", "--json"))[1])
    ] == ["ann@example.com"]
    assert [
        a["email"] for a in json.loads((await accounts("list", "--search", ".org", "--json"))[1])
    ] == ["bob@example.org"]
    assert [
        a["email"] for a in json.loads((await accounts("list", "--search", "%", "--json"))[1])
    ] == ["bob@example.org"]
    assert json.loads((await accounts("list", "--search", "_", "--json"))[1]) == []
    assert len(json.loads((await accounts("list", "--limit", "1", "--json"))[1])) == 1
    status, out, err = await accounts("list", "--search", "nobody")
    assert (status, out) == (0, "")
    assert "no accounts matching 'nobody'" in err


async def test_an_unknown_email_is_exit_status_1_and_a_usage_error_2(
    client: httpx.AsyncClient,
) -> None:
    for action in ("show", "disable", "enable", "end-sessions", "send-reset"):
        status, out, err = await accounts(action, "nobody@example.com")
        assert status == 1, action
        assert out == ""
        assert "no account has the email nobody@example.com" in err
    assert (await accounts("delete", "nobody@example.com", "--yes"))[0] == 1
    assert (await accounts("show"))[0] == 2
    assert (await accounts("list", "--limit", "0"))[0] == 2
    assert (await accounts("frobnicate", "a@example.com"))[0] == 2


# -- delete, end sessions, send a reset ----------------------------------------------------------


async def test_delete_asks_and_does_nothing_unless_told_yes(
    client: httpx.AsyncClient, user: User
) -> None:
    status, _, err = await accounts("delete", user.email, stdin="no\n")
    assert status == 2
    assert "not deleted" in err
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200
    status, _, err = await accounts("delete", user.email, stdin="yes\n")
    assert status == 0, err
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 403


async def test_delete_erases_as_closing_does_and_frees_the_email(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User, services: Services
) -> None:
    await _warm(other, user)
    assert (await accounts("delete", user.email, "--yes"))[0] == 0
    for headers in credentials(user):
        assert (await other.get("/api/v9/me", headers=headers)).status_code == 403
    assert (await accounts("show", user.email))[0] == 1
    assert await services.administration.list_accounts(None, 100) == []
    await sign_up(client, user.email)  # the email is free again, as after closing


async def test_end_sessions_ends_every_session_but_not_the_token(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    second = await log_in(client, user)
    status, _, err = await accounts("end-sessions", user.email)
    assert status == 0
    assert "2 sessions ended" in err
    for session in (user.session, second):
        assert (await other.get("/api/v9/me", headers=cookie_header(session))).status_code == 403
    assert (await other.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200


async def test_send_reset_queues_a_code_for_the_owner(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, clock: FixedClock
) -> None:
    status, _, err = await accounts("send-reset", user.email)
    assert status == 0, err
    clock.advance(5)  # the command queued it at the real time; the app's clock is fixed
    await app.drain()
    [message] = outbox(data_dir)
    assert message["To"].addresses[0].addr_spec == user.email
    confirm = await client.post(
        f"/api/me/password_reset/confirm/{reset_code_in(message)}",
        json={"password": "a fresh password"},
    )
    assert confirm.status_code == 200


# -- two-factor (issue 19) -----------------------------------------------------------------------


async def test_remove_2fa_turns_it_off_with_a_trail_and_a_mail(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, clock: FixedClock
) -> None:
    """The owner lost both device and recovery codes: the operator removes two-factor."""
    assert json.loads((await accounts("show", user.email, "--json"))[1])["two_factor"] is False
    assert (await accounts("remove-2fa", user.email))[0] == 1  # off: nothing to remove
    secret, _ = await enrol(client, user, clock)
    assert "2fa on" in (await accounts("show", user.email))[1]
    assert json.loads((await accounts("show", user.email, "--json"))[1])["two_factor"] is True
    status, _, err = await accounts("remove-2fa", user.email)
    assert status == 0, err
    assert "two-factor authentication removed" in err
    assert (await accounts("remove-2fa", "nobody@example.com"))[0] == 1
    clock.advance(5)  # the command queued its mail at the real time; the app's clock is fixed
    await app.drain()
    assert any("removed" in m["Subject"] for m in outbox(data_dir))
    logged_in = await client.post(
        "/api/sessions", json={"email": user.email, "password": user.password}
    )
    assert logged_in.status_code == 200  # no code asked
    status, out, _ = await accounts_audit(user.email)
    assert "two_factor_removed" in out
    assert secret not in out


async def test_remove_2fa_reaches_a_disabled_account_and_leaves_it_disabled(
    client: httpx.AsyncClient, app: App, user: User, clock: FixedClock
) -> None:
    """An operator disables an account while its owner proves who they are, then removes
    the lost factor, then enables it: each step in that order must work."""
    await enrol(client, user, clock)
    assert (await accounts("disable", user.email))[0] == 0

    status, _, err = await accounts("remove-2fa", user.email)

    assert status == 0, err
    credentials = {"email": user.email, "password": user.password}
    assert (await client.post("/api/sessions", json=credentials)).status_code == 403
    assert (await accounts("enable", user.email))[0] == 0
    assert (await client.post("/api/sessions", json=credentials)).status_code == 200


async def accounts_audit(email: str) -> tuple[int, str, str]:
    """Run `punchclock audit --account EMAIL` as the operator would."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        status = await asyncio.to_thread(main, ["audit", "--account", email])
    finally:
        sys.stdout, sys.stderr = saved
    return status, out.getvalue(), err.getvalue()
