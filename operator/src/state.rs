//! What every request handler shares, built once by [`crate::startup`].

use crate::error::ApiError;
use opstate::silence::Limits;
use opstate::Db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every request handler shares.
pub struct AppState {
    /// The operator state; a lazy pool, so the API runs (and answers 503) while PostgreSQL
    /// is away.
    db: Db,
    /// Set once the migrations ran: before, the tables may not exist, and every route that
    /// needs them answers 503 rather than a confusing error from PostgreSQL.
    migrated: Arc<AtomicBool>,
    /// What operators may set (longest silence, default `resolved_pass`).
    pub limits: Limits,
    /// The queues and the budget, for the status.
    pub fleet: crate::fleet::Fleet,
    /// The workers' configuration, Redis state and Syncro (through their limiter).
    pub workers: crate::workers::Workers,
    /// The dead-letter queue, through a broker of the API's own (started on first use).
    pub dead_letters: crate::deadletters::DeadLetters,
    /// Whether Syncro takes the workers' token: checked at most once a minute.
    pub reach: crate::reach::ReachCheck,
}

impl AppState {
    pub fn new(
        db: Db,
        migrated: Arc<AtomicBool>,
        limits: Limits,
        fleet: crate::fleet::Fleet,
        workers: crate::workers::Workers,
    ) -> AppState {
        let dead_letters = crate::deadletters::DeadLetters::new(workers.broker_options());
        AppState {
            dead_letters,
            db,
            migrated,
            limits,
            fleet,
            workers,
            reach: crate::reach::ReachCheck::default(),
        }
    }

    /// The database, once its schema is in place; 503 before.
    pub fn db(&self) -> Result<&Db, ApiError> {
        if self.migrated.load(Ordering::Acquire) {
            Ok(&self.db)
        } else {
            Err(ApiError::postgres_unavailable())
        }
    }

    /// Whether PostgreSQL answers now and the schema is in place.
    pub async fn postgres_up(&self) -> bool {
        match self.db() {
            Ok(db) => db.ping().await.is_ok(),
            Err(_) => false,
        }
    }
}

impl AppState {
    /// The workers' configuration with the console's mappings as they are now (the workers
    /// read them within a second of a change), and whether they could be read (the file
    /// alone when PostgreSQL is away). What explain and a replay's plan go by.
    pub async fn workers_config(&self) -> (processor::config::ProcessorConfig, bool) {
        let mut config = (*self.workers.config.current()).clone();
        let read = match self.db() {
            Ok(db) => opstate::store::mappings::current(db).await.ok(),
            Err(_) => None,
        };
        let found = read.is_some();
        if let Some(console) = read {
            config.mapping = config.mapping.with_console(Arc::new(console));
        }
        (config, found)
    }
}
