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
}

impl AppState {
    pub fn new(
        db: Db,
        migrated: Arc<AtomicBool>,
        limits: Limits,
        fleet: crate::fleet::Fleet,
        workers: crate::workers::Workers,
    ) -> AppState {
        AppState {
            db,
            migrated,
            limits,
            fleet,
            workers,
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
