"""The OpenAPI 3.1 document served at /api/openapi.json.

The paths (with info, tags, security schemes, shared headers, parameters and responses)
are written by hand in openapi_paths.json; every schema they name is generated here from
the wire types in web/wire.py with `msgspec.json.schema_components`, so a body's shape is
written once, where it is encoded or decoded. A component's name is its Struct's name, or
the name of a type alias in `NAMED` below.

To document a new endpoint: its path goes in openapi_paths.json, naming its bodies as
`#/components/schemas/<Struct>`; a new body Struct goes in `BODIES` (the Structs a body
holds come along). tests/http/test_openapi.py fails on a route without a path, a path
without a route, a body that is not a generated component, or a component nothing uses.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import msgspec

from punchclock.web import wire

REF = "#/components/schemas/{name}"

# Types that are not Structs and that paths name: their component is the alias's schema.
NAMED: dict[str, Any] = {
    "ApiToken": wire.ApiToken,
    "SessionId": wire.SessionId,
    "Flag": wire.Flag,
    "Ok": wire.Ok,
    "Error": wire.Error,
    "HealthProblems": wire.HealthProblems,
    "PreferencesChanges": wire.PreferencesChanges,
    "ClientPreferencesChanges": wire.ClientPreferencesChanges,
    "ClientPreferences": wire.ClientPreferences,
    "Flags": wire.Flags,
    "FlagsChanges": wire.FlagsChanges,
}
# The Structs that are bodies on the wire (the ones they hold come along).
BODIES: tuple[type[msgspec.Struct], ...] = (
    wire.SignUpBody,
    wire.LogInBody,
    wire.ResetRequestBody,
    wire.ResetConfirmBody,
    wire.OtpBody,
    wire.TwoFactorDisableBody,
    wire.TwoFactorSetup,
    wire.RecoveryCodes,
    wire.ProfileBody,
    wire.Me,
    wire.MeUpdated,
    wire.MeWithRelatedData,
    wire.WorkspaceView,
    wire.OrganizationView,
    wire.WorkspaceFeatures,
    wire.Preferences,
    wire.Location,
    wire.Status,
    wire.SessionView,
    wire.JsonWebKeySet,
    wire.OpenApiDocument,
)


def schemas() -> dict[str, Any]:
    """Return components.schemas: each body's and each named type's JSON Schema."""
    named = list(NAMED.items())
    found, components = msgspec.json.schema_components(
        [*BODIES, *(t for _, t in named)], ref_template=REF
    )
    for (name, _), schema in zip(named, found[len(BODIES) :], strict=True):
        if name in components:
            raise ValueError(f"{name} names a Struct and a type alias")
        components[name] = schema
    # A client's preferences are the user's, open to the client's own small scalars.
    preferences = components["Preferences"]
    components["ClientPreferences"] = {
        **{key: value for key, value in preferences.items() if key != "title"},
        **components["ClientPreferences"],
        "properties": preferences["properties"],
        "required": preferences["required"],
    }
    return dict(sorted(components.items()))


@functools.cache
def document() -> bytes:
    """Return the served document's bytes, built once."""
    text = resources.files("punchclock.web").joinpath("openapi_paths.json").read_text("utf-8")
    built: dict[str, Any] = json.loads(text)
    built["components"]["schemas"] = schemas()
    return msgspec.json.encode(built)
