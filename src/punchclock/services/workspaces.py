"""Workspaces: what a Toggl client reads and sets about an account right after it logs in.

Every account owns one organization and one workspace in it (made with the account, see
Store.create_account); preferences and flags are small JSON objects kept per account.
Nothing here ever shows or changes another account's rows: a foreign id is "not found",
the same answer as an id that does not exist, so ids cannot be enumerated (ASVS 5
V8.2.2: data-specific access only to the owner).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from punchclock.errors import InvalidInput, NotFound
from punchclock.models import Account, Organization, ProfileChanges, Workspace
from punchclock.services import fields
from punchclock.services.clock import Clock
from punchclock.store import Store

# Clients that keep preferences of their own (Toggl's swagger: an enum of these two).
PREFERENCE_CLIENTS = frozenset({"desktop", "web"})
DATE_FORMATS = frozenset(
    {"MM/DD/YYYY", "DD-MM-YYYY", "MM-DD-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "DD.MM.YYYY"}
)
TIMEOFDAY_FORMATS = frozenset({"h:mm A", "H:mm"})
DURATION_FORMATS = frozenset({"classic", "improved", "decimal"})
BOOLEAN_PREFERENCES = frozenset(
    {
        "record_timeline",
        "send_product_emails",
        "send_timer_notifications",
        "send_weekly_report",
        "CollapseTimeEntries",
    }
)
# What a new account's preferences are until it sets them (BeginningOfWeek and
# pg_time_zone_name are the account's beginning_of_week and timezone, so /me and the
# preferences never disagree).
DEFAULT_PREFERENCES: Mapping[str, object] = {
    "date_format": "MM/DD/YYYY",
    "duration_format": "improved",
    "record_timeline": False,
    "send_product_emails": False,  # punchclock sends no such mail
    "send_timer_notifications": False,
    "send_weekly_report": False,
    "timeofday_format": "h:mm A",
}
# A client's own keys that punchclock does not know (the web app's TimerView, ...) are kept
# as they are, if small and scalar: enough for a UI setting, too little to store a file.
MAX_CLIENT_KEYS = 100  # stored keys a client may have, known ones included
MAX_KEY_LENGTH = 64  # characters
MAX_STRING_VALUE = 256  # characters
# Toggl's limits on /me/flags (swagger: at most 4 a request and 128 a user, keys up to 32
# characters, values up to 64)
MAX_FLAGS_PER_REQUEST = 4
MAX_FLAGS = 128
MAX_FLAG_KEY = 32
MAX_FLAG_VALUE = 64  # characters of the value's JSON

_PREFERENCES = "preferences"
_FLAGS = "flags"


class Workspaces:
    """List an account's workspaces and organization; read and change its preferences and flags."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def workspaces(self, account: Account, since: str | None = None) -> list[Workspace]:
        """Return the account's workspaces; with `since` (UNIX seconds), those changed after."""
        found = await self._store.workspaces_of(account.id)
        if since is None:
            return found
        if not since.isascii() or not since.isdigit() or len(since) > 12:
            raise InvalidInput("Invalid since")
        after = int(since) * 1_000_000
        return [w for w in found if w.updated_at > after]

    async def workspace(self, account: Account, workspace_id: str) -> Workspace:
        """Return one of the account's workspaces; NotFound for any other id."""
        for found in await self._store.workspaces_of(account.id):
            if str(found.id) == workspace_id:
                return found
        raise NotFound("Workspace not found")

    async def organizations(self, account: Account) -> list[Organization]:
        return await self._store.organizations_of(account.id)

    async def organization(self, account: Account, organization_id: str) -> Organization:
        """Return the account's organization by id; NotFound for any other id."""
        if not organization_id.isascii() or not organization_id.isdigit():
            raise NotFound("Invalid organization ID")
        for found in await self._store.organizations_of(account.id):
            if str(found.id) == organization_id:
                return found
        raise NotFound("User not part of organization")

    async def preferences(self, account: Account, client: str | None = None) -> dict[str, Any]:
        """Return the account's preferences, overlaid with `client`'s own when one is named."""
        kind = _kind(client, "Unknown client.")
        stored = await self._store.settings_of(account.id, _PREFERENCES)
        preferences: dict[str, Any] = {
            "BeginningOfWeek": account.beginning_of_week,
            "alpha_features": [],  # punchclock has none to switch on
            **DEFAULT_PREFERENCES,
            "pg_time_zone_name": account.timezone,
        }
        preferences.update((k, v) for k, v in stored.items() if k in preferences)
        # "omitted if empty" in Toggl's reference: set once, then always sent
        if "CollapseTimeEntries" in stored:
            preferences["CollapseTimeEntries"] = stored["CollapseTimeEntries"]
        if kind != _PREFERENCES:
            preferences.update(await self._store.settings_of(account.id, kind))
        return {k: preferences[k] for k in sorted(preferences)}  # as Toggl's answers: by key

    async def update_preferences(
        self, account: Account, body: object, client: str | None = None
    ) -> None:
        """Set the preferences given, leave the rest. Everything is checked first, so a 400
        changes nothing."""
        kind = _kind(client, "Unknown client")
        if not isinstance(body, dict) or not body:
            raise InvalidInput("Missing data")
        profile, stored = _checked_preferences(body, keep_unknown=kind != _PREFERENCES)
        if stored:
            merged = await self._store.merge_settings(account.id, kind, stored, MAX_CLIENT_KEYS)
            if merged is None:
                raise InvalidInput(f"At most {MAX_CLIENT_KEYS} preferences a client")
        if profile:  # after the merge, which is the one step that may still refuse
            await self._store.update_profile(
                account.id, ProfileChanges(**profile), self._clock.now()
            )

    async def flags(self, account: Account) -> dict[str, Any]:
        return await self._store.settings_of(account.id, _FLAGS)

    async def add_flags(self, account: Account, body: object) -> dict[str, Any]:
        """Add or replace up to 4 flags; return them all. Toggl's limits hold (see above)."""
        if (
            not isinstance(body, dict)
            or not 0 < len(body) <= MAX_FLAGS_PER_REQUEST
            or not all(
                0 < len(key) <= MAX_FLAG_KEY
                and len(msgspec.json.encode(value).decode()) <= MAX_FLAG_VALUE
                for key, value in body.items()
            )
        ):
            raise InvalidInput("No valid data submitted")
        merged = await self._store.merge_settings(account.id, _FLAGS, body, MAX_FLAGS)
        if merged is None:
            raise InvalidInput(f"At most {MAX_FLAGS} flags a user")
        return merged


def _kind(client: str | None, unknown: str) -> str:
    if client is None:
        return _PREFERENCES
    if client not in PREFERENCE_CLIENTS:
        raise InvalidInput(unknown)
    return f"{_PREFERENCES}/{client}"


def _checked_preferences(
    body: Mapping[str, object], keep_unknown: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a POSTed preferences object into profile changes and keys to store, or raise
    InvalidInput naming the first bad key, in Toggl's words where it has them."""
    profile: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    for key, value in body.items():
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            raise InvalidInput("Invalid preference name")

        def invalid(key: str = key) -> InvalidInput:
            return InvalidInput(f"Value in {key} is invalid")

        if key == "ToSAcceptNeeded":
            raise InvalidInput("Cannot set value for ToSAcceptNeeded")
        if key == "alpha_features":
            if not isinstance(value, list):
                raise invalid()
            if value:  # punchclock has no alpha features: any code is unknown
                raise InvalidInput("Invalid feature code(s)")
        elif key == "BeginningOfWeek":
            if type(value) is not int or not 0 <= value <= 6:
                raise invalid()
            profile["beginning_of_week"] = value
        elif key == "pg_time_zone_name":
            try:
                profile["timezone"] = fields.timezone(value)
            except InvalidInput:
                raise invalid() from None
        elif key in BOOLEAN_PREFERENCES:
            if not isinstance(value, bool):
                raise invalid()
            stored[key] = value
        elif key in ("date_format", "timeofday_format", "duration_format"):
            allowed = {
                "date_format": DATE_FORMATS,
                "timeofday_format": TIMEOFDAY_FORMATS,
                "duration_format": DURATION_FORMATS,
            }[key]
            if not isinstance(value, str) or value not in allowed:
                raise invalid()
            stored[key] = value
        elif keep_unknown:
            if not _small_scalar(value):
                raise invalid()
            stored[key] = value
        # else: a key punchclock does not know, in the general preferences: ignored
    return profile, stored


def _small_scalar(value: object) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_STRING_VALUE
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or (isinstance(value, bool | int) and abs(value) < 2**53)
