-- Accounts an operator disabled (SQLite's 0007 too): every credential is refused while it is
-- set; the row, and so its email, stays taken.
ALTER TABLE accounts ADD COLUMN disabled_at bigint;  -- NULL: enabled
