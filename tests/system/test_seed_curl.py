"""The seed spec's curl examples, run as written against a real server.

Each command below is copied from spec/toggl-authentication.txt. Only the Toggl hosts are
replaced by the local server and the <placeholders> filled in; the shell words are split
as a shell would split them. The runner adds only options that observe the answer
(--silent --show-error --write-out with the status code); none changes the request.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support import outbox, reset_code_in
from tests.system.conftest import Server

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        shutil.which("curl") is None,
        reason="curl is not on PATH: these tests run the spec's curl commands",
    ),
]

TOGGL_HOSTS = ("https://accounts.toggl.com", "https://api.track.toggl.com")
COOKIE = "__Secure-accounts-session"
FORBIDDEN_BODY = '"Incorrect username and/or password"'  # the JSON string, byte for byte
PASSWORD = "Tr0ub4dor-and-3"
NEW_PASSWORD = "Correct-Horse-Battery-9"
MAIL_TIMEOUT = 5.0  # seconds: the reset mail is written just after the answer is sent

# -- the spec's commands, verbatim ------------------------------------------------------------

BASIC_EMAIL = "curl -u <email>:<password> https://api.track.toggl.com/api/v9/me"
BASIC_TOKEN = (
    "curl -u 1971800d4d82861d8f2c1651fea4d212:api_token https://api.track.toggl.com/api/v9/me"
)
EXAMPLE_TOKEN = "1971800d4d82861d8f2c1651fea4d212"
LOG_IN = (
    "curl -i 'https://accounts.toggl.com/api/sessions' -X POST"
    """ -d '{"email":"<your-email>","password":"<your-password>"}'"""
    " -H 'Content-Type: application/json'"
)
LOG_OUT = (
    "curl --cookie __Secure-accounts-session=<cookie value>"
    " -X DELETE https://accounts.toggl.com/api/sessions"
)
SIGN_UP = (
    "curl -i 'https://accounts.toggl.com/api/signup' -X POST"
    """ -d '{"email":"<your email>","password":"<your password>","display_name":"<your name>","""
    """"tos_accepted_for":"track", "remember_me":true, "timezone":"America/New_York"}'"""
    " -H 'Content-Type: application/json'"
)
CLOSE_ACCOUNT = (
    "curl --cookie __Secure-accounts-session=<cookie value>"
    " 'https://accounts.toggl.com/api/me/close_account/track' -X POST"
)
RESET_REQUEST = (
    "curl https://accounts.toggl.com/api/me/password_reset/request"
    """ -d '{"email": "<your email>"}' -H 'Content-Type: application/json'"""
)
RESET_CONFIRM = (
    "curl -X POST -H 'Content-Type: application/json'"
    " https://accounts.toggl.com/api/me/password_reset/confirm/<password reset code>"
    """ -d '{"password":"<new password>"}' -i"""
)
# The spec says the cookie authenticates "all the API requests" but shows no command for
# it: this is its /me request with the cookie given the way LOG_OUT gives it.
COOKIE_ME = (
    "curl --cookie __Secure-accounts-session=<cookie value> https://api.track.toggl.com/api/v9/me"
)


# -- running them ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]  # empty unless the command has -i
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    def session_cookie(self) -> str:
        """Return the session JWT the answer sets; fail if it sets none."""
        for name, value in self.headers:
            if name.lower() == "set-cookie" and value.startswith(f"{COOKIE}="):
                token = value.removeprefix(f"{COOKIE}=").partition(";")[0]
                assert token, f"the cookie was cleared, not set: {value}"
                return token
        raise AssertionError(f"no {COOKIE} cookie set in {self.headers}")


def curl(server: Server, command: str, fill: dict[str, str] | None = None) -> Answer:
    """Run a spec command against the server, with its placeholders replaced by `fill`."""
    for host in TOGGL_HOSTS:
        command = command.replace(host, server.base_url)
    for placeholder, value in (fill or {}).items():
        assert placeholder in command, f"{placeholder} is not in {command}"
        command = command.replace(placeholder, value)
    argv = shlex.split(command)
    assert argv[0] == "curl"
    assert not any("<" in word for word in argv), f"a placeholder is left in {argv}"
    done = subprocess.run(
        [*argv, "--silent", "--show-error", "--write-out", "\n%{http_code}"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, f"{argv} failed ({done.returncode}): {done.stderr!r}"
    # bytes, not text=True: universal newlines would turn the header's CRLFs into LFs
    text, _, status = done.stdout.decode().rpartition("\n")
    if "-i" not in argv:
        return Answer(int(status), [], text)
    head, _, body = text.partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    assert status_line.split()[1] == status, f"{status_line!r} but curl saw {status}"
    headers = [(name, value.strip()) for name, _, value in (li.partition(":") for li in lines)]
    return Answer(int(status), headers, body)


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    password: str
    token: str
    cookie: str


def sign_up(server: Server, email: str, password: str = PASSWORD) -> Account:
    answer = curl(
        server,
        SIGN_UP,
        {"<your email>": email, "<your password>": password, "<your name>": "Ann"},
    )
    assert answer.status == 200, answer.body
    return Account(email, password, answer.json()["api_token"], answer.session_cookie())


@pytest.fixture
def account(server: Server, email: str) -> Account:
    return sign_up(server, email)


def me_with_password(server: Server, email: str, password: str) -> Answer:
    return curl(server, BASIC_EMAIL, {"<email>": email, "<password>": password})


def me_with_token(server: Server, token: str) -> Answer:
    return curl(server, BASIC_TOKEN, {EXAMPLE_TOKEN: token})


def me_with_cookie(server: Server, cookie: str) -> Answer:
    return curl(server, COOKIE_ME, {"<cookie value>": cookie})


def assert_forbidden(answer: Answer) -> None:
    assert (answer.status, answer.body) == (403, FORBIDDEN_BODY)


def mail_to(server: Server, address: str) -> EmailMessage:
    """Wait for the one message the server writes to `address` in its outbox."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        found = [m for m in outbox(server.data_dir) if m["To"].addresses[0].addr_spec == address]
        if found:
            assert len(found) == 1, f"{len(found)} messages to {address}"
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no message to {address} in the outbox within {MAIL_TIMEOUT} s")


def reset_code(server: Server, address: str) -> str:
    answer = curl(server, RESET_REQUEST, {"<your email>": address})
    assert (answer.status, answer.json()) == (200, "OK")
    return reset_code_in(mail_to(server, address))


# -- sign up -----------------------------------------------------------------------------------


def test_sign_up_answers_the_user_and_sets_the_session_cookie(server: Server, email: str) -> None:
    answer = curl(
        server,
        SIGN_UP,
        {"<your email>": email, "<your password>": PASSWORD, "<your name>": "Ann Smith"},
    )
    assert answer.status == 200, answer.body
    me = answer.json()
    assert (me["email"], me["fullname"], me["timezone"]) == (email, "Ann Smith", "America/New_York")
    assert len(me["api_token"]) == 32
    assert len(me["toggl_accounts_id"]) == 22
    cookies = [value for name, value in answer.headers if name.lower() == "set-cookie"]
    # the session cookie, and the device cookie that spares this client others' lockouts
    assert [c.partition("=")[0] for c in cookies] == [COOKIE, "__Host-punchclock-device"]
    attributes = cookies[0].split("; ")[1:]
    assert attributes[:4] == ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"]
    assert me_with_cookie(server, answer.session_cookie()).json()["email"] == email


def test_signing_up_a_taken_email_is_400(server: Server, account: Account) -> None:
    answer = curl(
        server,
        SIGN_UP,
        {"<your email>": account.email, "<your password>": "An0ther-password", "<your name>": "B"},
    )
    assert (answer.status, answer.json()) == (400, "user with this email already exists")
    assert not any(name.lower() == "set-cookie" for name, _ in answer.headers)


# -- sessions ----------------------------------------------------------------------------------


def test_session_post_with_email_and_password_sets_a_cookie_that_authenticates(
    server: Server, account: Account
) -> None:
    answer = curl(
        server, LOG_IN, {"<your-email>": account.email, "<your-password>": account.password}
    )
    assert answer.status == 200, answer.body
    assert answer.json()["email"] == account.email
    cookie = answer.session_cookie()
    assert cookie != account.cookie
    me = me_with_cookie(server, cookie)
    assert (me.status, me.json()["api_token"]) == (200, account.token)


def test_session_post_with_wrong_password_is_403(server: Server, account: Account) -> None:
    answer = curl(
        server, LOG_IN, {"<your-email>": account.email, "<your-password>": "Wrong-password-1"}
    )
    assert_forbidden(answer)
    assert not any(name.lower() == "set-cookie" for name, _ in answer.headers)


def test_session_post_with_unknown_email_is_403(server: Server, email: str) -> None:
    answer = curl(server, LOG_IN, {"<your-email>": email, "<your-password>": PASSWORD})
    assert_forbidden(answer)


def test_deleted_session_cookie_is_refused_on_next_request(
    server: Server, account: Account
) -> None:
    answer = curl(
        server, LOG_IN, {"<your-email>": account.email, "<your-password>": account.password}
    )
    cookie = answer.session_cookie()
    assert me_with_cookie(server, cookie).status == 200

    deleted = curl(server, LOG_OUT, {"<cookie value>": cookie})

    assert (deleted.status, deleted.body) == (200, "")
    assert_forbidden(me_with_cookie(server, cookie))


def test_deleting_one_session_leaves_the_others_working(server: Server, account: Account) -> None:
    answer = curl(
        server, LOG_IN, {"<your-email>": account.email, "<your-password>": account.password}
    )
    assert curl(server, LOG_OUT, {"<cookie value>": answer.session_cookie()}).status == 200

    assert me_with_cookie(server, account.cookie).json()["email"] == account.email
    assert me_with_token(server, account.token).status == 200


def test_deleting_a_session_without_a_cookie_is_403(server: Server) -> None:
    answer = curl(server, LOG_OUT, {"<cookie value>": ""})
    assert_forbidden(answer)


# -- /api/v9/me with each credential -----------------------------------------------------------


def test_basic_auth_with_email_and_password_gets_me(server: Server, account: Account) -> None:
    answer = me_with_password(server, account.email, account.password)
    assert answer.status == 200, answer.body
    me = answer.json()
    assert (me["email"], me["api_token"]) == (account.email, account.token)


def test_basic_auth_with_wrong_password_is_403(server: Server, account: Account) -> None:
    assert_forbidden(me_with_password(server, account.email, "Wrong-password-1"))


def test_basic_auth_with_api_token_gets_me(server: Server, account: Account) -> None:
    answer = me_with_token(server, account.token)
    assert answer.status == 200, answer.body
    assert answer.json()["email"] == account.email


def test_basic_auth_with_the_spec_example_token_is_403(server: Server, account: Account) -> None:
    assert_forbidden(me_with_token(server, EXAMPLE_TOKEN))


def test_session_cookie_gets_me(server: Server, account: Account) -> None:
    answer = me_with_cookie(server, account.cookie)
    assert answer.status == 200, answer.body
    assert (answer.json()["email"], answer.json()["api_token"]) == (account.email, account.token)


def test_me_without_credentials_is_403(server: Server) -> None:
    answer = curl(server, "curl https://api.track.toggl.com/api/v9/me")
    assert_forbidden(answer)


# -- password reset ----------------------------------------------------------------------------


def test_password_reset_request_mails_a_code_to_the_account(
    server: Server, account: Account
) -> None:
    answer = curl(server, RESET_REQUEST, {"<your email>": account.email})

    assert (answer.status, answer.body) == (200, '"OK"')
    assert len(reset_code_in(mail_to(server, account.email))) >= 16


def test_password_reset_request_for_an_unknown_email_answers_the_same_and_mails_nothing(
    server: Server, account: Account
) -> None:
    nobody = f"nobody-{account.email}"
    unknown = curl(server, RESET_REQUEST, {"<your email>": nobody})
    known = curl(server, RESET_REQUEST, {"<your email>": account.email})

    assert (unknown.status, unknown.body) == (known.status, known.body) == (200, '"OK"')
    mail_to(server, account.email)  # the unknown one was asked first: it would be there by now
    assert [m for m in outbox(server.data_dir) if m["To"].addresses[0].addr_spec == nobody] == []


def test_password_reset_confirm_sets_the_new_password_and_a_new_cookie(
    server: Server, account: Account
) -> None:
    code = reset_code(server, account.email)

    answer = curl(
        server, RESET_CONFIRM, {"<password reset code>": code, "<new password>": NEW_PASSWORD}
    )

    assert answer.status == 200, answer.body
    assert answer.json()["email"] == account.email
    cookie = answer.session_cookie()
    assert me_with_cookie(server, cookie).json()["email"] == account.email
    assert_forbidden(me_with_password(server, account.email, account.password))
    assert me_with_password(server, account.email, NEW_PASSWORD).status == 200


def test_password_reset_confirm_ends_the_sessions_started_before(
    server: Server, account: Account
) -> None:
    code = reset_code(server, account.email)

    answer = curl(
        server, RESET_CONFIRM, {"<password reset code>": code, "<new password>": NEW_PASSWORD}
    )

    assert answer.status == 200, answer.body
    assert_forbidden(me_with_cookie(server, account.cookie))


def test_password_reset_code_works_only_once(server: Server, account: Account) -> None:
    code = reset_code(server, account.email)
    first = curl(
        server, RESET_CONFIRM, {"<password reset code>": code, "<new password>": NEW_PASSWORD}
    )
    assert first.status == 200, first.body

    again = curl(server, RESET_CONFIRM, {"<password reset code>": code, "<new password>": PASSWORD})

    assert (again.status, again.json()) == (400, "Password reset code is invalid or has expired")
    assert me_with_password(server, account.email, NEW_PASSWORD).status == 200


# -- closing an account ------------------------------------------------------------------------


def test_closed_account_refuses_its_token_password_and_cookie(
    server: Server, account: Account
) -> None:
    closed = curl(server, CLOSE_ACCOUNT, {"<cookie value>": account.cookie})

    assert (closed.status, closed.body) == (200, "")
    assert_forbidden(me_with_token(server, account.token))
    assert_forbidden(me_with_password(server, account.email, account.password))
    assert_forbidden(me_with_cookie(server, account.cookie))


def test_closed_account_email_can_sign_up_again(server: Server, account: Account) -> None:
    assert curl(server, CLOSE_ACCOUNT, {"<cookie value>": account.cookie}).status == 200

    again = sign_up(server, account.email, NEW_PASSWORD)

    assert again.token != account.token
    assert me_with_password(server, account.email, NEW_PASSWORD).json()["api_token"] == again.token
    assert_forbidden(me_with_password(server, account.email, account.password))
    assert_forbidden(me_with_cookie(server, account.cookie))


def test_closing_an_account_with_a_deleted_session_is_403(server: Server, account: Account) -> None:
    assert curl(server, LOG_OUT, {"<cookie value>": account.cookie}).status == 200

    assert_forbidden(curl(server, CLOSE_ACCOUNT, {"<cookie value>": account.cookie}))
    assert me_with_token(server, account.token).status == 200
