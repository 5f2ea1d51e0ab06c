from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from punchclock.errors import InvalidCredentials
from punchclock.keys import KeyRing, new_signing_key
from punchclock.tokens import (
    HmacSha256,
    SecretBox,
    SessionTokens,
    new_accounts_id,
    new_api_token,
    new_jti,
    new_reset_code,
)

NOW = 1_800_000_000
KEY = new_signing_key(dt.date(2026, 11, 28), set())
RING = KeyRing.of([KEY])
ISSUER = "https://accounts.example.com"


@pytest.fixture
def sessions() -> SessionTokens:
    return SessionTokens(RING, ISSUER, 28 * 24 * 3600)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_ids_and_secrets_have_toggls_shapes_and_enough_entropy() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", new_api_token())
    assert re.fullmatch(r"[A-Za-z0-9]{22}", new_accounts_id())
    assert re.fullmatch(r"[0-9a-f]{32}", new_jti())
    code = new_reset_code()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code)  # 256 bits
    assert len({new_reset_code() for _ in range(100)}) == 100


def test_issued_session_verifies_and_names_account_and_session(sessions: SessionTokens) -> None:
    token, kid = sessions.issue("a" * 22, "b" * 32, NOW)
    assert kid == "2026-11-28"
    claims = sessions.verify(token, NOW)
    assert (claims.sub, claims.jti, claims.exp) == ("a" * 22, "b" * 32, NOW + 28 * 24 * 3600)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "2026-11-28", "typ": "JWT"}


def test_session_is_valid_from_nbf_until_exp_with_a_small_leeway(sessions: SessionTokens) -> None:
    token, _ = sessions.issue("a" * 22, "b" * 32, NOW)
    sessions.verify(token, NOW - 300)
    sessions.verify(token, NOW + 28 * 24 * 3600 + 29)
    with pytest.raises(InvalidCredentials):
        sessions.verify(token, NOW + 28 * 24 * 3600 + 31)
    with pytest.raises(InvalidCredentials):
        sessions.verify(token, NOW - 300 - 31)


def _signed(claims: dict[str, object], headers: dict[str, object] | None = None) -> str:
    return jwt.encode(
        claims, KEY.private_key, algorithm="EdDSA", headers={"kid": KEY.kid, **(headers or {})}
    )


GOOD = {
    "aud": ["track"],
    "exp": NOW + 100,
    "iat": NOW,
    "iss": ISSUER,
    "jti": "b" * 32,
    "nbf": NOW - 300,
    "sub": "a" * 22,
}


@pytest.mark.parametrize(
    "claims",
    [
        {**GOOD, "aud": ["other"]},
        {**GOOD, "iss": "https://evil.example.com"},
        {k: v for k, v in GOOD.items() if k != "jti"},
        {k: v for k, v in GOOD.items() if k != "exp"},
        {**GOOD, "exp": "soon"},
        {**GOOD, "sub": 5},
    ],
)
def test_tokens_with_wrong_claims_are_refused(
    sessions: SessionTokens, claims: dict[str, object]
) -> None:
    with pytest.raises(InvalidCredentials):
        sessions.verify(_signed(claims), NOW)


def test_an_unknown_kid_is_refused(sessions: SessionTokens) -> None:
    with pytest.raises(InvalidCredentials):
        sessions.verify(_signed(GOOD, {"kid": "2020-01-01"}), NOW)


def test_alg_none_is_refused(sessions: SessionTokens) -> None:
    token = f"{_b64({'alg': 'none', 'kid': KEY.kid, 'typ': 'JWT'})}.{_b64(GOOD)}."
    with pytest.raises(InvalidCredentials):
        sessions.verify(token, NOW)


def test_hs256_with_the_public_key_as_secret_is_refused(sessions: SessionTokens) -> None:
    public = KEY.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = _b64({"alg": "HS256", "kid": KEY.kid, "typ": "JWT"})
    body = _b64(GOOD)
    signature = hmac.digest(public, f"{header}.{body}".encode(), hashlib.sha256)
    token = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    with pytest.raises(InvalidCredentials):
        sessions.verify(token, NOW)


@pytest.mark.parametrize("token", ["", ".", "..", "a.b.c", "x" * 5000, "\u00e9.\u00e9.\u00e9"])
def test_garbage_is_refused_without_other_exceptions(sessions: SessionTokens, token: str) -> None:
    with pytest.raises(InvalidCredentials):
        sessions.verify(token, NOW)


def test_a_wrong_typ_is_refused(sessions: SessionTokens) -> None:
    with pytest.raises(InvalidCredentials):
        sessions.verify(_signed(GOOD, {"typ": "at+jwt"}), NOW)


def test_sealed_token_opens_only_with_the_same_key_and_account() -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.seal_token("0123456789abcdef0123456789abcdef", "account-a")
    assert b"0123456789abcdef" not in sealed
    assert box.open_token(sealed, "account-a") == "0123456789abcdef0123456789abcdef"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        box.open_token(sealed, "account-b")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(b"j" * 32).open_token(sealed, "account-a")


def test_lookups_are_keyed_and_separate_per_purpose() -> None:
    box, other = SecretBox(b"k" * 32), SecretBox(b"j" * 32)
    assert box.token_lookup("t") == box.token_lookup("t")
    assert box.token_lookup("t") != other.token_lookup("t")
    assert box.token_lookup("t") != box.reset_code_lookup("t")


def test_the_server_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox(b"short")


def test_rs256_is_refused_even_when_correctly_signed(sessions: SessionTokens) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(GOOD, rsa_key, algorithm="RS256", headers={"kid": KEY.kid})
    with pytest.raises(InvalidCredentials):
        sessions.verify(token, NOW)


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
def test_hmac_sha256_gives_the_bytes_of_the_standard_library(key_length: int) -> None:
    """API tokens are found by this HMAC in databases written before it: it must not move."""
    key = os.urandom(key_length)
    mac = HmacSha256(key)
    for message in (b"", b"a", os.urandom(32), os.urandom(64), os.urandom(1000)):
        assert mac.digest(message) == hmac.digest(key, message, "sha256")
    assert mac.digest(b"x") == mac.digest(b"x")  # the precomputed states are not consumed
