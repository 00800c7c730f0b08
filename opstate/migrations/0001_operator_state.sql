-- alert-relay's operator state (issue 14). Every table lives in the deployment's own schema
-- (postgres.schema, the prefix by default), which the connection's search_path names.

-- Silences and maintenance windows. `spec` is the checked silence (matchers, schedule,
-- reason, author, resolved_pass, starts_at, ends_at) as opstate::silence::Checked; the
-- columns beside it are what queries filter on.
CREATE TABLE silences (
    id          uuid PRIMARY KEY,
    spec        jsonb       NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    author      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    expired_at  timestamptz
);
CREATE INDEX silences_current ON silences (ends_at) WHERE expired_at IS NULL;

-- The groups a silence's window held: what was suppressed, for the ticket each group still
-- firing gets when the window ends (released_at set once that ticket's alert is queued).
CREATE TABLE silenced_groups (
    silence_id    uuid        NOT NULL REFERENCES silences (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    group_key     text        NOT NULL,
    suppressed    bigint      NOT NULL,
    first_at      timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,
    firing        boolean     NOT NULL,
    last_message  jsonb       NOT NULL,
    released_at   timestamptz,
    PRIMARY KEY (silence_id, window_start, group_key)
);
CREATE INDEX silenced_groups_due ON silenced_groups (window_end) WHERE released_at IS NULL;

-- Fleet-wide switches ('pause') and the generation every change bumps ('generation'), which
-- the workers poll to know when to read silences and the pause state again.
CREATE TABLE fleet_state (
    name        text        PRIMARY KEY,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL
);
INSERT INTO fleet_state (name, value, updated_by) VALUES
    ('generation', '0', 'migration'),
    ('pause', '{"paused": false}', 'migration');

-- Each alert's trail: one row per step, from ingest's acceptance to its ticket or note.
CREATE TABLE trail (
    id             bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL,
    message_id     text        NOT NULL,
    source         text        NOT NULL,
    sender_id      text,
    organization   text,
    ticket_id      bigint,
    ticket_number  text,
    step           text        NOT NULL,
    detail         jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX trail_message ON trail (message_id);
CREATE INDEX trail_sender ON trail (sender_id);
CREATE INDEX trail_organization ON trail (organization, at);
CREATE INDEX trail_ticket ON trail (ticket_number) WHERE ticket_number IS NOT NULL;
CREATE INDEX trail_at ON trail USING brin (at);

-- Every operator action: who, when, what.
CREATE TABLE audit (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text,
    detail  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);

-- Each source's last sign of life and, while it is quiet past its expected interval, the
-- outage and the ticket opened for it.
CREATE TABLE source_activity (
    source                  text PRIMARY KEY,
    last_alert_at           timestamptz,
    last_heartbeat_at       timestamptz,
    expected_interval_secs  bigint,
    outage_since            timestamptz,
    outage_ticket_id        bigint,
    outage_state            text
);

-- Each worker's last report (every few seconds): alive, what it holds, its use of Syncro's
-- budget; the status of the fleet is read from here.
CREATE TABLE workers (
    instance    text        PRIMARY KEY,
    host        text        NOT NULL,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    report      jsonb       NOT NULL
);
