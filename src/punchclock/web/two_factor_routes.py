"""HTTP handlers for two-factor authentication (issue 19): POST /api/v9/me/2fa/...

Each needs an authenticated caller (the API token or the session cookie), and the cookie's
cross-site rule applies to every one (the dispatcher's CrossSiteGuard). What a stolen
credential alone cannot do (turn it off, replace the recovery codes, enrol a new secret
while it is on) is refused in services/two_factor.py.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from punchclock.models import Account
from punchclock.services.two_factor import TwoFactor
from punchclock.web import wire
from punchclock.web.asgi import Route
from punchclock.web.auth import Authenticator, Clients
from punchclock.web.routes import json_response, read_body, read_json


class TwoFactorApi:
    """Enrol, confirm, turn off, replace recovery codes."""

    def __init__(
        self,
        two_factor: TwoFactor,
        authenticate: Authenticator,
        clients: Clients,
        render_me: Callable[[Account], Response],
    ) -> None:
        self.two_factor = two_factor
        self.authenticate = authenticate
        self.client = clients
        self.render_me = render_me  # the /me user object, as Api renders it

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/v9/me/2fa/setup", self.setup),
            Route("POST", "/api/v9/me/2fa/enable", self.enable),
            Route("POST", "/api/v9/me/2fa/disable", self.disable),
            Route("POST", "/api/v9/me/2fa/recovery_codes", self.recovery_codes),
        ]

    async def setup(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        await read_body(request)  # none is expected; a huge one is still a 413
        enrolment = await self.two_factor.begin_enrolment(auth, self.client(request))
        return json_response(
            wire.TwoFactorSetup(enrolment.secret, enrolment.otpauth_uri, enrolment.qr_svg)
        )

    async def enable(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        body = await read_json(request, wire.OtpBody)
        codes = await self.two_factor.enable(auth, body.otp, self.client(request))
        return json_response(wire.RecoveryCodes(codes))

    async def disable(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        body = await read_json(request, wire.TwoFactorDisableBody)
        account = await self.two_factor.disable(
            auth, body.otp, body.current_password, self.client(request)
        )
        return self.render_me(account)

    async def recovery_codes(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        body = await read_json(request, wire.OtpBody)
        codes = await self.two_factor.regenerate_recovery_codes(
            auth, body.otp, self.client(request)
        )
        return json_response(wire.RecoveryCodes(codes))
