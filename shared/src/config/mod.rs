//! Configuration: one TOML file shared by every binary, layered as defaults → file →
//! environment, then validated with every problem reported together.
//!
//! Each binary reads the sections it needs and validates only those ([`Settings::validate_ingest`];
//! the processor adds its own), but the file is parsed whole and strictly: an unknown key
//! anywhere is an error, because a typo silently ignored is a setting silently lost.
//!
//! Secrets never need to be in the file: `secrets_env` (sources) and `token_env` (Syncro) name
//! environment variables that hold them, and URLs with credentials may come from
//! `RELAY_AMQP_URL` / `RELAY_REDIS_URL`. Every secret is held in a [`secrecy::SecretString`], so it
//! cannot reach a log through `Debug`.
//!
//! How the parts fit, in the order a binary goes through them:
//!
//! - `settings`: the typed sections and their defaults (what the file may say);
//! - `layers`: [`Settings::load`] reads the file whole and strictly, then lays the
//!   environment ([`env`]) over it;
//! - `secrets`: resolves the secrets named by environment variable, recording a missing one
//!   instead of failing, and redacts URLs for logs;
//! - `validate`: each binary checks what it uses, every problem reported together in one
//!   [`ConfigError`] (`error`).

pub mod env;
mod error;
mod layers;
mod secrets;
mod settings;
#[cfg(test)]
mod tests;
mod validate;

pub use error::ConfigError;
pub use layers::{process_env, EnvLookup};
pub use secrets::redact_url;
pub use settings::{
    AmqpSettings, IngestSettings, LogFormat, LogSettings, OperatorSettings, PayloadFormat,
    PostgresSettings, ProcessorSections, RedisSettings, Settings, SourceSettings, SyncroSettings,
    VerifyScheme,
};
