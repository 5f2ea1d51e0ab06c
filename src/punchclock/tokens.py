"""Session JWTs, API tokens, reset codes and account ids: making, sealing and checking them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from punchclock.errors import InvalidCredentials
from punchclock.keys import KeyRing, SigningKey

DEVICE_BYTES = 16  # a device cookie's random id: 128 bits
ACCOUNTS_ID_ALPHABET = string.ascii_letters + string.digits
AUDIENCE = "track"
NBF_SKEW = 300  # seconds: the real service sets nbf = iat - 300
LEEWAY = 30  # seconds of clock difference tolerated when checking exp and nbf
MAX_TOKEN = 4096  # characters: a session JWT is about 400


def new_api_token() -> str:
    """Return a Toggl-shaped API token: 32 hex characters, 128 random bits."""
    return secrets.token_hex(16)


def new_accounts_id() -> str:
    """Return a 22-character `toggl_accounts_id` (about 131 random bits)."""
    return "".join(secrets.choice(ACCOUNTS_ID_ALPHABET) for _ in range(22))


def new_jti() -> str:
    """Return a session id: 32 hex characters, 128 bits from the OS CSPRNG (ASVS 5 V7.2.3)."""
    return secrets.token_hex(16)


def new_session_id() -> str:
    """Return a session's public id: 32 hex characters, unrelated to its secret jti."""
    return secrets.token_hex(16)


def new_mail_id() -> str:
    """Return an outbox message id: 32 hex characters, unguessable, never reused."""
    return secrets.token_hex(16)


def new_link_code() -> str:
    """Return a URL-safe code of 256 random bits for an email change's link."""
    return secrets.token_urlsafe(32)


def _email_key(email: str) -> str:
    """Return an email as accounts are found and throttled by it."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def new_reset_code() -> str:
    """Return a URL-safe password reset code of 256 random bits."""
    return secrets.token_urlsafe(32)


class HmacSha256:
    """HMAC-SHA256 under one key (RFC 2104), with the key's padded blocks hashed once.

    The same bytes as hmac.digest(key, message, "sha256"), at a fifth of the cost: OpenSSL 3
    looks the algorithm up and sets the key up again on every hmac.digest call, 2-5 us of
    a /me by token that costs ~40. tests/unit/test_tokens.py compares the two.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block: longer keys are hashed first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class SecretBox:
    """Keyed hashes and encryption under the server key, which never enters the database.

    API tokens must be shown again by `/me`, so they are stored encrypted (AES-256-GCM) and
    found by an HMAC of the token; reset codes are only ever found, so only their HMAC is
    kept. Queued emails carry live reset codes, so they too are stored encrypted. A database
    dump without the server key yields none of these (ASVS 4.0.3 V2.5.1, V2.7.5).
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the server key must be 32 bytes")
        self._token_lookup = HmacSha256(_derive(master_key, b"api-token-lookup"))
        self._reset_code_lookup = HmacSha256(_derive(master_key, b"reset-code-lookup"))
        self._aead = AESGCM(_derive(master_key, b"api-token-seal"))
        self._key_aead = AESGCM(_derive(master_key, b"signing-key-seal"))
        self._mail_aead = AESGCM(_derive(master_key, b"mail-seal"))
        self._email_change_key = _derive(master_key, b"email-change-lookup")
        self._device_key = _derive(master_key, b"device-cookie")
        self._form_key = _derive(master_key, b"form-token")
        self._totp_aead = AESGCM(_derive(master_key, b"totp-seal"))
        self._recovery_key = _derive(master_key, b"recovery-code-lookup")
        self._ticket_key = _derive(master_key, b"two-factor-ticket-lookup")

    def form_mac(self, data: str) -> bytes:
        """Return the keyed hash that binds a page's form token to a browser (anti-CSRF)."""
        return hmac.digest(self._form_key, data.encode(), "sha256")

    def token_lookup(self, token: str) -> bytes:
        """Return the keyed hash an API token is found by."""
        return self._token_lookup.digest(token.encode())

    def reset_code_lookup(self, code: str) -> bytes:
        """Return the keyed hash a reset code is stored as."""
        return self._reset_code_lookup.digest(code.encode())

    def email_change_lookup(self, code: str) -> bytes:
        """Return the keyed hash an email change's confirm or undo code is stored as."""
        return hmac.digest(self._email_change_key, code.encode(), "sha256")

    def device_cookie(self, email: str) -> str:
        """Return a new device cookie for the account with this email: a random device id
        and its HMAC with the email, so that nobody without the server key can make one
        (OWASP, "Slow Down Online Guessing Attacks with Device Cookies")."""
        device = secrets.token_urlsafe(DEVICE_BYTES)
        return f"{device}.{self._device_mac(email, device)}"

    def device_of(self, cookie: str | None, email: str) -> str | None:
        """Return the device id of a cookie made by device_cookie for this email, else None."""
        if not cookie or len(cookie) > 200:
            return None
        device, _, mac = cookie.partition(".")
        if not device or not hmac.compare_digest(mac, self._device_mac(email, device)):
            return None
        return device

    def _device_mac(self, email: str, device: str) -> str:
        message = f"{_email_key(email)}\0{device}".encode("utf-8", "surrogatepass")
        digest = hmac.digest(self._device_key, message, "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def seal_token(self, token: str, accounts_id: str) -> bytes:
        """Encrypt an API token, bound to its account so it cannot be moved to another."""
        return _seal(self._aead, token.encode(), accounts_id)

    def open_token(self, sealed: bytes, accounts_id: str) -> str:
        """Decrypt an API token sealed by seal_token."""
        return _open(self._aead, sealed, accounts_id, "API token").decode()

    def seal_totp(self, secret: str, accounts_id: str) -> bytes:
        """Encrypt a TOTP secret, bound to its account as API tokens are (ASVS 5 V6.5.4)."""
        return _seal(self._totp_aead, secret.encode(), accounts_id)

    def open_totp(self, sealed: bytes, accounts_id: str) -> str:
        """Decrypt a TOTP secret sealed by seal_totp."""
        return _open(self._totp_aead, sealed, accounts_id, "TOTP secret").decode()

    def recovery_code_lookup(self, code: str, account_id: int) -> bytes:
        """Return the keyed hash a recovery code is stored as: 120 random bits under an HMAC,
        so a database dump cannot be replayed (ASVS 5 V6.5.2), bound to its account."""
        return hmac.digest(self._recovery_key, f"{account_id}\0{code}".encode(), "sha256")

    def ticket_lookup(self, ticket: str) -> bytes:
        """Return the keyed hash a two-factor log-in ticket is stored as."""
        return hmac.digest(self._ticket_key, ticket.encode(), "sha256")

    def seal_signing_key(self, pem: bytes, kid: str) -> bytes:
        """Encrypt a session signing key for the database, bound to its kid."""
        return _seal(self._key_aead, pem, kid)

    def open_signing_key(self, sealed: bytes, kid: str) -> bytes:
        """Decrypt a key sealed by seal_signing_key; ValueError under another server key."""
        return _open(self._key_aead, sealed, kid, f"signing key {kid}")

    def seal_mail(self, message: bytes, mail_id: str) -> bytes:
        """Encrypt a queued message, bound to its outbox id so it cannot be moved to another."""
        return _seal(self._mail_aead, message, mail_id)

    def open_mail(self, sealed: bytes, mail_id: str) -> bytes:
        """Decrypt a message sealed by seal_mail."""
        return _open(self._mail_aead, sealed, mail_id, "the message")


def _seal(aead: AESGCM, data: bytes, bound_to: str) -> bytes:
    """Return nonce + AES-GCM ciphertext, authenticated together with `bound_to`."""
    nonce = os.urandom(12)  # 96 random bits: no repeat in 2^32 seals under one key (NIST 800-38D)
    return nonce + aead.encrypt(nonce, data, bound_to.encode())


def _open(aead: AESGCM, sealed: bytes, bound_to: str, what: str) -> bytes:
    try:
        return aead.decrypt(sealed[:12], sealed[12:], bound_to.encode())
    except InvalidTag:
        raise ValueError(f"{what} cannot be decrypted: wrong server key?") from None


def _derive(master_key: bytes, label: bytes) -> bytes:
    return hmac.digest(master_key, b"punchclock/" + label, hashlib.sha256)


@dataclass(frozen=True, slots=True)
class SessionClaims:
    sub: str  # toggl_accounts_id
    jti: str
    exp: int  # seconds since the Unix epoch
    nbf: int


class SessionTokens:
    """Issue and verify the session cookie's JWT, shaped as Toggl's accounts service does."""

    def __init__(
        self,
        keys: KeyRing | Callable[[], KeyRing],
        issuer: str,
        lifetime: int,
        cache_size: int = 10_000,
    ) -> None:
        # a ring, or a function returning the current ring (rotation changes it)
        self._keys: Callable[[], KeyRing] = (lambda: keys) if isinstance(keys, KeyRing) else keys
        self._issuer = issuer
        self._lifetime = lifetime
        # An Ed25519 check costs more than the rest of a request. What it proves about a
        # given token never changes, so it is done once per token and remembered; whether
        # the session is still live is asked of the store on every request regardless.
        self._signed_claims = functools.lru_cache(maxsize=cache_size)(self._check_signature)

    def issue(self, accounts_id: str, jti: str, now: int) -> tuple[str, str]:
        """Return a signed JWT for a new session and the kid of the key that signed it."""
        claims = {  # in the real service's order
            "aud": [AUDIENCE],
            "exp": now + self._lifetime,
            "iat": now,
            "iss": self._issuer,
            "jti": jti,
            "nbf": now - NBF_SKEW,
            "sub": accounts_id,
        }
        key = self._keys().current
        token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
        return token, key.kid

    @property
    def lifetime(self) -> int:
        """Return how long a session lasts, in seconds: its JWT's exp - iat."""
        return self._lifetime

    @property
    def ring(self) -> KeyRing:
        return self._keys()

    def verify(self, token: str, now: int) -> SessionClaims:
        """Return the claims of a token valid at `now`; raise InvalidCredentials otherwise."""
        if len(token) > MAX_TOKEN:
            raise InvalidCredentials()
        claims = self._signed_claims(token)
        if not claims.nbf - LEEWAY <= now < claims.exp + LEEWAY:
            raise InvalidCredentials()
        return claims

    def _check_signature(self, token: str) -> SessionClaims:
        """Return the claims of a token signed by one of our keys, or raise; time not checked."""
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            public_key = self._keys().verifying.get(kid) if isinstance(kid, str) else None
            if public_key is None or header.get("typ") != "JWT":
                raise InvalidCredentials()
            claims: dict[str, Any] = jwt.decode(
                token,
                public_key,
                algorithms=["EdDSA"],  # an allowlist: never "none", never HMAC (ASVS 5 V9.1.2)
                audience=AUDIENCE,
                issuer=self._issuer,
                options={
                    "require": ["aud", "exp", "iat", "iss", "jti", "nbf", "sub"],
                    # checked in verify() against the service's clock, not the wall clock
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError, UnicodeError):
            raise InvalidCredentials() from None
        sub, jti, exp, nbf = claims["sub"], claims["jti"], claims["exp"], claims["nbf"]
        if not (
            isinstance(sub, str) and isinstance(jti, str) and type(exp) is int and type(nbf) is int
        ):
            raise InvalidCredentials()
        return SessionClaims(sub=sub, jti=jti, exp=exp, nbf=nbf)


IDENTITY_AUDIENCE = "punchclock-forward-auth"  # never "track": it is no session cookie
IDENTITY_LIFETIME = 60  # seconds


def identity_token(key: SigningKey, issuer: str, claims: dict[str, object], now: int) -> str:
    """Return a short-lived JWT vouching for forward auth's identity headers.

    Signed with the session key and verifiable with the JWKS, so an upstream that does not
    trust its network can check them. Its audience is not the session's and it names no
    session (`jti`), so it is refused as a cookie twice over (ASVS 5 V9.2.1, V9.2.3).
    """
    registered = {
        "aud": [IDENTITY_AUDIENCE],
        "exp": now + IDENTITY_LIFETIME,
        "iat": now,
        "iss": issuer,
        "nbf": now - LEEWAY,
    }
    return jwt.encode(
        {**claims, **registered}, key.private_key, algorithm="EdDSA", headers={"kid": key.kid}
    )
