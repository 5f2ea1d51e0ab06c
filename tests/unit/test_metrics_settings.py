"""Metrics are off unless PUNCHCLOCK_METRICS_ADDR is set: the app then has no meter."""

from __future__ import annotations

from pathlib import Path

import pytest

from punchclock.config import Settings
from punchclock.errors import ConfigError
from punchclock.web.app import create_app
from tests.conftest import FAST_HASHING


def settings(tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_env({"PUNCHCLOCK_DATA_DIR": str(tmp_path), **FAST_HASHING, **extra})


def test_without_the_setting_there_are_no_metrics_and_the_app_is_the_plain_one(
    tmp_path: Path,
) -> None:
    app = create_app(settings(tmp_path))
    assert app._meter is None


def test_with_the_setting_the_app_records_metrics(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, PUNCHCLOCK_METRICS_ADDR="127.0.0.1:9464"))
    assert app._meter is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9464", ("::1", 9464))],
)
def test_the_address_is_host_and_port(tmp_path: Path, value: str, expected: object) -> None:
    assert settings(tmp_path, PUNCHCLOCK_METRICS_ADDR=value).metrics_addr == expected


@pytest.mark.parametrize("value", ["9464", "127.0.0.1", "127.0.0.1:0", "host:99999", ":9464"])
def test_a_bad_address_is_refused_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="PUNCHCLOCK_METRICS_ADDR"):
        settings(tmp_path, PUNCHCLOCK_METRICS_ADDR=value)


TOKEN = "0123456789abcdef0123456789abcdef"


def test_a_metrics_token_turns_metrics_on_and_routes_get_metrics(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, PUNCHCLOCK_METRICS_TOKEN=TOKEN))
    assert app._meter is not None
    assert ("GET", "/metrics") in {(r.method, r.path) for r in app.routes}


def test_without_a_token_there_is_no_metrics_route(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, PUNCHCLOCK_METRICS_ADDR="127.0.0.1:9464"))
    assert "/metrics" not in {r.path for r in app.routes}


@pytest.mark.parametrize("value", ["short", TOKEN[:-1], f"{TOKEN} x", f"{TOKEN}é"])
def test_a_guessable_or_unsendable_metrics_token_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="PUNCHCLOCK_METRICS_TOKEN"):
        settings(tmp_path, PUNCHCLOCK_METRICS_TOKEN=value)


def test_the_metrics_token_is_not_in_the_settings_repr(tmp_path: Path) -> None:
    assert TOKEN not in repr(settings(tmp_path, PUNCHCLOCK_METRICS_TOKEN=TOKEN))


def test_a_log_format_other_than_text_or_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PUNCHCLOCK_LOG_FORMAT"):
        settings(tmp_path, PUNCHCLOCK_LOG_FORMAT="xml")
