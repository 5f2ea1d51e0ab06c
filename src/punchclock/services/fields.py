"""What a valid email, name, timezone or number is: checked before anything is written."""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass

from msgspec import UNSET, UnsetType

from punchclock.errors import InvalidInput
from punchclock.models import ProfileChanges

MAX_ID = 2**63 - 1  # the largest id a 64-bit database column holds
EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 254 or not EMAIL.fullmatch(value):
        raise InvalidInput("Invalid email")
    return value


def fullname(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Invalid fullname")
    value = value.strip()
    if not 1 <= len(value) <= 255 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput("Invalid fullname")
    return value


@functools.cache
def _timezones() -> frozenset[str]:
    # IANA names only: the system's zoneinfo folder also holds "localtime" (whatever the
    # server runs in), "posixrules", "Factory" and the posix/ and right/ copies
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in _NOT_IANA and not name.startswith(("posix/", "right/"))
    )


_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})


def timezone(value: object) -> str:
    if not isinstance(value, str) or value not in _timezones():
        raise InvalidInput("Invalid timezone")
    return value


def int_in(value: object, low: int, high: int, message: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(message)
    return value


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """What a user asks to change; None leaves a field as it is. `country_id` is UNSET
    when not given, and None when the country is to be cleared."""

    fullname: str | None = None
    email: str | None = None
    timezone: str | None = None
    beginning_of_week: int | None = None
    country_id: int | UnsetType | None = UNSET
    default_workspace_id: int | None = None
    password: str | None = None
    current_password: str | None = None


def profile_changes(update: ProfileUpdate) -> ProfileChanges:
    """Check every field of a profile change, in a fixed order, before anything is written."""
    country = update.country_id
    return ProfileChanges(
        fullname=fullname(update.fullname) if update.fullname is not None else None,
        email=email(update.email) if update.email is not None else None,
        timezone=timezone(update.timezone) if update.timezone is not None else None,
        beginning_of_week=(
            int_in(update.beginning_of_week, 0, 6, "Invalid beginning_of_week")
            if update.beginning_of_week is not None
            else None
        ),
        country_id=(
            int_in(country, 1, 999, "Invalid country_id") if isinstance(country, int) else None
        ),
        clear_country=country is None,
        default_workspace_id=(
            int_in(update.default_workspace_id, 1, MAX_ID, "Invalid default_workspace_id")
            if update.default_workspace_id is not None
            else None
        ),
    )
