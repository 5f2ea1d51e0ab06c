-- The schema of SQLite's 0001 and 0002 in one step, plus the signing keys, which on
-- PostgreSQL live in the database so that every host signs and verifies with the same keys.
-- Times are bigint microseconds since the Unix epoch (UTC), as on SQLite.
CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accounts_id text NOT NULL UNIQUE,
    email text,
    email_key text CONSTRAINT accounts_email_key UNIQUE,  -- lower-cased email; NULL once closed
    fullname text NOT NULL DEFAULT '',
    password_hash text,
    api_token_lookup bytea UNIQUE,        -- HMAC of the token under the server key
    api_token_sealed bytea,               -- the token, AES-GCM under the server key
    timezone text NOT NULL DEFAULT 'UTC',
    beginning_of_week integer NOT NULL DEFAULT 1,
    country_id bigint,
    default_workspace_id bigint,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    authorization_updated_at bigint NOT NULL,
    closed_at bigint
);

CREATE TABLE workspaces (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES accounts (id),
    name text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX workspaces_owner ON workspaces (owner_id);

CREATE TABLE sessions (
    jti text PRIMARY KEY,
    id text NOT NULL UNIQUE,              -- public id, 32 hex; the jti stays private
    account_id bigint NOT NULL REFERENCES accounts (id),
    kid text,                             -- the key that signed the session's JWT
    created_at bigint NOT NULL,
    last_used_at bigint NOT NULL,         -- updated at most once a minute per worker
    expires_at bigint NOT NULL,
    remember_me boolean NOT NULL,
    user_agent text NOT NULL,
    ip text NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_kid ON sessions (kid);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE reset_codes (
    code_lookup bytea PRIMARY KEY,        -- HMAC of the code; the code itself is never kept
    account_id bigint NOT NULL UNIQUE REFERENCES accounts (id),
    expires_at bigint NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    sealed_key bytea NOT NULL,            -- PKCS#8 private key, AES-GCM under the server key
    created_at bigint NOT NULL,
    signs_from bigint NOT NULL            -- when it becomes the key new sessions are signed with
);
