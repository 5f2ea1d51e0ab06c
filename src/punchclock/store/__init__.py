"""Storage: the Store port the service uses; adapters live beside it (sqlite.py, ...)."""

from __future__ import annotations

from typing import Protocol

from punchclock.models import Account, NewAccount, ProfileChanges, Session, Workspace


class Store(Protocol):
    """Everything the service keeps. Each method is one transaction.

    Account lookups never return a closed account.
    """

    async def create_account(self, new: NewAccount) -> Account:
        """Insert an account with its default workspace; raise EmailTaken if the email is."""
        ...

    async def account_by_email(self, email: str) -> Account | None: ...

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

    async def workspaces_of(self, account_id: int) -> list[Workspace]: ...

    async def add_session(self, session: Session) -> None: ...

    async def delete_session(self, account_id: int, jti: str) -> None: ...

    async def update_profile(
        self,
        account_id: int,
        changes: ProfileChanges,
        now: int,
        password_hash: str | None = None,
        keep_jti: str | None = None,
    ) -> Account:
        """Apply the changes; raise EmailTaken, or InvalidInput for a workspace not theirs.

        With a password hash, also set the password and end every session but `keep_jti`
        and every reset code.
        """
        ...

    async def replace_password_hash(self, account_id: int, old: str, new: str) -> None:
        """Store a rehash of the same password, unless the password changed meanwhile."""
        ...

    async def set_api_token(
        self, account_id: int, token_lookup: bytes, token_sealed: bytes, now: int
    ) -> None: ...

    async def close_account(self, account_id: int, now: int) -> None:
        """End every session, token, password and code; erase personal data."""
        ...

    async def replace_reset_code(
        self, account_id: int, code_lookup: bytes, expires_at: int, now: int
    ) -> None:
        """Store a reset code for the account; any earlier one stops working."""
        ...

    async def reset_code_account(self, code_lookup: bytes, now: int) -> Account | None:
        """Return the account a live reset code belongs to, without using the code."""
        ...

    async def use_reset_code(
        self, code_lookup: bytes, password_hash: str, now: int
    ) -> Account | None:
        """Use a live code once: set the password, end every session; None if not live."""
        ...

    async def close(self) -> None: ...
