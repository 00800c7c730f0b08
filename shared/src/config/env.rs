//! The environment variables that override the file, as documented in the README.

pub const CONFIG: &str = "RELAY_CONFIG";
pub const AMQP_URL: &str = "RELAY_AMQP_URL";
pub const REDIS_URL: &str = "RELAY_REDIS_URL";
pub const POSTGRES_URL: &str = "RELAY_POSTGRES_URL";
pub const OPERATOR_ADDR: &str = "RELAY_OPERATOR_ADDR";
pub const REDIS_SENTINEL_PASSWORD: &str = "RELAY_REDIS_SENTINEL_PASSWORD";
pub const INGEST_ADDR: &str = "RELAY_INGEST_ADDR";
pub const PREFIX: &str = "RELAY_PREFIX";
pub const LOG_FORMAT: &str = "RELAY_LOG_FORMAT";
pub const LOG: &str = "RELAY_LOG";
pub const SYNCRO_URL: &str = "RELAY_SYNCRO_URL";
pub const SYNCRO_TOKEN: &str = "RELAY_SYNCRO_TOKEN";
pub const SYNCRO_BUDGET: &str = "RELAY_SYNCRO_BUDGET";
pub const METRICS_LISTEN: &str = "RELAY_METRICS_LISTEN";
