-- The audit trail of security events (issue 6). No foreign key to accounts: an event
-- may have no account, and recording one must never fail on the account's state.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,                  -- microseconds since the epoch
    event TEXT NOT NULL,
    account_id INTEGER,                   -- NULL: no known account
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_account ON audit_events (account_id, at);
