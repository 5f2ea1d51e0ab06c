-- Issue 19: two-factor authentication by TOTP (RFC 6238), with recovery codes.

-- The TOTP secret, AES-GCM under the server key and bound to the account, like the API
-- token: NULL while two-factor is off. A secret whose enrolment is begun waits in
-- totp_pending_sealed until a code from it confirms it. totp_last_step is the newest time
-- step a code was accepted for: a code at or before it is refused (each code works once).
ALTER TABLE accounts ADD COLUMN totp_sealed BLOB;
ALTER TABLE accounts ADD COLUMN totp_pending_sealed BLOB;
ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER;

-- Recovery codes (120 random bits each), kept only as HMACs under the server key; a code
-- is deleted as it is used.
CREATE TABLE recovery_codes (
    code_lookup BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);

-- The log-in step between a right password and a right code: a single-use ticket, kept
-- as an HMAC, that lives five minutes.
CREATE TABLE two_factor_tickets (
    ticket_lookup BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    remember_me INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX two_factor_tickets_account ON two_factor_tickets (account_id);
