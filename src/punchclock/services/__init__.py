"""The product's verbs, one small service a verb family.

credentials (who is calling), sessions, resets, email changes, accounts and two-factor; audit,
attempts (the limits) and the notices sent by mail are collaborators they share. Each
service sees only the `Store` port; assembly.py builds them, for web/app.py (and cli.py
through it) and for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package's face imports no service: each module imports what it uses
    from punchclock.notices import Notices
    from punchclock.services.accounts import Accounts
    from punchclock.services.administration import Administration
    from punchclock.services.attempts import Attempts
    from punchclock.services.audit import Audit
    from punchclock.services.background import Background
    from punchclock.services.credentials import Credentials
    from punchclock.services.email_changes import EmailChanges
    from punchclock.services.health import Health
    from punchclock.services.resets import Resets
    from punchclock.services.second_factor import SecondFactor
    from punchclock.services.sessions import Sessions
    from punchclock.services.two_factor import TwoFactor
    from punchclock.services.workspaces import Workspaces


@dataclass(frozen=True, slots=True)
class Services:
    """The services one process serves with, as the composition roots build them."""

    credentials: Credentials
    sessions: Sessions
    resets: Resets
    email_changes: EmailChanges
    accounts: Accounts
    workspaces: Workspaces
    attempts: Attempts
    audit: Audit
    notices: Notices
    background: Background
    health: Health
    administration: Administration
    second_factor: SecondFactor  # the codes' checks TwoFactor and Credentials share
    two_factor: TwoFactor
