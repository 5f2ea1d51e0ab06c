"""Real Toggl clients get past their start-up against a real server: workspaces,
organizations, features and preferences, as each client reads them.

toggl-python and toggl-api-wrapper are dev dependencies. togglcli and tap-toggl pin
versions of click, setuptools, requests and singer-python (with jsonschema 2.6) that
conflict with the dev environment, so each runs in a virtualenv of its own, made on first
use under .venv-clients/ (gitignored) by `client_python`. Both hard-code Toggl's base URL
in a module constant (togglcli: `toggl.toggl.TOGGL_URL`; tap-toggl:
`tap_toggl.toggl.BASE_URL`); the driver scripts below override that constant, and nothing
else, before handing over to the client's own entry point.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from toggl_api import JSONCache, OrganizationEndpoint, WorkspaceEndpoint
from toggl_api.meta import TogglEndpoint
from toggl_api.models import TogglOrganization, TogglWorkspace
from toggl_python.auth import BasicAuth, TokenAuth
from toggl_python.entities.user import CurrentUser
from toggl_python.entities.workspace import Workspace
from toggl_python.schemas.current_user import DateFormat, DurationFormat, TimeFormat

from tests.system.conftest import Server

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / ".venv-clients"
TOGGLCLI = "togglCli==4.0.1"
TAP_TOGGL = "tap-toggl==2.1.0"
PASSWORD = "Tr0ub4dor-and-3"


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    token: str
    me: dict[str, Any]


@pytest.fixture
def account(server: Server, email: str) -> Account:
    body = {"email": email, "password": PASSWORD, "display_name": "Bob", "timezone": "UTC"}
    response = httpx.post(f"{server.base_url}/api/signup", json=body)
    assert response.status_code == 200, response.text
    me = response.json()
    return Account(email, me["api_token"], me)


def organization_of(server: Server, account: Account) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/api/v9/me/organizations", auth=(account.token, "api_token")
    )
    [organization] = response.json()
    assert isinstance(organization, dict)
    return organization


# -- toggl-python ------------------------------------------------------------------------------


@contextmanager
def toggl_python(
    server: Server, kind: type[CurrentUser] | type[Workspace], auth: Any
) -> Iterator[Any]:
    entity = kind(auth, base_url=f"{server.base_url}/api/v9")
    try:
        yield entity
    finally:
        entity.client.close()


def test_toggl_python_lists_and_gets_the_workspace(server: Server, account: Account) -> None:
    with toggl_python(server, Workspace, TokenAuth(account.token)) as workspaces:
        [listed] = workspaces.list()
        got = workspaces.get(account.me["default_workspace_id"])
        [since] = workspaces.list(since=int(time.time()) - 86400)  # within its 3 months

    assert listed == got == since
    assert listed.id == account.me["default_workspace_id"]
    assert listed.organization_id == organization_of(server, account)["id"]
    assert (listed.name, listed.admin, listed.premium) == ("Bob's workspace", True, False)


def test_toggl_python_reads_the_features(server: Server, account: Account) -> None:
    with toggl_python(server, CurrentUser, BasicAuth(account.email, PASSWORD)) as user:
        [features] = user.features()

    assert features.workspace_id == account.me["default_workspace_id"]
    assert [f.name for f in features.features if f.enabled] == ["free"]


def test_toggl_python_reads_and_updates_the_preferences(server: Server, account: Account) -> None:
    with toggl_python(server, CurrentUser, TokenAuth(account.token)) as user:
        before = user.preferences()
        assert user.update_preferences(
            date_format=DateFormat.dmy_dot,
            duration_format=DurationFormat.decimal,
            time_format=TimeFormat.hour_24,
        )
        after = user.preferences()

    assert (before.date_format, before.beginning_of_week) == ("MM/DD/YYYY", 1)
    assert (after.date_format, after.duration_format, after.timeofday_format) == (
        "DD.MM.YYYY",
        "decimal",
        "H:mm",
    )
    assert after.beginning_of_week == before.beginning_of_week


# -- toggl-api-wrapper -----------------------------------------------------------------------


@pytest.fixture
def toggl_api(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point toggl-api-wrapper at the server, as its docs say: through BASE_ENDPOINT."""
    monkeypatch.setattr(TogglEndpoint, "BASE_ENDPOINT", f"{server.base_url}/api/v9/")


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_collects_and_gets_the_organization(
    server: Server, account: Account, tmp_path: Path
) -> None:
    cache: JSONCache[TogglOrganization] = JSONCache(tmp_path)
    endpoint = OrganizationEndpoint(httpx.BasicAuth(account.token, "api_token"), cache, retries=0)
    try:
        [collected] = endpoint.collect(refresh=True)
        got = endpoint.get(collected.id, refresh=True)
        foreign = endpoint.get(collected.id + 1000, refresh=True)
    finally:
        endpoint.client.close()

    assert collected.id == organization_of(server, account)["id"]
    assert got is not None
    assert (got.id, got.name) == (collected.id, "Bob's organization")
    assert foreign is None  # a 404: toggl-api-wrapper's "not found"


@pytest.mark.usefixtures("toggl_api")
def test_toggl_api_wrapper_collects_and_gets_the_workspace(
    server: Server, account: Account, tmp_path: Path
) -> None:
    organization_id = organization_of(server, account)["id"]
    cache: JSONCache[TogglWorkspace] = JSONCache(tmp_path)
    auth = httpx.BasicAuth(account.email, PASSWORD)
    endpoint = WorkspaceEndpoint(organization_id, auth, cache, retries=0)
    try:
        [collected] = endpoint.collect(refresh=True)
        got = endpoint.get(collected.id, refresh=True)
        missing = endpoint.get(collected.id + 1000, refresh=True)
    finally:
        endpoint.client.close()

    assert collected.id == account.me["default_workspace_id"]
    assert got is not None
    # (its model reads the workspace's organization from an `organization` key, which
    # Toggl does not send either: organization_id is checked with the other clients)
    assert (got.id, got.name) == (collected.id, "Bob's-workspace")  # its spelling
    assert missing is None


# -- clients in virtualenvs of their own -----------------------------------------------------


def client_python(requirement: str) -> Path:
    """Return the Python of a virtualenv holding only `requirement`, made on first use."""
    venv = CLIENTS / requirement.replace("==", "-")
    python = venv / "bin" / "python"
    marker = venv / "installed.txt"
    if marker.is_file() and marker.read_text() == requirement:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        pytest.fail(f"could not install {requirement} from PyPI:\n{install.stderr[-2000:]}")
    marker.write_text(requirement)
    return python


# Runs togglcli's own entry point with the base URL constant overridden: argv[1] is the URL.
TOGGLCLI_DRIVER = """
import sys
import toggl.toggl
toggl.toggl.TOGGL_URL = sys.argv[1]
from toggl.cli.commands import entrypoint
entrypoint(sys.argv[2:])
"""


@pytest.fixture(scope="module")
def togglcli() -> Path:
    return client_python(TOGGLCLI)


def run_togglcli(
    python: Path, server: Server, account: Account, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "togglrc"
    # a config file, so that togglcli does not start its interactive first-run wizard
    config.write_text(f"[version]\nversion = 4.0.1\n\n[auth]\napi_token = {account.token}\n")
    return subprocess.run(
        [str(python), "-c", TOGGLCLI_DRIVER, f"{server.base_url}/api/v9", "--simple", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "HOME": str(tmp_path),
            "TOGGL_CONFIG": str(config),
            "TOGGL_EXCEPTIONS": "1",
            "PATH": "/usr/bin:/bin",
        },
    )


def test_togglcli_bootstraps_the_default_workspace(
    togglcli: Path, server: Server, account: Account, tmp_path: Path
) -> None:
    # `workspaces get` with no SPEC: /me for default_workspace_id, then /workspaces/{id}
    got = run_togglcli(togglcli, server, account, tmp_path, "workspaces", "get")
    assert got.returncode == 0, got.stderr
    assert str(account.me["default_workspace_id"]) in got.stdout
    assert "Bob's workspace" in got.stdout


def test_togglcli_lists_the_workspaces(
    togglcli: Path, server: Server, account: Account, tmp_path: Path
) -> None:
    listed = run_togglcli(
        togglcli, server, account, tmp_path, "workspaces", "ls", "--fields", "id,name,premium,admin"
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\n")[1].split("\t") == [
        str(account.me["default_workspace_id"]),
        "Bob's workspace",
        "False",
        "True",
    ]


def test_togglcli_with_a_wrong_token_fails_authentication(
    togglcli: Path, server: Server, account: Account, tmp_path: Path
) -> None:
    wrong = Account(account.email, "0123456789abcdef0123456789abcdef", account.me)
    refused = run_togglcli(togglcli, server, wrong, tmp_path, "workspaces", "ls")
    assert refused.returncode == 43, refused.stderr  # togglcli's "Authentication failed"
    assert "Authentication credentials are not correct" in refused.stderr


# Runs tap-toggl's own main() with the base URL constant overridden: argv[1] is the URL.
TAP_DRIVER = """
import sys
import tap_toggl.toggl
tap_toggl.toggl.BASE_URL = sys.argv[1]
import tap_toggl
sys.argv = ["tap-toggl", *sys.argv[2:]]
tap_toggl.main()
"""


@pytest.fixture(scope="module")
def tap_toggl() -> Path:
    return client_python(TAP_TOGGL)


def run_tap(python: Path, server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", TAP_DRIVER, f"{server.base_url}/api", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tap_toggl_discovers_then_syncs_the_workspaces(
    tap_toggl: Path, server: Server, account: Account, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "api_token": account.token,
                "start_date": "2024-01-01T00:00:00Z",
                "user_agent": "punchclock-tests (test@example.com)",
                "detailed_report_trailing_days": 1,
            }
        )
    )
    # start-up: GET /workspaces (workspace and organization ids), then the catalog
    discovered = run_tap(tap_toggl, server, "--config", str(config), "--discover")
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] == "workspaces":
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = True
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    # sync: the authorization check (GET /me), then the workspaces, each record checked
    # against tap-toggl's schema by singer's Transformer, which fails the run on a mismatch
    synced = run_tap(
        tap_toggl, server, "--config", str(config), "--catalog", str(tmp_path / "catalog.json")
    )
    assert synced.returncode == 0, synced.stderr
    messages = [json.loads(line) for line in synced.stdout.splitlines() if line.startswith("{")]
    [record] = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert record["id"] == account.me["default_workspace_id"]
    assert record["name"] == "Bob's workspace"
