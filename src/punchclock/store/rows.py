"""What every SQL store selects and how a row becomes a record: one list of columns for
SQLite and PostgreSQL alike, so that a column added to a record is added once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from punchclock.models import Account, AccountOverview, Session

# In the order of the Account, Session and MailRecord fields: a row unpacks into the record.
ACCOUNT_COLUMNS = (
    "a.id, a.accounts_id, a.email, a.fullname, a.password_hash, a.api_token_sealed, "
    "a.timezone, a.beginning_of_week, a.country_id, a.default_workspace_id, "
    "a.created_at, a.updated_at, a.authorization_updated_at, a.totp_sealed IS NOT NULL"
)
SELECT_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts a"  # noqa: S608 - constant
# An account a credential may find: neither closed nor disabled by an operator.
USABLE = "a.closed_at IS NULL AND a.disabled_at IS NULL"
# In the order of AccountOverview's fields; the one parameter is now (live sessions).
OVERVIEW_COLUMNS = (
    "a.id, a.accounts_id, a.email, a.fullname, a.created_at, a.disabled_at, "
    "(SELECT max(e.at) FROM audit_events e WHERE e.account_id = a.id AND e.event = 'log_in'), "
    "(SELECT count(*) FROM sessions s WHERE s.account_id = a.id AND s.expires_at > {now}), "
    "a.totp_sealed IS NOT NULL"
)


def account_from(row: Iterable[Any]) -> Account:
    """Return the Account a row of ACCOUNT_COLUMNS holds (SQLite keeps booleans as 0 and 1)."""
    *fields, two_factor = row
    return Account(*fields, two_factor=bool(two_factor))  # type: ignore[misc]


def overview_from(row: Iterable[Any]) -> AccountOverview:
    """Return the AccountOverview a row of OVERVIEW_COLUMNS holds."""
    *fields, two_factor = row
    return AccountOverview(*fields, two_factor=bool(two_factor))  # type: ignore[misc]


def search_pattern(text: str) -> str:
    """Return a LIKE pattern (ESCAPE '\\') that finds `text` anywhere, lower-cased."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


SESSION_COLUMNS = (
    "jti, id, account_id, kid, created_at, last_used_at, expires_at, remember_me, user_agent, ip"
)
WORKSPACE_COLUMNS = "id, owner_id, organization_id, name, created_at, updated_at"
ORGANIZATION_COLUMNS = "id, owner_id, name, created_at, updated_at"
MAIL_RECORD_COLUMNS = (
    "id, recipient, subject, state, attempts, created_at, queued_at, next_attempt_at, "
    "sent_at, last_error"
)


def session_from(row: Iterable[Any]) -> Session:
    """Return the Session a row of SESSION_COLUMNS holds."""
    jti, id_, account_id, kid, created, used, expires, remember_me, user_agent, ip = row
    return Session(
        jti=jti,
        id=id_,
        account_id=account_id,
        kid=kid or "",  # NULL for sessions made before keys were recorded
        created_at=created,
        last_used_at=used,
        expires_at=expires,
        remember_me=bool(remember_me),  # SQLite keeps 0 and 1
        user_agent=user_agent,
        ip=ip,
    )


def settings_from(data: str | None) -> dict[str, Any]:
    """Return the JSON object an account_settings row holds; {} for no row."""
    return {} if data is None else msgspec.json.decode(data, type=dict[str, Any])
