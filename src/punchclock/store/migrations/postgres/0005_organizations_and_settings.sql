-- Every account owns one organization and one workspace (issue 13): Toggl clients read
-- /me/organizations and every workspace's organization_id, and must find the one in the
-- other. Accounts made before this get theirs here; closed accounts (tombstones) get none.
CREATE TABLE organizations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES accounts (id),
    name text NOT NULL,                   -- 1 to 140 characters, as Toggl's clients demand
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX organizations_owner ON organizations (owner_id);

ALTER TABLE workspaces ADD COLUMN organization_id bigint REFERENCES organizations (id);

INSERT INTO organizations (owner_id, name, created_at, updated_at)
SELECT id, left(CASE WHEN fullname = '' THEN 'My' ELSE fullname || '''s' END
                || ' organization', 140), created_at, created_at
FROM accounts WHERE closed_at IS NULL ORDER BY id;

-- an open account without a workspace would make default_workspace_id point nowhere
INSERT INTO workspaces (owner_id, name, created_at, updated_at)
SELECT a.id, left(CASE WHEN a.fullname = '' THEN 'My' ELSE a.fullname || '''s' END
                  || ' workspace', 140), a.created_at, a.created_at
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
ALTER TABLE workspaces ALTER COLUMN organization_id SET NOT NULL;

-- Per-account settings Toggl clients read and write, each a JSON object: kind is
-- 'preferences' (GET/POST /me/preferences), 'preferences/desktop' or 'preferences/web'
-- (/me/preferences/{client}), or 'flags' (/me/flags). Not secret, so not sealed.
CREATE TABLE account_settings (
    account_id bigint NOT NULL REFERENCES accounts (id),
    kind text NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (account_id, kind)
);
