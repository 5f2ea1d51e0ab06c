"""What Toggl clients call right after /me: workspaces, organizations, preferences, features,
location, flags, status and ToS. Each answer is checked against the OpenAPI document and
toggl-python's strict pydantic models; each is authenticated exactly as /me is."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from toggl_python.schemas.current_user import (
    MeFeaturesResponse,
    MePreferencesResponse,
    MeResponseWithRelatedData,
)
from toggl_python.schemas.workspace import WorkspaceResponse

from punchclock.config import Settings
from punchclock.web.app import create_app
from tests.conftest import FixedClock, User, sign_up
from tests.contract import check_answer
from tests.support import FORBIDDEN, basic, cookie_header, token_auth

# Every operation this issue adds, with a body for the POSTs (one they accept).
READS = [
    "/api/v9/me/workspaces",
    "/api/v9/workspaces",
    "/api/v9/me/organizations",
    "/api/v9/me/features",
    "/api/v9/me/preferences",
    "/api/v9/me/preferences/desktop",
    "/api/v9/me/location",
    "/api/v9/me/flags",
]
WRITES: list[tuple[str, dict[str, Any] | None]] = [
    ("/api/v9/me/preferences", {"date_format": "DD.MM.YYYY"}),
    ("/api/v9/me/preferences/web", {"TimerView": "calendar"}),
    ("/api/v9/me/flags", {"seen_tour": True}),
    ("/api/v9/me/accept_tos", None),
]


def template(path: str) -> str:
    """Return the document's path for a concrete one."""
    if path.startswith("/api/v9/me/preferences/"):
        return "/api/v9/me/preferences/{client}"
    if path.startswith("/api/v9/workspaces/"):
        return "/api/v9/workspaces/{workspace_id}"
    if path.startswith("/api/v9/organizations/"):
        return "/api/v9/organizations/{organization_id}"
    return path


async def get(client: httpx.AsyncClient, user: User, path: str) -> Any:
    response = await client.get(path, headers=token_auth(user.token))
    assert response.status_code == 200, response.text
    return check_answer(response, "GET", template(path.partition("?")[0]))


# -- the model: one organization and one workspace, pointing at each other ------------------


async def test_the_workspace_lists_hold_the_default_workspace_in_the_organization(
    client: httpx.AsyncClient, user: User
) -> None:
    mine = await get(client, user, "/api/v9/me/workspaces")
    listed = await get(client, user, "/api/v9/workspaces")
    [organization] = await get(client, user, "/api/v9/me/organizations")
    assert mine == listed
    [workspace] = mine
    assert workspace["id"] == user.me["default_workspace_id"]
    assert workspace["organization_id"] == organization["id"]
    assert workspace["name"] == "Ann's workspace"
    assert organization["name"] == "Ann's organization"
    assert await get(client, user, f"/api/v9/workspaces/{workspace['id']}") == workspace
    assert await get(client, user, f"/api/v9/organizations/{organization['id']}") == organization


async def test_me_with_related_data_shows_the_same_workspace_object(
    client: httpx.AsyncClient, user: User
) -> None:
    me = await get(client, user, "/api/v9/me?with_related_data=true")
    assert me["workspaces"] == await get(client, user, "/api/v9/me/workspaces")
    MeResponseWithRelatedData.model_validate(me)


async def test_toggl_python_s_models_accept_every_answer(
    client: httpx.AsyncClient, user: User
) -> None:
    for workspace in await get(client, user, "/api/v9/workspaces"):
        WorkspaceResponse.model_validate(workspace)
    workspace_id = user.me["default_workspace_id"]
    WorkspaceResponse.model_validate(await get(client, user, f"/api/v9/workspaces/{workspace_id}"))
    [features] = await get(client, user, "/api/v9/me/features")
    assert MeFeaturesResponse.model_validate(features).workspace_id == workspace_id
    MePreferencesResponse.model_validate(await get(client, user, "/api/v9/me/preferences"))
    MePreferencesResponse.model_validate(await get(client, user, "/api/v9/me/preferences/web"))


async def test_features_are_a_free_plan_s(client: httpx.AsyncClient, user: User) -> None:
    [entry] = await get(client, user, "/api/v9/me/features")
    enabled = {f["name"] for f in entry["features"] if f["enabled"]}
    assert enabled == {"free"}
    assert {"pro", "business", "tasks"} <= {f["name"] for f in entry["features"]}


async def test_since_keeps_only_workspaces_changed_after_it(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    now = clock.now() // 1_000_000
    assert len(await get(client, user, f"/api/v9/me/workspaces?since={now - 60}")) == 1
    assert await get(client, user, f"/api/v9/workspaces?since={now + 60}") == []
    bad = await client.get("/api/v9/me/workspaces?since=yesterday", headers=token_auth(user.token))
    assert bad.status_code == 400
    assert check_answer(bad, "GET", "/api/v9/me/workspaces") == "Invalid since"


# -- another account's rows: never its data, and no telling them from missing ones ----------


async def test_another_account_s_workspace_is_not_found_like_a_missing_one(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, "bob@example.com")
    answers = []
    for workspace_id in (bob.me["default_workspace_id"], 999_999, "abc", "-1"):
        response = await client.get(
            f"/api/v9/workspaces/{workspace_id}", headers=token_auth(user.token)
        )
        assert response.status_code == 404
        answers.append(check_answer(response, "GET", "/api/v9/workspaces/{workspace_id}"))
    assert set(answers) == {"Workspace not found"}


async def test_another_account_s_organization_is_not_found_like_a_missing_one(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, "bob@example.com")
    [theirs] = await get(client, bob, "/api/v9/me/organizations")
    path = "/api/v9/organizations/{organization_id}"
    for organization_id in (theirs["id"], 999_999):
        response = await client.get(
            f"/api/v9/organizations/{organization_id}", headers=token_auth(user.token)
        )
        assert response.status_code == 404
        assert check_answer(response, "GET", path) == "User not part of organization"
    response = await client.get("/api/v9/organizations/x1", headers=token_auth(user.token))
    assert response.status_code == 404
    assert check_answer(response, "GET", path) == "Invalid organization ID"


async def test_preferences_and_flags_are_each_account_s_own(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, "bob@example.com")
    headers = token_auth(user.token)
    await client.post("/api/v9/me/preferences", headers=headers, json={"date_format": "DD.MM.YYYY"})
    await client.post("/api/v9/me/flags", headers=headers, json={"ann_only": 1})
    assert (await get(client, bob, "/api/v9/me/preferences"))["date_format"] == "MM/DD/YYYY"
    assert await get(client, bob, "/api/v9/me/flags") == {}


async def test_closing_the_account_removes_its_workspace_and_organization(
    client: httpx.AsyncClient, user: User
) -> None:
    workspace_id = user.me["default_workspace_id"]
    [organization] = await get(client, user, "/api/v9/me/organizations")
    closed = await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    assert closed.status_code == 200
    # the email is free again: a new account gets new rows, never the closed one's
    again = await sign_up(client, user.email)
    assert again.me["default_workspace_id"] != workspace_id
    [new_organization] = await get(client, again, "/api/v9/me/organizations")
    assert new_organization["id"] != organization["id"]
    gone = await client.get(f"/api/v9/workspaces/{workspace_id}", headers=token_auth(again.token))
    assert gone.status_code == 404


# -- preferences -----------------------------------------------------------------------------


async def test_new_preferences_mirror_the_profile(client: httpx.AsyncClient, user: User) -> None:
    preferences = await get(client, user, "/api/v9/me/preferences")
    assert preferences == {
        "BeginningOfWeek": 1,
        "alpha_features": [],
        "date_format": "MM/DD/YYYY",
        "duration_format": "improved",
        "pg_time_zone_name": "UTC",
        "record_timeline": False,
        "send_product_emails": False,
        "send_timer_notifications": False,
        "send_weekly_report": False,
        "timeofday_format": "h:mm A",
    }


async def test_a_post_changes_only_the_keys_it_sends(client: httpx.AsyncClient, user: User) -> None:
    headers = token_auth(user.token)
    first = {"date_format": "YYYY-MM-DD", "CollapseTimeEntries": True}
    response = await client.post("/api/v9/me/preferences", headers=headers, json=first)
    assert (response.status_code, response.content) == (200, b"")
    check_answer(response, "POST", "/api/v9/me/preferences")
    second = {"timeofday_format": "H:mm", "unknown_key": "ignored"}
    assert (
        await client.post("/api/v9/me/preferences", headers=headers, json=second)
    ).status_code == 200
    preferences = await get(client, user, "/api/v9/me/preferences")
    assert preferences["date_format"] == "YYYY-MM-DD"
    assert preferences["timeofday_format"] == "H:mm"
    assert preferences["CollapseTimeEntries"] is True
    assert preferences["duration_format"] == "improved"
    assert "unknown_key" not in preferences


async def test_beginning_of_week_and_time_zone_are_the_profile_s(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = token_auth(user.token)
    body = {"BeginningOfWeek": 0, "pg_time_zone_name": "Europe/Tallinn"}
    assert (
        await client.post("/api/v9/me/preferences", headers=headers, json=body)
    ).status_code == 200
    me = await get(client, user, "/api/v9/me")
    assert (me["beginning_of_week"], me["timezone"]) == (0, "Europe/Tallinn")
    changed = await client.put("/api/v9/me", headers=headers, json={"beginning_of_week": 3})
    assert changed.status_code == 200
    assert (await get(client, user, "/api/v9/me/preferences"))["BeginningOfWeek"] == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"date_format": "DD MM YY"}, "Value in date_format is invalid"),
        ({"timeofday_format": "hh:mm"}, "Value in timeofday_format is invalid"),
        ({"duration_format": 1}, "Value in duration_format is invalid"),
        ({"timeofday_format": {}}, "Value in timeofday_format is invalid"),
        ({"date_format": ["MM/DD/YYYY"]}, "Value in date_format is invalid"),
        ({"BeginningOfWeek": 7}, "Value in BeginningOfWeek is invalid"),
        ({"BeginningOfWeek": True}, "Value in BeginningOfWeek is invalid"),
        ({"pg_time_zone_name": "Mars/Olympus"}, "Value in pg_time_zone_name is invalid"),
        ({"record_timeline": "yes"}, "Value in record_timeline is invalid"),
        ({"ToSAcceptNeeded": False}, "Cannot set value for ToSAcceptNeeded"),
        ({"alpha_features": [{"code": "desktop_sync_client", "enabled": True}]},
         "Invalid feature code(s)"),
        ({}, "Missing data"),
        ([{"date_format": "YYYY-MM-DD"}], "Missing data"),
        ("date_format", "Missing data"),
        # a good key with a bad one: the good one is not written either
        ({"date_format": "YYYY-MM-DD", "BeginningOfWeek": 0, "timeofday_format": "x"},
         "Value in timeofday_format is invalid"),
        ({"k" * 65: 1}, "Invalid preference name"),
        ({"": 1}, "Invalid preference name"),
    ],
)  # fmt: skip
async def test_a_bad_preference_is_400_and_changes_nothing(
    client: httpx.AsyncClient, user: User, body: Any, message: str
) -> None:
    before = await get(client, user, "/api/v9/me/preferences")
    response = await client.post(
        "/api/v9/me/preferences", headers=token_auth(user.token), json=body
    )
    assert response.status_code == 400
    assert check_answer(response, "POST", "/api/v9/me/preferences") == message
    assert await get(client, user, "/api/v9/me/preferences") == before
    assert (await get(client, user, "/api/v9/me"))["beginning_of_week"] == 1


async def test_a_client_keeps_its_own_keys_over_the_general_ones(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = token_auth(user.token)
    body = {"TimerView": "calendar", "date_format": "DD/MM/YYYY", "CalendarView": 7}
    response = await client.post("/api/v9/me/preferences/web", headers=headers, json=body)
    assert (response.status_code, response.content) == (200, b"")
    web = await get(client, user, "/api/v9/me/preferences/web")
    assert (web["TimerView"], web["CalendarView"], web["date_format"]) == (
        "calendar",
        7,
        "DD/MM/YYYY",
    )
    desktop = await get(client, user, "/api/v9/me/preferences/desktop")
    general = await get(client, user, "/api/v9/me/preferences")
    assert desktop == general
    assert general["date_format"] == "MM/DD/YYYY"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"TimerView": {"nested": "object"}}, "Value in TimerView is invalid"),
        ({"TimerView": ["list"]}, "Value in TimerView is invalid"),
        ({"TimerView": "x" * 257}, "Value in TimerView is invalid"),
        ({"date_format": "nope"}, "Value in date_format is invalid"),
    ],
)
async def test_a_client_s_keys_are_small_scalars(
    client: httpx.AsyncClient, user: User, body: dict[str, Any], message: str
) -> None:
    response = await client.post(
        "/api/v9/me/preferences/web", headers=token_auth(user.token), json=body
    )
    assert response.status_code == 400
    assert check_answer(response, "POST", "/api/v9/me/preferences/{client}") == message


async def test_a_client_keeps_at_most_100_keys_of_its_own(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = token_auth(user.token)
    many = {f"Key{n}": n for n in range(100)}
    ok = await client.post("/api/v9/me/preferences/web", headers=headers, json=many)
    assert ok.status_code == 200
    too_many = await client.post("/api/v9/me/preferences/web", headers=headers, json={"More": 1})
    assert too_many.status_code == 400
    assert "More" not in await get(client, user, "/api/v9/me/preferences/web")


async def test_an_unknown_client_is_400(client: httpx.AsyncClient, user: User) -> None:
    headers = token_auth(user.token)
    path = "/api/v9/me/preferences/{client}"
    read = await client.get("/api/v9/me/preferences/extension", headers=headers)
    assert (read.status_code, check_answer(read, "GET", path)) == (400, "Unknown client.")
    write = await client.post("/api/v9/me/preferences/extension", headers=headers, json={"a": 1})
    assert (write.status_code, check_answer(write, "POST", path)) == (400, "Unknown client")


# -- flags, location, status, ToS ------------------------------------------------------------


async def test_flags_are_merged_and_all_returned(client: httpx.AsyncClient, user: User) -> None:
    headers = token_auth(user.token)
    assert await get(client, user, "/api/v9/me/flags") == {}
    first = await client.post("/api/v9/me/flags", headers=headers, json={"a": 1, "b": "x"})
    assert check_answer(first, "POST", "/api/v9/me/flags") == {"a": 1, "b": "x"}
    second = await client.post("/api/v9/me/flags", headers=headers, json={"b": None, "c": [1]})
    assert check_answer(second, "POST", "/api/v9/me/flags") == {"a": 1, "b": None, "c": [1]}
    assert await get(client, user, "/api/v9/me/flags") == {"a": 1, "b": None, "c": [1]}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5},  # more than 4 a request
        {"k" * 33: 1},  # a key past 32 characters
        {"": 1},
        {"a": "v" * 63},  # its JSON, with the quotes, is 65 characters
        [{"a": 1}],
        "a",
    ],
)
async def test_flags_past_toggl_s_limits_are_400_and_change_nothing(
    client: httpx.AsyncClient, user: User, body: Any
) -> None:
    response = await client.post("/api/v9/me/flags", headers=token_auth(user.token), json=body)
    assert response.status_code == 400
    assert check_answer(response, "POST", "/api/v9/me/flags") == "No valid data submitted"
    assert await get(client, user, "/api/v9/me/flags") == {}


async def test_a_user_has_at_most_128_flags(client: httpx.AsyncClient, user: User) -> None:
    headers = token_auth(user.token)
    for n in range(32):
        body = {f"f{n}-{i}": i for i in range(4)}
        assert (await client.post("/api/v9/me/flags", headers=headers, json=body)).is_success
    refused = await client.post("/api/v9/me/flags", headers=headers, json={"one_more": 1})
    assert refused.status_code == 400
    assert len(await get(client, user, "/api/v9/me/flags")) == 128
    replaced = await client.post("/api/v9/me/flags", headers=headers, json={"f0-0": "new"})
    assert replaced.status_code == 200  # replacing a flag adds none


async def test_location_is_honestly_empty(client: httpx.AsyncClient, user: User) -> None:
    assert await get(client, user, "/api/v9/me/location") == {}


async def test_status_needs_no_credentials_and_ignores_bad_ones(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, basic("nobody@example.com", "wrong"), cookie_header("not-a-jwt")):
        response = await client.get("/api/v9/status", headers=headers)
        assert response.status_code == 200
        assert check_answer(response, "GET", "/api/v9/status") == {"status": "OK"}


async def test_accepting_the_terms_is_200_with_an_empty_body(
    client: httpx.AsyncClient, user: User
) -> None:
    for _ in range(2):  # idempotent
        response = await client.post("/api/v9/me/accept_tos", headers=token_auth(user.token))
        assert (response.status_code, response.content) == (200, b"")
        check_answer(response, "POST", "/api/v9/me/accept_tos")


# -- authentication: exactly /me's -------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
async def test_every_read_takes_each_credential_and_refuses_none(
    client: httpx.AsyncClient, user: User, path: str
) -> None:
    for headers in (
        token_auth(user.token),
        basic(user.email, user.password),
        cookie_header(user.session),
    ):
        assert (await client.get(path, headers=headers)).status_code == 200
    for headers in (
        {},
        basic(user.email, "wrong password"),
        token_auth("0" * 32),
        cookie_header("x"),
    ):
        refused = await client.get(path, headers=headers)
        assert refused.status_code == 403
        assert check_answer(refused, "GET", template(path)) == FORBIDDEN


@pytest.mark.parametrize(("path", "body"), WRITES)
async def test_every_write_refuses_missing_and_wrong_credentials(
    client: httpx.AsyncClient, user: User, path: str, body: dict[str, Any] | None
) -> None:
    for headers in ({}, basic(user.email, "wrong password"), token_auth("0" * 32)):
        refused = await client.post(path, headers=headers, json=body)
        assert refused.status_code == 403
        assert check_answer(refused, "POST", template(path)) == FORBIDDEN
    assert await get(client, user, "/api/v9/me/flags") == {}
    assert (await get(client, user, "/api/v9/me/preferences"))["date_format"] == "MM/DD/YYYY"


@pytest.mark.parametrize(("path", "body"), WRITES)
@pytest.mark.parametrize(
    "site", [{"Origin": "https://evil.example.net"}, {"Sec-Fetch-Site": "cross-site"}]
)
async def test_a_cross_site_write_with_the_cookie_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    user: User,
    path: str,
    body: dict[str, Any] | None,
    site: dict[str, str],
) -> None:
    headers = {**cookie_header(user.session), **site}
    refused = await client.post(path, headers=headers, json=body)
    assert refused.status_code == 403
    assert check_answer(refused, "POST", template(path)) == "Cross-site request refused"
    assert await get(client, user, "/api/v9/me/flags") == {}
    assert await get(client, user, "/api/v9/me/preferences/web") == await get(
        client, user, "/api/v9/me/preferences"
    )
    assert (await get(client, user, "/api/v9/me/preferences"))["date_format"] == "MM/DD/YYYY"
    # the same request from the site itself goes through
    allowed = await client.post(path, headers=cookie_header(user.session), json=body)
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [*(("GET", path, None) for path in READS), *(("POST", path, body) for path, body in WRITES)],
)
async def test_revoked_credentials_stop_working_at_once(
    client: httpx.AsyncClient, user: User, method: str, path: str, body: dict[str, Any] | None
) -> None:
    old_token = user.token
    assert (await client.post("/api/v9/me/reset_token", headers=token_auth(old_token))).is_success
    logged_out = await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert logged_out.status_code == 200
    for headers in (token_auth(old_token), cookie_header(user.session)):
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == 403
        assert response.json() == FORBIDDEN


@pytest.mark.parametrize("path", ["/api/v9/me/workspaces", "/api/v9/me/preferences"])
async def test_the_api_rate_limit_counts_the_new_endpoints_as_it_counts_me(
    env: dict[str, str], clock: FixedClock, path: str
) -> None:
    settings = Settings.from_env({**env, "PUNCHCLOCK_API_RATE_LIMIT": "3/minute"})
    app = create_app(settings, clock=clock)
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            ann = await sign_up(c, email="ann@example.com")
            assert (await c.get("/api/v9/me", headers=token_auth(ann.token))).is_success
            for _ in range(2):
                assert (await c.get(path, headers=token_auth(ann.token))).is_success
            throttled = await c.get(path, headers=token_auth(ann.token))
            assert throttled.status_code == 429
            assert "retry-after" in throttled.headers
            assert (await c.get("/api/v9/me", headers=token_auth(ann.token))).status_code == 429
            status = await c.get("/api/v9/status")  # no credentials, no limit
            assert status.status_code == 200


async def test_failed_passwords_on_the_new_endpoints_count_toward_the_lock(
    env: dict[str, str], clock: FixedClock
) -> None:
    limits = {"PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "3/minute"}
    app = create_app(Settings.from_env({**env, **limits}), clock=clock)
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            ann = await sign_up(c, email="ann@example.com")
            wrong = basic(ann.email, "not the password")
            for path in ("/api/v9/me/workspaces", "/api/v9/me/preferences", "/api/v9/me/flags"):
                assert (await c.get(path, headers=wrong)).status_code == 403
            locked = await c.get("/api/v9/me", headers=basic(ann.email, ann.password))
            assert locked.status_code == 429
            locked = await c.get("/api/v9/me/organizations", headers=basic(ann.email, ann.password))
            assert locked.status_code == 429


async def test_the_model_holds_on_both_stores(
    backend_env: dict[str, str], clock: FixedClock
) -> None:
    app = create_app(Settings.from_env(backend_env), clock=clock)
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            ann = await sign_up(c, email="ann@example.com")
            [workspace] = await get(c, ann, "/api/v9/workspaces")
            [organization] = await get(c, ann, "/api/v9/me/organizations")
            assert workspace["id"] == ann.me["default_workspace_id"]
            assert workspace["organization_id"] == organization["id"]
            body = {"date_format": "DD.MM.YYYY", "BeginningOfWeek": 5}
            posted = await c.post(
                "/api/v9/me/preferences", headers=token_auth(ann.token), json=body
            )
            assert posted.status_code == 200
            preferences = await get(c, ann, "/api/v9/me/preferences")
            assert (preferences["date_format"], preferences["BeginningOfWeek"]) == ("DD.MM.YYYY", 5)
            flags = await c.post("/api/v9/me/flags", headers=token_auth(ann.token), json={"a": 1})
            assert flags.json() == {"a": 1}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/v9/me"),  # was a 500 before this test
        ("POST", "/api/v9/me/flags"),
        ("POST", "/api/v9/me/preferences"),
        ("POST", "/api/v9/me/preferences/web"),
    ],
)
async def test_a_body_nested_thousands_deep_is_400_not_500(
    client: httpx.AsyncClient, user: User, method: str, path: str
) -> None:
    body = b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"  # well under 64 KiB
    response = await client.request(method, path, headers=token_auth(user.token), content=body)
    assert response.status_code == 400
    assert check_answer(response, method, template(path)) == (
        "Invalid request body: nested too deeply"
    )
