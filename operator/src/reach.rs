//! Whether the workers' Syncro answers their token, for the status: `GET /me` through the
//! workers' limiter at the lowest priority (background), at most once a minute however
//! often the status is read. At Syncro's 180 requests a minute that is at most 1/180 of the
//! budget, and never ahead of an alert's call.
//!
//! A status read waits for a check it started at most [`WAIT`]; a slower check (a budget
//! spent by a storm, a Syncro that does not answer) finishes in the background and the
//! status shows the last result meanwhile.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use syncro::{Class, Priority, SyncroClient};
use tokio::sync::watch;

/// At most one check this often.
pub const EVERY: Duration = Duration::from_secs(60);
/// How long a status read waits for the check it started.
const WAIT: Duration = Duration::from_secs(3);
/// A check gives up after this long (the limiter's queue included).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// `GET /me` answered 2xx: the token works.
    Ok,
    /// 401 or 403: Syncro refuses the token.
    Refused,
    /// No answer, or an answer that is not Syncro's (another status, a timeout, no route).
    Unreachable,
}

/// The last check's result, as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncroReach {
    /// ok, refused or unreachable.
    pub state: Reach,
    /// When the check ended.
    pub checked_at: DateTime<Utc>,
    /// In words, without the token or the URL's secrets (e.g. "Syncro answered 401").
    pub detail: String,
}

/// The cache of the check, shared by the status reads.
#[derive(Default)]
pub struct ReachCheck {
    state: Mutex<CheckState>,
}

#[derive(Default)]
struct CheckState {
    /// When the last check started (the once-a-minute rule counts from here).
    started: Option<Instant>,
    /// The last result; `None` before any check ended.
    result: Option<watch::Receiver<Option<SyncroReach>>>,
}

impl ReachCheck {
    /// The last result, checking first when the last check started a minute ago or more
    /// (and waiting for it at most [`WAIT`]). `None` while the first check is still running.
    pub async fn get(&self, syncro: &SyncroClient) -> Option<SyncroReach> {
        let mut receiver = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let due = state.started.is_none_or(|at| at.elapsed() >= EVERY);
            if due {
                let last = state.result.as_ref().and_then(|r| r.borrow().clone());
                let (sender, receiver) = watch::channel(last);
                state.started = Some(Instant::now());
                state.result = Some(receiver.clone());
                tokio::spawn(check(syncro.clone(), sender));
                receiver
            } else {
                match &state.result {
                    Some(r) => return r.borrow().clone(),
                    None => return None,
                }
            }
        };
        let _ = tokio::time::timeout(WAIT, receiver.changed()).await;
        let result = receiver.borrow().clone();
        result
    }
}

/// One `GET /me`, at the lowest priority, its outcome sent to `sender`.
async fn check(syncro: SyncroClient, sender: watch::Sender<Option<SyncroReach>>) {
    let priority = Priority::new(Class::Background, 4, "operator:reach");
    let answer =
        tokio::time::timeout(CHECK_TIMEOUT, syncro::with_priority(priority, syncro.me())).await;
    let (state, detail) = match answer {
        Ok(Ok(_)) => (Reach::Ok, "GET /me answered".to_string()),
        Ok(Err(e)) => match e.status() {
            Some(status @ (401 | 403)) => (
                Reach::Refused,
                format!("Syncro answered {status}: the token is refused"),
            ),
            Some(status) => (Reach::Unreachable, format!("Syncro answered {status}")),
            None => {
                tracing::warn!(error = %e, "Syncro check failed");
                (Reach::Unreachable, "no answer from Syncro".to_string())
            }
        },
        Err(_) => (
            Reach::Unreachable,
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        ),
    };
    let _ = sender.send(Some(SyncroReach {
        state,
        checked_at: Utc::now(),
        detail,
    }));
}
