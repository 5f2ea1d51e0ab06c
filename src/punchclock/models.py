"""Plain records passed between the service and the stores.

Times are integers of microseconds since the Unix epoch (UTC): exact, cheap to compare
and stored the same way by every backend.
"""

from __future__ import annotations

import msgspec

# msgspec Structs rather than dataclasses: a frozen dataclass costs ~1.5 us to build, a
# Struct ~0.1 us, and an Account is built on every authenticated request.


class Account(msgspec.Struct, frozen=True):
    id: int
    accounts_id: str  # Toggl's `toggl_accounts_id`: 22 characters
    email: str
    fullname: str
    password_hash: str
    api_token_sealed: bytes  # the API token, encrypted with the server key
    timezone: str
    beginning_of_week: int
    country_id: int | None
    default_workspace_id: int
    created_at: int
    updated_at: int
    authorization_updated_at: int
    two_factor: bool = False  # True once a TOTP enrolment was confirmed (issue 19)


class TwoFactorState(msgspec.Struct, frozen=True):
    """An account's second factor as stored: secrets sealed, never in clear."""

    secret_sealed: bytes | None  # the confirmed TOTP secret; None: 2FA off
    pending_sealed: bytes | None  # a secret whose enrolment is begun, not yet confirmed
    last_step: int | None  # the newest TOTP time step accepted: no code at or before it again


class AccountOverview(msgspec.Struct, frozen=True):
    """What an operator sees of an account (`punchclock accounts list/show`): no secret."""

    id: int
    accounts_id: str
    email: str
    fullname: str
    created_at: int
    disabled_at: int | None  # None: enabled
    last_log_in_at: int | None  # the newest log-in the audit trail still holds
    sessions: int  # live sessions
    two_factor: bool = False  # TOTP on


class NewAccount(msgspec.Struct, frozen=True):
    accounts_id: str
    email: str
    fullname: str
    password_hash: str
    api_token_lookup: bytes
    api_token_sealed: bytes
    timezone: str
    workspace_name: str
    organization_name: str
    now: int


class Workspace(msgspec.Struct, frozen=True):
    id: int
    owner_id: int
    organization_id: int
    name: str
    created_at: int
    updated_at: int


class Organization(msgspec.Struct, frozen=True):
    """The one organization every account owns: its workspace belongs to it."""

    id: int
    owner_id: int
    name: str
    created_at: int
    updated_at: int


class Session(msgspec.Struct, frozen=True):
    jti: str  # the JWT's id: 32 hex characters; never shown, even to the session's owner
    id: str  # the session's public id, 32 hex characters: what a user lists and ends
    account_id: int
    kid: str  # the key that signed the session's JWT
    created_at: int
    last_used_at: int  # updated at most once a minute
    expires_at: int
    remember_me: bool
    user_agent: str
    ip: str


class ProfileChanges(msgspec.Struct, frozen=True):
    """Fields of an account a user may change; None leaves a field as it is."""

    fullname: str | None = None
    email: str | None = None
    timezone: str | None = None
    beginning_of_week: int | None = None
    country_id: int | None = None
    clear_country: bool = False
    default_workspace_id: int | None = None


class ClientInfo(msgspec.Struct, frozen=True):
    """Who is calling, as far as the request tells: recorded with sessions."""

    ip: str = ""
    user_agent: str = ""
    request_id: str = ""  # X-Request-Id of the request (web/scope.py), for the audit trail


class Message(msgspec.Struct, frozen=True):
    """One email to send: a plain text part and, when `html` is set, an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str = ""
    to_name: str = ""  # the recipient's display name, for the To header


class OutgoingMail(msgspec.Struct, frozen=True):
    """A message for the outbox, written in the transaction of the change that causes it.

    `sealed` is the Message encrypted under the server key (it may hold a live reset
    code, which a database dump must not give away); the store never reads it.
    """

    id: str  # 32 hex characters; also the Message-ID's left part, the same on every attempt
    recipient: str  # in clear, for `punchclock mail list`
    subject: str
    sealed: bytes
    created_at: int


class ClaimedMail(msgspec.Struct, frozen=True):
    """A queued message a sender has leased: only the holder of `claim_token` settles it."""

    id: str
    sealed: bytes
    attempts: int  # failed attempts so far
    queued_at: int  # when it was queued, or queued again by `mail retry`: its age counts from here


class MailRecord(msgspec.Struct, frozen=True):
    """What `punchclock mail list` shows of a message in the outbox; never its body."""

    id: str
    recipient: str
    subject: str
    state: str  # "queued", "sent" or "dead"
    attempts: int
    created_at: int
    queued_at: int
    next_attempt_at: int
    sent_at: int | None
    last_error: str | None


class AuditEvent(msgspec.Struct, frozen=True):
    """A security event, as the audit trail keeps it: never a password, token, cookie or code."""

    id: int
    at: int
    event: str  # sign_up, log_in, log_in_failed, throttled, session_ended, ... (services/)
    account_id: int | None  # None: no account is known (a failed log-in on an unknown email)
    ip: str
    user_agent: str
    detail: str | None  # which path or kind, e.g. "log_out" for a session_ended
    request_id: str | None = None  # the X-Request-Id it was recorded under; None: no request
