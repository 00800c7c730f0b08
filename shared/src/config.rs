//! Configuration: one TOML file shared by every binary, layered as defaults → file →
//! environment, then validated with every problem reported together.
//!
//! Each binary reads the sections it needs and validates only those ([`Settings::validate_ingest`];
//! the processor adds its own), but the file is parsed whole and strictly: an unknown key
//! anywhere is an error, because a typo silently ignored is a setting silently lost.
//!
//! Secrets never need to be in the file: `secrets_env` (sources) and `token_env` (Syncro) name
//! environment variables that hold them, and URLs with credentials may come from
//! `RELAY_AMQP_URL` / `RELAY_REDIS_URL`. Every secret is held in a [`SecretString`], so it
//! cannot reach a log through `Debug`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variables that override the file, as documented in the README.
pub mod env {
    pub const CONFIG: &str = "RELAY_CONFIG";
    pub const AMQP_URL: &str = "RELAY_AMQP_URL";
    pub const REDIS_URL: &str = "RELAY_REDIS_URL";
    pub const INGEST_ADDR: &str = "RELAY_INGEST_ADDR";
    pub const PREFIX: &str = "RELAY_PREFIX";
    pub const LOG_FORMAT: &str = "RELAY_LOG_FORMAT";
    pub const LOG: &str = "RELAY_LOG";
    pub const SYNCRO_URL: &str = "RELAY_SYNCRO_URL";
    pub const SYNCRO_TOKEN: &str = "RELAY_SYNCRO_TOKEN";
    pub const SYNCRO_BUDGET: &str = "RELAY_SYNCRO_BUDGET";
    pub const METRICS_LISTEN: &str = "RELAY_METRICS_LISTEN";
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// Redis URL; it may carry a password, so it is a secret (`RELAY_REDIS_URL`).
    pub url: SecretString,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: SecretString::from("redis://127.0.0.1:6379"),
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

/// Why a configuration cannot be used: every problem found, each on its own line.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} problem(s) in the configuration:",
            self.path.display(),
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads an environment variable; a parameter rather than `std::env` so tests need not touch
/// the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for `main`.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Reads the file, applies the environment and resolves secrets. It does not validate:
    /// each binary calls its own `validate_*` so it reports the problems of what it uses.
    pub fn load(path: &Path, env: EnvLookup) -> Result<Settings, ConfigError> {
        let fail = |problem: String| ConfigError {
            path: path.to_path_buf(),
            problems: vec![problem],
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        Settings::from_toml(&text, env).map_err(|problems| ConfigError {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Like [`Settings::load`] from text already read.
    pub fn from_toml(text: &str, env: EnvLookup) -> Result<Settings, Vec<String>> {
        let mut settings: Settings =
            toml::from_str(text).map_err(|e| vec![toml_problem(text, &e)])?;
        settings.apply_env(env)?;
        Ok(settings)
    }

    fn apply_env(&mut self, env: EnvLookup) -> Result<(), Vec<String>> {
        if let Some(v) = env(env::AMQP_URL) {
            self.amqp.url = SecretString::from(v);
        }
        if let Some(v) = env(env::REDIS_URL) {
            self.redis.url = SecretString::from(v);
        }
        if let Some(v) = env(env::INGEST_ADDR) {
            self.ingest.listen = v;
        }
        if let Some(v) = env(env::PREFIX) {
            self.prefix = v;
        }
        if let Some(v) = env(env::LOG) {
            self.log.level = v;
        }
        if let Some(v) = env(env::LOG_FORMAT) {
            self.log.format = match v.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                other => {
                    return Err(vec![format!(
                        "{}={other:?}: expected json or pretty",
                        env::LOG_FORMAT
                    )])
                }
            };
        }
        if let Some(v) = env(env::SYNCRO_URL) {
            self.syncro.url = v;
        }
        if let Some(v) = env(env::SYNCRO_BUDGET) {
            self.syncro.budget = Some(v);
        }
        if let Some(v) = env(env::METRICS_LISTEN) {
            // Several workers on one host each need their own metrics port.
            self.processor_sections
                .processor
                .get_or_insert_with(toml::Table::new)
                .insert("metrics_listen".into(), toml::Value::String(v));
        }

        // Secrets named by environment variable; a missing variable is a problem, reported
        // with the others by the binary that needs it, rather than leaving a source silently
        // without its secret.
        for (name, source) in &mut self.sources {
            for var in &source.secrets_env {
                match env(var) {
                    Some(secret) => source.secrets.push(SecretString::from(secret)),
                    None => self.unresolved.push(format!(
                        "sources.{name}.secrets_env: environment variable {var} is not set"
                    )),
                }
            }
        }
        if let Some(var) = &self.ingest.metrics_token_env {
            match env(var) {
                Some(token) => self.ingest.metrics_token = Some(SecretString::from(token)),
                None => self.unresolved.push(format!(
                    "ingest.metrics_token_env: environment variable {var} is not set"
                )),
            }
        }
        if let Some(token) = env(env::SYNCRO_TOKEN) {
            self.syncro.token = Some(SecretString::from(token));
        } else if let Some(var) = &self.syncro.token_env {
            match env(var) {
                Some(token) => self.syncro.token = Some(SecretString::from(token)),
                None => self.unresolved.push(format!(
                    "syncro.token_env: environment variable {var} is not set"
                )),
            }
        }
        Ok(())
    }

    /// Unresolved secrets of the given sections (e.g. `["sources.", "ingest."]`).
    pub fn unresolved_in(&self, sections: &[&str]) -> Vec<String> {
        self.unresolved
            .iter()
            .filter(|p| sections.iter().any(|s| p.starts_with(s)))
            .cloned()
            .collect()
    }

    /// Problems with what every binary uses: the prefix and the broker.
    pub fn common_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !valid_prefix(&self.prefix) {
            problems.push(format!(
                "prefix {:?}: use 1 to 64 characters among a-z, 0-9, '-', '_' and '.'",
                self.prefix
            ));
        }
        let url = self.amqp.url.expose_secret();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            problems.push("amqp.url: must start with amqp:// or amqps://".into());
        }
        if self.amqp.publish_channels == 0 || self.amqp.publish_channels > 64 {
            problems.push("amqp.publish_channels: must be between 1 and 64".into());
        }
        if self.amqp.confirm_timeout_ms == 0 {
            problems.push("amqp.confirm_timeout_ms: must be positive".into());
        }
        problems
    }

    /// Validates what ingest uses; every problem at once.
    pub fn validate_ingest(&self, path: &Path) -> Result<(), ConfigError> {
        let mut problems = self.common_problems();
        problems.extend(self.unresolved_in(&["sources.", "ingest."]));
        if self.ingest.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "ingest.listen {:?}: expected an address like 127.0.0.1:8080",
                self.ingest.listen
            ));
        }
        if self.ingest.max_body_bytes < 1024 {
            problems.push("ingest.max_body_bytes: must be at least 1024".into());
        }
        if self.ingest.max_connections == 0 {
            problems.push("ingest.max_connections: must be positive".into());
        }
        if self.sources.is_empty() {
            problems.push("sources: configure at least one source ([sources.NAME])".into());
        }
        for (name, source) in &self.sources {
            problems.extend(source.problems(name));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                path: path.to_path_buf(),
                problems,
            })
        }
    }
}

impl SourceSettings {
    fn problems(&self, name: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let at = format!("sources.{name}");
        if !valid_source_name(name) {
            problems.push(format!(
                "{at}: a source name uses 1 to 64 characters among a-z, 0-9, '-' and '_'"
            ));
        }
        // With secrets_env set, a missing variable is already reported on its own.
        if self.secrets.is_empty() && self.secrets_env.is_empty() {
            problems.push(format!(
                "{at}: needs at least one secret (`secrets` or `secrets_env`)"
            ));
        }
        for (i, secret) in self.secrets.iter().enumerate() {
            let secret = secret.expose_secret();
            // Only the position is named: the value is a secret.
            match self.verify {
                VerifyScheme::StandardWebhooks => {
                    if crate::signing::decode_whsec(secret).is_none() {
                        problems.push(format!(
                            "{at}: secret #{} is not a Standard Webhooks secret (whsec_ followed by base64)",
                            i + 1
                        ));
                    }
                }
                VerifyScheme::HmacSha256 | VerifyScheme::Bearer => {
                    if secret.len() < 16 {
                        problems.push(format!(
                            "{at}: secret #{} is shorter than 16 characters",
                            i + 1
                        ));
                    }
                }
            }
        }
        if self.verify == VerifyScheme::HmacSha256
            && (self.signature_header.is_empty()
                || !self
                    .signature_header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            problems.push(format!(
                "{at}.signature_header: must be a valid header name"
            ));
        }
        if self.format == PayloadFormat::Alertmanager && self.organization_label.is_empty() {
            problems.push(format!("{at}.organization_label: must not be empty"));
        }
        problems
    }
}

fn valid_prefix(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

fn valid_source_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A TOML error without the file's text: `toml` quotes the offending line, and serde quotes
/// a wrong string value, either of which may be a secret written in the file. The problem is
/// located by line and column instead, and quoted string values are left out.
fn toml_problem(text: &str, error: &toml::de::Error) -> String {
    let mut message = String::new();
    let mut rest = error.message().trim();
    while let Some(at) = rest.find("string \"") {
        message.push_str(&rest[..at]);
        message.push_str("a string");
        let value = &rest[at + "string \"".len()..];
        let mut escaped = false;
        let end = value.char_indices().find_map(|(i, c)| match c {
            '\\' if !escaped => {
                escaped = true;
                None
            }
            '"' if !escaped => Some(i + 1),
            _ => {
                escaped = false;
                None
            }
        });
        rest = &value[end.unwrap_or(value.len())..];
    }
    message.push_str(rest);
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A URL with its password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const MINIMAL: &str = r#"
        [sources.demo]
        secrets_env = ["DEMO_SECRET"]
    "#;

    #[test]
    fn environment_overrides_the_file_and_supplies_secrets() {
        let env = env_of(&[
            ("DEMO_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ("RELAY_PREFIX", "t1"),
            ("RELAY_INGEST_ADDR", "0.0.0.0:9000"),
            ("RELAY_AMQP_URL", "amqp://u:p@h:5672/%2f"),
        ]);
        let settings = Settings::from_toml(MINIMAL, &env).expect("parses");
        assert_eq!(settings.prefix, "t1");
        assert_eq!(settings.ingest.listen, "0.0.0.0:9000");
        assert_eq!(settings.sources["demo"].secrets.len(), 1);
        assert_eq!(settings.amqp.url.expose_secret(), "amqp://u:p@h:5672/%2f");
        settings
            .validate_ingest(Path::new("x.toml"))
            .expect("valid");
    }

    #[test]
    fn environment_sets_the_metrics_port_and_the_syncro_budget_name() {
        let text = format!("{MINIMAL}\n[processor]\nprefetch = 10\n");
        let env = env_of(&[
            ("RELAY_METRICS_LISTEN", "127.0.0.1:9192"),
            ("RELAY_SYNCRO_BUDGET", "egress-a"),
        ]);
        let settings = Settings::from_toml(&text, &env).expect("parses");
        let processor = settings
            .processor_sections
            .processor
            .as_ref()
            .expect("processor table");
        assert_eq!(
            processor.get("metrics_listen").and_then(|v| v.as_str()),
            Some("127.0.0.1:9192")
        );
        assert_eq!(
            processor.get("prefetch").and_then(|v| v.as_integer()),
            Some(10),
            "the file's other keys stay"
        );
        assert_eq!(settings.syncro.budget.as_deref(), Some("egress-a"));
    }

    #[test]
    fn a_missing_secret_variable_is_reported_by_the_binary_that_needs_it() {
        let text = format!("{MINIMAL}\n[syncro]\ntoken_env = \"SYNCRO_TOKEN_VAR\"\n");
        let settings = Settings::from_toml(&text, &env_of(&[])).expect("parses");
        let err = settings
            .validate_ingest(Path::new("x.toml"))
            .expect_err("invalid");
        let all = err.to_string();
        assert!(all.contains("DEMO_SECRET is not set"), "{all}");
        assert!(
            !all.contains("SYNCRO_TOKEN_VAR"),
            "ingest does not need the token: {all}"
        );
        assert_eq!(settings.unresolved_in(&["syncro."]).len(), 1);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let problems = Settings::from_toml("[ingest]\nlisten_addr = \"x\"\n", &env_of(&[]))
            .expect_err("fails");
        assert!(problems[0].contains("listen_addr"), "{problems:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once_without_secret_values() {
        let text = r#"
            prefix = "Bad Prefix"
            [ingest]
            listen = "nowhere"
            [sources.demo]
            secrets = ["not-a-whsec-secret"]
            [sources.GH]
            verify = "hmac-sha256"
            secrets = ["short"]
            signature_header = "bad header"
        "#;
        let settings = Settings::from_toml(text, &env_of(&[])).expect("parses");
        let err = settings
            .validate_ingest(Path::new("x.toml"))
            .expect_err("invalid");
        let all = err.to_string();
        for expected in [
            "prefix",
            "ingest.listen",
            "sources.demo: secret #1",
            "sources.GH: a source name",
            "sources.GH: secret #1 is shorter",
            "sources.GH.signature_header",
        ] {
            assert!(all.contains(expected), "{expected} missing in {all}");
        }
        assert!(!all.contains("not-a-whsec-secret") && !all.contains("short\""));
    }

    #[test]
    fn toml_errors_locate_the_problem_without_quoting_the_file() {
        let problems = Settings::from_toml(
            "prefix = \"p\"\n[amqp]\nurl = \"amqp://u:file-password@h/\" oops\n",
            &|_| None,
        )
        .expect_err("syntax error");
        assert!(problems[0].starts_with("line 3, column "), "{problems:?}");
        assert!(!problems[0].contains("file-password"), "{problems:?}");
        let problems = Settings::from_toml(
            "[sources.demo]\nsecrets = \"whsec_not-a-list\\\"quoted\"\n",
            &|_| None,
        )
        .expect_err("type error");
        assert!(
            problems[0].contains("invalid type: a string, expected a sequence"),
            "{problems:?}"
        );
        assert!(!problems[0].contains("whsec_"), "{problems:?}");
        let problems =
            Settings::from_toml("[ingest]\nlisten_addr = 1\n", &|_| None).expect_err("unknown");
        assert!(problems[0].contains("listen_addr"), "{problems:?}");
    }

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
