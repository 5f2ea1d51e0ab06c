-- Accounts an operator disabled (`punchclock accounts disable`): every credential is
-- refused while it is set; the row, and so its email, stays taken.
ALTER TABLE accounts ADD COLUMN disabled_at INTEGER;  -- NULL: enabled
