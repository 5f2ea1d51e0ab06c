-- Every account owns one organization and one workspace (issue 13): Toggl clients read
-- /me/organizations and every workspace's organization_id, and must find the one in the
-- other. Accounts made before this get theirs here; closed accounts (tombstones) get none.
CREATE TABLE organizations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,                   -- 1 to 140 characters, as Toggl's clients demand
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX organizations_owner ON organizations (owner_id);

-- NULL only between the ALTER and the UPDATE below: every workspace is made with one
ALTER TABLE workspaces ADD COLUMN organization_id INTEGER REFERENCES organizations (id);

INSERT INTO organizations (owner_id, name, created_at, updated_at)
SELECT id, substr(CASE WHEN fullname = '' THEN 'My' ELSE fullname || '''s' END
                  || ' organization', 1, 140), created_at, created_at
FROM accounts WHERE closed_at IS NULL ORDER BY id;

-- an open account without a workspace would make default_workspace_id point nowhere
INSERT INTO workspaces (owner_id, name, created_at, updated_at)
SELECT a.id, substr(CASE WHEN a.fullname = '' THEN 'My' ELSE a.fullname || '''s' END
                    || ' workspace', 1, 140), a.created_at, a.created_at
FROM accounts a
WHERE a.closed_at IS NULL AND NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.owner_id = a.id)
ORDER BY a.id;

UPDATE accounts SET default_workspace_id =
    (SELECT min(w.id) FROM workspaces w WHERE w.owner_id = accounts.id)
WHERE closed_at IS NULL AND NOT EXISTS
    (SELECT 1 FROM workspaces w WHERE w.id = accounts.default_workspace_id
     AND w.owner_id = accounts.id);

UPDATE workspaces SET organization_id =
    (SELECT o.id FROM organizations o WHERE o.owner_id = workspaces.owner_id);

-- Per-account settings Toggl clients read and write, each a JSON object: kind is
-- 'preferences' (GET/POST /me/preferences), 'preferences/desktop' or 'preferences/web'
-- (/me/preferences/{client}), or 'flags' (/me/flags). Not secret, so not sealed.
CREATE TABLE account_settings (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, kind)
) WITHOUT ROWID;
