"""Domain errors. Each has a stable `code`; how it maps to HTTP lives in web/errors.py."""

from __future__ import annotations


class PunchclockError(Exception):
    """Base of every error the service raises on purpose; `message` is safe to show."""

    code = "error"
    message = "Request failed"
    field: str | None = None  # the request field it concerns, when one does (pages show it there)

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        if message is not None:
            self.message = message
        if field is not None:
            self.field = field
        super().__init__(self.message)


class InvalidCredentials(PunchclockError):
    """Authentication failed, for whatever reason: the reason is never told."""

    code = "invalid_credentials"
    message = "Incorrect username and/or password"


class InvalidInput(PunchclockError):
    """A request field is missing, of the wrong type or out of range."""

    code = "invalid_input"


class EmailTaken(PunchclockError):
    code = "email_taken"
    message = "user with this email already exists"


class PasswordRejected(PunchclockError):
    """A new password does not meet the password policy."""

    code = "password_rejected"


class CurrentPasswordMissing(PunchclockError):
    code = "current_password_missing"
    message = "Current password must be present to change password"


class CurrentPasswordInvalid(PunchclockError):
    code = "current_password_invalid"
    message = "Current password is not valid"


class EmailChangeNeedsPassword(PunchclockError):
    """A new email address was asked for without the current password."""

    message = "Current password must be present to change email"


class EmailChangeLinkInvalid(PunchclockError):
    """An email change's confirm or undo code is unknown, used or expired."""

    message = "Email change link is invalid or has expired"


class ResetCodeInvalid(PunchclockError):
    code = "reset_code_invalid"
    message = "Password reset code is invalid or has expired"


class SessionNotFound(PunchclockError):
    """No session of the caller's has that id (someone else's is not found either)."""

    code = "session_not_found"
    message = "Session not found"


class AccountNotFound(PunchclockError):
    """No account has that email (an operator's command: nothing to hide from them)."""

    code = "account_not_found"
    message = "no account has that email"


class AccountDisabled(PunchclockError):
    """The account is disabled: what was asked needs it enabled."""

    code = "account_disabled"
    message = "the account is disabled; `punchclock accounts enable` it first"


class NotFound(PunchclockError):
    """No such thing of the caller's: another account's is not found either (no enumeration)."""

    code = "not_found"
    message = "Not found"


class CrossSiteRequest(PunchclockError):
    """A cookie-authenticated request that changes state came from another site (CSRF)."""

    code = "cross_site_request"
    message = "Cross-site request refused"


class Overloaded(PunchclockError):
    """Too much work is queued (password hashing); the caller should retry soon."""

    code = "overloaded"
    message = "Server is busy, please retry shortly"


class Throttled(PunchclockError):
    """Too many attempts of this kind from this caller or on this account; retry later."""

    code = "throttled"
    message = "Too many attempts, please retry later"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after  # seconds until an attempt may succeed


class SecondFactorRequired(PunchclockError):
    """The password (or reset code) was right and the account has two-factor on: a code is
    needed. `pending` is a single-use log-in ticket that completes the log-in with a code."""

    code = "second_factor_required"
    message = "Two-factor code required"

    def __init__(self, pending: str) -> None:
        super().__init__()
        self.pending = pending


class SecondFactorInvalid(PunchclockError):
    """A two-factor code is wrong, used already, malformed or expired, or the log-in ticket
    is unknown, used or expired. `pending`: the ticket, still usable, when there is one."""

    code = "second_factor_invalid"
    message = "Incorrect two-factor code"

    def __init__(self, pending: str | None = None) -> None:
        super().__init__()
        self.pending = pending


class PasswordNeedsSecondFactor(InvalidCredentials):
    """HTTP Basic email:password on an account with two-factor on: it would bypass the
    second factor; the API token (`<token>:api_token`) or a session works."""

    code = "password_needs_second_factor"
    message = "Two-factor authentication is on: use the API token or log in with a code"


class TwoFactorAlreadyEnabled(PunchclockError):
    code = "two_factor_already_enabled"
    message = "Two-factor authentication is already on"


class TwoFactorNotStarted(PunchclockError):
    code = "two_factor_not_started"
    message = "Start two-factor setup first"


class TwoFactorNotEnabled(PunchclockError):
    code = "two_factor_not_enabled"
    message = "Two-factor authentication is not on"


class ConfigError(PunchclockError):
    """The configuration cannot be used; the message names the variable."""

    code = "config_error"


class StoreError(PunchclockError):
    """The database cannot be used as it is (for example, it is newer than this code)."""

    code = "store_error"


class StoreUnavailable(PunchclockError):
    """The database cannot be reached right now (down, restarting, or too busy)."""

    code = "store_unavailable"
    message = "Service is temporarily unavailable, please retry shortly"
