"""Two-factor codes: TOTP secrets and codes (RFC 6238), enrolment QR codes, recovery codes.

Pure functions, no I/O: the services decide when a code counts (one use, throttled).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

import pyotp
import segno

STEP = 30  # seconds a TOTP code lives (RFC 6238's default, which authenticator apps assume)
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends; 32 base32 characters
# Accepted: the current step and the one before, for a clock a little behind or a code typed
# as it turned over; never more (NIST SP 800-63B 5.1.4.1 limits the window)
STEPS_ACCEPTED = (0, -1)
RECOVERY_CODES = 10
RECOVERY_GROUPS = 4
RECOVERY_GROUP = 6  # base32 characters: 4 x 6 x 5 = 120 bits (ASVS 5 V6.5.2 asks >= 112)
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TOTP_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")
_RECOVERY_CODE = re.compile(rf"[{_BASE32}]{{{RECOVERY_GROUPS * RECOVERY_GROUP}}}")


def new_secret() -> str:
    """Return a new TOTP secret: 160 bits from the OS CSPRNG, in base32 (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode()


def step_at(now: int) -> int:
    """Return the TOTP time step of a moment in microseconds."""
    return now // 1_000_000 // STEP


def code_at(secret: str, step: int) -> str:
    """Return the code of a secret for one time step."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).generate_otp(step)


def matching_step(secret: str, code: str, now: int) -> int | None:
    """Return the step within the window whose code `code` is, newest first; else None.

    Compared in constant time (hmac.compare_digest), every step of the window each time.
    """
    current = step_at(now)
    found = None
    for offset in STEPS_ACCEPTED:
        if hmac.compare_digest(code_at(secret, current + offset), code) and found is None:
            found = current + offset
    return found


def otpauth_uri(secret: str, email: str, issuer: str) -> str:
    """Return the otpauth:// URI authenticator apps read (label "issuer:email")."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=email, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """Return an SVG document of the URI's QR code, safe to inline in HTML (no script, no
    XML declaration; segno escapes nothing it did not make)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, border=2, title="QR code")
    return svg


def new_recovery_codes() -> list[str]:
    """Return fresh recovery codes, shown once: XXXXXX-XXXXXX-XXXXXX-XXXXXX, 120 bits each."""
    return [
        "-".join(
            "".join(secrets.choice(_BASE32) for _ in range(RECOVERY_GROUP))
            for _ in range(RECOVERY_GROUPS)
        )
        for _ in range(RECOVERY_CODES)
    ]


def recovery_code(code: str) -> str | None:
    """Return a recovery code as stored (upper case, no dashes or spaces), or None if the
    text cannot be one: people copy them with any case and spacing."""
    cleaned = re.sub(r"[\s-]", "", code).upper()
    return cleaned if _RECOVERY_CODE.fullmatch(cleaned) else None


def totp_code(code: str) -> str | None:
    """Return a TOTP code without the spaces some apps show ("123 456"), or None."""
    cleaned = re.sub(r"\s", "", code)
    return cleaned if _TOTP_CODE.fullmatch(cleaned) else None
