"""Two-factor over HTTP (issue 19): the wire of /api/v9/me/2fa/*, log-in and reset with `otp`,
and what an attacker holding a stolen token, a stolen cookie, only an email, or a page on
another site can and cannot do. Codes are computed with pyotp from the app's fixed clock."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, log_in, sign_up
from tests.contract import check_answer
from tests.http.test_password_reset import request_code
from tests.support import (
    FORBIDDEN,
    PASSWORD,
    basic,
    cookie_header,
    outbox,
    reset_code_in,
    session_from,
    token_auth,
)

REQUIRED = "Two-factor code required"
INVALID = "Incorrect two-factor code"
PROXY = "203.0.113.7"  # the test client's address, trusted for forward auth here


@pytest.fixture
def env(base_env: dict[str, str]) -> dict[str, str]:
    return {**base_env, "PUNCHCLOCK_TRUSTED_PROXIES": f"{PROXY}/32"}


def code(secret: str, clock: FixedClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() // 1_000_000 + 30 * steps)


async def enrol(client: httpx.AsyncClient, user: User, clock: FixedClock) -> tuple[str, list[str]]:
    """Turn two-factor on with the session cookie (which stays); the clock then moves on."""
    setup = await client.post("/api/v9/me/2fa/setup", headers=cookie_header(user.session))
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    enabled = await client.post(
        "/api/v9/me/2fa/enable",
        json={"otp": code(secret, clock)},
        headers=cookie_header(user.session),
    )
    assert enabled.status_code == 200, enabled.text
    clock.advance(30)
    return secret, enabled.json()["recovery_codes"]


async def logging_in(client: httpx.AsyncClient, user: User, **extra: Any) -> httpx.Response:
    body = {"email": user.email, "password": user.password, **extra}
    return await client.post("/api/sessions", json=body)


async def me(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    response = await client.get("/api/v9/me", headers=token_auth(user.token))
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


# -- the wire ----------------------------------------------------------------------------------


async def test_setup_then_enable_turns_it_on_and_me_says_so(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    assert (await me(client, user))["2fa_enabled"] is False
    setup = await client.post("/api/v9/me/2fa/setup", headers=cookie_header(user.session))
    assert setup.status_code == 200
    body = setup.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert body["otpauth_uri"].startswith("otpauth://totp/punchclock:ann%40example.com?")
    assert body["qr_svg"].startswith("<svg")
    assert (await me(client, user))["2fa_enabled"] is False  # nothing is on yet
    enabled = await client.post(
        "/api/v9/me/2fa/enable",
        json={"otp": code(body["secret"], clock)},
        headers=cookie_header(user.session),
    )
    assert enabled.status_code == 200
    codes = enabled.json()["recovery_codes"]
    assert len(codes) == 10
    assert all(re.fullmatch(r"[A-Z2-7]{6}(-[A-Z2-7]{6}){3}", c) for c in codes)
    assert (await me(client, user))["2fa_enabled"] is True


async def test_log_in_asks_for_the_code_only_after_the_right_password(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    secret, recovery = await enrol(client, user, clock)
    asked = await logging_in(client, user)
    assert (asked.status_code, asked.json()) == (403, REQUIRED)
    assert "set-cookie" not in asked.headers
    wrong = await logging_in(client, user, otp="000000")
    assert (wrong.status_code, wrong.json()) == (403, INVALID)
    right = await logging_in(client, user, otp=code(secret, clock))
    assert right.status_code == 200
    assert right.json()["2fa_enabled"] is True
    session = session_from(right)
    assert (await client.get("/api/v9/me", headers=cookie_header(session))).status_code == 200
    spare = await logging_in(client, user, otp=recovery[0])
    assert spare.status_code == 200


async def test_only_an_email_cannot_learn_whether_two_factor_is_on(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    await enrol(client, user, clock)
    bob = await sign_up(client, "bob@example.com")
    answers = set()
    for email in (user.email, bob.email, "nobody@example.com"):
        for extra in ({}, {"otp": "123456"}):
            body = {"email": email, "password": "not the password", **extra}
            response = await client.post("/api/sessions", json=body)
            answers.add((response.status_code, response.text))
    assert answers == {(403, f'"{FORBIDDEN}"')}


async def test_a_code_is_refused_the_second_time(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    secret, _ = await enrol(client, user, clock)
    otp = code(secret, clock)
    assert (await logging_in(client, user, otp=otp)).status_code == 200
    again = await logging_in(client, user, otp=otp)
    assert (again.status_code, again.json()) == (403, INVALID)


async def test_a_code_from_two_steps_ago_is_refused(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    secret, _ = await enrol(client, user, clock)
    clock.advance(90)
    old = await logging_in(client, user, otp=code(secret, clock, -2))
    assert (old.status_code, old.json()) == (403, INVALID)
    assert (await logging_in(client, user, otp=code(secret, clock, -1))).status_code == 200


async def test_a_recovery_code_works_once(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    _, recovery = await enrol(client, user, clock)
    assert (await logging_in(client, user, otp=recovery[5].lower())).status_code == 200
    again = await logging_in(client, user, otp=recovery[5])
    assert (again.status_code, again.json()) == (403, INVALID)


# -- a stolen token or cookie --------------------------------------------------------------------


async def test_a_stolen_token_or_cookie_cannot_turn_it_off_or_replace_the_codes(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    await enrol(client, user, clock)
    for stolen in (token_auth(user.token), cookie_header(user.session)):
        for otp in ("", "000000", "AAAAAA-AAAAAA-AAAAAA-AAAAAA"):
            off = await client.post(
                "/api/v9/me/2fa/disable",
                json={"otp": otp, "current_password": PASSWORD},
                headers=stolen,
            )
            assert (off.status_code, off.json()) == (403, INVALID)
            fresh = await client.post(
                "/api/v9/me/2fa/recovery_codes", json={"otp": otp}, headers=stolen
            )
            assert (fresh.status_code, fresh.json()) == (403, INVALID)
    assert (await me(client, user))["2fa_enabled"] is True


async def test_a_stolen_cookie_cannot_enrol_a_new_secret_once_it_is_on(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    secret, _ = await enrol(client, user, clock)
    setup = await client.post("/api/v9/me/2fa/setup", headers=cookie_header(user.session))
    assert setup.status_code == 400
    # the owner's authenticator still works
    assert (await logging_in(client, user, otp=code(secret, clock))).status_code == 200


async def test_enrolling_ends_the_other_sessions_and_keeps_its_own(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    other = await log_in(client, user)
    setup = await client.post("/api/v9/me/2fa/setup", headers=cookie_header(user.session))
    secret = setup.json()["secret"]
    enabled = await client.post(
        "/api/v9/me/2fa/enable",
        json={"otp": code(secret, clock)},
        headers=cookie_header(user.session),
    )
    assert enabled.status_code == 200
    mine = await client.get("/api/v9/me", headers=cookie_header(user.session))
    assert mine.status_code == 200
    theirs = await client.get("/api/v9/me", headers=cookie_header(other))
    assert theirs.status_code == 403


async def test_basic_email_password_is_refused_once_it_is_on_and_the_token_works(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    by_password = basic(user.email, PASSWORD)
    assert (await client.get("/api/v9/me", headers=by_password)).status_code == 200
    await enrol(client, user, clock)
    refused = await client.get("/api/v9/me", headers=by_password)
    assert refused.status_code == 403
    assert (await client.get("/api/v9/me", headers=basic(user.token, "api_token"))).json()[
        "2fa_enabled"
    ] is True
    # forward auth judges the same credentials the same way
    verify = "/api/auth/verify"
    forwarded = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/", "X-Forwarded-Host": "a.b"}
    assert (await client.get(verify, headers={**forwarded, **by_password})).status_code == 403
    by_token = basic(user.token, "api_token")
    assert (await client.get(verify, headers={**forwarded, **by_token})).status_code == 200


async def test_the_cross_site_rule_holds_on_every_new_endpoint(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    cross_site = {**cookie_header(user.session), "Sec-Fetch-Site": "cross-site"}
    for path, body in (
        ("/api/v9/me/2fa/setup", None),
        ("/api/v9/me/2fa/enable", {"otp": "123456"}),
        ("/api/v9/me/2fa/disable", {"otp": "123456", "current_password": PASSWORD}),
        ("/api/v9/me/2fa/recovery_codes", {"otp": "123456"}),
    ):
        response = await client.post(path, json=body, headers=cross_site)
        assert (response.status_code, response.json()) == (403, "Cross-site request refused")
    assert (await me(client, user))["2fa_enabled"] is False


# -- reset, disable, regenerate ------------------------------------------------------------------


async def test_a_reset_sets_the_password_but_gives_the_cookie_only_with_the_code(
    client: httpx.AsyncClient, app: App, user: User, clock: FixedClock, data_dir: Path
) -> None:
    secret, _ = await enrol(client, user, clock)
    new_password = "a whole new password 9"
    await request_code(client, app, user.email)
    reset = reset_code_in([m for m in outbox(data_dir) if "Reset" in m["Subject"]][-1])
    url = f"/api/me/password_reset/confirm/{reset}"
    refused = await client.post(url, json={"password": new_password})
    assert (refused.status_code, refused.json()) == (403, REQUIRED)
    assert "set-cookie" not in refused.headers
    user.password = new_password  # set nonetheless
    assert (await logging_in(client, user)).json() == REQUIRED
    await request_code(client, app, user.email)
    reset = reset_code_in([m for m in outbox(data_dir) if "Reset" in m["Subject"]][-1])
    url = f"/api/me/password_reset/confirm/{reset}"
    wrong = await client.post(url, json={"password": PASSWORD, "otp": "000000"})
    assert (wrong.status_code, wrong.json()) == (403, INVALID)
    await request_code(client, app, user.email)
    reset = reset_code_in([m for m in outbox(data_dir) if "Reset" in m["Subject"]][-1])
    url = f"/api/me/password_reset/confirm/{reset}"
    right = await client.post(url, json={"password": PASSWORD, "otp": code(secret, clock)})
    assert right.status_code == 200
    assert session_from(right)


async def test_disable_with_a_code_and_the_password_answers_the_user(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    secret, _ = await enrol(client, user, clock)
    wrong_password = await client.post(
        "/api/v9/me/2fa/disable",
        json={"otp": code(secret, clock), "current_password": "not it at all"},
        headers=token_auth(user.token),
    )
    assert wrong_password.status_code == 400
    off = await client.post(
        "/api/v9/me/2fa/disable",
        json={"otp": code(secret, clock), "current_password": PASSWORD},
        headers=token_auth(user.token),
    )
    assert off.status_code == 200
    assert off.json()["2fa_enabled"] is False
    assert off.json()["email"] == user.email
    assert (await logging_in(client, user)).status_code == 200  # no code asked any more
    again = await client.post(
        "/api/v9/me/2fa/disable",
        json={"otp": "123456", "current_password": PASSWORD},
        headers=token_auth(user.token),
    )
    assert again.status_code == 400


async def test_new_recovery_codes_replace_the_old_ones(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    secret, old = await enrol(client, user, clock)
    fresh = await client.post(
        "/api/v9/me/2fa/recovery_codes",
        json={"otp": code(secret, clock)},
        headers=token_auth(user.token),
    )
    assert fresh.status_code == 200
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10
    assert (await logging_in(client, user, otp=old[0])).status_code == 403
    assert (await logging_in(client, user, otp=new[0])).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v9/me/2fa/enable", {}),
        ("/api/v9/me/2fa/enable", {"otp": 123456}),
        ("/api/v9/me/2fa/disable", {"otp": "123456"}),
        ("/api/v9/me/2fa/recovery_codes", ["otp"]),
    ],
)
async def test_a_bad_body_is_400(
    client: httpx.AsyncClient, user: User, path: str, body: object
) -> None:
    response = await client.post(path, json=body, headers=token_auth(user.token))
    assert response.status_code == 400


async def test_enable_without_setup_is_400_and_setup_needs_a_caller(
    client: httpx.AsyncClient, user: User
) -> None:
    enable = await client.post(
        "/api/v9/me/2fa/enable", json={"otp": "123456"}, headers=token_auth(user.token)
    )
    assert enable.status_code == 400
    for path in ("setup", "enable", "disable", "recovery_codes"):
        response = await client.post(f"/api/v9/me/2fa/{path}", json={"otp": "1"})
        assert (response.status_code, response.json()) == (403, FORBIDDEN)


async def test_every_two_factor_answer_is_as_documented(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    headers = cookie_header(user.session)
    setup = await client.post("/api/v9/me/2fa/setup", headers=headers)
    check_answer(setup, "POST", "/api/v9/me/2fa/setup")
    secret = setup.json()["secret"]
    wrong = await client.post("/api/v9/me/2fa/enable", json={"otp": "000000"}, headers=headers)
    check_answer(wrong, "POST", "/api/v9/me/2fa/enable")
    enabled = await client.post(
        "/api/v9/me/2fa/enable", json={"otp": code(secret, clock)}, headers=headers
    )
    check_answer(enabled, "POST", "/api/v9/me/2fa/enable")
    clock.advance(30)
    for extra in ({}, {"otp": "000000"}):
        check_answer(await logging_in(client, user, **extra), "POST", "/api/sessions")
    fresh = await client.post(
        "/api/v9/me/2fa/recovery_codes", json={"otp": code(secret, clock)}, headers=headers
    )
    check_answer(fresh, "POST", "/api/v9/me/2fa/recovery_codes")
    clock.advance(30)
    off = await client.post(
        "/api/v9/me/2fa/disable",
        json={"otp": code(secret, clock), "current_password": PASSWORD},
        headers=headers,
    )
    check_answer(off, "POST", "/api/v9/me/2fa/disable")
    again = await client.post("/api/v9/me/2fa/disable", json={"otp": "1"}, headers=headers)
    check_answer(again, "POST", "/api/v9/me/2fa/disable")
