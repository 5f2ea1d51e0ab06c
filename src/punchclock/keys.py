"""Ed25519 signing keys for session JWTs, named (`kid`) by the date they were made."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The key new sessions are signed with, and every key a session may still be verified by."""

    current: SigningKey
    verifying: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: list[SigningKey], signing: set[str] | None = None) -> KeyRing:
        """Build a ring whose current key is the newest (kids sort by date, then suffix).

        With `signing`, the newest of those kids signs; the others only verify.
        """
        if not keys:
            raise ValueError("a key ring needs at least one key")
        ordered = sorted(keys, key=lambda k: _kid_order(k.kid))
        may_sign = [k for k in ordered if signing is None or k.kid in signing] or ordered[:1]
        return cls(current=may_sign[-1], verifying={k.kid: k.public_key for k in ordered})


def new_signing_key(today: dt.date, taken: set[str]) -> SigningKey:
    """Make a key named by today's date; a second key the same day gets a suffix (-2, -3...)."""
    kid = today.isoformat()
    n = 1
    while kid in taken:
        n += 1
        kid = f"{today.isoformat()}-{n}"
    return SigningKey(kid=kid, private_key=Ed25519PrivateKey.generate())


def key_to_pem(key: SigningKey) -> bytes:
    return key.private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def key_from_pem(kid: str, pem: bytes) -> SigningKey:
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"signing key {kid} is not an Ed25519 key")
    return SigningKey(kid=kid, private_key=private_key)


def _kid_order(kid: str) -> tuple[str, int]:
    # "2026-11-28" or "2026-11-28-2": the date is the first ten characters, then a suffix
    suffix = kid[11:]
    return kid[:10], int(suffix) if suffix.isdigit() else 1


def jwks(ring: KeyRing) -> dict[str, list[dict[str, str]]]:
    """Return the public keys as a JSON Web Key Set (RFC 8037 OKP keys, public parts only)."""
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": base64.urlsafe_b64encode(
                    key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                )
                .rstrip(b"=")
                .decode(),
                "kid": kid,
                "use": "sig",
                "alg": "EdDSA",
            }
            for kid, key in ring.verifying.items()
        ]
    }
