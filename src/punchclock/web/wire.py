"""The JSON on the wire: request bodies and the answers' shapes, as Toggl's clients expect."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from punchclock.errors import InvalidInput
from punchclock.models import Account, Organization, Session, Workspace
from punchclock.services import workspaces as ws
from punchclock.services.accounts import ProfileUpdate

DEFAULT_IMAGE_URL = "https://assets.track.toggl.com/images/profile.png"  # Toggl's default avatar
WORKSPACE_LOGO_URL = "https://assets.track.toggl.com/images/workspace.jpg"  # Toggl's default logo
_EPOCH = dt.datetime(1970, 1, 1)
T = TypeVar("T")


# -- what the OpenAPI document says of the values (web/openapi.py generates it from here) ------
# Only the answers' fields carry msgspec constraints: an answer is encoded, never checked,
# so they document without costing. A request's rules go in `extra_json_schema`, which
# msgspec writes into the schema but never checks, so the services keep wording the
# refusals as Toggl does ("Invalid timezone"), not msgspec.


def rules(description: str | None = None, **schema: Any) -> Meta:
    """Describe a value in the document only: msgspec does not check these rules."""
    return Meta(description=description, extra_json_schema=schema or None)


Timestamp = Annotated[
    str,
    Meta(
        description="RFC 3339, UTC, with microseconds and `Z`.",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$",
        examples=["2024-04-09T03:12:46.676852Z"],
        extra_json_schema={"format": "date-time"},
    ),
]
ApiToken = Annotated[
    str, Meta(description="An API token: 32 lowercase hex characters.", pattern="^[0-9a-f]{32}$")
]
SessionId = Annotated[
    str,
    Meta(
        description="A session's public id: 32 lowercase hex characters, unrelated to its JWT.",
        pattern="^[0-9a-f]{32}$",
    ),
]
Flag = Annotated[
    str,
    Meta(
        description="A boolean in a query string: `true`, `false`, `1` or `0`, in any case; "
        "empty means `false`.",
        pattern="^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?$",
        examples=["true", "false"],
    ),
]
Error = Annotated[str, Meta(description="What went wrong, as a JSON string.")]
HealthProblems = Annotated[
    list[str],
    Meta(
        description="What keeps the process from serving, one fixed sentence each: never a "
        "credential, an address or an account.",
        examples=[
            [],
            [
                "store: the database does not answer",
                "hash pool: no password hashing worker is alive",
            ],
        ],
    ),
]
Ok = Annotated[Literal["OK"], Meta(description="Done.")]
Id = Annotated[int, Meta(ge=1)]
Url = Annotated[str, rules(format="uri")]
Name = Annotated[str, Meta(min_length=1, max_length=140)]
Day = Annotated[int, Meta(ge=0, le=6, description="The first day of the week: 0 is Sunday.")]
CountryId = Annotated[int, Meta(ge=1, le=999)]
_NFKC_8_TO_128 = "8 to 128 characters, counted after NFKC normalisation."
EMAIL = {"format": "email", "maxLength": 254}


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
    """POST /api/signup."""

    email: Annotated[str, rules(**EMAIL)]
    password: Annotated[str, rules(_NFKC_8_TO_128)]
    display_name: Annotated[
        str | None,
        rules(
            "1 to 255 characters after trimming, without control characters. "
            "Missing or null: the email's local part."
        ),
    ] = None
    tos_accepted_for: Annotated[str | None, rules(enum=["track", None])] = None
    remember_me: Annotated[bool, rules("Whether the cookie outlives the browser session.")] = False
    timezone: Annotated[
        str | None,
        rules("An IANA time zone name. Missing or null: `UTC`.", examples=["Europe/London"]),
    ] = None


class LogInBody(msgspec.Struct):
    """POST /api/sessions."""

    email: str
    password: str
    remember_me: bool = False


class ResetRequestBody(msgspec.Struct):
    """POST /api/me/password_reset/request."""

    email: Annotated[str, rules(**EMAIL)]


class ResetConfirmBody(msgspec.Struct):
    """POST /api/me/password_reset/confirm/{code}."""

    password: Annotated[str, rules(_NFKC_8_TO_128)]


class ProfileBody(msgspec.Struct):
    """PUT /api/v9/me: any of the fields; a missing or null field is left as it is, except
    `country_id`, which null clears. A new `password` needs `current_password`."""

    fullname: Annotated[
        str | UnsetType | None,
        rules("1 to 255 characters after trimming, without control characters."),
    ] = UNSET
    email: Annotated[str | UnsetType | None, rules(**EMAIL)] = UNSET
    timezone: Annotated[str | UnsetType | None, rules("An IANA time zone name.")] = UNSET
    beginning_of_week: Annotated[int | UnsetType | None, rules(minimum=0, maximum=6)] = UNSET
    country_id: Annotated[int | UnsetType | None, rules(minimum=1, maximum=999)] = UNSET
    default_workspace_id: Annotated[
        int | UnsetType | None,
        rules("One of the user's workspaces.", minimum=1, maximum=2**63 - 1),
    ] = UNSET
    password: Annotated[str | UnsetType | None, rules(_NFKC_8_TO_128)] = UNSET
    current_password: Annotated[
        str | UnsetType | None, rules("The current password, needed with a new `password`.")
    ] = UNSET

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


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    """An answer's object: exactly these keys (the document says `additionalProperties:
    false`, so a key Toggl sends but punchclock must not, such as `intercom_hash`, fails)."""


class Me(Answer):
    """The user, with the keys in the order Toggl sends them. `intercom_hash` is never sent."""

    id: Id
    api_token: ApiToken
    email: Annotated[str, rules(format="email")]
    fullname: Annotated[str, Meta(min_length=1, max_length=255)]
    timezone: Annotated[str, Meta(min_length=1)]
    toggl_accounts_id: Annotated[str, Meta(pattern="^[A-Za-z0-9]{22}$")]
    default_workspace_id: Id
    beginning_of_week: Day
    image_url: Url
    created_at: Timestamp
    updated_at: Timestamp
    openid_email: None
    openid_enabled: bool
    country_id: CountryId | None
    has_password: bool
    at: Timestamp
    authorization_updated_at: Timestamp
    two_factor_enabled: bool = msgspec.field(name="2fa_enabled")


class MeUpdated(Me):
    """The user, as in `Me`, and when the profile was last changed."""

    toggl_accounts_updated_at: Timestamp


class WorkspaceView(Answer):
    """A workspace, the same object in every answer that has one (`/me?with_related_data=true`,
    `/me/workspaces`, `/workspaces`, `/workspaces/{id}`). Every account has one, made when it
    signs up, in the account's organization; it is removed when the account is closed."""

    # toggl-me-family.md: keys in the order of a real Dec-2024 answer; toggl-python
    # requires each key, even where null is allowed
    id: Id
    organization_id: Id
    name: Name
    premium: bool
    business_ws: bool
    admin: bool
    role: str
    suspended_at: None
    server_deleted_at: None
    default_hourly_rate: None  # tap-toggl's schema says integer, toggl-python float: null
    rate_last_updated: None
    default_currency: Annotated[str, Meta(pattern="^[A-Z]{3}$")]
    only_admins_may_create_projects: bool
    only_admins_may_create_tags: bool
    only_admins_see_billable_rates: bool
    only_admins_see_team_dashboard: bool
    projects_billable_by_default: bool
    projects_private_by_default: bool
    projects_enforce_billable: bool
    limit_public_project_data: bool
    last_modified: Annotated[
        str,
        Meta(
            description="The day of the last change, at midnight UTC, with `Z` (as a real "
            "workspace's `last_modified`).",
            pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}T00:00:00Z$",
            extra_json_schema={"format": "date-time"},
        ),
    ]
    reports_collapse: bool
    rounding: Annotated[int, Meta(ge=-1, le=1)]
    rounding_minutes: Annotated[int, Meta(ge=0)]
    # Toggl's deprecated workspace token: the key, never a token
    api_token: Annotated[None, Meta(description="Toggl's deprecated workspace token: always null.")]
    at: Annotated[
        str,
        Meta(
            description="RFC 3339, UTC, to the second, with `+00:00` (as a real workspace's `at`).",
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00$",
            extra_json_schema={"format": "date-time"},
        ),
    ]
    logo_url: Url
    ical_url: None
    ical_enabled: bool
    csv_upload: None
    subscription: None
    hide_start_end_times: bool
    working_hours_in_minutes: None


class MeWithRelatedData(Me):
    """The user, as in `Me`, and their workspaces. Toggl's other related lists (projects,
    tags, time entries, clients, tasks) are left out when empty, as they always are here."""

    workspaces: Annotated[list[WorkspaceView], Meta(min_length=1)]


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


class TrialInfo(Answer):
    """An organization's trial: none, as punchclock has no paid plans."""

    trial: bool
    trial_available: bool
    trial_end_date: None
    next_payment_date: None
    last_pricing_plan_id: None
    can_have_trial: bool
    trial_plan_id: None


class OrganizationView(Answer):
    """An organization. Every account owns one, made when it signs up; it holds the
    account's workspace and is removed when the account is closed. punchclock has no
    billing: a free plan, no trials."""

    # keys in the order of a real answer (toggl-me-family.md)
    id: Id
    name: Name
    pricing_plan_id: int
    created_at: Timestamp
    at: Timestamp
    server_deleted_at: None
    is_multi_workspace_enabled: bool
    suspended_at: None
    user_count: Id
    trial_info: TrialInfo
    is_unified: bool
    max_workspaces: Id
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


class Feature(Answer):
    """A feature of Toggl's plans, and whether the workspace has it."""

    feature_id: Annotated[int, Meta(ge=0)]
    name: Annotated[str, Meta(min_length=1)]
    enabled: bool


class WorkspaceFeatures(Answer):
    """The features of one workspace."""

    workspace_id: Id
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


class AlphaFeature(Answer):
    """A feature in testing, switched on or off."""

    code: str
    enabled: bool


# The values a preference may take (services/workspaces.py checks them): `rules` only,
# as `preferences` below converts with msgspec, which must not check them a second time.
_DATE_FORMAT = rules(enum=sorted(ws.DATE_FORMATS))
_DURATION_FORMAT = rules(enum=sorted(ws.DURATION_FORMATS))
_TIMEOFDAY_FORMAT = rules(enum=sorted(ws.TIMEOFDAY_FORMATS))
_COLLAPSE = rules("Present once set.")


class Preferences(Answer, omit_defaults=True, kw_only=True):
    """The user's preferences, in Toggl's spelling (`BeginningOfWeek`, `CollapseTimeEntries`
    as Toggl's clients read them)."""

    # the keys toggl-python requires, PascalCase for the legacy ones, sorted as Toggl's
    # answers are; CollapseTimeEntries only once it is set
    BeginningOfWeek: Annotated[  # Toggl's spelling, not beginning_of_week
        int, rules("The user's `beginning_of_week`: 0 is Sunday.", minimum=0, maximum=6)
    ]
    CollapseTimeEntries: Annotated[bool | msgspec.UnsetType, _COLLAPSE] = msgspec.UNSET
    alpha_features: Annotated[
        list[AlphaFeature], rules("Features in testing: punchclock has none.")
    ]
    date_format: Annotated[str, _DATE_FORMAT]
    duration_format: Annotated[str, _DURATION_FORMAT]
    pg_time_zone_name: Annotated[str, rules("The user's `timezone`, an IANA name.", minLength=1)]
    record_timeline: bool
    send_product_emails: bool
    send_timer_notifications: bool
    send_weekly_report: bool
    timeofday_format: Annotated[str, _TIMEOFDAY_FORMAT]


_CLIENT_VALUE = {
    "type": ["string", "number", "boolean", "null"],
    "maxLength": 256,
    "minimum": -(2**53 - 1),
    "maximum": 2**53 - 1,
}
_PREFERENCE_KEY = {"minLength": 1, "maxLength": ws.MAX_KEY_LENGTH}
_PREFERENCES_CHANGES = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": _PREFERENCE_KEY,
    "properties": {
        "BeginningOfWeek": {
            "description": "Changes the user's `beginning_of_week`.",
            "type": "integer",
            "minimum": 0,
            "maximum": 6,
        },
        "date_format": {"enum": sorted(ws.DATE_FORMATS)},
        "duration_format": {"enum": sorted(ws.DURATION_FORMATS)},
        "pg_time_zone_name": {
            "description": "Changes the user's `timezone`: an IANA name, else "
            '`400 "Value in pg_time_zone_name is invalid"`.',
            "type": "string",
            "minLength": 1,
        },
        **{key: {"type": "boolean"} for key in sorted(ws.BOOLEAN_PREFERENCES)},
        "timeofday_format": {"enum": sorted(ws.TIMEOFDAY_FORMATS)},
        "alpha_features": {
            "description": 'punchclock has no features in testing: any entry is `400 "Invalid '
            'feature code(s)"`.',
            "type": "array",
            "maxItems": 0,
        },
        "ToSAcceptNeeded": {
            "description": 'Never settable: `400 "Cannot set value for ToSAcceptNeeded"`.',
            "not": {},
        },
    },
}
# Bodies read as plain JSON (services/workspaces.py checks them key by key):
PreferencesChanges = Annotated[
    dict[str, Any],
    rules(
        "The preferences to change; at least one key. Keys punchclock does not know are "
        'ignored. Values out of the sets below are `400 "Value in <key> is invalid"`; an '
        'empty object or not an object is `400 "Missing data"`.',
        **_PREFERENCES_CHANGES,
    ),
]
ClientPreferencesChanges = Annotated[
    dict[str, Any],
    rules(
        "The client's own preferences to change; at least one key. Known keys as in "
        "`PreferencesChanges`; any other key is kept for this client if its value is a "
        "small scalar.",
        **_PREFERENCES_CHANGES,
        additionalProperties=_CLIENT_VALUE,
    ),
]
ClientPreferences = Annotated[
    dict[str, Any],
    rules(
        "The user's preferences (as `Preferences`) with one client's own keys over them: "
        "small scalars the client set.",
        type="object",
        propertyNames=_PREFERENCE_KEY,
        additionalProperties=_CLIENT_VALUE,
    ),
]
Flags = Annotated[
    dict[str, Any],
    rules(
        "A user's flags: any JSON values under keys of 1 to 32 characters, at most 128.",
        maxProperties=ws.MAX_FLAGS,
        propertyNames={"minLength": 1, "maxLength": ws.MAX_FLAG_KEY},
    ),
]
FlagsChanges = Annotated[
    dict[str, Any],
    rules(
        "Flags to add or replace: 1 to 4 keys of 1 to 32 characters, each value's JSON at "
        "most 64 characters.",
        minProperties=1,
        maxProperties=ws.MAX_FLAGS_PER_REQUEST,
        propertyNames={"minLength": 1, "maxLength": ws.MAX_FLAG_KEY},
    ),
]


def preferences(values: dict[str, Any]) -> Preferences:
    return msgspec.convert(values, Preferences)


class Location(Answer, omit_defaults=True):
    """Where the caller is, by IP address. punchclock has no geo-IP database: always `{}`."""

    city: str | msgspec.UnsetType = msgspec.UNSET
    city_lat_long: str | msgspec.UnsetType = msgspec.UNSET
    country_code: str | msgspec.UnsetType = msgspec.UNSET
    country_name: str | msgspec.UnsetType = msgspec.UNSET
    state: str | msgspec.UnsetType = msgspec.UNSET


class Status(Answer):
    """The service is up."""

    status: Literal["OK"]


class SessionView(Answer):
    """One of the caller's sessions. Its JWT and `jti` are never shown."""

    id: SessionId
    created_at: Timestamp
    last_used_at: Timestamp
    expires_at: Timestamp
    user_agent: Annotated[str, Meta(max_length=512)]
    ip: str
    current: Annotated[
        bool, Meta(description="Whether this is the session the request's cookie names.")
    ]


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


class JsonWebKey(Answer):
    """An Ed25519 public key (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: Annotated[
        str,
        Meta(
            description="The 32-byte public key, base64url without padding.",
            pattern="^[A-Za-z0-9_-]{43}$",
        ),
    ]
    kid: Annotated[
        str,
        Meta(
            description="The key's name: the date it was made, with a suffix when a day has "
            "several.",
            pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}(-[0-9]+)?$",
        ),
    ]
    use: Literal["sig"]
    alg: Literal["EdDSA"]


class JsonWebKeySet(Answer):
    """The public keys that sign sessions and forward-auth identities."""

    keys: Annotated[list[JsonWebKey], Meta(min_length=1)]


def jwks(keys: dict[str, list[dict[str, str]]]) -> JsonWebKeySet:
    return msgspec.convert(keys, JsonWebKeySet)


class OpenApiDocument(msgspec.Struct):
    """An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)."""

    openapi: Annotated[str, Meta(pattern=r"^3\.1\.[0-9]+$")]
    info: dict[str, Any]
    paths: dict[str, Any]
