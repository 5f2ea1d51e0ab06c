"""Access-log hygiene: secrets that Toggl's API puts in URLs never reach the logs."""

from __future__ import annotations

import logging
import re

_RESET_CODE = re.compile(r"(/password_reset/confirm/)[^/?\s]+")


class RedactResetCodes(logging.Filter):
    """Replace the reset code in `POST /api/me/password_reset/confirm/{code}` with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _RESET_CODE.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True
