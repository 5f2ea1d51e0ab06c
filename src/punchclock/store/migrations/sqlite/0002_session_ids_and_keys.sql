-- Sessions a user can list and end one by one, tied to the key that signed them.
ALTER TABLE sessions ADD COLUMN id TEXT;              -- public id, 32 hex; the jti stays private
ALTER TABLE sessions ADD COLUMN kid TEXT;             -- signing key; NULL for sessions made before
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER; -- updated at most once a minute
UPDATE sessions SET id = lower(hex(randomblob(16))), last_used_at = created_at;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_kid ON sessions (kid);
CREATE INDEX sessions_expiry ON sessions (expires_at);
