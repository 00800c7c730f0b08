//! The typed sections of the configuration file and their defaults.

use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Prefix of every exchange, queue and Redis key, so several deployments (or tests) can
    /// share one broker and one Redis.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default)]
    pub amqp: AmqpSettings,
    #[serde(default)]
    pub redis: RedisSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub ingest: IngestSettings,
    /// Webhook senders by name; the name is the `{source}` of `POST /v1/webhooks/{source}`.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSettings>,
    #[serde(default)]
    pub syncro: SyncroSettings,
    /// Where the operator state lives (silences, pause, the trail, the audit log).
    #[serde(default)]
    pub postgres: PostgresSettings,
    /// The operator API and the limits of what operators may set.
    #[serde(default)]
    pub operator: OperatorSettings,
    /// Sections the processor reads and validates itself; kept here so the file is parsed
    /// strictly by every binary.
    #[serde(flatten)]
    pub processor_sections: ProcessorSections,
    /// Secrets named by environment variables that are not set, as problems keyed by their
    /// section; each binary reports those of the sections it uses, so ingest does not fail
    /// for want of the processor's Syncro token.
    #[serde(skip)]
    pub unresolved: Vec<String>,
}

/// The processor's own sections, parsed (and validated) by the processor crate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorSections {
    pub processor: Option<toml::Table>,
    pub mapping: Option<toml::Table>,
    pub tickets: Option<toml::Table>,
    pub notes: Option<toml::Table>,
    pub overrides: Option<toml::Table>,
    pub grouping: Option<toml::Table>,
    pub contracts: Option<toml::Table>,
    pub billing: Option<toml::Table>,
}

fn default_prefix() -> String {
    "relay".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpSettings {
    /// Broker URL; it may carry credentials, so it is a secret (`RELAY_AMQP_URL`).
    pub url: SecretString,
    /// How long to wait for the broker's confirm of a publish before answering 503.
    pub confirm_timeout_ms: u64,
    /// Channels in confirm mode that publishes are spread over.
    pub publish_channels: usize,
    /// Ceiling of the reconnect backoff after the broker went away.
    pub reconnect_max_backoff_ms: u64,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        AmqpSettings {
            url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            confirm_timeout_ms: 5_000,
            publish_channels: 4,
            reconnect_max_backoff_ms: 5_000,
        }
    }
}

/// Where the processor's Redis is and how to reach it; checked and used by the processor
/// (`processor::config::redis`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// Redis URL; it may carry a password, so it is a secret (`RELAY_REDIS_URL`).
    /// `rediss://` is Redis over TLS. With `sentinels`, its host and port are not used (the
    /// sentinels name the master); its scheme, user, password and database still apply.
    pub url: SecretString,
    /// PEM bundle of the authorities a `rediss://` server's certificate must chain to; the
    /// system's roots when absent. For a private CA, which a self-hosted Redis usually has.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate (chain) presented to a server that asks for one (mutual TLS,
    /// `tls-auth-clients yes`); needs `client_key_file`.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// `host:port` of Redis Sentinels; when set, the workers ask them which server is the
    /// master of `master_name`, and follow it when it fails over.
    pub sentinels: Vec<String>,
    /// The name the sentinels monitor the master under (`sentinel monitor NAME ...`).
    pub master_name: Option<String>,
    /// The sentinels' own password (`requirepass` in sentinel.conf), when they have one
    /// (`RELAY_REDIS_SENTINEL_PASSWORD`).
    pub sentinel_password: Option<SecretString>,
    /// Whether the sentinels are reached over TLS (with `ca_file` and the client
    /// certificate, as the servers are).
    pub sentinel_tls: bool,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: SecretString::from("redis://127.0.0.1:6379"),
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            sentinels: Vec::new(),
            master_name: None,
            sentinel_password: None,
            sentinel_tls: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line: for production log pipelines.
    Json,
    /// Human-readable lines: for development.
    Pretty,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,ingest=debug` (`RELAY_LOG`).
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Json,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// Listen address (`RELAY_INGEST_ADDR`).
    pub listen: String,
    /// Largest accepted request body; larger gets 413 before it is read whole.
    pub max_body_bytes: usize,
    /// Largest accepted clock difference for timestamped signatures, both directions.
    pub timestamp_tolerance_secs: u64,
    /// `Retry-After` sent with a 503 when the broker is unavailable.
    pub retry_after_secs: u64,
    /// Time a client has to send its request headers.
    pub client_request_timeout_ms: u64,
    /// Time a client has to send its whole body once headers are in: slow senders cannot hold
    /// connections and buffers forever.
    pub body_timeout_ms: u64,
    /// Concurrent connections per worker thread.
    pub max_connections: usize,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Time in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
    /// Like `metrics_token`, from this environment variable.
    pub metrics_token_env: Option<String>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 256 * 1024,
            timestamp_tolerance_secs: 300,
            retry_after_secs: 5,
            client_request_timeout_ms: 5_000,
            body_timeout_ms: 10_000,
            max_connections: 2_048,
            workers: None,
            shutdown_timeout_secs: 30,
            metrics_token: None,
            metrics_token_env: None,
        }
    }
}

/// How a source proves a request is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyScheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` headers.
    StandardWebhooks,
    /// `sha256=<hex HMAC-SHA256 of the body>` in a configurable header (GitHub style).
    HmacSha256,
    /// A static `Authorization: Bearer <token>` (what Alertmanager can send).
    Bearer,
}

impl VerifyScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyScheme::StandardWebhooks => "standard-webhooks",
            VerifyScheme::HmacSha256 => "hmac-sha256",
            VerifyScheme::Bearer => "bearer",
        }
    }
}

/// What a source's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadFormat {
    /// The canonical alert schema v1: one alert, or a JSON array of them.
    Canonical,
    /// Prometheus Alertmanager webhook, version 4.
    Alertmanager,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    #[serde(default = "default_verify")]
    pub verify: VerifyScheme,
    /// Accepted secrets (or bearer tokens); several at once allow rotation.
    #[serde(default)]
    pub secrets: Vec<SecretString>,
    /// Names of environment variables each holding one more accepted secret.
    #[serde(default)]
    pub secrets_env: Vec<String>,
    #[serde(default = "default_format")]
    pub format: PayloadFormat,
    /// `hmac-sha256` only: the header carrying `sha256=<hex>`.
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// `alertmanager` only: the label holding the organization id.
    #[serde(default = "default_organization_label")]
    pub organization_label: String,
    /// `alertmanager` only: organization id for alerts without that label (otherwise 400).
    #[serde(default)]
    pub default_organization: Option<String>,
    /// `alertmanager` only: the label holding the severity.
    #[serde(default = "default_severity_label")]
    pub severity_label: String,
    /// When set, the source is expected to send an alert or a heartbeat
    /// (`POST /v1/heartbeats/{source}`) at least this often; a longer silence opens a ticket.
    #[serde(default)]
    pub expected_interval_secs: Option<u64>,
}

impl SourceSettings {
    /// A source with these secrets and every other setting at its configuration default,
    /// for code that builds a verifier without a file (the fuzz targets).
    pub fn new(verify: VerifyScheme, format: PayloadFormat, secrets: &[&str]) -> SourceSettings {
        SourceSettings {
            verify,
            secrets: secrets.iter().map(|s| SecretString::from(*s)).collect(),
            secrets_env: vec![],
            format,
            signature_header: default_signature_header(),
            organization_label: default_organization_label(),
            default_organization: None,
            severity_label: default_severity_label(),
            expected_interval_secs: None,
        }
    }
}

fn default_verify() -> VerifyScheme {
    VerifyScheme::StandardWebhooks
}
fn default_format() -> PayloadFormat {
    PayloadFormat::Canonical
}
fn default_signature_header() -> String {
    "X-Hub-Signature-256".into()
}
fn default_organization_label() -> String {
    "organization".into()
}
fn default_severity_label() -> String {
    "severity".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncroSettings {
    /// API base, e.g. `https://acme.syncromsp.com/api/v1` (`RELAY_SYNCRO_URL`).
    pub url: String,
    /// API token; prefer `token_env` or `RELAY_SYNCRO_TOKEN`.
    pub token: Option<SecretString>,
    /// Name of an environment variable holding the token.
    pub token_env: Option<String>,
    /// Request budget per minute shared by every worker (Syncro allows 180 per IP).
    pub requests_per_minute: u32,
    /// Name of the shared budget in Redis [the prefix]. Syncro counts requests per source IP:
    /// every worker (and `relayctl`) leaving through one egress IP must share one budget
    /// name, and workers behind different IPs may each have their own
    /// (`RELAY_SYNCRO_BUDGET`).
    pub budget: Option<String>,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
}

impl Default for SyncroSettings {
    fn default() -> Self {
        SyncroSettings {
            url: String::new(),
            token: None,
            token_env: None,
            requests_per_minute: 180,
            budget: None,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
        }
    }
}

/// PostgreSQL, the store of the operator state. Every binary reaches it lazily: the alert path
/// never waits for it (workers keep acting on the last state they read).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSettings {
    /// Connection URL; it may carry a password, so it is a secret (`RELAY_POSTGRES_URL`).
    pub url: SecretString,
    /// Schema holding this deployment's tables [the prefix, with every character other than
    /// a letter, a digit or `_` turned into `_`], so several deployments (or tests) can share
    /// one database.
    pub schema: Option<String>,
    /// Connections each process keeps at most.
    pub max_connections: u32,
    /// How long a connection attempt or a statement may take before it counts as failed.
    pub timeout_ms: u64,
    /// How often workers read the silences and the pause state again.
    pub refresh_ms: u64,
    /// How long each alert's trail is kept.
    pub trail_retention_days: u32,
    /// Trail steps a process keeps in memory while PostgreSQL is slow or away; beyond, steps
    /// are dropped and counted (the trail then records the gap).
    pub trail_buffer: usize,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        PostgresSettings {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/postgres"),
            schema: None,
            max_connections: 4,
            timeout_ms: 3_000,
            refresh_ms: 1_000,
            trail_retention_days: 30,
            trail_buffer: 50_000,
        }
    }
}

impl PostgresSettings {
    /// The schema of this deployment: `schema`, or the prefix made a plain identifier.
    pub fn schema_for(&self, prefix: &str) -> String {
        self.schema.clone().unwrap_or_else(|| {
            prefix
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        })
    }
}

/// The operator API (`operator` binary) and the limits on what operators set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorSettings {
    /// Listen address of the operator API (`RELAY_OPERATOR_ADDR`).
    pub listen: String,
    /// Environment variable holding the read-only tokens, comma-separated, each optionally
    /// `name:token` (the name is what the audit log shows).
    pub read_tokens_env: String,
    /// Environment variable holding the tokens that may also change things.
    pub operate_tokens_env: String,
    /// The longest a silence (one-off) or a maintenance window (recurring) may last.
    pub silence_max_hours: u64,
    /// Whether resolved alerts pass through a silence unless it says otherwise.
    pub resolved_pass: bool,
}

impl Default for OperatorSettings {
    fn default() -> Self {
        OperatorSettings {
            listen: "127.0.0.1:8081".into(),
            read_tokens_env: "RELAY_OPERATOR_READ_TOKENS".into(),
            operate_tokens_env: "RELAY_OPERATOR_OPERATE_TOKENS".into(),
            silence_max_hours: 24 * 30,
            resolved_pass: true,
        }
    }
}
