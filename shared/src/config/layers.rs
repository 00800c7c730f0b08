//! The layers: the file, read whole and strictly, then the environment over it.

use super::{env, ConfigError, LogFormat, Settings};
use secrecy::SecretString;
use std::path::Path;

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
        settings.resolve_secrets(env);
        Ok(settings)
    }

    /// Lays the variables of [`env`] over what the file said.
    fn apply_env(&mut self, env: EnvLookup) -> Result<(), Vec<String>> {
        if let Some(v) = env(env::AMQP_URL) {
            self.amqp.url = SecretString::from(v);
        }
        if let Some(v) = env(env::REDIS_URL) {
            self.redis.url = SecretString::from(v);
        }
        if let Some(v) = env(env::REDIS_SENTINEL_PASSWORD) {
            self.redis.sentinel_password = Some(SecretString::from(v));
        }
        if let Some(v) = env(env::POSTGRES_URL) {
            self.postgres.url = SecretString::from(v);
        }
        if let Some(v) = env(env::OPERATOR_ADDR) {
            self.operator.listen = v;
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
        Ok(())
    }
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
