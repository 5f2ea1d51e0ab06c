"""src/punchclock/web/openapi.json: a valid OpenAPI 3.1 document, in step with the routes and
the wire shapes, and every answer of the main flows is one it promises."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from punchclock.web import wire
from punchclock.web.asgi import App
from tests.conftest import User, sign_up
from tests.contract import check_answer, load_document, operations, pointer, validator
from tests.http.test_signup import ME_KEYS
from tests.support import FORBIDDEN, basic, cookie_header, outbox, reset_code_in, token_auth

DOCUMENT = load_document()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def wire_names(struct: type[msgspec.Struct]) -> list[str]:
    return [field.encode_name for field in msgspec.structs.fields(struct)]


# -- the document itself -------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


async def test_the_document_describes_exactly_the_routes_the_app_serves(app: App) -> None:
    # the pages for people (web/pages: /login, /account, ...) are HTML, not API
    routed = {
        (route.method, route.path)
        for route in app.routes
        if not route.handler.__qualname__.startswith("Pages.")
    }
    assert len(routed) < len(app.routes)  # the pages are served too
    documented = operations(DOCUMENT)
    undocumented, unrouted = sorted(routed - documented), sorted(documented - routed)
    assert not undocumented, f"routes the document does not describe: {undocumented}"
    assert not unrouted, f"operations the app does not route: {unrouted}"


def test_every_schema_example_matches_its_schema() -> None:
    for name, schema in SCHEMAS.items():
        for example in schema.get("examples", []):
            validator(pointer("components", "schemas", name)).validate(example)


@pytest.mark.parametrize(
    ("schema", "struct"),
    [
        ("Me", wire.Me),
        ("MeUpdated", wire.MeUpdated),
        ("MeWithRelatedData", wire.MeWithRelatedData),
        ("Workspace", wire.WorkspaceView),
        ("Session", wire.SessionView),
    ],
)
def test_answer_schemas_list_the_wire_fields_in_order_all_required(
    schema: str, struct: type[msgspec.Struct]
) -> None:
    properties = list(SCHEMAS[schema]["properties"])
    assert properties == wire_names(struct)
    assert SCHEMAS[schema]["required"] == properties
    assert SCHEMAS[schema]["additionalProperties"] is False


def test_me_is_in_the_order_toggl_clients_see() -> None:
    assert list(SCHEMAS["Me"]["properties"]) == ME_KEYS


@pytest.mark.parametrize("schema", ["MeUpdated", "MeWithRelatedData"])
def test_the_me_variants_describe_me_s_fields_as_me_does(schema: str) -> None:
    me = SCHEMAS["Me"]["properties"]
    variant = SCHEMAS[schema]["properties"]
    assert {key: variant[key] for key in me} == me


@pytest.mark.parametrize(
    ("schema", "struct"),
    [
        ("SignUp", wire.SignUpBody),
        ("LogIn", wire.LogInBody),
        ("PasswordResetRequest", wire.ResetRequestBody),
        ("PasswordResetConfirm", wire.ResetConfirmBody),
    ],
)
def test_request_schemas_list_the_fields_the_server_reads(
    schema: str, struct: type[msgspec.Struct]
) -> None:
    assert list(SCHEMAS[schema]["properties"]) == wire_names(struct)
    required = [f.encode_name for f in msgspec.structs.fields(struct) if f.required]
    assert SCHEMAS[schema]["required"] == required


# -- real answers match it -----------------------------------------------------------------


async def test_sign_up_answers_as_documented(client: httpx.AsyncClient) -> None:
    body = {"email": "ada@example.com", "password": "first-password-1", "remember_me": True}
    response = await client.post("/api/signup", json=body)
    assert response.status_code == 200
    assert check_answer(response, "POST", "/api/signup")["email"] == "ada@example.com"
    taken = await client.post("/api/signup", json=body)
    assert taken.status_code == 400
    assert check_answer(taken, "POST", "/api/signup") == "user with this email already exists"
    bad = await client.post("/api/signup", json={"email": "ada@example.com"})
    assert bad.status_code == 400
    check_answer(bad, "POST", "/api/signup")


async def test_a_body_over_64_kib_answers_as_documented(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/signup", content=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413
    assert check_answer(response, "POST", "/api/signup") == "Request body is too large"


async def test_me_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    response = await client.get("/api/v9/me", headers=token_auth(user.token))
    assert response.status_code == 200
    me = check_answer(response, "GET", "/api/v9/me")
    validator(pointer("components", "schemas", "Me")).validate(me)
    # the schemas pin the shape down: a field Toggl sends but punchclock must not is caught
    assert not validator(pointer("components", "schemas", "Me")).is_valid(
        {**me, "intercom_hash": "0" * 64}
    )


async def test_me_with_related_data_answers_as_documented(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get(
        "/api/v9/me?with_related_data=true", headers=cookie_header(user.session)
    )
    assert response.status_code == 200
    me = check_answer(response, "GET", "/api/v9/me")
    validator(pointer("components", "schemas", "MeWithRelatedData")).validate(me)


async def test_me_errors_answer_as_documented(client: httpx.AsyncClient, user: User) -> None:
    bad_flag = await client.get(
        "/api/v9/me?with_related_data=maybe", headers=token_auth(user.token)
    )
    assert bad_flag.status_code == 400
    check_answer(bad_flag, "GET", "/api/v9/me")
    refused = await client.get("/api/v9/me", headers=basic(user.email, "not the password"))
    assert refused.status_code == 403
    assert check_answer(refused, "GET", "/api/v9/me") == FORBIDDEN


async def test_put_me_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    changes = {"fullname": "Ada King", "timezone": "America/New_York", "beginning_of_week": 0}
    response = await client.put("/api/v9/me", headers=token_auth(user.token), json=changes)
    assert response.status_code == 200
    assert check_answer(response, "PUT", "/api/v9/me")["fullname"] == "Ada King"
    invalid = await client.put(
        "/api/v9/me", headers=token_auth(user.token), json={"timezone": "Mars/Olympus"}
    )
    assert invalid.status_code == 400
    assert check_answer(invalid, "PUT", "/api/v9/me") == "Invalid timezone"


async def test_log_in_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    body = {"email": user.email, "password": user.password, "remember_me": True}
    response = await client.post("/api/sessions", json=body)
    assert response.status_code == 200
    check_answer(response, "POST", "/api/sessions")
    refused = await client.post("/api/sessions", json={**body, "password": "not it at all"})
    assert refused.status_code == 403
    assert check_answer(refused, "POST", "/api/sessions") == FORBIDDEN


async def test_sessions_list_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    await client.post("/api/sessions", json={"email": user.email, "password": user.password})
    response = await client.get("/api/sessions", headers=cookie_header(user.session))
    assert response.status_code == 200
    sessions = check_answer(response, "GET", "/api/sessions")
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1


async def test_ending_a_session_by_id_answers_as_documented(
    client: httpx.AsyncClient, user: User
) -> None:
    other = await sign_up(client, "bob@example.com")
    theirs = await client.get("/api/sessions", headers=token_auth(other.token))
    mine = await client.get("/api/sessions", headers=token_auth(user.token))
    assert (theirs.status_code, mine.status_code) == (200, 200)
    path = "/api/sessions/{id}"
    not_mine = await client.delete(
        f"/api/sessions/{theirs.json()[0]['id']}", headers=token_auth(user.token)
    )
    assert not_mine.status_code == 404
    check_answer(not_mine, "DELETE", path)
    ended = await client.delete(
        f"/api/sessions/{mine.json()[0]['id']}", headers=token_auth(user.token)
    )
    assert ended.status_code == 200
    check_answer(ended, "DELETE", path)


async def test_log_out_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    response = await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert response.status_code == 200
    check_answer(response, "DELETE", "/api/sessions")
    again = await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert again.status_code == 403
    check_answer(again, "DELETE", "/api/sessions")


async def test_logged_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    response = await client.get("/api/v9/me/logged", headers=token_auth(user.token))
    assert response.status_code == 200
    check_answer(response, "GET", "/api/v9/me/logged")
    refused = await client.get("/api/v9/me/logged")
    assert refused.status_code == 403
    check_answer(refused, "GET", "/api/v9/me/logged")


async def test_reset_token_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    response = await client.post("/api/v9/me/reset_token", headers=token_auth(user.token))
    assert response.status_code == 200
    assert check_answer(response, "POST", "/api/v9/me/reset_token") != user.token


async def test_password_reset_answers_as_documented(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    requested = await client.post("/api/me/password_reset/request", json={"email": user.email})
    assert requested.status_code == 200
    assert check_answer(requested, "POST", "/api/me/password_reset/request") == "OK"
    await app.drain()  # the code is made, queued and sent after the answer
    code = reset_code_in(outbox(data_dir)[0])
    path = "/api/me/password_reset/confirm/{code}"
    confirmed = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": "third-password-3"}
    )
    assert confirmed.status_code == 200
    check_answer(confirmed, "POST", path)
    used = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": "fourth-password-4"}
    )
    assert used.status_code == 400
    check_answer(used, "POST", path)


async def test_close_account_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    response = await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    assert response.status_code == 200
    check_answer(response, "POST", "/api/me/close_account/track")
    again = await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    assert again.status_code == 403
    check_answer(again, "POST", "/api/me/close_account/track")


async def test_jwks_answers_as_documented(client: httpx.AsyncClient, user: User) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = check_answer(response, "GET", "/.well-known/jwks.json")["keys"]
    header = user.session.split(".")[0]
    kid = msgspec.json.decode(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    assert kid in [key["kid"] for key in keys]


async def test_the_served_document_is_this_one(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert check_answer(response, "GET", "/api/openapi.json") == DOCUMENT


@pytest.mark.parametrize(
    ("schema", "struct"),
    [
        ("Organization", wire.OrganizationView),
        ("TrialInfo", wire.TrialInfo),
        ("WorkspaceFeatures", wire.WorkspaceFeatures),
        ("Feature", wire.Feature),
        ("AlphaFeature", wire.AlphaFeature),
        ("Status", wire.Status),
    ],
)
def test_start_up_answer_schemas_list_the_wire_fields_in_order_all_required(
    schema: str, struct: type[msgspec.Struct]
) -> None:
    test_answer_schemas_list_the_wire_fields_in_order_all_required(schema, struct)


@pytest.mark.parametrize(
    ("schema", "struct"), [("Preferences", wire.Preferences), ("Location", wire.Location)]
)
def test_schemas_with_optional_keys_list_the_wire_fields_in_order(
    schema: str, struct: type[msgspec.Struct]
) -> None:
    assert list(SCHEMAS[schema]["properties"]) == wire_names(struct)
    required = [f.encode_name for f in msgspec.structs.fields(struct) if f.required]
    assert SCHEMAS[schema]["required"] == required
    assert SCHEMAS[schema]["additionalProperties"] is False
