-- Times are integer microseconds since the Unix epoch (UTC).
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    accounts_id TEXT NOT NULL UNIQUE,
    email TEXT,
    email_key TEXT UNIQUE,                -- lower-cased email; NULL once closed
    fullname TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    api_token_lookup BLOB UNIQUE,         -- HMAC of the token under the server key
    api_token_sealed BLOB,                -- the token, AES-GCM under the server key
    timezone TEXT NOT NULL DEFAULT 'UTC',
    beginning_of_week INTEGER NOT NULL DEFAULT 1,
    country_id INTEGER,
    default_workspace_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    authorization_updated_at INTEGER NOT NULL,
    closed_at INTEGER
);

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX workspaces_owner ON workspaces (owner_id);

CREATE TABLE sessions (
    jti TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    remember_me INTEGER NOT NULL,
    user_agent TEXT NOT NULL,
    ip TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE reset_codes (
    code_lookup BLOB PRIMARY KEY,         -- HMAC of the code; the code itself is never kept
    account_id INTEGER NOT NULL UNIQUE REFERENCES accounts (id),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
