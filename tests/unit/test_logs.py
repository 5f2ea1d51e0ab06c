from __future__ import annotations

import logging

from punchclock.cli import log_config
from punchclock.web.logs import RedactResetCodes


def _access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", path, "1.1", 400),
        None,
    )


def test_reset_codes_are_redacted_from_access_log_lines() -> None:
    record = _access_record("/api/me/password_reset/confirm/s3cr3t-c0de_value?x=1")
    assert RedactResetCodes().filter(record)
    line = record.getMessage()
    assert "s3cr3t" not in line
    assert "/api/me/password_reset/confirm/***?x=1" in line


def test_reset_codes_in_the_emails_link_are_redacted_too() -> None:
    record = _access_record("/reset/s3cr3t-c0de_value")
    assert RedactResetCodes().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "/reset/***" in record.getMessage()


def test_other_paths_are_logged_as_they_are() -> None:
    record = _access_record("/api/v9/me?with_related_data=true")
    RedactResetCodes().filter(record)
    assert "/api/v9/me?with_related_data=true" in record.getMessage()


def test_the_servers_access_log_uses_the_filter() -> None:
    config = log_config()
    assert config["handlers"]["access"]["filters"] == ["redact"]
    assert config["filters"]["redact"]["()"] == "punchclock.web.logs.RedactResetCodes"


def test_email_change_codes_are_redacted_from_the_api_paths_and_the_links() -> None:
    for path, shown in [
        ("/api/me/email_change/confirm/s3cr3t-c0de_value", "/api/me/email_change/confirm/***"),
        ("/api/me/email_change/undo/s3cr3t-c0de_value", "/api/me/email_change/undo/***"),
        ("/email/confirm/s3cr3t-c0de_value", "/email/confirm/***"),
        ("/email/undo/s3cr3t-c0de_value?utm=x", "/email/undo/***?utm=x"),
    ]:
        record = _access_record(path)
        assert RedactResetCodes().filter(record)
        assert "s3cr3t" not in record.getMessage()
        assert shown in record.getMessage()
