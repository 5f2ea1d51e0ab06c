"""What the hot path must not do: /me by API token is most of a Toggl client's traffic."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from punchclock.models import ClientInfo
from punchclock.services import Services
from punchclock.web.auth import Authenticator, Clients
from tests.conftest import User
from tests.support import basic


class NoClients(Clients):
    def __call__(self, request: Request) -> ClientInfo:
        raise AssertionError("the client was worked out")


def request_with(headers: dict[str, str]) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/v9/me",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("203.0.113.7", 4321),
        }
    )


async def test_a_token_is_checked_without_working_out_the_client(
    services: Services, user: User
) -> None:
    """The client (address, user agent) is for throttling and the audit trail, neither of
    which a token has: working it out cost a quarter of /me by token."""
    authenticate = Authenticator(services.credentials, services.attempts, NoClients())
    auth = await authenticate(request_with(basic(user.token, "api_token")))
    assert auth.account.email == user.email
    with pytest.raises(AssertionError, match="the client was worked out"):
        await authenticate(request_with(basic(user.email, user.password)))
