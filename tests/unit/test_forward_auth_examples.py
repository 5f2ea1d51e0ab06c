"""examples/forward-auth/: the three configurations agree with each other and with
/api/auth/verify. nginx and Caddy also run for real (tests/system/test_forward_auth_proxies.py);
Traefik has no Debian package, so its file is checked here, by its structure only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from punchclock.web.forward_auth import IDENTITY_HEADERS, PATH

EXAMPLES = Path(__file__).parents[2] / "examples" / "forward-auth"
NGINX = (EXAMPLES / "nginx.conf").read_text()
CADDY = (EXAMPLES / "Caddyfile").read_text()
TRAEFIK: dict[str, Any] = yaml.safe_load((EXAMPLES / "traefik-dynamic.yml").read_text())["http"]

# paths punchclock serves itself (straight through) and paths of the API behind it
OWN = [
    "/api/sessions",
    "/api/sessions/0123abcd",
    "/api/signup",
    "/api/me/close_account/track",
    "/api/me/password_reset/confirm/abc",
    "/api/v9/me",
    "/api/v9/me/logged",
    "/api/v9/me/reset_token",
    "/api/openapi.json",
    "/.well-known/jwks.json",
    "/login",
    "/login/code",
    "/signup",
    "/logout",
    "/forgot",
    "/account",
    "/account/password",
    "/account/sessions/end",
    "/closed",
    "/reset/abc",
    "/static/site.0123abcd.css",
    "/email/confirm/abc",
    "/email/undo/abc",
]
PROTECTED = [
    "/",
    "/reports",
    "/api/v9/mexico",
    "/api/v9/workspaces/1/time_entries",
    "/api/auth/verify",  # asked by the proxy itself, never from outside
    "/api/sessionsX",
    "/api/signup/x",
    "/loginx",
    "/login/codex",
    "/login/code/x",
    "/login/../admin",
    "/.well-known/jwks.jsonx",
    "/accounts",
    "/staticx",
    "/email/other/abc",
    "/api/openapi.json.bak",
]


def nginx_own_patterns() -> list[str]:
    return re.findall(r"location ~ (\S+) \{", NGINX)


def caddy_own_pattern() -> str:
    (pattern,) = re.findall(r"@punchclock path_regexp punchclock (\S+)", CADDY)
    return str(pattern)


def traefik_own_pattern() -> str:
    rule = TRAEFIK["routers"]["punchclock"]["rule"]
    (pattern,) = re.findall(r"PathRegexp\(`([^`]+)`\)", rule)
    return str(pattern)


@pytest.mark.parametrize("path", OWN + PROTECTED)
def test_every_configuration_sends_the_same_paths_straight_to_punchclock(path: str) -> None:
    expected = path in OWN
    assert any(re.search(p, path) for p in nginx_own_patterns()) is expected
    assert (re.search(caddy_own_pattern(), path) is not None) is expected
    assert (re.search(traefik_own_pattern(), path) is not None) is expected


def test_nginx_copies_and_overwrites_every_identity_header() -> None:
    for header in IDENTITY_HEADERS:
        variable = "$punchclock_" + header.removeprefix("X-Punchclock-").lower().replace("-", "_")
        upstream = "$upstream_http_" + header.lower().replace("-", "_")
        assert f"auth_request_set {variable} {upstream};" in NGINX
        assert f"proxy_set_header {header} {variable};" in NGINX
    assert f"proxy_pass http://punchclock{PATH}?login=401;" in NGINX
    assert "proxy_set_header X-Original-Method $request_method;" in NGINX
    assert "proxy_set_header X-Original-URI $request_uri;" in NGINX


def test_caddy_strips_then_copies_every_identity_header() -> None:
    (copied,) = re.findall(r"copy_headers (.+)", CADDY)
    assert copied.split() == list(IDENTITY_HEADERS)
    for stripped in ("X-Punchclock-*", "X-Original-*"):
        assert CADDY.index(f"request_header -{stripped}") < CADDY.index("\tforward_auth ")
    assert f"uri {PATH}?login=302" in CADDY


def test_traefik_routes_name_what_the_file_defines() -> None:
    for router in TRAEFIK["routers"].values():
        assert router["service"] in TRAEFIK["services"]
        for middleware in router.get("middlewares", []):
            assert middleware in TRAEFIK["middlewares"]
    own, app = TRAEFIK["routers"]["punchclock"], TRAEFIK["routers"]["app"]
    assert own["priority"] > app["priority"]
    (host,) = re.findall(r"Host\(`[^`]+`\)", app["rule"])
    assert own["rule"].startswith(f"{host} && ")


def test_traefik_strips_the_callers_copies_before_it_asks_punchclock() -> None:
    assert TRAEFIK["routers"]["app"]["middlewares"] == ["punchclock-strip", "punchclock-auth"]
    stripped = TRAEFIK["middlewares"]["punchclock-strip"]["headers"]["customRequestHeaders"]
    # an empty value removes it
    assert stripped == dict.fromkeys([*IDENTITY_HEADERS, "X-Original-Method", "X-Original-URI"], "")


def test_traefik_asks_punchclocks_verify_and_copies_every_identity_header() -> None:
    auth = TRAEFIK["middlewares"]["punchclock-auth"]["forwardAuth"]
    assert auth["authResponseHeaders"] == list(IDENTITY_HEADERS)
    assert auth["trustForwardHeader"] is False
    address = urlsplit(auth["address"])
    assert (address.path, address.query) == (PATH, "login=302")
    (server,) = TRAEFIK["services"]["punchclock"]["loadBalancer"]["servers"]
    assert urlsplit(server["url"]).netloc == address.netloc
