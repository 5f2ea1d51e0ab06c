"""Access-log hygiene: secrets that Toggl's API puts in URLs never reach the logs."""

from __future__ import annotations

import logging
import re

# the API's confirm paths, and the links in the emails (served by PUNCHCLOCK_PUBLIC_URL):
# reset codes, and the codes that confirm or undo a change of address
_RESET_CODE = re.compile(
    r"(/password_reset/confirm/|^/reset/|/email_change/(?:confirm|undo)/|^/email/(?:confirm|undo)/)"
    r"[^/?\s]+"
)


class RedactResetCodes(logging.Filter):
    """Replace the code in `/api/me/password_reset/confirm/{code}`, `/reset/{code}`,
    `/api/me/email_change/{confirm,undo}/{code}` and `/email/{confirm,undo}/{code}` with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _RESET_CODE.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True
