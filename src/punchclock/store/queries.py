"""Every SQL statement the stores run, written once, with PostgreSQL's $1 placeholders.

SQLite reads the same text with ?1 placeholders (numbered, so a value used twice is
passed once on both), and has IS DISTINCT FROM (since 3.39) and RETURNING (3.35). The
real differences left here: claiming mail skips locked rows on PostgreSQL, where
senders on many hosts claim at once (SQLite has one writer), and a list of ids is an
array there and a JSON array on SQLite (existing_mail).
"""

from __future__ import annotations

import dataclasses
import re

from punchclock.models import ProfileChanges
from punchclock.store.rows import (
    ACCOUNT_COLUMNS,
    MAIL_RECORD_COLUMNS,
    ORGANIZATION_COLUMNS,
    OVERVIEW_COLUMNS,
    SELECT_ACCOUNT,
    SESSION_COLUMNS,
    USABLE,
    WORKSPACE_COLUMNS,
)

_DUE_MAIL = (
    "state = 'queued' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)"
)
_SETTLE = (  # releases the lease, if the claim token still holds it
    "claim_token = NULL, lease_until = NULL "
    "WHERE id = $1 AND claim_token = $2 AND state = 'queued' RETURNING 1"
)
_FAILED = "WHERE state = 'dead' OR (state = 'queued' AND attempts > 0) "

# the unique index that makes an email taken, whatever its case (see the migrations)
EMAIL_INDEX = "accounts_email_key"
SQLITE_EMAIL_TAKEN = "UNIQUE constraint failed: accounts.email_key"


@dataclasses.dataclass(frozen=True, slots=True)
class Statements:
    account_by_id: str = f"{SELECT_ACCOUNT} WHERE a.id = $1"
    # a credential never finds a closed or disabled account (USABLE)
    account_by_email: str = f"{SELECT_ACCOUNT} WHERE a.email_key = $1 AND {USABLE}"
    # an operator's commands reach a disabled account too (never a closed one)
    open_account_by_email: str = f"{SELECT_ACCOUNT} WHERE a.email_key = $1 AND a.closed_at IS NULL"
    account_by_token: str = f"{SELECT_ACCOUNT} WHERE a.api_token_lookup = $1 AND {USABLE}"
    account_by_session: str = (
        f"{SELECT_ACCOUNT} JOIN sessions s ON s.account_id = a.id "
        "WHERE s.jti = $1 AND s.expires_at > $2 AND s.last_used_at >= $3 AND a.accounts_id = $4 "
        f"AND {USABLE}"
    )
    account_by_reset_code: str = (
        f"{SELECT_ACCOUNT} JOIN reset_codes r ON r.account_id = a.id "
        f"WHERE r.code_lookup = $1 AND r.expires_at > $2 AND {USABLE}"
    )
    # the account and address of a live "confirm" or "undo" code of an email change
    account_by_email_change: str = (
        f"SELECT {ACCOUNT_COLUMNS}, e.email FROM accounts a "
        "JOIN email_changes e ON e.account_id = a.id "
        f"WHERE e.code_lookup = $1 AND e.kind = $2 AND e.expires_at > $3 AND {USABLE}"
    )
    insert_account: str = (
        "INSERT INTO accounts (accounts_id, email, email_key, fullname, "
        "password_hash, api_token_lookup, api_token_sealed, timezone, "
        "created_at, updated_at, authorization_updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) RETURNING id"
    )
    insert_organization: str = (
        "INSERT INTO organizations (owner_id, name, created_at, updated_at) "
        "VALUES ($1, $2, $3, $3) RETURNING id"
    )
    insert_workspace: str = (
        "INSERT INTO workspaces (owner_id, organization_id, name, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $4) RETURNING id"
    )
    set_default_workspace: str = "UPDATE accounts SET default_workspace_id = $2 WHERE id = $1"
    workspace_of: str = "SELECT 1 FROM workspaces WHERE id = $1 AND owner_id = $2"
    workspaces_of: str = (
        f"SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE owner_id = $1 ORDER BY id"
    )
    organizations_of: str = (
        f"SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE owner_id = $1 ORDER BY id"
    )
    settings_of: str = "SELECT data FROM account_settings WHERE account_id = $1 AND kind = $2"
    # the row first, so that a merge has one to lock even the first time (PostgreSQL)
    create_settings: str = (
        "INSERT INTO account_settings (account_id, kind, data) VALUES ($1, $2, '{}') "
        "ON CONFLICT (account_id, kind) DO NOTHING"
    )
    set_settings: str = "UPDATE account_settings SET data = $3 WHERE account_id = $1 AND kind = $2"
    # only forwards: a late touch from another worker never moves a session's use back
    touch_session: str = (
        "UPDATE sessions SET last_used_at = $2 WHERE jti = $1 AND last_used_at < $2"
    )
    sessions_of: str = (
        f"SELECT {SESSION_COLUMNS} FROM sessions "
        "WHERE account_id = $1 AND expires_at > $2 AND last_used_at >= $3 "
        "ORDER BY created_at DESC"
    )
    add_session: str = (
        f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    delete_session: str = "DELETE FROM sessions WHERE jti = $1 AND account_id = $2"
    delete_session_by_id: str = "DELETE FROM sessions WHERE id = $1 AND account_id = $2 RETURNING 1"
    delete_sessions_but: str = (
        "DELETE FROM sessions WHERE account_id = $1 AND jti IS DISTINCT FROM $2"
    )
    delete_sessions_of: str = "DELETE FROM sessions WHERE account_id = $1"
    delete_dead_sessions: str = "DELETE FROM sessions WHERE expires_at <= $1 OR last_used_at < $2"
    delete_sessions_signed_by: str = "DELETE FROM sessions WHERE kid = $1"
    sessions_by_key: str = "SELECT kid, count(*) FROM sessions WHERE kid IS NOT NULL GROUP BY kid"
    set_password: str = (
        "UPDATE accounts SET password_hash = $2, updated_at = $3, "
        "authorization_updated_at = $3 WHERE id = $1"
    )
    # A code asked for before a password change must not undo it, nor a change of address
    # asked for with the old password go on.
    delete_reset_codes_of: str = "DELETE FROM reset_codes WHERE account_id = $1"
    delete_email_confirms_of: str = (
        "DELETE FROM email_changes WHERE account_id = $1 AND kind = 'confirm'"
    )
    delete_email_changes_of: str = "DELETE FROM email_changes WHERE account_id = $1"
    # a new address: the codes sent to the one before stop working (delete_reset_codes_of)
    set_email: str = (
        "UPDATE accounts SET email = $2, email_key = $3, updated_at = $4, "
        "authorization_updated_at = $4 WHERE id = $1"
    )
    # undoing a change: the API token someone else may have read is replaced too
    replace_api_token: str = (
        "UPDATE accounts SET api_token_lookup = $2, api_token_sealed = $3 WHERE id = $1"
    )
    replace_password_hash: str = (
        "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2"
    )
    set_api_token: str = (
        "UPDATE accounts SET api_token_lookup = $2, api_token_sealed = $3, "
        "updated_at = $4, authorization_updated_at = $4 WHERE id = $1"
    )
    # closing: its mail first, while the email that names the person is still there; so
    # does mail to any address it had or asked for, which carries its account id
    close_mail: str = (
        "DELETE FROM outbox WHERE account_id = $1 OR recipient IN "
        "(SELECT email FROM accounts WHERE id = $1 AND email IS NOT NULL)"
    )
    close_default_workspace: str = "UPDATE accounts SET default_workspace_id = NULL WHERE id = $1"
    close_workspaces: str = "DELETE FROM workspaces WHERE owner_id = $1"
    close_organizations: str = "DELETE FROM organizations WHERE owner_id = $1"
    close_settings: str = "DELETE FROM account_settings WHERE account_id = $1"
    # the row stays as an anonymous tombstone: ids are never reused
    close_tombstone: str = (
        "UPDATE accounts SET email = NULL, email_key = NULL, fullname = '', "
        "password_hash = NULL, api_token_lookup = NULL, api_token_sealed = NULL, "
        "timezone = 'UTC', country_id = NULL, totp_sealed = NULL, totp_pending_sealed = NULL, "
        "updated_at = $2, "
        "authorization_updated_at = $2, closed_at = $2 WHERE id = $1"
    )
    # Several live codes: someone else asking for one must not void the owner's (issue 11).
    add_reset_code: str = (
        "INSERT INTO reset_codes (code_lookup, account_id, expires_at, created_at) "
        "VALUES ($1, $2, $3, $4)"
    )
    # only the newest $3 live codes of the account stay
    trim_reset_codes: str = (
        "DELETE FROM reset_codes WHERE account_id = $1 AND (expires_at <= $2 OR "
        "code_lookup NOT IN (SELECT code_lookup FROM reset_codes WHERE account_id = $1 "
        "ORDER BY created_at DESC, code_lookup LIMIT $3))"
    )
    # Taken, not read: of two confirmations of one code, the second waits for the first
    # (its row lock; SQLite's write lock), then finds the row gone.
    use_reset_code: str = (
        "DELETE FROM reset_codes WHERE code_lookup = $1 AND expires_at > $2 RETURNING account_id"
    )
    # email changes: a pending one ends the one before; the codes are taken, not read
    add_email_change: str = (
        "INSERT INTO email_changes (code_lookup, account_id, kind, email, expires_at, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    use_email_change: str = (
        "DELETE FROM email_changes WHERE code_lookup = $1 AND kind = $2 "
        "AND expires_at > $3 RETURNING account_id, email"
    )
    # $6: the account the message was queued for, whatever address it goes to (closing
    # the account erases it)
    enqueue_mail: str = (
        "INSERT INTO outbox (id, recipient, subject, sealed, state, attempts, created_at, "
        "queued_at, next_attempt_at, account_id) "
        "VALUES ($1, $2, $3, $4, 'queued', 0, $5, $5, $5, $6)"
    )
    mail_due: str = f"SELECT 1 FROM outbox WHERE {_DUE_MAIL.replace('$3', '$1')} LIMIT 1"
    claim_mail: str = (
        "UPDATE outbox SET claim_token = $1, lease_until = $2 WHERE id IN ("
        f"SELECT id FROM outbox WHERE {_DUE_MAIL} ORDER BY next_attempt_at, id "
        "LIMIT $4{skip_locked}) RETURNING id, sealed, attempts, queued_at"
    )
    # a delivery counts as the attempt it was
    mail_sent: str = (
        "UPDATE outbox SET state = 'sent', sent_at = $3, sealed = NULL, "
        f"attempts = attempts + 1, {_SETTLE}"
    )
    mail_retry: str = (
        "UPDATE outbox SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4, "
        f"{_SETTLE}"
    )
    mail_dead: str = (
        f"UPDATE outbox SET state = 'dead', attempts = attempts + $3, last_error = $4, {_SETTLE}"
    )
    list_mail: str = (
        f"SELECT {MAIL_RECORD_COLUMNS} FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1"
    )
    list_failed_mail: str = (
        f"SELECT {MAIL_RECORD_COLUMNS} FROM outbox {_FAILED}"
        "ORDER BY created_at DESC, id DESC LIMIT $1"
    )
    retry_mail: str = (
        "UPDATE outbox SET state = 'queued', attempts = 0, queued_at = $2, "
        "next_attempt_at = $2, claim_token = NULL, lease_until = NULL "
        "WHERE id = $1 AND state = 'dead' RETURNING 1"
    )
    # which of the ids ($1, a list) are still in the outbox: an array on PostgreSQL, a JSON
    # array on SQLite (see for_sqlite)
    existing_mail: str = "SELECT id FROM outbox WHERE id = ANY($1::text[])"
    delete_old_mail: str = "DELETE FROM outbox WHERE state IN ('sent', 'dead') AND created_at < $1"
    record_event: str = (
        "INSERT INTO audit_events (at, event, account_id, ip, user_agent, detail, request_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    # one statement for both cases ("$2 IS NULL"): one prepared query
    events: str = (
        "SELECT id, at, event, account_id, ip, user_agent, detail, request_id FROM audit_events "
        "WHERE at >= $1 AND (CAST($2 AS bigint) IS NULL OR account_id = $2) "
        "ORDER BY at DESC, id DESC LIMIT $3"
    )
    delete_events_before: str = "DELETE FROM audit_events WHERE at < $1"
    # -- two-factor (issue 19) --
    two_factor_state: str = (
        "SELECT totp_sealed, totp_pending_sealed, totp_last_step FROM accounts WHERE id = $1"
    )
    begin_two_factor: str = (
        "UPDATE accounts SET totp_pending_sealed = $2 "
        "WHERE id = $1 AND totp_sealed IS NULL AND closed_at IS NULL RETURNING 1"
    )
    # A code is checked against the last step used and accepted in one statement: of two
    # requests racing with one code (two workers, two hosts), the second waits for the
    # first's row lock (SQLite: the write lock), then finds the step taken (ASVS 5 V6.5.1).
    use_totp_step: str = (
        "UPDATE accounts SET totp_last_step = $2 WHERE id = $1 AND totp_sealed IS NOT NULL "
        "AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING 1"
    )
    # confirms exactly the pending secret the code was checked against ($2), with its step
    enable_two_factor: str = (
        "UPDATE accounts SET totp_sealed = totp_pending_sealed, totp_pending_sealed = NULL, "
        "totp_last_step = $3, updated_at = $4, authorization_updated_at = $4 "
        "WHERE id = $1 AND totp_sealed IS NULL AND totp_pending_sealed = $2 "
        "AND (totp_last_step IS NULL OR totp_last_step < $3) RETURNING 1"
    )
    disable_two_factor: str = (
        "UPDATE accounts SET totp_sealed = NULL, totp_pending_sealed = NULL, updated_at = $2, "
        "authorization_updated_at = $2 WHERE id = $1 AND totp_sealed IS NOT NULL RETURNING 1"
    )
    add_recovery_code: str = (
        "INSERT INTO recovery_codes (code_lookup, account_id, created_at) VALUES ($1, $2, $3)"
    )
    # taken, not read: a recovery code works once, however many use it at once
    use_recovery_code: str = (
        "DELETE FROM recovery_codes WHERE code_lookup = $1 AND account_id = $2 RETURNING 1"
    )
    recovery_codes_left: str = "SELECT count(*) FROM recovery_codes WHERE account_id = $1"
    delete_recovery_codes_of: str = "DELETE FROM recovery_codes WHERE account_id = $1"
    add_ticket: str = (
        "INSERT INTO two_factor_tickets (ticket_lookup, account_id, remember_me, expires_at, "
        "created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    delete_dead_tickets: str = "DELETE FROM two_factor_tickets WHERE expires_at <= $1"
    account_by_ticket: str = (
        f"SELECT {ACCOUNT_COLUMNS}, t.remember_me FROM accounts a "
        "JOIN two_factor_tickets t ON t.account_id = a.id "
        f"WHERE t.ticket_lookup = $1 AND t.expires_at > $2 AND {USABLE}"
    )
    use_ticket: str = (
        "DELETE FROM two_factor_tickets WHERE ticket_lookup = $1 AND expires_at > $2 RETURNING 1"
    )
    delete_tickets_of: str = "DELETE FROM two_factor_tickets WHERE account_id = $1"
    # administration (`punchclock accounts`): disabled accounts too, never closed ones
    account_overview: str = (
        f"SELECT {OVERVIEW_COLUMNS.format(now='$1')} FROM accounts a "
        "WHERE a.email_key = $2 AND a.closed_at IS NULL"
    )
    list_accounts: str = (
        f"SELECT {OVERVIEW_COLUMNS.format(now='$1')} FROM accounts a "
        "WHERE a.closed_at IS NULL "
        "AND (a.email_key LIKE $2 ESCAPE '\\' OR lower(a.fullname) LIKE $2 ESCAPE '\\') "
        "ORDER BY a.id LIMIT $3"
    )
    disable_account: str = (
        "UPDATE accounts SET disabled_at = coalesce(disabled_at, $2), updated_at = $2, "
        "authorization_updated_at = $2 WHERE id = $1 AND closed_at IS NULL"
    )
    enable_account: str = "UPDATE accounts SET disabled_at = NULL, updated_at = $2 WHERE id = $1"
    outbox_backlog: str = "SELECT count(*), min(queued_at) FROM outbox WHERE state = 'queued'"
    ping: str = "SELECT 1"
    # what start-up opens to find out whether the server key made the database
    newest_sealed_token: str = (
        "SELECT api_token_sealed, accounts_id FROM accounts "
        "WHERE api_token_sealed IS NOT NULL ORDER BY id DESC LIMIT 1"
    )

    def for_sqlite(self) -> Statements:
        """Return the statements with SQLite's numbered placeholders (?1 for $1)."""
        return Statements(
            **{
                f.name: _PLACEHOLDER.sub(r"?\1", getattr(self, f.name)).replace("{skip_locked}", "")
                for f in dataclasses.fields(self)
            }
            # SQLite has no arrays: the ids come as one JSON array
            | {"existing_mail": _EXISTING_MAIL_SQLITE}
        )

    def for_postgres(self) -> Statements:
        # SKIP LOCKED: senders on other workers and hosts claim around each other's rows
        # instead of waiting for them, and never claim the same row (SQLite has one writer)
        return dataclasses.replace(
            self, claim_mail=self.claim_mail.replace("{skip_locked}", " FOR UPDATE SKIP LOCKED")
        )


_PLACEHOLDER = re.compile(r"\$(\d+)")
_EXISTING_MAIL_SQLITE = "SELECT id FROM outbox WHERE id IN (SELECT value FROM json_each(?1))"
POSTGRES = Statements().for_postgres()
SQLITE = Statements().for_sqlite()


def profile_update(
    account_id: int, changes: ProfileChanges, now: int, *, sqlite: bool
) -> tuple[str, list[object]]:
    """Return the UPDATE of a profile change and its values ($1 is the account)."""
    values: dict[str, object] = {}
    if changes.fullname is not None:
        values["fullname"] = changes.fullname
    if changes.email is not None:
        values["email"] = changes.email
        values["email_key"] = changes.email.lower()
    if changes.timezone is not None:
        values["timezone"] = changes.timezone
    if changes.beginning_of_week is not None:
        values["beginning_of_week"] = changes.beginning_of_week
    if changes.country_id is not None or changes.clear_country:
        values["country_id"] = changes.country_id
    if changes.default_workspace_id is not None:
        values["default_workspace_id"] = changes.default_workspace_id
    values["updated_at"] = now
    mark = "?" if sqlite else "$"
    # column names come from the fixed set above, never from the request
    sets = ", ".join(f"{column} = {mark}{n}" for n, column in enumerate(values, start=2))
    return f"UPDATE accounts SET {sets} WHERE id = {mark}1", [account_id, *values.values()]
