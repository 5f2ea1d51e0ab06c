-- Session ids and signing key ids: PostgreSQL's 0001 already has them (SQLite's did not).
-- Kept so that a schema version means the same on both backends: 3 is the outbox, 4 the
-- audit trail, on SQLite and PostgreSQL alike.
SELECT 1;
