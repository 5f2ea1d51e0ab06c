"""The JSON on the wire: request bodies and the answers' shapes, as Toggl's clients expect."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from punchclock.errors import InvalidInput
from punchclock.models import Account, Organization, Session, Workspace
from punchclock.services.accounts import ProfileUpdate

DEFAULT_IMAGE_URL = "https://assets.track.toggl.com/images/profile.png"  # Toggl's default avatar
WORKSPACE_LOGO_URL = "https://assets.track.toggl.com/images/workspace.jpg"  # Toggl's default logo
_EPOCH = dt.datetime(1970, 1, 1)
T = TypeVar("T")


def timestamp(microseconds: int) -> str:
    """Format as Toggl does: RFC 3339 UTC with microseconds and Z."""
    return (_EPOCH + dt.timedelta(microseconds=microseconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp_seconds(microseconds: int) -> str:
    """Format as a real workspace's `at`: RFC 3339 UTC to the second, with +00:00."""
    return (_EPOCH + dt.timedelta(microseconds=microseconds)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def timestamp_day(microseconds: int) -> str:
    """Format as a real workspace's `last_modified`: the day, at midnight UTC, with Z."""
    return (_EPOCH + dt.timedelta(microseconds=microseconds)).strftime("%Y-%m-%dT00:00:00Z")


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
    otp: str | None = None  # with two-factor on: a TOTP code or a recovery code


class ResetRequestBody(msgspec.Struct):
    email: str


class ResetConfirmBody(msgspec.Struct):
    password: str
    otp: str | None = None  # with two-factor on, the session is issued only with a right one


class OtpBody(msgspec.Struct):
    """POST /api/v9/me/2fa/enable and /recovery_codes: a TOTP code."""

    otp: str


class TwoFactorDisableBody(msgspec.Struct):
    """POST /api/v9/me/2fa/disable: a TOTP or recovery code, and the password."""

    otp: str
    current_password: str


class TwoFactorSetup(msgspec.Struct):
    """POST /api/v9/me/2fa/setup: the new secret, shown once; nothing is on yet."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodes(msgspec.Struct):
    """Ten recovery codes, shown once: each passes the second factor once."""

    recovery_codes: list[str]


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
    except RecursionError:  # msgspec's answer to arrays nested thousands deep
        raise InvalidInput("Invalid request body: nested too deeply") from None


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
    """A workspace, in every answer that has one (toggl-me-family.md: keys in the order of
    a real Dec-2024 answer; toggl-python requires each key, even where null is allowed)."""

    id: int
    organization_id: int
    name: str
    premium: bool
    business_ws: bool
    admin: bool
    role: str
    suspended_at: None
    server_deleted_at: None
    default_hourly_rate: None  # tap-toggl's schema says integer, toggl-python float: null
    rate_last_updated: None
    default_currency: str
    only_admins_may_create_projects: bool
    only_admins_may_create_tags: bool
    only_admins_see_billable_rates: bool
    only_admins_see_team_dashboard: bool
    projects_billable_by_default: bool
    projects_private_by_default: bool
    projects_enforce_billable: bool
    limit_public_project_data: bool
    last_modified: str
    reports_collapse: bool
    rounding: int
    rounding_minutes: int
    api_token: None  # Toggl's deprecated workspace token: the key, never a token
    at: str
    logo_url: str
    ical_url: None
    ical_enabled: bool
    csv_upload: None
    subscription: None
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
        "two_factor_enabled": account.two_factor,
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
    return WorkspaceView(
        id=w.id,
        organization_id=w.organization_id,
        name=w.name,
        premium=False,  # no paid plans: clients hide premium features
        business_ws=False,
        admin=True,  # the owner is its only member
        role="admin",
        suspended_at=None,
        server_deleted_at=None,
        default_hourly_rate=None,
        rate_last_updated=None,
        default_currency="USD",
        only_admins_may_create_projects=False,
        only_admins_may_create_tags=False,
        only_admins_see_billable_rates=False,
        only_admins_see_team_dashboard=False,
        projects_billable_by_default=True,
        projects_private_by_default=True,
        projects_enforce_billable=False,
        limit_public_project_data=False,
        last_modified=timestamp_day(w.updated_at),
        reports_collapse=True,
        rounding=0,  # toggl-python accepts -1, 0 or 1
        rounding_minutes=0,
        api_token=None,
        at=timestamp_seconds(w.updated_at),
        logo_url=WORKSPACE_LOGO_URL,
        ical_url=None,  # punchclock has no calendar feed
        ical_enabled=False,
        csv_upload=None,
        subscription=None,
        hide_start_end_times=False,
        working_hours_in_minutes=None,
    )


class TrialInfo(msgspec.Struct):
    trial: bool
    trial_available: bool
    trial_end_date: None
    next_payment_date: None
    last_pricing_plan_id: None
    can_have_trial: bool
    trial_plan_id: None


class OrganizationView(msgspec.Struct):
    """An organization, keys in the order of a real answer (toggl-me-family.md)."""

    id: int
    name: str
    pricing_plan_id: int
    created_at: str
    at: str
    server_deleted_at: None
    is_multi_workspace_enabled: bool
    suspended_at: None
    user_count: int
    trial_info: TrialInfo
    is_unified: bool
    max_workspaces: int
    permissions: None
    admin: bool
    owner: bool
    pricing_plan_name: str
    pricing_plan_enterprise: bool


# no billing, so no trials: honest for a server without plans
_NO_TRIAL = TrialInfo(
    trial=False,
    trial_available=False,
    trial_end_date=None,
    next_payment_date=None,
    last_pricing_plan_id=None,
    can_have_trial=False,
    trial_plan_id=None,
)


def organization(o: Organization) -> OrganizationView:
    return OrganizationView(
        id=o.id,
        name=o.name,
        pricing_plan_id=0,
        created_at=timestamp(o.created_at),
        at=timestamp(o.updated_at),
        server_deleted_at=None,
        is_multi_workspace_enabled=False,
        suspended_at=None,
        user_count=1,
        trial_info=_NO_TRIAL,
        is_unified=False,
        max_workspaces=1,
        permissions=None,
        admin=True,
        owner=True,
        pricing_plan_name="Free",
        pricing_plan_enterprise=False,
    )


class Feature(msgspec.Struct):
    feature_id: int
    name: str
    enabled: bool


class WorkspaceFeatures(msgspec.Struct):
    workspace_id: int
    features: list[Feature]


# A free workspace's list (Toggl's mobile app's WorkspaceFeatureId, in the wire spelling of
# recorded answers): "free" on, every paid feature off, which is true of punchclock.
FREE_PLAN_FEATURES = (
    Feature(0, "free", True),
    Feature(13, "pro", False),
    Feature(15, "business", False),
    *(
        Feature(feature_id, name, False)
        for feature_id, name in enumerate(
            (
                "scheduled_reports",
                "time_audits",
                "locking_time_entries",
                "edit_team_member_time_entries",
                "edit_team_member_profile",
                "tracking_reminders",
                "time_entry_constraints",
                "priority_support",
                "labour_cost",
                "report_employee_profitability",
                "report_project_profitability",
                "report_comparative",
                "report_data_trends",
                "report_export_xlsx",
                "tasks",
                "project_dashboard",
            ),
            start=50,
        )
    ),
)


def features(workspaces: list[Workspace]) -> list[WorkspaceFeatures]:
    return [WorkspaceFeatures(w.id, list(FREE_PLAN_FEATURES)) for w in workspaces]


class AlphaFeature(msgspec.Struct):
    code: str
    enabled: bool


class Preferences(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An account's preferences: the keys toggl-python requires, in Toggl's spelling
    (PascalCase for the legacy ones), sorted as Toggl's answers are; CollapseTimeEntries
    only once it is set."""

    BeginningOfWeek: int  # Toggl's spelling, not beginning_of_week
    CollapseTimeEntries: bool | msgspec.UnsetType = msgspec.UNSET
    alpha_features: list[AlphaFeature]
    date_format: str
    duration_format: str
    pg_time_zone_name: str
    record_timeline: bool
    send_product_emails: bool
    send_timer_notifications: bool
    send_weekly_report: bool
    timeofday_format: str


def preferences(values: dict[str, Any]) -> Preferences:
    return msgspec.convert(values, Preferences)


class Location(msgspec.Struct, omit_defaults=True):
    """Where the caller is, by IP: punchclock has no geo-IP database, so always empty."""

    city: str | msgspec.UnsetType = msgspec.UNSET
    city_lat_long: str | msgspec.UnsetType = msgspec.UNSET
    country_code: str | msgspec.UnsetType = msgspec.UNSET
    country_name: str | msgspec.UnsetType = msgspec.UNSET
    state: str | msgspec.UnsetType = msgspec.UNSET


class Status(msgspec.Struct):
    status: str


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
