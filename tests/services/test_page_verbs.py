"""The verbs the pages added to the services, each service built as the app builds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from punchclock.errors import CurrentPasswordInvalid
from punchclock.models import ClientInfo
from punchclock.services import Services
from punchclock.services.accounts import SignUp
from punchclock.services.sessions import Authenticated
from punchclock.web.asgi import App
from tests.conftest import FixedClock
from tests.support import PASSWORD, outbox, reset_code_in

CLIENT = ClientInfo(ip="198.51.100.4", user_agent="test")


async def _account(services: Services, email: str = "ann@example.com") -> Authenticated:
    account, _ = await services.accounts.sign_up(SignUp(email, PASSWORD), CLIENT)
    return Authenticated(account)


async def test_a_reset_code_is_live_until_used_and_asking_uses_nothing(
    services: Services, app: App, data_dir: Path
) -> None:
    auth = await _account(services)
    await services.resets.request_password_reset(auth.account.email, CLIENT)
    await app.drain()
    code = reset_code_in(outbox(data_dir)[-1])
    for _ in range(3):
        assert await services.resets.reset_code_is_live(code)
    await services.resets.confirm_password_reset(code, "a new passphrase 1", CLIENT)
    assert not await services.resets.reset_code_is_live(code)


async def test_an_expired_malformed_or_unknown_code_is_not_live(
    services: Services, app: App, data_dir: Path, clock: FixedClock
) -> None:
    auth = await _account(services)
    await services.resets.request_password_reset(auth.account.email, CLIENT)
    await app.drain()
    code = reset_code_in(outbox(data_dir)[-1])
    for other in ("", "short", "A" * 43, "../../etc/passwd", code + "x"):
        assert not await services.resets.reset_code_is_live(other)
    clock.advance(3600 + 1)  # PUNCHCLOCK_RESET_CODE_TTL's default
    assert not await services.resets.reset_code_is_live(code)


async def test_recent_events_are_the_account_s_own_newest_first(
    services: Services, app: App, clock: FixedClock
) -> None:
    ann = await _account(services, "ann@example.com")
    bob = await _account(services, "bob@example.com")
    clock.advance(1)
    await services.accounts.reset_api_token(ann, CLIENT)
    await app.drain()
    events = await services.audit.recent(ann.account.id)
    assert [e.event for e in events] == ["api_token_reset", "sign_up"]
    assert {e.account_id for e in events} == {ann.account.id}
    assert [e.event for e in await services.audit.recent(bob.account.id)] == ["sign_up"]
    assert len(await services.audit.recent(ann.account.id, limit=1)) == 1


async def test_closing_with_a_wrong_password_changes_nothing_and_counts_as_a_failure(
    services: Services, app: App
) -> None:
    auth = await _account(services)
    with pytest.raises(CurrentPasswordInvalid):
        await services.accounts.close_account(auth, CLIENT, "not the password")
    await app.drain()
    assert (await services.credentials.authenticate_password(auth.account.email, PASSWORD)).id
    events = [(e.event, e.detail) for e in await services.audit.recent(auth.account.id)]
    assert ("log_in_failed", "current_password") in events
    assert ("account_closed", None) not in events
    await services.accounts.close_account(auth, CLIENT, PASSWORD)
    await app.drain()
    latest = await services.audit.recent(auth.account.id, limit=1)
    assert [e.event for e in latest] == ["account_closed"]
