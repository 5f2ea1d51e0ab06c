"""What the dispatcher and the authenticator note in a request's ASGI scope, for the access
log, the metrics and the audit trail to read once the answer is made: never a credential."""

from __future__ import annotations

REQUEST_ID = "punchclock.request_id"  # str: X-Request-Id, the proxy's or one made here
ROUTE = "punchclock.route"  # str: the route template that matched, e.g. /api/sessions/{id}
CREDENTIAL = "punchclock.credential"  # str: token, password, session, none, other: presented
ACCOUNT_ID = "punchclock.account_id"  # int: the account the credential authenticated
