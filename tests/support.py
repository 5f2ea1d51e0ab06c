"""Small helpers shared by the tests: credentials, cookies, the outbox."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import httpx

from punchclock.web.auth import COOKIE

PASSWORD = "correct horse battery staple"
FORBIDDEN = "Incorrect username and/or password"


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def token_auth(token: str) -> dict[str, str]:
    return basic(token, "api_token")


def cookie_header(session: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={session}"}


def session_from(response: httpx.Response) -> str:
    """Return the session JWT set by a response (Secure cookies are not kept on http)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            value = rest.partition(";")[0]
            assert value, f"the cookie was cleared, not set: {header}"
            return value
    raise AssertionError(f"no {COOKIE} cookie in {response.headers.get_list('set-cookie')}")


def outbox(data_dir: Path) -> list[EmailMessage]:
    folder = data_dir / "outbox"
    if not folder.exists():
        return []
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def reset_code_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"/api/me/password_reset/confirm/([A-Za-z0-9_-]+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)
