"""The file mailer says, when a server starts, that mail goes to files and to nobody."""

from __future__ import annotations

import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from tests.conftest import FixedClock


async def test_a_server_without_smtp_says_at_start_that_mail_goes_to_files(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="punchclock.mail")
    async with create_app(settings, clock=clock).running():
        said = [r.getMessage() for r in caplog.records if r.name == "punchclock.mail"]
    assert len(said) == 1
    assert "PUNCHCLOCK_SMTP_URL is not set" in said[0]
    assert str(settings.data_dir / "outbox") in said[0]
    assert "NOT sent to anyone" in said[0]


async def test_a_server_with_smtp_says_nothing_of_files(
    env: dict[str, str], clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({**env, "PUNCHCLOCK_SMTP_URL": "smtp://127.0.0.1:1"})
    caplog.set_level("WARNING", logger="punchclock.mail")
    async with create_app(settings, clock=clock).running():
        pass
    assert not [r for r in caplog.records if "PUNCHCLOCK_SMTP_URL is not set" in r.getMessage()]
