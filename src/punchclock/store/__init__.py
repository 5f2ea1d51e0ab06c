"""Storage: the Store port the service uses; adapters live beside it (sqlite.py, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from punchclock.models import (
    Account,
    AccountOverview,
    AuditEvent,
    ClaimedMail,
    MailRecord,
    NewAccount,
    Organization,
    OutgoingMail,
    ProfileChanges,
    Session,
    TwoFactorState,
    Workspace,
)


class Store(Protocol):
    """Everything the service keeps. Each method is one transaction.

    Account lookups never return a closed account.
    """

    async def create_account(self, new: NewAccount) -> Account:
        """Insert an account with its organization and default workspace in it, in one
        transaction; raise EmailTaken if the email is taken."""
        ...

    async def account_by_email(self, email: str) -> Account | None: ...

    async def open_account_by_email(self, email: str) -> Account | None:
        """Return the account of this email unless closed: disabled ones too (operators)."""
        ...

    async def account_by_token(self, token_lookup: bytes) -> Account | None: ...

    async def account_by_session(
        self, jti: str, accounts_id: str, now: int, idle_since: int = 0
    ) -> Account | None:
        """Return the owner of a live session, if it matches.

        Live: not ended, not expired, and used at or after `idle_since` (0: no idle limit).
        """
        ...

    async def touch_session(self, jti: str, now: int) -> None:
        """Record that the session was used."""
        ...

    async def sessions_of(self, account_id: int, now: int, idle_since: int = 0) -> list[Session]:
        """Return the account's live sessions, newest first."""
        ...

    async def delete_session_by_id(self, account_id: int, session_id: str) -> bool:
        """End one of the account's sessions by its public id; False if it has none such."""
        ...

    async def delete_sessions(self, account_id: int, keep_jti: str | None) -> None:
        """End every session of the account but `keep_jti`."""
        ...

    async def delete_dead_sessions(self, now: int, idle_since: int = 0) -> int:
        """Remove expired and idle sessions; return how many."""
        ...

    async def delete_sessions_signed_by(self, kid: str) -> int:
        """End every session whose JWT the key `kid` signed; return how many."""
        ...

    async def sessions_by_key(self) -> dict[str, int]:
        """Return how many sessions each signing key has signed that are still stored."""
        ...

    async def workspaces_of(self, account_id: int) -> list[Workspace]:
        """Return the account's workspaces, lowest id first."""
        ...

    async def organizations_of(self, account_id: int) -> list[Organization]:
        """Return the account's organizations, lowest id first."""
        ...

    async def settings_of(self, account_id: int, kind: str) -> dict[str, Any]:
        """Return the account's settings of `kind` (a JSON object); {} when none are stored."""
        ...

    async def merge_settings(
        self, account_id: int, kind: str, changes: Mapping[str, Any], max_keys: int
    ) -> dict[str, Any] | None:
        """Set the keys in `changes`, keep the others, and return the whole object; None, and
        nothing changed, if it would then hold more than `max_keys` keys. One transaction, so
        concurrent merges neither lose keys nor pass the limit together."""
        ...

    async def add_session(self, session: Session) -> None: ...

    async def delete_session(self, account_id: int, jti: str) -> None: ...

    async def update_profile(
        self,
        account_id: int,
        changes: ProfileChanges,
        now: int,
        password_hash: str | None = None,
        keep_jti: str | None = None,
        notices: Sequence[OutgoingMail] = (),
    ) -> Account:
        """Apply the changes; raise EmailTaken, or InvalidInput for a workspace not theirs.

        With a password hash, also set the password and end every session but `keep_jti`
        and every reset code. `notices` are queued in the same transaction (see
        enqueue_mail): they tell of the change, so they exist exactly when it does.
        """
        ...

    async def replace_password_hash(self, account_id: int, old: str, new: str) -> None:
        """Store a rehash of the same password, unless the password changed meanwhile."""
        ...

    async def set_api_token(
        self, account_id: int, token_lookup: bytes, token_sealed: bytes, now: int
    ) -> None: ...

    async def close_account(self, account_id: int, now: int) -> None:
        """End every session, token, password and code; erase personal data, including
        every message in the outbox queued for the account (to any address it had or
        asked for) or addressed to its email, sent or not, its settings, its workspaces
        and its organizations."""
        ...

    # -- administration (`punchclock accounts`) ---------------------------------------------

    async def account_overview(self, email: str, now: int) -> AccountOverview | None:
        """Return what an operator sees of the account with that email, disabled or not
        (never a closed one); its live sessions are those not expired at `now`."""
        ...

    async def list_accounts(
        self, search: str | None, limit: int, now: int
    ) -> list[AccountOverview]:
        """Return up to `limit` accounts (not closed), oldest first; with `search`, only
        those whose email or name holds it, in any case."""
        ...

    async def set_disabled(self, account_id: int, disabled: bool, now: int) -> None:
        """Disable the account (every credential refused; its sessions and reset code end,
        its email stays taken) or enable it again."""
        ...

    async def add_reset_code(
        self,
        account_id: int,
        code_lookup: bytes,
        expires_at: int,
        now: int,
        message: OutgoingMail,
        keep: int = 3,
    ) -> None:
        """Store a reset code for the account and queue the message that tells it, in one
        transaction (see enqueue_mail). Earlier codes stay live: only the newest `keep`
        are kept. Using any of them, or a new password or address, ends them all."""
        ...

    async def reset_code_account(self, code_lookup: bytes, now: int) -> Account | None:
        """Return the account a live reset code belongs to, without using the code."""
        ...

    async def use_reset_code(
        self, code_lookup: bytes, password_hash: str, now: int, notice: OutgoingMail | None = None
    ) -> Account | None:
        """Use a live code once: set the password, end every session, queue `notice` (in the
        same transaction); None, and nothing done, if the code is not live."""
        ...

    # -- two-factor (issue 19): the TOTP secret is sealed by the caller (SecretBox), recovery
    # codes and log-in tickets arrive as HMACs; the store never sees a code or a secret.

    async def two_factor_state(self, account_id: int) -> TwoFactorState | None:
        """Return the account's sealed TOTP secrets and last used step (None: no account)."""
        ...

    async def begin_two_factor(self, account_id: int, pending_sealed: bytes) -> bool:
        """Keep a new secret as pending (replacing any earlier one); False, and nothing
        done, if two-factor is already on."""
        ...

    async def use_totp_step(self, account_id: int, step: int) -> bool:
        """Accept a code of time step `step` if two-factor is on and no code of this step or
        a later one was accepted: record the step and return True, in one statement."""
        ...

    async def enable_two_factor(
        self,
        account_id: int,
        pending_sealed: bytes,
        step: int,
        recovery_lookups: Sequence[bytes],
        now: int,
        keep_jti: str | None,
        notice: OutgoingMail,
    ) -> Account | None:
        """Confirm the pending secret `pending_sealed` with a code of `step` (as
        use_totp_step), replace the recovery codes, end every session but `keep_jti` and
        queue `notice`, in one transaction; None, and nothing done, if it no longer holds."""
        ...

    async def disable_two_factor(
        self, account_id: int, now: int, notice: OutgoingMail
    ) -> Account | None:
        """Turn two-factor off: the secrets, recovery codes and log-in tickets go, `notice`
        is queued; None, and nothing done, if it was off."""
        ...

    async def replace_recovery_codes(
        self, account_id: int, lookups: Sequence[bytes], now: int, notice: OutgoingMail
    ) -> None:
        """Replace every recovery code of the account's and queue `notice`, in one transaction."""
        ...

    async def use_recovery_code(self, account_id: int, lookup: bytes, notice: OutgoingMail) -> bool:
        """Use one of the account's recovery codes once (delete it) and queue the notice of
        it in the same transaction; False (and no notice) if it has none such."""
        ...

    async def recovery_codes_left(self, account_id: int) -> int: ...

    async def add_two_factor_ticket(
        self, lookup: bytes, account_id: int, remember_me: bool, expires_at: int, now: int
    ) -> None:
        """Store a log-in ticket (and drop the expired ones of every account)."""
        ...

    async def two_factor_ticket(self, lookup: bytes, now: int) -> tuple[Account, bool] | None:
        """Return the usable account of a live ticket and its remember_me, without using it."""
        ...

    async def use_two_factor_ticket(self, lookup: bytes, now: int) -> bool:
        """Use a live ticket once (delete it); False if it is unknown, used or expired."""
        ...

    # -- email changes (issue 11): a new address is taken only once a link mailed to it is
    # followed; the old address is then told, with a link that undoes the change. Both
    # links' codes are kept as HMACs only; a new password ends a pending change.

    async def request_email_change(
        self,
        account_id: int,
        email: str,
        code_lookup: bytes,
        expires_at: int,
        now: int,
        message: OutgoingMail,
    ) -> None:
        """Record a pending change to `email`, ending any earlier one of the account, and
        queue `message` (which carries its confirmation code) in the same transaction."""
        ...

    async def email_change(
        self, code_lookup: bytes, kind: str, now: int
    ) -> tuple[Account, str] | None:
        """Return the account and address of a live "confirm" or "undo" code, unused."""
        ...

    async def confirm_email_change(
        self,
        code_lookup: bytes,
        now: int,
        undo_lookup: bytes,
        undo_expires_at: int,
        notice: OutgoingMail,
    ) -> Account | None:
        """Use a live confirmation code once: the account takes its address (EmailTaken if
        another account has it by now), its reset codes end, an undo code for the old
        address is stored and `notice` queued. None, and nothing done, if not live."""
        ...

    async def undo_email_change(
        self,
        code_lookup: bytes,
        now: int,
        token_lookup: bytes,
        token_sealed: bytes,
        reset_lookup: bytes,
        reset_expires_at: int,
        reset_message: OutgoingMail,
    ) -> Account | None:
        """Use a live undo code once: restore its address (EmailTaken if another account has
        it by now), end every session, pending change and reset code, replace the API
        token, store a new reset code and queue its message. None if not live."""
        ...

    # -- the outbox ------------------------------------------------------------------------
    # A message is `queued` until a sender delivers it (`sent`) or gives up on it (`dead`).
    # To send, a sender claims a batch: it writes its own random claim_token and a lease
    # (lease_until) on each message, so that no other sender takes them until the lease runs
    # out; only the holder of the token may then settle a message (mark_mail_*). A sender
    # that died leaves its lease to run out, and the message is claimed again.

    async def enqueue_mail(self, message: OutgoingMail) -> None:
        """Queue a message: state queued, attempts 0, queued_at and next_attempt_at set to
        its created_at, no lease. Methods that cause mail (add_reset_code) do the same
        inside their own transaction."""
        ...

    async def claim_mail(
        self, claim_token: str, now: int, lease_until: int, limit: int
    ) -> list[ClaimedMail]:
        """Lease up to `limit` due messages to `claim_token` and return them, in one atomic step.

        Due: state queued, next_attempt_at <= now, and no live lease (lease_until is NULL or
        < now). Each claimed row gets claim_token and lease_until; the earliest
        next_attempt_at go first. Two concurrent claims never return the same message
        (SQLite: one UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING under the write
        lock; PostgreSQL: the same with SELECT ... FOR UPDATE SKIP LOCKED).
        """
        ...

    async def mark_mail_sent(self, mail_id: str, claim_token: str, now: int) -> bool:
        """Record a delivery: state sent, sent_at = now, attempts + 1 (this one), the body
        erased (sealed NULL), the lease released. Only while `claim_token` holds the
        message (state queued and the same claim_token: a later claim by another sender
        replaces it); False otherwise."""
        ...

    async def mark_mail_retry(
        self, mail_id: str, claim_token: str, next_attempt_at: int, error: str
    ) -> bool:
        """Record a temporary failure: attempts + 1, last_error = error, next_attempt_at, the
        lease released (claim_token and lease_until NULL). Only while holding, as above."""
        ...

    async def mark_mail_dead(
        self, mail_id: str, claim_token: str, error: str, *, attempted: bool = True
    ) -> bool:
        """Give up on a message: state dead, last_error = error, attempts + 1 if `attempted`,
        the lease released. The body stays sealed, for retry_mail. Only while holding."""
        ...

    async def list_mail(self, *, failed_only: bool = False, limit: int = 100) -> list[MailRecord]:
        """Return up to `limit` messages, newest created_at first (then id).

        failed_only: only the dead ones and the queued ones that have failed at least once.
        """
        ...

    async def outbox_backlog(self) -> tuple[int, int | None]:
        """Return how many messages are queued and when the oldest was queued (None: none)."""
        ...

    async def retry_mail(self, mail_id: str, now: int) -> bool:
        """Queue a dead message again: state queued, attempts 0, queued_at and
        next_attempt_at = now, no lease; last_error stays until the next outcome.
        False if there is no dead message with that id."""
        ...

    async def existing_mail(self, ids: Sequence[str]) -> set[str]:
        """Return those of `ids` still in the outbox (the file mailer deletes the others)."""
        ...

    async def delete_old_mail(self, before: int) -> int:
        """Remove sent and dead messages created before `before` (queued ones stay, whatever
        their age: the sender dead-letters them first); return how many."""
        ...

    # -- the audit trail ---------------------------------------------------------------------

    async def record_event(
        self,
        at: int,
        event: str,
        account_id: int | None,
        ip: str,
        user_agent: str,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Append a security event to the audit trail."""
        ...

    async def events(self, account_id: int | None, since: int, limit: int) -> list[AuditEvent]:
        """Return up to `limit` events at or after `since`, newest first (then highest id);
        only the account's when `account_id` is not None."""
        ...

    async def delete_events_before(self, at: int) -> int:
        """Remove the events recorded before `at`; return how many."""
        ...

    # -- health --------------------------------------------------------------------------

    async def ping(self) -> None:
        """Answer a trivial query, or raise StoreUnavailable: what a readiness probe asks."""
        ...

    async def schema_is_current(self) -> bool:
        """Tell whether the schema is at the newest version this code knows."""
        ...

    async def close(self) -> None: ...
