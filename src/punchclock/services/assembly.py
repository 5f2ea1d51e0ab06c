"""Build the services, each on the ones it stands on: the one wiring that web/app.py (and
through it cli.py) and the service tests share, so a test runs what the server runs."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from punchclock.config import SESSION_LIFETIME, Settings
from punchclock.keys import KeyRing
from punchclock.notices import Notices
from punchclock.passwords import PasswordHasher
from punchclock.services import Services
from punchclock.services.accounts import Accounts
from punchclock.services.administration import Administration
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.background import Background
from punchclock.services.clock import Clock
from punchclock.services.credentials import Credentials
from punchclock.services.email_changes import EmailChanges
from punchclock.services.health import Health
from punchclock.services.resets import Resets
from punchclock.services.second_factor import SecondFactor
from punchclock.services.sessions import Sessions
from punchclock.services.two_factor import TwoFactor
from punchclock.services.workspaces import Workspaces
from punchclock.store import Store
from punchclock.throttle import Throttle
from punchclock.tokens import SecretBox, SessionTokens


def assemble(
    settings: Settings,
    store: Store,
    hasher: PasswordHasher,
    secrets: SecretBox,
    ring: Callable[[], KeyRing],
    clock: Clock,
    *,
    throttle: Throttle | None = None,
    mail_queued: Callable[[], None] | None = None,
    mail_erased: Callable[[], Coroutine[Any, Any, object]] | None = None,
) -> Services:
    """Make every service from settings and what they stand on.

    `throttle` None counts no attempts; `mail_queued` wakes this process's mail sender,
    `mail_erased` deletes the mailer's copies of an erased account's mail.
    """
    background = Background()
    audit = Audit(store, background, clock, retention_days=settings.audit_retention_days)
    attempts = Attempts(throttle, audit, clock)
    notices = Notices(
        secrets, settings.public_url, reset_code_ttl=settings.reset_code_ttl, queued=mail_queued
    )
    sessions = Sessions(
        store,
        SessionTokens(ring, settings.public_url, SESSION_LIFETIME),
        audit,
        background,
        clock,
        idle_timeout=settings.session_idle_timeout,
        devices=secrets.device_cookie,
    )
    second_factor = SecondFactor(store, secrets, attempts, audit, notices, clock)
    credentials = Credentials(
        store,
        hasher,
        secrets,
        sessions,
        attempts,
        audit,
        clock,
        password_min_length=settings.password_min_length,
        second_factor=second_factor,
    )
    email_changes = EmailChanges(
        store, credentials, notices, audit, attempts, background=background, clock=clock
    )
    resets = Resets(
        store, credentials, notices, audit, attempts, background=background, clock=clock
    )
    accounts = Accounts(
        store,
        credentials,
        sessions,
        notices,
        audit,
        attempts,
        email_changes,
        background=background,
        clock=clock,
        mail_erased=mail_erased,
    )
    return Services(
        credentials=credentials,
        sessions=sessions,
        resets=resets,
        email_changes=email_changes,
        accounts=accounts,
        workspaces=Workspaces(store, clock),
        attempts=attempts,
        audit=audit,
        notices=notices,
        background=background,
        health=Health(store, hasher, ring),
        administration=Administration(store, accounts, credentials, resets, audit, clock),
        second_factor=second_factor,
        two_factor=TwoFactor(
            store,
            secrets,
            credentials,
            second_factor,
            sessions,
            notices,
            audit,
            attempts,
            clock,
            issuer=settings.totp_issuer,
        ),
    )
