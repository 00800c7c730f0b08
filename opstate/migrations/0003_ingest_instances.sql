-- Ingest's instances report themselves beside the workers (issue 15's overview: every part up
-- or not, ingest included): one table of the relay's processes, each row a process's last
-- report, `role` saying which part it is. Rows written before are the workers'.
ALTER TABLE workers ADD COLUMN role text NOT NULL DEFAULT 'processor';
CREATE INDEX workers_role_seen ON workers (role, seen_at);
