-- 0006 on both dialects (issue 11): several live reset codes per account, email changes
-- that wait for the new address to confirm (and can be undone from the old one), and
-- mail tied to its account.

-- The account a message was queued for, whatever address it went to: closing the account
-- erases every message naming any address the account ever had (or asked to have).
ALTER TABLE outbox ADD COLUMN account_id bigint;
CREATE INDEX outbox_account ON outbox (account_id) WHERE account_id IS NOT NULL;

-- A reset code no longer replaces the one before: someone else asking for a code must not
-- void the one its owner just received. All of an account's codes die together.
ALTER TABLE reset_codes DROP CONSTRAINT reset_codes_account_id_key;
CREATE INDEX reset_codes_account ON reset_codes (account_id);

-- The codes of the links that confirm a new address ('confirm', mailed to it) and undo a
-- change ('undo', mailed to the old address), kept only as HMACs under the server key.
CREATE TABLE email_changes (
    code_lookup bytea PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    kind text NOT NULL CHECK (kind IN ('confirm', 'undo')),
    email text NOT NULL,                  -- confirm: the new address; undo: the one to restore
    expires_at bigint NOT NULL,
    created_at bigint NOT NULL
);
CREATE INDEX email_changes_account ON email_changes (account_id);
