from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from punchclock.config import Settings
from punchclock.errors import ConfigError


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_path == tmp_path / "data" / "punchclock.sqlite3"
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.smtp_url is None
    assert settings.reset_code_ttl == 3600
    assert settings.secret_key is None
    assert settings.hash_processes is True
    assert settings.audit_retention_days == 90
    assert (
        Settings.from_env({"PUNCHCLOCK_AUDIT_RETENTION_DAYS": "3650"}).audit_retention_days == 3650
    )


def test_default_limits_are_safe_and_counted_in_each_process() -> None:
    settings = Settings.from_env({})
    limits = settings.rate_limits
    # step by step, capped well under an hour (issue 11); at most 60 an hour (ASVS V2.2.1)
    assert limits.log_in_per_account == "10/minute;20/10 minutes;30/30 minutes"
    assert limits.log_in_per_account_and_ip == "5/minute;15/hour;50/day"
    for limit in (
        limits.sign_up_per_ip,
        limits.reset_request_per_email,
        limits.reset_request_per_ip,
        limits.reset_confirm_per_ip,
        limits.email_change_per_account,
    ):
        assert limit
    assert limits.api_per_user_and_ip == ""  # off, as Toggl's clients burst at start
    assert settings.redis_url is None
    assert settings.trusted_proxies == ()


def test_limits_proxies_and_redis_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT": "off",
            "PUNCHCLOCK_API_RATE_LIMIT": "10 per 10 seconds",
            "PUNCHCLOCK_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16,fd00::/8",
            "PUNCHCLOCK_REDIS_URL": "redis://127.0.0.1:6379/2",
        }
    )
    assert settings.rate_limits.log_in_per_account == ""
    assert settings.rate_limits.api_per_user_and_ip == "10 per 10 seconds"
    assert [str(n) for n in settings.trusted_proxies] == [
        "10.0.0.1/32",
        "192.168.0.0/16",
        "fd00::/8",
    ]
    assert settings.redis_url == "redis://127.0.0.1:6379/2"


def test_sqlite_urls_are_relative_with_three_slashes_and_absolute_with_four(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = Settings.from_env({"PUNCHCLOCK_DATABASE_URL": "sqlite:///db/x.sqlite3"})
    assert relative.database_path == tmp_path / "db" / "x.sqlite3"
    absolute = Settings.from_env({"PUNCHCLOCK_DATABASE_URL": "sqlite:////var/x.sqlite3"})
    assert absolute.database_path == Path("/var/x.sqlite3")


def test_a_postgresql_url_chooses_postgresql() -> None:
    url = "postgresql://punchclock:pw@db.internal:5432/punchclock"
    settings = Settings.from_env({"PUNCHCLOCK_DATABASE_URL": url})
    assert settings.postgres_url == url
    assert Settings.from_env({}).postgres_url is None


def test_a_bad_postgresql_url_is_refused_without_repeating_its_password() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"PUNCHCLOCK_DATABASE_URL": "postgresql://u:s3cret@db:port/x"})
    assert "s3cret" not in refused.value.message


def test_public_url_loses_its_trailing_slash() -> None:
    settings = Settings.from_env({"PUNCHCLOCK_PUBLIC_URL": "https://id.example.com/"})
    assert settings.public_url == "https://id.example.com"


def test_secret_key_from_the_environment() -> None:
    key = base64.urlsafe_b64encode(b"s" * 32).decode().rstrip("=")
    assert Settings.from_env({"PUNCHCLOCK_SECRET_KEY": key}).secret_key == b"s" * 32


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PUNCHCLOCK_DATABASE_URL", "mysql://x", "PUNCHCLOCK_DATABASE_URL"),
        ("PUNCHCLOCK_DATABASE_URL", "postgresql://u:pw@db:port/x", "PUNCHCLOCK_DATABASE_URL"),
        ("PUNCHCLOCK_DATABASE_URL", "postgresql:///x", "PUNCHCLOCK_DATABASE_URL"),
        ("PUNCHCLOCK_DATABASE_URL", "sqlite://", "PUNCHCLOCK_DATABASE_URL"),
        ("PUNCHCLOCK_PUBLIC_URL", "ftp://x", "PUNCHCLOCK_PUBLIC_URL"),
        ("PUNCHCLOCK_PUBLIC_URL", "http://x/?a=b", "PUNCHCLOCK_PUBLIC_URL"),
        ("PUNCHCLOCK_SMTP_URL", "http://mail", "PUNCHCLOCK_SMTP_URL"),
        ("PUNCHCLOCK_SMTP_URL", "smtp://mail:99999", "port"),
        ("PUNCHCLOCK_MAIL_FROM", "no address", "PUNCHCLOCK_MAIL_FROM"),
        ("PUNCHCLOCK_MAIL_FROM", "a@b.c\r\nBcc: x@y.z", "PUNCHCLOCK_MAIL_FROM"),
        ("PUNCHCLOCK_MAIL_FROM", "a@b.c, x@y.z", "PUNCHCLOCK_MAIL_FROM"),
        ("PUNCHCLOCK_MAIL_FROM", "punchclock <no-reply@b.c", "PUNCHCLOCK_MAIL_FROM"),
        ("PUNCHCLOCK_MAIL_FROM", "x@", "PUNCHCLOCK_MAIL_FROM"),
        ("PUNCHCLOCK_MAIL_MAX_AGE", "0", "PUNCHCLOCK_MAIL_MAX_AGE"),
        ("PUNCHCLOCK_RESET_CODE_TTL", "soon", "integer"),
        ("PUNCHCLOCK_RESET_CODE_TTL", "5", "between"),
        ("PUNCHCLOCK_AUDIT_RETENTION_DAYS", "0", "between 1 and 3650"),
        ("PUNCHCLOCK_AUDIT_RETENTION_DAYS", "3651", "between 1 and 3650"),
        ("PUNCHCLOCK_ARGON2_MEMORY_KIB", "-1", "PUNCHCLOCK_ARGON2_MEMORY_KIB"),
        ("PUNCHCLOCK_SECRET_KEY", "***", "PUNCHCLOCK_SECRET_KEY"),
        ("PUNCHCLOCK_SECRET_KEY", "c2hvcnQ", "32 bytes"),
        ("PUNCHCLOCK_HASH_POOL", "gpus", "processes, threads"),
        ("PUNCHCLOCK_ACCESS_LOG", "yes", "PUNCHCLOCK_ACCESS_LOG must be one of on, off"),
        ("PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT", "lots", "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT"),
        ("PUNCHCLOCK_SIGNUP_LIMIT_PER_IP", "0/minute", "PUNCHCLOCK_SIGNUP_LIMIT_PER_IP"),
        ("PUNCHCLOCK_API_RATE_LIMIT", "1/fortnight", "PUNCHCLOCK_API_RATE_LIMIT"),
        ("PUNCHCLOCK_TRUSTED_PROXIES", "10.0.0.1,proxy.local", "PUNCHCLOCK_TRUSTED_PROXIES"),
        ("PUNCHCLOCK_REDIS_URL", "http://127.0.0.1:6379", "PUNCHCLOCK_REDIS_URL"),
        ("PUNCHCLOCK_REDIS_URL", "redis://127.0.0.1:99999", "port"),
        ("PUNCHCLOCK_REDIS_KEY_PREFIX", "a b", "PUNCHCLOCK_REDIS_KEY_PREFIX"),
        ("PUNCHCLOCK_TOTP_ISSUER", "Acme: time", "PUNCHCLOCK_TOTP_ISSUER"),
        ("PUNCHCLOCK_TOTP_ISSUER", "x" * 65, "PUNCHCLOCK_TOTP_ISSUER"),
        ("PUNCHCLOCK_TOTP_ISSUER", "tab\there", "PUNCHCLOCK_TOTP_ISSUER"),
    ],
)
def test_invalid_configuration_names_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({name: value})


def _punchclock(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "punchclock", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_serve_with_invalid_configuration_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = _punchclock(["serve"], {"PUNCHCLOCK_RESET_CODE_TTL": "soon"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "punchclock: PUNCHCLOCK_RESET_CODE_TTL must be an integer, got 'soon'"
    ]
    assert not (tmp_path / "data").exists()


def test_migrate_creates_the_database_keys_and_secret_private_to_the_owner(tmp_path: Path) -> None:
    result = _punchclock(["migrate"], {"PUNCHCLOCK_DATA_DIR": str(tmp_path / "d")}, tmp_path)
    assert result.returncode == 0, result.stderr
    data = tmp_path / "d"
    assert oct((data / "punchclock.sqlite3").stat().st_mode & 0o777) == "0o600"
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / "secret.key").stat().st_mode & 0o777) == "0o600"
    [key] = (data / "keys").glob("*.pem")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert oct((data / "keys").stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("spec", ["10/minute;30/hour;100/day", "5/2 hours", "1/day"])
def test_the_account_wide_log_in_limit_may_lock_no_longer_than_an_hour(spec: str) -> None:
    with pytest.raises(ConfigError, match="PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT"):
        Settings.from_env({"PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT": spec})
    # the per-address limit holds back one address only: it may be longer
    Settings.from_env({"PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": spec})


def test_every_default_is_written_once_on_its_field() -> None:
    """from_env reads each default from the Settings field: nowhere else holds a copy."""
    settings = Settings.from_env({})
    derived = {"mail_from"}  # made from PUBLIC_URL's host
    for field in dataclasses.fields(Settings):
        if field.default is not dataclasses.MISSING and field.name not in derived:
            assert getattr(settings, field.name) == field.default, field.name


def test_an_ipv6_public_url_gets_a_mail_domain_that_parses() -> None:
    settings = Settings.from_env({"PUNCHCLOCK_PUBLIC_URL": "http://[::1]:8080"})
    assert settings.mail_from == "punchclock <no-reply@localhost>"


def test_the_totp_issuer_is_punchclock_unless_set() -> None:
    assert Settings.from_env({}).totp_issuer == "punchclock"
    assert Settings.from_env({"PUNCHCLOCK_TOTP_ISSUER": "Acme Time"}).totp_issuer == "Acme Time"
