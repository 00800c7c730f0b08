-- Mappings made in the console (issue 15's mapping wizard): an organization id, as senders
-- send it, to the Syncro customer its alerts go to (customer_id, with the customer's name as
-- shown when it was chosen), or ignored (customer_id NULL). The configuration file's
-- [mapping] decides first: a row for an organization the file maps or ignores is kept but
-- has no effect (the console shows it as overridden).
CREATE TABLE console_mappings (
    organization   text        PRIMARY KEY,
    customer_id    bigint      CHECK (customer_id IS NULL OR customer_id > 0),
    customer_name  text,
    set_by         text        NOT NULL,
    set_at         timestamptz NOT NULL DEFAULT now()
);
