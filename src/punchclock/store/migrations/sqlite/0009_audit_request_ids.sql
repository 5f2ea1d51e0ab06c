-- The request id (X-Request-Id) an audit event was recorded under (issue 17), so that an
-- event can be matched with the access log's line of the same request. NULL: recorded
-- outside a request (the command line, background work) or before this migration.
ALTER TABLE audit_events ADD COLUMN request_id text;
