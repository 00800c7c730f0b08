//! alert-relay's integration tests, as one test binary so a change links once. They run
//! against the real RabbitMQ and Redis (and, in `alertmanager`, a real Prometheus
//! Alertmanager); each test has its own prefix, so they run in parallel.
//!
//! Ingest:
//! - [`ingest`]: what a sender sees and what lands in the queues (signatures, rejections,
//!   broker outages, metrics).
//! - [`ingest_process`]: the real `ingest` binary: configuration file, secrets from the
//!   environment, JSON logs, SIGTERM.
//! - [`ingest_property`]: any request gets a 2xx or 4xx, and only validly signed ones enqueue.
//! - [`alertmanager`]: Prometheus Alertmanager as a real sender.
//!
//! Processor:
//! - [`processor`]: alerts end to end into Syncro tickets and notes: routing, grouping,
//!   retries, dead letters, and workers racing or dying.
//! - [`processor_config`]: `processor check-config [--online]` and `processor explain`.
//! - [`enrich`]: contracts and devices on new tickets.
//! - [`contacts`]: the alert's user as the new ticket's Syncro contact.
//! - [`rmm_alerts`]: a Syncro RMM alert on each group's asset: raised once, cleared on resolve.
//! - [`preflight`]: `check-config --online`'s token permissions and ticket types.
//! - [`parking`]: parked unmapped alerts, their release, and reloading with SIGHUP.
//! - [`lease`]: leases and their holders' presence in Redis.
//! - [`ratelimit`]: who shares the fleet-wide Syncro budget, and who goes first.
//! - [`budget`]: the budget spent on what matters end to end: new incidents first, a storm
//!   held cheaply and carried in one call per group, held alerts handed over on shutdown.
//! - [`accounts`]: several Syncro accounts side by side, one prefix each, sharing the egress
//!   IP's budget.
//! - [`billing`]: billable-user counts through ingest and the monthly sync onto invoices.
//! - [`security`]: secrets never logged, metrics on localhost, slow or huge requests bounded.
//! - [`grafana`]: the Grafana dashboard and the alert rules name only exported metrics.
//! - [`redis_tls`]: Redis over TLS: the CA bundle, client certificates, refused servers, and
//!   bad `[redis]` settings reported together.
//! - [`redis_sentinel`]: Redis Sentinel: stores and workers follow the master across a
//!   failover.
//!
//! - [`operator_desk`]: the operator API's desk endpoints: Syncro and Redis in the status,
//!   the day's activity, a silence's preview, configuration and explain, billing.
//!
//! Console:
//! - [`console`]: the web console against the operator API: sign-in, CSRF, security headers,
//!   roles, audited changes, the silence form's problems, alerts' markup shown as text.
//! - [`console_desk`]: the overview's day of activity, a silence's preview, configuration
//!   and explain, billing; markup as text, no changing form for a reader.
//! - [`console_browser`]: the console in headless Chromium over WebDriver, clicking through.
//! - [`console_browser_mapping`]: the Mapping page in the browser: an organization with parked
//!   alerts mapped, its alerts become a ticket.
//! - [`console_browser_dead_letters`]: an alert dead-lettered, replayed from the console in a
//!   browser (dry run first), and ticketed.
//! - [`dead_letters`]: `/v1/dead-letters` (counts, filters, one letter, dry run, replay,
//!   purge, RabbitMQ away) and the console's dead-letter pages (CSRF, roles).
//!
//! relayctl:
//! - [`redis_loss`]: Redis losing its data: no ticket, alert or billing update doubled.
//! - [`relayctl_dlq`]: `relayctl dlq`: stats, list, replay and purge of dead letters.
//! - [`mappings`]: `relayctl mappings`: unmapped organizations and suggested mappings.
//! - [`mappings_console`]: mappings made through the operator API and the console's Mapping
//!   page: audited, refused without a change.
//! - [`mappings_workers`]: what the workers make of them: the file first, every worker within
//!   seconds and after a restart, parked alerts released.
//!
//! Syncro:
//! - [`syncro_client`]: the client against the simulator: every operation, error and fault.
//! - [`syncro_contract`]: the client and simulator against Syncro's OpenAPI document.
//! - [`syncro_contract_accounts`]: the same for contacts, RMM alerts and `GET /me`.
//! - [`syncro_sim`]: the simulator over plain HTTP.
//! - [`syncro_support`]: helpers of the three Syncro modules (a simulator per test, a client).
//!
//! The stacks these tests start, and their sample configuration
//! (`tests/fixtures/processor.toml`), are in the `relay_tests` library.

mod accounts;
mod alertmanager;
mod billing;
mod browser;
mod budget;
mod console;
mod console_browser;
mod console_browser_dead_letters;
mod console_browser_mapping;
mod console_desk;
mod contacts;
mod dead_letters;
mod enrich;
mod grafana;
mod ingest;
mod ingest_openapi;
mod ingest_process;
mod ingest_property;
mod ingest_trail;
mod lease;
mod mappings;
mod mappings_console;
mod mappings_workers;
mod operator;
mod operator_desk;
mod parking;
mod preflight;
mod processor;
mod processor_config;
mod ratelimit;
mod redis_loss;
mod redis_sentinel;
mod redis_tls;
mod relayctl_dlq;
mod relayctl_operator;
mod rmm_alerts;
mod security;
mod steer;
mod syncro_client;
mod syncro_contract;
mod syncro_contract_accounts;
mod syncro_sim;
mod syncro_support;
