-- Issue 11: several live reset codes per account, email changes that wait for the new
-- address to confirm (and can be undone from the old one), and mail tied to its account.

-- The account a message was queued for, whatever address it went to: closing the account
-- erases every message naming any address the account ever had (or asked to have).
ALTER TABLE outbox ADD COLUMN account_id INTEGER;
CREATE INDEX outbox_account ON outbox (account_id) WHERE account_id IS NOT NULL;

-- A reset code no longer replaces the one before: someone else asking for a code must not
-- void the one its owner just received. All of an account's codes die together.
CREATE TABLE reset_codes_several (
    code_lookup BLOB PRIMARY KEY,         -- HMAC of the code; the code itself is never kept
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO reset_codes_several SELECT code_lookup, account_id, expires_at, created_at FROM reset_codes;
DROP TABLE reset_codes;
ALTER TABLE reset_codes_several RENAME TO reset_codes;
CREATE INDEX reset_codes_account ON reset_codes (account_id);

-- The codes of the links that confirm a new address ('confirm', mailed to it) and undo a
-- change ('undo', mailed to the old address), kept only as HMACs under the server key.
CREATE TABLE email_changes (
    code_lookup BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirm', 'undo')),
    email TEXT NOT NULL,                  -- confirm: the new address; undo: the one to restore
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX email_changes_account ON email_changes (account_id);
