-- The transactional outbox: mail is written in the transaction of the change that causes
-- it, and sent afterwards by whichever sender claims it (see Store.claim_mail).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,                  -- 32 hex; also the Message-ID's left part
    recipient TEXT NOT NULL,              -- in clear, for `punchclock mail list`
    subject TEXT NOT NULL,
    sealed BLOB,                          -- the message, AES-GCM under the server key; NULL once sent
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,  -- failed attempts
    created_at INTEGER NOT NULL,
    queued_at INTEGER NOT NULL,           -- queued, or queued again by `mail retry`: age counts from here
    next_attempt_at INTEGER NOT NULL,
    claim_token TEXT,                     -- the sender holding it, until lease_until
    lease_until INTEGER,
    sent_at INTEGER,
    last_error TEXT
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_created ON outbox (created_at);
