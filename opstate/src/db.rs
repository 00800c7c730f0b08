//! The connection to PostgreSQL: a lazy pool whose every connection works in the
//! deployment's schema, and the migrations, embedded in the binaries and applied at start.

use secrecy::ExposeSecret;
use shared::backoff::Backoff;
use shared::config::PostgresSettings;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An error talking to PostgreSQL, without the URL (it may carry a password).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("PostgreSQL URL is not valid: {0}")]
    Url(String),
    #[error("schema name {0:?} must be 1 to 63 letters, digits or underscores")]
    Schema(String),
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    #[error("migrating the operator state failed: {0}")]
    Migrate(String),
    #[error("stored operator state is not readable: {0}")]
    Corrupt(String),
    /// PostgreSQL answered and refused the statement (a constraint, a value it cannot
    /// store): trying again will not help.
    #[error("PostgreSQL refused the statement: {0}")]
    Refused(String),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // Connection trouble, a server shutting down or out of resources, a deadlock:
            // worth trying again. Anything else PostgreSQL refuses is refused for good.
            sqlx::Error::Database(db) => {
                let transient = db.code().is_some_and(|code| {
                    ["08", "40", "53", "57", "58"]
                        .iter()
                        .any(|c| code.starts_with(c))
                });
                if transient {
                    DbError::Unavailable(describe(&e))
                } else {
                    DbError::Refused(db.message().to_string())
                }
            }
            _ => DbError::Unavailable(describe(&e)),
        }
    }
}

/// A sqlx error in a few words, never with the connection URL.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(_) => "TLS handshake failed".into(),
        other => other.to_string(),
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// The operator state's database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    schema: String,
}

impl Db {
    /// A pool that connects on first use: building it never waits for PostgreSQL.
    pub fn lazy(settings: &PostgresSettings, prefix: &str) -> Result<Db> {
        let schema = settings.schema_for(prefix);
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(DbError::Schema(schema));
        }
        let options = PgConnectOptions::from_str(settings.url.expose_secret())
            .map_err(|e| DbError::Url(url_problem(&e)))?
            .options([("search_path", schema.as_str())])
            .application_name("alert-relay");
        let timeout = Duration::from_millis(settings.timeout_ms);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_lazy_with(options);
        Ok(Db { pool, schema })
    }

    /// Creates the schema when missing and applies the migrations not yet applied (several
    /// processes starting at once take turns on PostgreSQL's advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema);
        sqlx::query(&create).execute(&self.pool).await?;
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => DbError::from(e),
                other => DbError::Migrate(other.to_string()),
            })
    }

    /// Drops the deployment's schema and everything in it (tests clean up with this).
    pub async fn drop_schema(&self) -> Result<()> {
        let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        sqlx::query(&drop).execute(&self.pool).await?;
        Ok(())
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Migrates, retrying with a capped backoff until PostgreSQL takes it; `migrated` is set
    /// once it did. For a service's background: it serves meanwhile (`what_meanwhile` says
    /// how, in the warning logged when a failure is new: the first, or another cause).
    pub async fn migrate_until_done(&self, migrated: Arc<AtomicBool>, what_meanwhile: &str) {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut last_error = String::new();
        loop {
            match self.migrate().await {
                Ok(()) => {
                    migrated.store(true, Ordering::Release);
                    tracing::info!(schema = %self.schema, "operator state ready in PostgreSQL");
                    return;
                }
                Err(e) => {
                    let error = e.to_string();
                    if error != last_error {
                        tracing::warn!(error = %error, "the operator state is not ready in PostgreSQL; {what_meanwhile}; retrying");
                        last_error = error;
                    } else {
                        tracing::debug!(error = %error, "the operator state is still not ready");
                    }
                }
            }
            backoff.wait().await;
        }
    }

    /// Whether PostgreSQL answers now.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// What is wrong with a URL, without quoting it.
fn url_problem(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(_) => "it does not parse as postgres://user@host:port/db".into(),
        _ => "it cannot be used".into(),
    }
}
