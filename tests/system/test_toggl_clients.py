"""Toggl's public Python clients, unchanged but for their base URL, against a real server.

toggl-python (module toggl_python) validates /me strictly with pydantic; toggl-api-wrapper
(module toggl_api) checks /me/logged and reads /me raw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from toggl_api import JSONCache, UserEndpoint, generate_authentication
from toggl_api.meta import TogglEndpoint
from toggl_api.models import TogglTracker
from toggl_python.auth import BasicAuth, TokenAuth
from toggl_python.entities.user import CurrentUser
from toggl_python.exceptions import BadRequest

from tests.system.conftest import Server

pytestmark = pytest.mark.system

FORBIDDEN = "Incorrect username and/or password"
# toggl-python's change_password demands 8+ characters with upper and lower case
PASSWORD = "Tr0ub4dor-and-3"
NEW_PASSWORD = "Correct-Horse-Battery-9"
WRONG_TOKEN = "0123456789abcdef0123456789abcdef"  # 32 hex characters, as a real token


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    password: str
    token: str
    me: dict[str, Any]


@pytest.fixture
def account(server: Server, email: str) -> Account:
    body = {"email": email, "password": PASSWORD, "display_name": "Bob", "timezone": "UTC"}
    response = httpx.post(f"{server.base_url}/api/signup", json=body)
    assert response.status_code == 200, response.text
    me = response.json()
    return Account(email, PASSWORD, me["api_token"], me)


# -- toggl-python ------------------------------------------------------------------------------


@contextmanager
def current_user(server: Server, auth: BasicAuth | TokenAuth) -> Iterator[Any]:
    user = CurrentUser(auth, base_url=f"{server.base_url}/api/v9")
    try:
        yield user
    finally:
        user.client.close()


def test_toggl_python_reads_me_with_a_token(server: Server, account: Account) -> None:
    with current_user(server, TokenAuth(account.token)) as user:
        me = user.me()

    assert (me.id, me.email, me.api_token) == (account.me["id"], account.email, account.token)
    assert me.toggl_accounts_id == account.me["toggl_accounts_id"]
    assert me.default_workspace_id == account.me["default_workspace_id"]


def test_toggl_python_reads_me_with_email_and_password(server: Server, account: Account) -> None:
    with current_user(server, BasicAuth(account.email, account.password)) as user:
        me = user.me()

    assert (me.email, me.api_token, me.fullname) == (account.email, account.token, "Bob")


def test_toggl_python_reads_me_with_related_data(server: Server, account: Account) -> None:
    with current_user(server, TokenAuth(account.token)) as user:
        me = user.me(with_related_data=True)

    assert [w.id for w in me.workspaces] == [account.me["default_workspace_id"]]
    assert me.workspaces[0].admin is True


def test_toggl_python_logged_is_true_with_a_valid_token(server: Server, account: Account) -> None:
    with current_user(server, TokenAuth(account.token)) as user:
        assert user.logged() is True


def test_toggl_python_logged_with_a_wrong_token_raises_the_toggl_message(
    server: Server, account: Account
) -> None:
    with current_user(server, TokenAuth(WRONG_TOKEN)) as user, pytest.raises(BadRequest) as e:
        user.logged()

    assert str(e.value) == f'"{FORBIDDEN}"'


def test_toggl_python_me_with_a_wrong_password_raises_the_toggl_message(
    server: Server, account: Account
) -> None:
    with (
        current_user(server, BasicAuth(account.email, "Wrong-password-1")) as user,
        pytest.raises(BadRequest) as e,
    ):
        user.me()

    assert str(e.value) == f'"{FORBIDDEN}"'


def test_toggl_python_updates_the_full_name(server: Server, account: Account) -> None:
    with current_user(server, TokenAuth(account.token)) as user:
        updated = user.update_me(fullname="Bob Builder")
        me = user.me()

    assert updated.fullname == me.fullname == "Bob Builder"
    assert updated.email == account.email


def test_toggl_python_changes_the_password(server: Server, account: Account) -> None:
    with current_user(server, TokenAuth(account.token)) as user:
        assert user.change_password(account.password, NEW_PASSWORD) is True

    with current_user(server, BasicAuth(account.email, NEW_PASSWORD)) as user:
        assert user.me().email == account.email
    with (
        current_user(server, BasicAuth(account.email, account.password)) as user,
        pytest.raises(BadRequest),
    ):
        user.me()


def test_toggl_python_change_password_with_a_wrong_current_password_is_refused(
    server: Server, account: Account
) -> None:
    with current_user(server, TokenAuth(account.token)) as user:
        with pytest.raises(BadRequest) as e:
            user.change_password("Wrong-password-1", NEW_PASSWORD)
        assert user.logged() is True

    assert str(e.value) == '"Current password is not valid"'
    with current_user(server, BasicAuth(account.email, account.password)) as user:
        assert user.me().email == account.email


# -- toggl-api-wrapper -------------------------------------------------------------------------


@pytest.fixture
def toggl_api(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point toggl-api-wrapper at the server, as its docs say: through BASE_ENDPOINT."""
    monkeypatch.setattr(TogglEndpoint, "BASE_ENDPOINT", f"{server.base_url}/api/v9/")


@contextmanager
def user_endpoint(auth: httpx.BasicAuth, cache_dir: Path) -> Iterator[UserEndpoint]:
    cache: JSONCache[TogglTracker] = JSONCache(cache_dir)
    # retries=0: a 5xx should fail the test now, not after the client's 1-5 s back-off
    endpoint = UserEndpoint(0, auth, cache, retries=0)
    try:
        yield endpoint
    finally:
        endpoint.client.close()


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_verifies_a_token_from_the_environment(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGGL_API_TOKEN", account.token)
    monkeypatch.delenv("TOGGL_PASSWORD", raising=False)

    assert UserEndpoint.verify_authentication(generate_authentication()) is True


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_verifies_email_and_password(account: Account) -> None:
    auth = httpx.BasicAuth(account.email, account.password)
    assert UserEndpoint.verify_authentication(auth) is True


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_verification_of_a_wrong_token_is_false(account: Account) -> None:
    auth = httpx.BasicAuth(WRONG_TOKEN, "api_token")
    assert UserEndpoint.verify_authentication(auth) is False


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_verification_of_a_wrong_password_is_false(account: Account) -> None:
    auth = httpx.BasicAuth(account.email, "Wrong-password-1")
    assert UserEndpoint.verify_authentication(auth) is False


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_gets_the_user_details(account: Account, tmp_path: Path) -> None:
    auth = httpx.BasicAuth(account.token, "api_token")
    with user_endpoint(auth, tmp_path) as endpoint:
        details = endpoint.get_details()

    assert details == account.me


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_get_details_with_a_wrong_token_raises_403(
    account: Account, tmp_path: Path
) -> None:
    auth = httpx.BasicAuth(WRONG_TOKEN, "api_token")
    with user_endpoint(auth, tmp_path) as endpoint, pytest.raises(httpx.HTTPStatusError) as e:
        endpoint.get_details()

    assert (e.value.response.status_code, e.value.response.json()) == (403, FORBIDDEN)
