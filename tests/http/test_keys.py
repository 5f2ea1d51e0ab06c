from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import jwt

from punchclock.cli import manage_keys
from punchclock.config import Settings
from punchclock.store.keyfiles import rotate_signing_key
from tests.conftest import User, log_in
from tests.support import cookie_header


def _header(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


async def test_jwks_publishes_public_okp_keys_with_cache_headers(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    [key] = response.json()["keys"]
    assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
    }
    assert key["kid"] == _header(user.session)["kid"]
    assert "d" not in key  # the private part never leaves the data dir
    assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32


async def test_another_service_can_verify_a_session_with_the_jwks_alone(
    client: httpx.AsyncClient, user: User
) -> None:
    jwks = jwt.PyJWKSet.from_dict((await client.get("/.well-known/jwks.json")).json())
    kid = _header(user.session)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        user.session,
        key.key,
        algorithms=["EdDSA"],
        audience="track",
        issuer="http://testserver",
    )
    assert claims["sub"] == user.me["toggl_accounts_id"]


async def test_after_a_rotation_new_sessions_use_the_new_key_and_old_ones_still_work(
    client: httpx.AsyncClient, user: User, data_dir: Path
) -> None:
    old_kid = _header(user.session)["kid"]
    new = rotate_signing_key(data_dir, dt.date(2030, 1, 1))
    fresh = await log_in(client, user)
    assert _header(fresh)["kid"] == new.kid == "2030-01-01"
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(fresh))).status_code == 200
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {old_kid, new.kid}


async def test_retiring_a_key_ends_its_sessions_at_once(
    client: httpx.AsyncClient, user: User, data_dir: Path, settings: Settings
) -> None:
    old_kid = _header(user.session)["kid"]
    rotate_signing_key(data_dir, dt.date(2030, 1, 1))
    fresh = await log_in(client, user)
    assert await manage_keys(settings, "retire", old_kid) == 0
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403
    assert (await client.get("/api/v9/me", headers=cookie_header(fresh))).status_code == 200
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {"2030-01-01"}
    assert not (data_dir / "keys" / f"{old_kid}.pem").exists()


async def test_the_key_that_signs_new_sessions_cannot_be_retired(
    client: httpx.AsyncClient, user: User, settings: Settings
) -> None:
    kid = _header(user.session)["kid"]
    assert await manage_keys(settings, "retire", kid) == 2
    assert await manage_keys(settings, "retire", "1999-01-01") == 2
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200
