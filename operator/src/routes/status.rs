//! `GET /v1/status`: the state of the fleet on one page.
//!
//! Each part is gathered on its own, so a store that is down blanks only its parts (`null`)
//! and says so, never the whole answer: the operator state (pause, silences, overdue
//! sources, the workers' reports and the budget they used) from PostgreSQL, the queue depths
//! from RabbitMQ, a ping of the workers' Redis, and whether Syncro takes the workers' token
//! ([`crate::reach`]: at most one `GET /me` a minute, however often the status is read).
//! To add a part: a field in [`StatusParts`], gathered in [`gather`].

use crate::auth::Reader;
use crate::error::Result;
use crate::fleet::{Budget, Deployment, QueueDepth};
use crate::routes::sources::{self, SourceView};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use opstate::silence::SilenceState;
use opstate::store::fleet::{self, PauseState};
use opstate::store::silences;
use opstate::store::workers::{self, Ingest, Worker};
use opstate::Db;
use serde::Serialize;

/// What the status shows.
#[derive(Debug, Serialize)]
pub struct StatusParts {
    /// Which deployment (Syncro account) answers: its prefix and Syncro host.
    pub deployment: Deployment,
    /// The pause switch; null while PostgreSQL is down.
    pub paused: Option<PauseState>,
    /// Silences muting now and to come; null while PostgreSQL is down.
    pub silences: Option<SilenceCounts>,
    /// Whether PostgreSQL answered this request.
    pub postgres: Health,
    /// Overdue sources only; null while PostgreSQL is down.
    pub sources: Option<Vec<SourceView>>,
    /// Workers that reported in the last [`ALIVE_SECS`] s; null while PostgreSQL is down.
    pub workers: Option<Vec<Worker>>,
    /// Ingest instances that reported in the last [`ALIVE_SECS`] s; null while PostgreSQL is
    /// down.
    pub ingest: Option<Vec<Ingest>>,
    /// The fleet's use of Syncro's budget; null while PostgreSQL is down.
    pub budget: Option<Budget>,
    /// Ready messages of each of the deployment's queues, work first (a queue not declared
    /// yet: null messages); null while RabbitMQ cannot be reached.
    pub queues: Option<Vec<QueueDepth>>,
    /// Whether RabbitMQ answered this request.
    pub rabbitmq: Health,
    /// Whether the workers' Redis answered a ping of this request.
    pub redis: Health,
    /// Whether Syncro takes the workers' token (`GET /me`, checked at most once a minute,
    /// see [`crate::reach`]); null until the first check ends.
    pub syncro: Option<crate::reach::SyncroReach>,
}

/// A worker (or an ingest instance) reports every 2 s; one silent this long is gone.
pub const ALIVE_SECS: i64 = 15;

#[derive(Debug, Serialize)]
pub struct SilenceCounts {
    pub active: usize,
    pub pending: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Up,
    Down,
}

/// What PostgreSQL holds of the status.
struct OperatorState {
    paused: PauseState,
    silences: SilenceCounts,
    overdue: Vec<SourceView>,
    workers: Vec<Worker>,
    ingest: Vec<Ingest>,
}

async fn operator_state(db: &Db) -> Result<OperatorState> {
    let paused = fleet::pause_state(db).await?;
    let now = Utc::now();
    let current = silences::list(db, false).await?;
    let count = |wanted: SilenceState| current.iter().filter(|s| s.state_at(now) == wanted).count();
    let silences = SilenceCounts {
        active: count(SilenceState::Active),
        pending: count(SilenceState::Pending),
    };
    let overdue = sources::views(db)
        .await?
        .into_iter()
        .filter(|s| s.overdue)
        .collect();
    let alive = workers::alive(db, ALIVE_SECS).await?;
    Ok(OperatorState {
        paused,
        silences,
        overdue,
        workers: alive.workers,
        ingest: alive.ingest,
    })
}

/// Gathers every part; a part that cannot be had is left out and its health says why.
pub async fn gather(state: &AppState) -> StatusParts {
    let operator = async {
        match state.db() {
            Ok(db) => operator_state(db).await.ok(),
            Err(_) => None,
        }
    };
    // Bounded: a Redis that does not answer is down for this status, not a slow status.
    let redis = async {
        let ping = state.workers.store.ping();
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), ping).await,
            Ok(Ok(()))
        )
    };
    let syncro = state.reach.get(&state.workers.syncro);
    let (operator, queues, redis, syncro) =
        tokio::join!(operator, state.fleet.depths(), redis, syncro);
    let health = |up: bool| if up { Health::Up } else { Health::Down };
    let rabbitmq = health(queues.is_some());
    let redis = health(redis);
    match operator {
        Some(o) => StatusParts {
            deployment: state.fleet.deployment.clone(),
            paused: Some(o.paused),
            silences: Some(o.silences),
            postgres: Health::Up,
            sources: Some(o.overdue),
            budget: Some(Budget {
                requests_per_minute: state.fleet.budget_per_minute,
                used_last_minute: o
                    .workers
                    .iter()
                    .map(|w| w.report.syncro_requests_last_minute)
                    .sum(),
            }),
            workers: Some(o.workers),
            ingest: Some(o.ingest),
            queues,
            rabbitmq,
            redis,
            syncro,
        },
        None => StatusParts {
            deployment: state.fleet.deployment.clone(),
            paused: None,
            silences: None,
            postgres: Health::Down,
            sources: None,
            workers: None,
            ingest: None,
            budget: None,
            queues,
            rabbitmq,
            redis,
            syncro,
        },
    }
}

pub async fn show(_: Reader, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(gather(&state).await)
}
