"""The served OpenAPI document (web/openapi.py: paths by hand, schemas generated from
web/wire.py): valid OpenAPI 3.1, exactly the routes the app serves, every reference
resolved, every body a generated component, and every answer of the main flows one it
promises."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from punchclock.web import openapi, wire
from punchclock.web.asgi import App
from tests.conftest import User, sign_up
from tests.contract import HTTP_METHODS, check_answer, load_document, operations, pointer, validator
from tests.http.test_signup import ME_KEYS
from tests.support import FORBIDDEN, basic, cookie_header, outbox, reset_code_in, token_auth

DOCUMENT = load_document()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
COMPONENT = "#/components/schemas/"


def refs(node: Any) -> list[str]:
    """Return every $ref in a part of the document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def resolve(ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = DOCUMENT
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} leads nowhere"
        assert part in node, f"{ref} leads nowhere"
        node = node[part]
    return node


def bodies() -> list[tuple[str, dict[str, Any]]]:
    """Return every JSON body the paths describe (requests and answers), with where it is."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            answers = [
                resolve(a["$ref"]) if "$ref" in a else a for a in operation["responses"].values()
            ]
            for place, content in [
                ("request", operation.get("requestBody", {}).get("content", {})),
                *(("answer", a.get("content", {})) for a in answers),
            ]:
                if "application/json" in content:
                    found.append((f"{method.upper()} {path} {place}", content["application/json"]))
    return found


def shape(where: str, schema: dict[str, Any]) -> list[str]:
    """Return the components a body's schema is made of: a reference, a list of one, or
    one of several; anything else is a shape written by hand in the paths."""
    if "$ref" in schema:
        return [schema["$ref"]]
    if schema.get("type") == "array":
        return shape(where, schema["items"])
    if "oneOf" in schema:
        return [ref for each in schema["oneOf"] for ref in shape(where, each)]
    raise AssertionError(f"{where}: a shape of its own, not a component: {schema}")


# -- the document itself -------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


def test_the_validator_would_catch_a_broken_document() -> None:
    broken = load_document()
    broken["paths"]["/api/v9/me"]["get"]["responses"]["200"] = {"content": {}}  # no description
    with pytest.raises(Exception, match="description"):
        validate(broken, cls=OpenAPIV31SpecValidator)


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


def test_every_reference_leads_to_something() -> None:
    found = refs(DOCUMENT)
    assert len(found) > 50
    for ref in found:
        resolve(ref)


def test_every_body_is_a_generated_component() -> None:
    generated = openapi.schemas()
    assert generated == SCHEMAS  # nothing in components.schemas is written by hand
    described = bodies()
    assert len(described) > 40
    for where, media in described:
        for ref in shape(where, media["schema"]):
            assert ref.startswith(COMPONENT), f"{where}: {ref} is not a schema component"
            assert ref.removeprefix(COMPONENT) in generated, f"{where}: {ref} is not generated"


def test_every_component_is_used() -> None:
    used = {ref.removeprefix(COMPONENT) for ref in refs(DOCUMENT) if ref.startswith(COMPONENT)}
    assert set(SCHEMAS) == used


@pytest.mark.parametrize(
    "struct",
    [
        wire.Me,
        wire.MeUpdated,
        wire.MeWithRelatedData,
        wire.WorkspaceView,
        wire.OrganizationView,
        wire.SessionView,
        wire.Preferences,
        wire.Location,
        wire.JsonWebKey,
    ],
)
def test_answer_schemas_are_exactly_the_wire_fields_in_order(
    struct: type[msgspec.Struct],
) -> None:
    schema = SCHEMAS[struct.__name__]
    fields = msgspec.structs.fields(struct)
    assert list(schema["properties"]) == [f.encode_name for f in fields]
    assert schema.get("required", []) == [f.encode_name for f in fields if f.required]
    assert schema["additionalProperties"] is False


def test_me_is_in_the_order_toggl_clients_see() -> None:
    assert list(SCHEMAS["Me"]["properties"]) == ME_KEYS


def test_request_rules_are_documented_but_left_to_the_services() -> None:
    # the document says what the service checks; msgspec does not check it first, so a
    # refusal keeps the service's (Toggl's) wording, and a long email is the service's 400
    assert SCHEMAS["SignUpBody"]["properties"]["email"]["maxLength"] == 254
    assert SCHEMAS["ProfileBody"]["properties"]["beginning_of_week"]["maximum"] == 6
    body = msgspec.json.encode({"email": "a" * 300, "password": "x"})
    assert msgspec.json.decode(body, type=wire.SignUpBody).email == "a" * 300
    assert wire.profile_body(b'{"beginning_of_week": 9}').beginning_of_week == 9


def test_every_example_matches_its_schema() -> None:
    checked = 0
    for path, item in DOCUMENT["paths"].items():
        for method in HTTP_METHODS:
            body = item.get(method, {}).get("requestBody")
            if body and "example" in body["content"]["application/json"]:
                location = pointer("paths", path, method, "requestBody", "content")
                schema = validator(f"{location}/application~1json/schema")
                schema.validate(body["content"]["application/json"]["example"])
                checked += 1
    for name, schema in SCHEMAS.items():
        for example in schema.get("examples", []):
            validator(pointer("components", "schemas", name)).validate(example)
            checked += 1
    assert checked >= 5


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


async def test_the_served_document_is_the_generated_one_built_once(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert check_answer(response, "GET", "/api/openapi.json") == DOCUMENT
    again = await client.get("/api/openapi.json")
    assert again.content == response.content == openapi.document()
