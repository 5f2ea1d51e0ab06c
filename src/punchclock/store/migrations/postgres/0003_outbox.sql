-- The transactional outbox (SQLite's 0003): mail is written in the transaction of the
-- change that causes it, and sent afterwards by whichever sender claims it.
CREATE TABLE outbox (
    id text PRIMARY KEY,                  -- 32 hex; also the Message-ID's left part
    recipient text NOT NULL,              -- in clear, for `punchclock mail list`
    subject text NOT NULL,
    sealed bytea,                         -- the message, AES-GCM under the server key; NULL once sent
    state text NOT NULL CHECK (state IN ('queued', 'sent', 'dead')),
    attempts integer NOT NULL DEFAULT 0,  -- failed attempts
    created_at bigint NOT NULL,
    queued_at bigint NOT NULL,            -- queued, or queued again by `mail retry`: age counts from here
    next_attempt_at bigint NOT NULL,
    claim_token text,                     -- the sender holding it, until lease_until
    lease_until bigint,
    sent_at bigint,
    last_error text
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_created ON outbox (created_at);
