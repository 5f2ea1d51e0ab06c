"""The command line as a new user meets it: help, settings, data directories, empty answers."""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from punchclock import cli
from punchclock.cli import build_parser, main
from punchclock.config import TOOL_VARIABLES, known_variables, unknown_variables
from punchclock.models import NewAccount
from punchclock.store.keyfiles import load_secret_key
from punchclock.store.sqlite import SQLiteStore
from punchclock.tokens import SecretBox
from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - never bound here: those tests skip the port check

# Every command and what its --help must say: a command that loses its help fails here.
COMMANDS = {
    ("serve",): ["--host", "--port", "--workers", "serve HTTP"],
    ("migrate",): ["upgrade the schema"],
    ("keys",): ["list", "rotate", "retire", "sign session cookies"],
    ("keys", "list"): ["the newest signs new sessions"],
    ("keys", "rotate"): ["signs every session from now on"],
    ("keys", "retire"): ["kid", "the sessions it signed end at once"],
    ("mail",): ["list", "retry", "send", "The outbox"],
    ("mail", "list"): ["--failed", "--limit", "newest first"],
    ("mail", "retry"): ["id", "Queue a dead letter again"],
    ("mail", "send"): ["exit status 1 if one failed"],
    ("audit",): ["--account", "--since", "--limit", "security events"],
    ("accounts",): ["create", "list", "show", "disable", "delete", "1 when no account has"],
    ("accounts", "create"): ["email", "--name", "--password-stdin", "reset code"],
    ("accounts", "list"): ["--search", "--limit", "--json", "oldest first"],
    ("accounts", "show"): ["email", "--json", "last log-in"],
    ("accounts", "disable"): ["email", "every credential of the account"],
    ("accounts", "enable"): ["email", "work again"],
    ("accounts", "delete"): ["email", "--yes", "erase its data"],
    ("accounts", "end-sessions"): ["email", "every session of the account"],
    ("accounts", "send-reset"): ["email", "reset code"],
    ("accounts", "remove-2fa"): ["email", "two-factor authentication off", "audit trail"],
    ("backup",): ["file", "consistent snapshot", "server key", "signing keys", "pg_dump"],
    ("restore",): ["file", "empty or new data directory", "without its keys is refused"],
}


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PUNCHCLOCK_* variable but PUNCHCLOCK_DATA_DIR, to a directory not made yet."""
    # serve sets these two for its workers: undone after each test, as if set here
    monkeypatch.setenv("PUNCHCLOCK_PUBLIC_URL", "")
    monkeypatch.setenv("PUNCHCLOCK_HASH_WORKERS", "")
    for name in list(os.environ):
        if name.startswith("PUNCHCLOCK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.fixture
def data_dir(environment: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    return environment


@pytest.fixture
def served(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> list[tuple[str, int, int]]:
    """Run `serve` up to the moment it would start uvicorn; record what it would serve."""
    caplog.set_level(logging.INFO, logger="punchclock")
    check_port = cli._check_port

    def check_loopback_port(host: str, port: int) -> None:
        if host != EVERY_ADDRESS:  # only loopback addresses are bound by the tests
            check_port(host, port)

    monkeypatch.setattr(cli, "_check_port", check_loopback_port)
    calls: list[tuple[str, int, int]] = []

    def serve_http(host: str, port: int, workers: int, *, json_logs: bool = False) -> int:
        calls.append((host, port, workers))
        return 0

    monkeypatch.setattr(cli, "serve_http", serve_http)
    return calls


def add_account(data_dir: Path, email: str, key: bytes) -> None:
    """Sign up an account whose API token is sealed under `key`, as the server does."""
    accounts_id = "a" * 22

    async def add() -> None:
        store = SQLiteStore(data_dir / "punchclock.sqlite3")
        try:
            await store.create_account(
                NewAccount(
                    accounts_id=accounts_id,
                    email=email,
                    fullname="Ann",
                    password_hash="hash",
                    api_token_lookup=b"lookup",
                    api_token_sealed=SecretBox(key).seal_token("t" * 32, accounts_id),
                    timezone="UTC",
                    workspace_name="Ann's workspace",
                    organization_name="Ann's organization",
                    now=time.time_ns() // 1000,
                )
            )
        finally:
            await store.close()

    asyncio.run(add())


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(
        (dict(a.choices) for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
        {},
    )


def every_command(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for name, sub in subcommands(parser).items():
        yield (*path, name), sub
        yield from every_command(sub, (*path, name))


# -- help: every command has it, and a lost one fails ---------------------------------------


def test_the_pinned_commands_are_every_command_there_is() -> None:
    assert {path for path, _ in every_command(build_parser())} == set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_of_every_command_says_what_it_does(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        main([*path, "--help"])
    assert exit.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert text.startswith(f"usage: punchclock {' '.join(path)}")
    for words in COMMANDS[path]:
        assert words in text


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_option_and_argument_has_a_help_text(path: tuple[str, ...]) -> None:
    commands = dict(every_command(build_parser()))
    parser = commands[path]
    assert parser.description
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue  # its commands are checked one by one
        assert action.help, (path, action.dest)
        assert action.help != argparse.SUPPRESS, (path, action.dest)
    parent = build_parser() if len(path) == 1 else commands[path[:-1]]
    [choices] = [a for a in parent._actions if isinstance(a, argparse._SubParsersAction)]
    assert {c.dest: c.help for c in choices._choices_actions}[path[-1]]  # the parent's list


def test_the_top_level_help_lists_each_command_with_its_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name in ("serve", "migrate", "keys", "mail", "audit", "accounts"):
        assert re.search(rf"^\s+{name}\s+\w", text, re.MULTILINE), name


# -- settings: unknown names are warned about, known ones come from Settings -----------------


def test_a_misspelt_setting_is_warned_about_with_the_closest_name(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_PUBLICURL", "https://id.example.com")
    monkeypatch.setenv("PUNCHCLOCK_SMTP", "smtp://mail.example.com")
    monkeypatch.setenv("PUNCHCLOCK_NONSENSE_XYZZY", "1")
    assert main(["keys", "list"]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        "PUNCHCLOCK_PUBLICURL is not a punchclock setting, so it is ignored; "
        "did you mean PUNCHCLOCK_PUBLIC_URL?"
    ) in warnings
    assert (
        "PUNCHCLOCK_SMTP is not a punchclock setting, so it is ignored; "
        "did you mean PUNCHCLOCK_SMTP_URL?"
    ) in warnings
    assert "PUNCHCLOCK_NONSENSE_XYZZY is not a punchclock setting, so it is ignored" in warnings


def test_the_warning_never_repeats_the_value_of_a_misspelt_setting(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_SECRETKEY", "a-secret-that-must-stay-out-of-logs")
    assert main(["keys", "list"]) == 0
    assert "did you mean PUNCHCLOCK_SECRET_KEY?" in caplog.text
    assert "a-secret-that-must-stay-out-of-logs" not in caplog.text + str(capsys.readouterr())


def test_known_settings_are_not_warned_about(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_RESET_CODE_TTL", "600")
    monkeypatch.setenv("PUNCHCLOCK_API_RATE_LIMIT", "off")
    assert main(["keys", "list"]) == 0
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_every_variable_the_code_reads_is_known() -> None:
    """A PUNCHCLOCK_* name written anywhere in the code, scripts or tests is one the
    warning knows: it comes from Settings.from_env, not a second list."""
    here = Path(__file__).resolve()
    written = set()
    for folder in ("src", "scripts", "tests", "benchmarks", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path != here and path.suffix not in (".gz", ".pyc"):
                text = path.read_text(errors="replace")
                written |= set(re.findall(r"PUNCHCLOCK_[A-Z0-9_]*[A-Z0-9]", text))
    assert written, "the scan found nothing: it is looking in the wrong place"
    assert written - known_variables() == set()


def test_every_known_setting_is_in_the_readme_and_the_readme_has_no_other() -> None:
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `(PUNCHCLOCK_[A-Z0-9_]+)` \|", readme, re.MULTILINE))
    assert table == known_variables() - TOOL_VARIABLES


def test_unknown_variables_ignores_other_programs_variables() -> None:
    env = {"PATH": "/bin", "PUNCHCLOCK_DATA_DIR": "x", "PUNCHCLOCK_DATA_DRI": "y"}
    assert unknown_variables(env) == [("PUNCHCLOCK_DATA_DRI", "PUNCHCLOCK_DATA_DIR")]


# -- only serve and migrate make a data directory ---------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "list"],
        ["keys", "rotate"],
        ["keys", "retire", "2026-01-01"],
        ["mail", "list"],
        ["mail", "retry", "x"],
        ["mail", "send"],
        ["audit"],
    ],
    ids=" ".join,
)
def test_a_command_other_than_serve_or_migrate_refuses_a_missing_data_directory(
    environment: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"punchclock: no data directory at {environment} (`punchclock serve` or "
        "`punchclock migrate` creates it); is PUNCHCLOCK_DATA_DIR the server's?"
    ]
    assert not environment.exists()


def test_a_data_directory_without_a_database_is_refused_and_left_alone(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.mkdir()
    assert main(["audit"]) == 2
    assert f"no database at {environment / 'punchclock.sqlite3'}" in capsys.readouterr().err
    assert list(environment.iterdir()) == []


def test_migrate_creates_the_data_directory(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert (environment / "punchclock.sqlite3").is_file()
    assert f"SQLite {environment / 'punchclock.sqlite3'}" in capsys.readouterr().out


# -- a different server key is refused --------------------------------------------------------


def other_key() -> str:
    return base64.urlsafe_b64encode(b"k" * 32).decode()


@pytest.mark.parametrize("command", [["keys", "list"], ["migrate"], ["audit"]], ids=" ".join)
def test_a_server_key_that_is_not_the_databases_is_refused_with_one_line(
    data_dir: Path,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_account(data_dir, "ann@example.com", load_secret_key(data_dir))
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", other_key())
    assert main(command) == 2
    assert capsys.readouterr().err.splitlines() == [
        "punchclock: the server key (PUNCHCLOCK_SECRET_KEY) is not the one the database at "
        f"{data_dir / 'punchclock.sqlite3'} was made with: its API tokens cannot be opened. "
        "Start with the original key"
    ]


def test_serve_refuses_a_replaced_key_file_too(
    data_dir: Path, served: list[tuple[str, int, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    add_account(data_dir, "ann@example.com", load_secret_key(data_dir))
    (data_dir / "secret.key").write_bytes(b"k" * 32)
    assert main(["serve", "--port", str(free_port())]) == 2
    assert "the server key (" + str(data_dir / "secret.key") in capsys.readouterr().err
    assert served == []


def test_the_right_key_given_in_the_environment_is_accepted(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = load_secret_key(data_dir)
    add_account(data_dir, "ann@example.com", key)
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", base64.urlsafe_b64encode(key).decode())
    assert main(["keys", "list"]) == 0


# -- empty answers say so, and where they looked; bad limits are refused ---------------------


def test_mail_list_of_an_empty_outbox_says_so_and_where(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mail", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"punchclock: no messages in the outbox (data directory {data_dir}, "
        f"database SQLite {data_dir / 'punchclock.sqlite3'})\n"
    )
    assert main(["mail", "list", "--failed"]) == 0
    assert "no dead or retried messages in the outbox" in capsys.readouterr().err


def test_audit_of_an_unknown_account_or_with_no_events_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--account", "nobody@example.com"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        "punchclock: no events for nobody@example.com: no account has that email "
        f"(data directory {data_dir}, "
    )
    add_account(data_dir, "ann@example.com", load_secret_key(data_dir))
    assert main(["audit", "--account", "ann@example.com", "--since", "1d"]) == 0
    out, err = capsys.readouterr()
    assert (out, err.split(" (")[0]) == (
        "",
        "punchclock: no events for ann@example.com in that period",
    )
    assert main(["audit"]) == 0
    assert capsys.readouterr().err.startswith("punchclock: no events (data directory ")


@pytest.mark.parametrize(
    "command",
    [
        ["mail", "list", "--limit", "-1"],
        ["mail", "list", "--limit", "0"],
        ["audit", "--limit", "-1"],
        ["audit", "--limit", "many"],
        ["serve", "--port", "0"],
        ["serve", "--port", "70000"],
        ["serve", "--workers", "0"],
    ],
    ids=" ".join,
)
def test_out_of_range_numbers_are_refused_before_anything_runs(
    environment: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        main(command)
    assert exit.value.code == 2
    assert "error: argument --" in capsys.readouterr().err
    assert not environment.exists()


# -- serve: public URL, summary, warnings, port -----------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_without_a_public_url_uses_the_address_it_serves_and_says_so(
    environment: Path,
    served: list[tuple[str, int, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    assert main(["serve", "--port", str(port)]) == 0
    assert served == [("127.0.0.1", port, 1)]
    assert os.environ["PUNCHCLOCK_PUBLIC_URL"] == f"http://127.0.0.1:{port}"  # for the workers
    text = caplog.text
    assert (
        f"public URL      http://127.0.0.1:{port} (from --host and --port; "
        "set PUNCHCLOCK_PUBLIC_URL to the address clients use)"
    ) in text


@pytest.mark.parametrize(
    ("host", "url"),
    [
        (EVERY_ADDRESS, "http://127.0.0.1"),
        ("::1", "http://[::1]"),
        ("localhost", "http://localhost"),
    ],
)
def test_the_derived_public_url_names_a_reachable_address(
    environment: Path, served: list[tuple[str, int, int]], host: str, url: str
) -> None:
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_port()
    assert main(["serve", "--host", host, "--port", str(port)]) == 0
    assert os.environ["PUNCHCLOCK_PUBLIC_URL"] == f"{url}:{port}"


def test_a_public_url_that_is_set_is_kept(
    environment: Path,
    served: list[tuple[str, int, int]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_PUBLIC_URL", "https://id.example.com")
    assert main(["serve", "--port", str(free_port())]) == 0
    assert os.environ["PUNCHCLOCK_PUBLIC_URL"] == "https://id.example.com"
    assert "public URL      https://id.example.com\n" in caplog.text + "\n"


def test_serve_prints_one_summary_without_passwords(
    environment: Path,
    served: list[tuple[str, int, int]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_SMTP_URL", "smtp+starttls://me:hunter22@mail.example.com:587")
    monkeypatch.setenv("PUNCHCLOCK_REDIS_URL", "redis://:redispw@127.0.0.1:6399/3")
    monkeypatch.setattr(cli, "prepare", lambda settings, create: 4)  # no Redis needed
    assert main(["serve", "--port", str(free_port()), "--workers", "2"]) == 0
    [summary] = [r.getMessage() for r in caplog.records if "data directory" in r.getMessage()]
    lines = summary.splitlines()
    assert re.fullmatch(r"punchclock \S+ on 127\.0\.0\.1:\d+", lines[0])
    assert lines[1:] == [
        f"  data directory  {environment}",
        f"  database        SQLite {environment / 'punchclock.sqlite3'}",
        lines[3],  # the public URL, tested above
        "  mail            SMTP mail.example.com:587 (smtp+starttls)",
        "  throttling      Redis redis://127.0.0.1:6399/3",
        "  workers         2",
        "  metrics         off (PUNCHCLOCK_METRICS_ADDR and _TOKEN are not set)",
    ]
    assert "hunter22" not in caplog.text
    assert "redispw" not in caplog.text


def test_the_summary_names_postgresql_without_its_password() -> None:
    from punchclock.config import Settings

    settings = Settings.from_env(
        {"PUNCHCLOCK_DATABASE_URL": "postgresql://pc:s3cret@db.internal:5432/pc?password=x"}
    )
    assert cli._database(settings) == "PostgreSQL postgresql://pc@db.internal:5432/pc"


def test_several_workers_without_redis_are_warned_about(
    environment: Path, served: list[tuple[str, int, int]], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["serve", "--port", str(free_port()), "--workers", "3"]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "--workers 3 without PUNCHCLOCK_REDIS_URL: each worker counts failed log-ins, "
        "sign-ups and reset requests on its own, so every limit is up to 3 times looser; "
        "set PUNCHCLOCK_REDIS_URL to share the counts"
    ]


def test_one_worker_on_loopback_is_not_warned_about(
    environment: Path, served: list[tuple[str, int, int]], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["serve", "--port", str(free_port())]) == 0
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


def test_serving_every_address_over_http_is_warned_about(
    environment: Path, served: list[tuple[str, int, int]], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    assert main(["serve", "--host", EVERY_ADDRESS, "--port", str(port)]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"--host 0.0.0.0 with the public URL http://127.0.0.1:{port}: the session cookie is "
        "Secure, so browsers send it back only over HTTPS. A TLS proxy in front is expected: "
        "set PUNCHCLOCK_PUBLIC_URL to its https:// address"
    ]


def test_serving_every_address_behind_https_is_not_warned_about(
    environment: Path,
    served: list[tuple[str, int, int]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_PUBLIC_URL", "https://id.example.com")
    assert main(["serve", "--host", EVERY_ADDRESS, "--port", str(free_port())]) == 0
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


def test_a_port_in_use_stops_serve_with_one_line_before_anything_is_made(
    environment: Path, served: list[tuple[str, int, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"punchclock: cannot listen on 127.0.0.1:{port}: Address already in use: another "
        "process listens there; choose another port with --port"
    ]
    assert served == []
    assert not environment.exists()


def test_a_host_that_does_not_resolve_stops_serve_with_one_line(
    environment: Path, served: list[tuple[str, int, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--host", "no-such-host.invalid", "--port", str(free_port())]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("punchclock: cannot listen on no-such-host.invalid:")
    assert served == []


def test_on_postgresql_with_the_key_given_no_data_directory_is_needed_or_made(
    postgres_url: str,  # first: `environment` removes the variable that names the server
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_DATABASE_URL", postgres_url)
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", SECRET_KEY)
    assert main(["migrate"]) == 0
    capsys.readouterr()
    shutil.rmtree(environment)  # PostgreSQL holds everything the commands below read
    assert main(["keys", "list"]) == 0
    assert "signs new sessions" in capsys.readouterr().out
    assert main(["audit"]) == 0
    assert "database PostgreSQL postgresql://" in capsys.readouterr().err
    assert not environment.exists()


def test_on_postgresql_another_key_is_refused(
    postgres_url: str,  # first: `environment` removes the variable that names the server
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PUNCHCLOCK_DATABASE_URL", postgres_url)
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", SECRET_KEY)
    assert main(["migrate"]) == 0
    monkeypatch.setenv("PUNCHCLOCK_SECRET_KEY", other_key())
    assert main(["keys", "list"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("punchclock: ")
