"""Each service built directly, on a real SQLite store in a temp dir, with a fixed clock.

No HTTP here: a rule pinned in these tests is pinned where it lives, so moving it out of
its service, or deleting it, fails a test even when another layer happens to hold too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from punchclock.config import Settings
from punchclock.keys import KeyRing, new_signing_key
from punchclock.models import Account, ClientInfo, Message
from punchclock.notices import Notices
from punchclock.passwords import PasswordHasher
from punchclock.services import Services
from punchclock.services.accounts import Accounts, SignUp
from punchclock.services.assembly import assemble
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.background import Background
from punchclock.services.credentials import Credentials
from punchclock.services.email_changes import EmailChanges
from punchclock.services.resets import Resets
from punchclock.services.second_factor import SecondFactor
from punchclock.services.sessions import IssuedSession, Sessions
from punchclock.services.two_factor import TwoFactor
from punchclock.store.sqlite import SQLiteStore
from punchclock.throttle import Throttle
from punchclock.tokens import SecretBox
from tests.conftest import FixedClock
from tests.support import PASSWORD

PUBLIC_URL = "https://punchclock.example"
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="service-test")
RING = KeyRing.of([new_signing_key(dt.date(2026, 11, 28), set())])
RESET_CODE_TTL = 3600  # seconds


@dataclass
class Built:
    """The services as the server builds them (services/assembly.py), on a SQLite store in
    a temp dir, with a fixed clock, the fastest hasher and no limits."""

    settings: Settings
    store: SQLiteStore
    clock: FixedClock
    hasher: PasswordHasher
    secrets: SecretBox
    services: Services

    @classmethod
    def assemble(
        cls,
        settings: Settings,
        store: SQLiteStore,
        clock: FixedClock,
        hasher: PasswordHasher,
        secrets: SecretBox,
        throttle: Throttle | None = None,
    ) -> Built:
        services = assemble(
            settings, store, hasher, secrets, lambda: RING, clock, throttle=throttle
        )
        return cls(settings, store, clock, hasher, secrets, services)

    def with_limits(self, throttle: Throttle) -> Built:
        """Return the services again on the same store, counting attempts with `throttle`."""
        return Built.assemble(
            self.settings, self.store, self.clock, self.hasher, self.secrets, throttle
        )

    @property
    def background(self) -> Background:
        return self.services.background

    @property
    def audit(self) -> Audit:
        return self.services.audit

    @property
    def attempts(self) -> Attempts:
        return self.services.attempts

    @property
    def notices(self) -> Notices:
        return self.services.notices

    @property
    def sessions(self) -> Sessions:
        return self.services.sessions

    @property
    def credentials(self) -> Credentials:
        return self.services.credentials

    @property
    def resets(self) -> Resets:
        return self.services.resets

    @property
    def email_changes(self) -> EmailChanges:
        return self.services.email_changes

    @property
    def accounts(self) -> Accounts:
        return self.services.accounts

    @property
    def second_factor(self) -> SecondFactor:
        return self.services.second_factor

    @property
    def two_factor(self) -> TwoFactor:
        return self.services.two_factor

    async def sign_up(
        self, email: str = "ann@example.com", password: str = PASSWORD
    ) -> tuple[Account, IssuedSession]:
        return await self.accounts.sign_up(
            SignUp(email=email, password=password, display_name="Ann"), CLIENT
        )

    async def settle(self) -> None:
        """Let the work begun after an answer (audit, touches, reset codes) land."""
        await self.background.drain()


@pytest.fixture
async def built(tmp_path: Path, clock: FixedClock) -> AsyncIterator[Built]:
    settings = Settings(
        data_dir=tmp_path,
        database_path=tmp_path / "services.sqlite3",
        public_url=PUBLIC_URL,
        reset_code_ttl=RESET_CODE_TTL,
    )
    store = SQLiteStore(settings.database_path)
    hasher = PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1, processes=False, workers=1
    )
    built = Built.assemble(settings, store, clock, hasher, SecretBox(b"s" * 32))
    yield built
    await built.background.drain()
    await hasher.close()
    await store.close()


class CountedVerify:
    """Count the argon2 verifications a service asks of its hasher."""

    def __init__(self, hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = hasher.verify

        async def verify(password_hash: str | None, password: str) -> bool:
            self.calls += 1
            return await real(password_hash, password)

        monkeypatch.setattr(hasher, "verify", verify)


async def mail(built: Built) -> list[Message]:
    """Claim the queued mail (once each) and open it, oldest first."""
    await built.settle()
    now = built.clock.now()
    claimed = await built.store.claim_mail(f"lease-{now}", now, now + 60_000_000, 100)
    return [
        msgspec.msgpack.decode(built.secrets.open_mail(c.sealed, c.id), type=Message)
        for c in claimed
    ]


def link(message: Message, kind: str) -> str:
    """Return the code of the one email change link ("confirm" or "undo") in a message."""
    [code] = re.findall(rf"/email/{kind}/([A-Za-z0-9_-]{{40,}})", message.text)
    return str(code)


async def events(built: Built) -> list[tuple[str, int | None, str | None]]:
    """Return the audit trail, oldest first, as (event, account id, detail)."""
    await built.settle()
    found = await built.store.events(None, 0, 1000)
    return [(e.event, e.account_id, e.detail) for e in reversed(found)]
