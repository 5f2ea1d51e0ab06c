-- The audit trail of security events (SQLite's 0004). No foreign key to accounts: an
-- event may have no account, and recording one must never fail on the account's state.
CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at bigint NOT NULL,                   -- microseconds since the epoch
    event text NOT NULL,
    account_id bigint,                    -- NULL: no known account
    ip text NOT NULL,
    user_agent text NOT NULL,
    detail text
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_account ON audit_events (account_id, at);
