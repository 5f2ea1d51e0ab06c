"""Access-log hygiene: secrets that Toggl's API puts in URLs never reach the logs."""

from __future__ import annotations

import logging
import re

# the API's confirm path, and the link in reset emails (served by PUNCHCLOCK_PUBLIC_URL)
_RESET_CODE = re.compile(r"(/password_reset/confirm/|^/reset/)[^/?\s]+")


class RedactResetCodes(logging.Filter):
    """Replace the reset code in `/api/me/password_reset/confirm/{code}` and in
    `/reset/{code}` with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _RESET_CODE.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True
