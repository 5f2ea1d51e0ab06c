"""HTTP handlers for what Toggl clients call right after /me: workspaces, organizations,
preferences, features, location, flags, status and ToS.

Every handler but /status authenticates exactly as /me does, with the same Authenticator:
Basic or the session cookie, the same throttles and revocation, and the cross-site rule
on every POST made with the cookie (OWASP CSRF Prevention: Fetch Metadata).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from punchclock.services.workspaces import Workspaces
from punchclock.web import wire
from punchclock.web.asgi import Route
from punchclock.web.auth import Authenticator
from punchclock.web.errors import JSON
from punchclock.web.routes import json_response, read_json

# Answers that never change, encoded once. /status does no database work at all: Toggl
# Desktop polls it after any 5xx, and it must answer while the database is down.
_STATUS = msgspec.json.encode(wire.Status("OK"))
_LOCATION = msgspec.json.encode(wire.Location())


class StartupApi:
    """The endpoints of /api/v9 a Toggl client calls at start-up, besides /me."""

    def __init__(self, workspaces: Workspaces, authenticate: Authenticator) -> None:
        self.workspaces = workspaces
        self.authenticate = authenticate

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v9/me/workspaces", self.list_workspaces),
            Route("GET", "/api/v9/workspaces", self.list_workspaces),
            Route("GET", "/api/v9/workspaces/{workspace_id}", self.workspace),
            Route("GET", "/api/v9/me/organizations", self.list_organizations),
            Route("GET", "/api/v9/organizations/{organization_id}", self.organization),
            Route("GET", "/api/v9/me/features", self.features),
            Route("GET", "/api/v9/me/preferences", self.preferences),
            Route("POST", "/api/v9/me/preferences", self.update_preferences),
            Route("GET", "/api/v9/me/preferences/{client}", self.preferences),
            Route("POST", "/api/v9/me/preferences/{client}", self.update_preferences),
            Route("GET", "/api/v9/me/location", self.location),
            Route("GET", "/api/v9/me/flags", self.flags),
            Route("POST", "/api/v9/me/flags", self.add_flags),
            Route("POST", "/api/v9/me/accept_tos", self.accept_tos),
            Route("GET", "/api/v9/status", self.status),
        ]

    async def list_workspaces(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        found = await self.workspaces.workspaces(auth.account, request.query_params.get("since"))
        return json_response([wire.workspace(w) for w in found])

    async def workspace(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        found = await self.workspaces.workspace(auth.account, request.path_params["workspace_id"])
        return json_response(wire.workspace(found))

    async def list_organizations(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        found = await self.workspaces.organizations(auth.account)
        return json_response([wire.organization(o) for o in found])

    async def organization(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        found = await self.workspaces.organization(
            auth.account, request.path_params["organization_id"]
        )
        return json_response(wire.organization(found))

    async def features(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        return json_response(wire.features(await self.workspaces.workspaces(auth.account)))

    async def preferences(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        client = request.path_params.get("client")
        found = await self.workspaces.preferences(auth.account, client)
        if client is None:
            return json_response(wire.preferences(found))
        return json_response(found)  # the general ones and the client's own keys

    async def update_preferences(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        body = await read_json(request, Any)
        await self.workspaces.update_preferences(
            auth.account, body, request.path_params.get("client")
        )
        return Response(status_code=200)  # Toggl Desktop counts a 204 as a failure

    async def location(self, request: Request) -> Response:
        await self.authenticate(request)
        return Response(_LOCATION, media_type=JSON)

    async def flags(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        return json_response(await self.workspaces.flags(auth.account))

    async def add_flags(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        body = await read_json(request, Any)
        return json_response(await self.workspaces.add_flags(auth.account, body))

    async def accept_tos(self, request: Request) -> Response:
        # punchclock has no terms to accept; clients ask only if told to, which it never does
        await self.authenticate(request)
        return Response(status_code=200)

    async def status(self, request: Request) -> Response:
        return Response(_STATUS, media_type=JSON)
