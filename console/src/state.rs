//! What every request handler shares, built once by [`crate::startup`].

use crate::api::OperatorApi;
use crate::config::{ConsoleConfig, SecureCookies};
use crate::session::Sessions;
use crate::users::Users;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Failed sign-ins of one name (or one address, for tokens) this many times in
/// [`LOCKOUT`] lock it out for the rest of that time.
const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// What every request handler shares.
pub struct AppState {
    /// Every read and change goes through the operator API.
    pub api: OperatorApi,
    pub sessions: Sessions,
    pub users: Users,
    pub secure_cookies: SecureCookies,
    /// A Syncro ticket's address with `{id}` / `{number}`, if configured.
    pub ticket_url: Option<String>,
    /// Password checks at once: argon2 takes 19 MiB and tens of milliseconds each, so a
    /// flood of sign-ins queues here instead of exhausting the machine.
    pub hashing: Semaphore,
    /// Recent failed sign-ins by name (or `token@address`): count and first failure.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl AppState {
    pub fn new(config: ConsoleConfig) -> AppState {
        AppState {
            api: OperatorApi::new(&config.operator_url, config.operator_token),
            sessions: Sessions::new(config.idle),
            users: config.users,
            secure_cookies: config.secure_cookies,
            ticket_url: config.ticket_url,
            hashing: Semaphore::new(2),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` failed too often lately to be tried now.
    pub fn locked_out(&self, key: &str) -> bool {
        let mut failures = self.failures();
        failures.retain(|_, (_, first)| first.elapsed() < LOCKOUT);
        failures.get(key).is_some_and(|(n, _)| *n >= MAX_FAILURES)
    }

    pub fn failed(&self, key: &str) {
        let mut failures = self.failures();
        let entry = failures
            .entry(key.to_string())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures().remove(key);
    }
}
