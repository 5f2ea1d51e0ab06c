"""The JSON on the wire: request bodies and the answers' shapes, as Toggl's clients expect."""

from __future__ import annotations

import datetime as dt
import re
from typing import TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from punchclock.errors import InvalidInput
from punchclock.models import Account, Session, Workspace
from punchclock.services.accounts import ProfileUpdate

DEFAULT_IMAGE_URL = "https://assets.track.toggl.com/images/profile.png"  # Toggl's default avatar
_EPOCH = dt.datetime(1970, 1, 1)
T = TypeVar("T")


def timestamp(microseconds: int) -> str:
    """Format as Toggl does: RFC 3339 UTC with microseconds and Z."""
    return (_EPOCH + dt.timedelta(microseconds=microseconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- requests ---------------------------------------------------------------------------


class SignUpBody(msgspec.Struct):
    email: str
    password: str
    display_name: str | None = None
    tos_accepted_for: str | None = None
    remember_me: bool = False
    timezone: str | None = None


class LogInBody(msgspec.Struct):
    email: str
    password: str
    remember_me: bool = False


class ResetRequestBody(msgspec.Struct):
    email: str


class ResetConfirmBody(msgspec.Struct):
    password: str


class ProfileBody(msgspec.Struct):
    """PUT /api/v9/me: every field may be left out (UNSET) or null; only `country_id: null`
    means something (clear the country), the others then stay as they are."""

    fullname: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    timezone: str | UnsetType | None = UNSET
    beginning_of_week: int | UnsetType | None = UNSET
    country_id: int | UnsetType | None = UNSET
    default_workspace_id: int | UnsetType | None = UNSET
    password: str | UnsetType | None = UNSET
    current_password: str | UnsetType | None = UNSET

    def update(self) -> ProfileUpdate:
        """Return the change the body asks for, as the service takes it."""
        return ProfileUpdate(
            fullname=_given(self.fullname),
            email=_given(self.email),
            timezone=_given(self.timezone),
            beginning_of_week=_given(self.beginning_of_week),
            country_id=self.country_id,
            default_workspace_id=_given(self.default_workspace_id),
            password=_given(self.password),
            current_password=_given(self.current_password),
        )


def _given(value: T | UnsetType | None) -> T | None:
    return None if isinstance(value, UnsetType) else value


_AT_FIELD = re.compile(r" - at `\$\.(\w+)`$")


def profile_body(raw: bytes) -> ProfileBody:
    """Decode PUT /api/v9/me; a field of the wrong type is "Invalid <field>", as Toggl says."""
    try:
        return msgspec.json.decode(raw, type=ProfileBody)
    except msgspec.ValidationError as e:
        field = _AT_FIELD.search(str(e))
        if field is not None and field[1] in ProfileBody.__struct_fields__:
            raise InvalidInput(f"Invalid {field[1]}") from None
        raise InvalidInput(f"Invalid request body: {e}") from None
    except msgspec.DecodeError as e:
        raise InvalidInput(f"Invalid request body: {e}") from None


# -- answers: keys in the order the real service sends them ----------------------------------


class Me(msgspec.Struct):
    id: int
    api_token: str
    email: str
    fullname: str
    timezone: str
    toggl_accounts_id: str
    default_workspace_id: int
    beginning_of_week: int
    image_url: str
    created_at: str
    updated_at: str
    openid_email: None
    openid_enabled: bool
    country_id: int | None
    has_password: bool
    at: str
    authorization_updated_at: str
    two_factor_enabled: bool = msgspec.field(name="2fa_enabled")


class MeUpdated(Me):
    toggl_accounts_updated_at: str


class WorkspaceView(msgspec.Struct):
    id: int
    organization_id: int
    name: str
    premium: bool
    business_ws: bool
    admin: bool
    role: str
    suspended_at: None
    server_deleted_at: None
    default_hourly_rate: None
    rate_last_updated: None
    default_currency: str
    only_admins_may_create_projects: bool
    only_admins_may_create_tags: bool
    only_admins_see_team_dashboard: bool
    projects_billable_by_default: bool
    projects_private_by_default: bool
    projects_enforce_billable: bool
    last_modified: str
    reports_collapse: bool
    rounding: int
    rounding_minutes: int
    at: str
    logo_url: str
    ical_url: None
    ical_enabled: bool
    csv_upload: None
    hide_start_end_times: bool
    working_hours_in_minutes: None


class MeWithRelatedData(Me):
    workspaces: list[WorkspaceView]


def me_fields(account: Account, api_token: str) -> dict[str, object]:
    updated = timestamp(account.updated_at)
    return {
        "id": account.id,
        "api_token": api_token,
        "email": account.email,
        "fullname": account.fullname,
        "timezone": account.timezone,
        "toggl_accounts_id": account.accounts_id,
        "default_workspace_id": account.default_workspace_id,
        "beginning_of_week": account.beginning_of_week,
        "image_url": DEFAULT_IMAGE_URL,
        "created_at": timestamp(account.created_at),
        "updated_at": updated,
        "openid_email": None,
        "openid_enabled": False,
        "country_id": account.country_id,
        "has_password": True,
        "at": updated,
        "authorization_updated_at": timestamp(account.authorization_updated_at),
        "two_factor_enabled": False,
    }


def me(account: Account, api_token: str) -> Me:
    return Me(**me_fields(account, api_token))  # type: ignore[arg-type]


def me_updated(account: Account, api_token: str) -> MeUpdated:
    return MeUpdated(
        **me_fields(account, api_token),  # type: ignore[arg-type]
        toggl_accounts_updated_at=timestamp(account.updated_at),
    )


def me_with_related_data(
    account: Account, api_token: str, workspaces: list[Workspace]
) -> MeWithRelatedData:
    return MeWithRelatedData(
        **me_fields(account, api_token),  # type: ignore[arg-type]
        workspaces=[workspace(w) for w in workspaces],
    )


def workspace(w: Workspace) -> WorkspaceView:
    updated = timestamp(w.updated_at)
    return WorkspaceView(
        id=w.id,
        organization_id=w.id,  # punchclock has no organizations: one per workspace
        name=w.name,
        premium=False,
        business_ws=False,
        admin=True,
        role="admin",
        suspended_at=None,
        server_deleted_at=None,
        default_hourly_rate=None,
        rate_last_updated=None,
        default_currency="USD",
        only_admins_may_create_projects=False,
        only_admins_may_create_tags=False,
        only_admins_see_team_dashboard=False,
        projects_billable_by_default=True,
        projects_private_by_default=True,
        projects_enforce_billable=False,
        last_modified=updated,
        reports_collapse=True,
        rounding=1,
        rounding_minutes=0,
        at=updated,
        logo_url="https://assets.toggl.com/images/workspace.jpg",
        ical_url=None,
        ical_enabled=True,
        csv_upload=None,
        hide_start_end_times=False,
        working_hours_in_minutes=None,
    )


class SessionView(msgspec.Struct):
    id: str
    created_at: str
    last_used_at: str
    expires_at: str
    user_agent: str
    ip: str
    current: bool


def sessions(found: list[Session], current_jti: str | None) -> list[SessionView]:
    return [
        SessionView(
            id=s.id,
            created_at=timestamp(s.created_at),
            last_used_at=timestamp(s.last_used_at),
            expires_at=timestamp(s.expires_at),
            user_agent=s.user_agent,
            ip=s.ip,
            current=s.jti == current_jti,
        )
        for s in found
    ]
