//! What the operator API needs of the configuration, checked at start with every problem
//! reported together: the prefix (it names the PostgreSQL schema), the listen address, the
//! PostgreSQL URL and schema, the silence limits and the tokens, and the workers' own
//! sections (the API maps, explains and replays as the workers do, so it reads the same
//! file and refuses to start on one the workers would refuse).

use crate::auth::Tokens;
use opstate::silence::Limits;
use shared::config::{ConfigError, EnvLookup, Settings};
use std::path::Path;

/// Longest `operator.silence_max_hours`: a year; beyond, a "silence" is a deleted rule.
const MAX_SILENCE_HOURS: u64 = 24 * 366;

/// Checks what the operator uses; its tokens when everything is right.
pub fn check(settings: &Settings, env: EnvLookup, path: &Path) -> Result<Tokens, ConfigError> {
    // The workers' checks include the common ones (prefix, broker, Redis, Syncro, PostgreSQL).
    let mut problems: Vec<String> =
        match processor::config::ProcessorConfig::from_settings(settings) {
            Ok(_) => Vec::new(),
            Err(problems) => problems,
        };
    let operator = &settings.operator;
    if operator.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "operator.listen {:?}: expected an address like 127.0.0.1:8081",
            operator.listen
        ));
    }
    if !(1..=MAX_SILENCE_HOURS).contains(&operator.silence_max_hours) {
        problems.push(format!(
            "operator.silence_max_hours: must be between 1 and {MAX_SILENCE_HOURS}"
        ));
    }
    if let Err(e) = opstate::Db::lazy(&settings.postgres, &settings.prefix) {
        // opstate's message names what is wrong without quoting the URL.
        problems.push(format!("postgres: {e}"));
    }
    if settings.postgres.timeout_ms == 0 {
        problems.push("postgres.timeout_ms: must be positive".into());
    }
    let tokens = Tokens::from_env(operator, env).map_err(|p| problems.extend(p));
    match tokens {
        Ok(tokens) if problems.is_empty() => Ok(tokens),
        _ => Err(ConfigError {
            path: path.to_path_buf(),
            problems,
        }),
    }
}

/// The limits of what operators may set, from the configuration.
pub fn limits(settings: &Settings) -> Limits {
    let hours = i64::try_from(settings.operator.silence_max_hours).unwrap_or(i64::MAX);
    Limits {
        max_length: chrono::Duration::hours(hours.min(MAX_SILENCE_HOURS as i64)),
        default_resolved_pass: settings.operator.resolved_pass,
    }
}
